"""Reads of the statutory clocks, starting from the read rules (querysets.py)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from commonguard.accounts.viewer import viewer_for
from commonguard.statutes.models import Obligation
from commonguard.statutes.querysets import readable_reports

# A cell of the reporting-health table is shown only when at least this many organisations are in it,
# so that no figure points at one government (ADR 0028).
K_MIN = 5
SIZE_BANDS = [
    (0, 10_000, "Under 10,000 people"),
    (10_000, 50_000, "10,000 to 49,999"),
    (50_000, 250_000, "50,000 to 249,999"),
    (250_000, None, "250,000 and more"),
]


def report_obligations(*, user: Any, report: Any) -> QuerySet[Obligation]:
    """The obligations of one report, for a person who may read it (empty otherwise)."""
    return Obligation.objects.visible_to(user).filter(report=report).select_related("rule")


def report_for(*, user: Any, uuid: Any) -> Any:
    """The report `user` may read, or None (the caller answers 404)."""
    return readable_reports(user).select_related("organization").filter(uuid=uuid).first()


def obligation_for(*, user: Any, pk: int) -> Obligation | None:
    return (
        Obligation.objects.visible_to(user)
        .select_related("report__organization", "report__created_by", "rule")
        .filter(pk=pk)
        .first()
    )


def size_band(population: int | None) -> str:
    if population is None:
        return "Population not known"
    for low, high, label in SIZE_BANDS:
        if population >= low and (high is None or population < high):
            return label
    return "Population not known"


@dataclass
class HealthCell:
    label: str
    organizations: int
    obligations: int
    median_hours: float | None
    on_time_share: float | None

    @property
    def shown(self) -> bool:
        return self.organizations >= K_MIN


def _cell(label: str, rows: list[dict[str, Any]]) -> HealthCell:
    orgs = {r["report__organization_id"] for r in rows}
    decided = [r for r in rows if r["status"] in {"sent", "sent_late", "overdue"}]
    on_time = sum(1 for r in decided if r["status"] == "sent")
    hours = [
        (r["sent_at"] - r["clock_started_at"]).total_seconds() / 3600
        for r in rows
        if r["sent_at"] is not None and r["status"] in {"sent", "sent_late"}
    ]
    return HealthCell(
        label=label,
        organizations=len(orgs),
        obligations=len(rows),
        median_hours=round(statistics.median(hours), 1) if hours else None,
        on_time_share=round(on_time / len(decided), 3) if decided else None,
    )


def may_see_state_health(user: Any, state: str) -> bool:
    viewer = viewer_for(user)
    return viewer.is_operator or state in viewer.staff_states


def state_reporting_health(*, user: Any, state: str) -> dict[str, Any] | None:
    """Aggregate timeliness of the state's reporting, for the state's staff (None for anyone else):
    median hours from clock start to sending, share sent on time, overall, by region and by size.
    Cells with fewer than K_MIN organisations are withheld. No organisation is named, nothing ranks."""
    if not may_see_state_health(user, state):
        return None
    rows = list(
        Obligation.objects.visible_to(user)
        .filter(report__state=state)
        .exclude(status__in=[Obligation.Status.WAIVED, Obligation.Status.NOT_APPLICABLE])
        .values(
            "status",
            "sent_at",
            "clock_started_at",
            "report__organization_id",
            "report__organization__region__name",
            "report__organization__population",
        )
    )
    by_region: dict[str, list[dict[str, Any]]] = {}
    by_size: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_region.setdefault(row["report__organization__region__name"] or "No region", []).append(row)
        by_size.setdefault(size_band(row["report__organization__population"]), []).append(row)
    size_order = [label for _, _, label in SIZE_BANDS] + ["Population not known"]
    overall = _cell("All organisations", rows)
    return {
        "state": state,
        "k_min": K_MIN,
        "overall": overall,
        "overall_list": [overall] if rows else [],
        "by_region": [_cell(name, by_region[name]) for name in sorted(by_region)],
        "by_size": [_cell(name, by_size[name]) for name in size_order if name in by_size],
    }
