"""What incident reports give the state dashboard and the quarterly briefing (measurement/hooks.py,
measurement/layers.py); registered in IncidentsConfig.ready(). Every figure is read through the
report's own read rule (`IncidentReport.objects.visible_to`), so a person sees only counts of the
reports they may read: their organisation's, or their state's when they are its staff."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from django.db.models import Count, Sum

from commonguard.incidents.models import Category, IncidentReport

# Reports that count: sent to the state, and not set aside as duplicates or not reportable.
COUNTED = (IncidentReport.Status.SUBMITTED, IncidentReport.Status.ACKNOWLEDGED, IncidentReport.Status.CLOSED)


def _reports(user: Any, state: str) -> Any:
    return IncidentReport.objects.visible_to(user).filter(state=state, status__in=COUNTED)


def dashboard_counties(ctx: Any) -> dict[str, Any]:
    from commonguard.measurement.layers import CountyValue, year_range

    start, end = year_range(ctx.year)
    rows = (
        _reports(ctx.user, ctx.state)
        .filter(submitted_at__gte=start, submitted_at__lt=end, organization__county_fips__startswith=ctx.state_fips)
        .values_list("organization__county_fips")
        .annotate(n=Count("pk"))
    )
    return {fips: CountyValue(fips, float(n)) for fips, n in rows if fips}


def dashboard_trend(ctx: Any) -> dict[int, float | None]:
    from commonguard.measurement.layers import counts_by_year

    return counts_by_year(_reports(ctx.user, ctx.state), "submitted_at", ctx)


def briefing_summary(organization: Any, state: str, start: date, end: date, user: Any) -> Any:
    """Reports sent to the state in [start, end) that the briefing's reader may read: how many, of what
    kind, and their estimated cost (an organisation's briefing: its own; the state's: the state's)."""
    from commonguard.measurement.hooks import IncidentSummary

    reports = _reports(user, state)
    if organization is not None:
        reports = reports.filter(organization=organization)
    reports = reports.filter(
        submitted_at__gte=datetime.combine(start, time.min, tzinfo=UTC),
        submitted_at__lt=datetime.combine(end, time.min, tzinfo=UTC),
    )
    total = reports.count()
    cost = reports.aggregate(cost=Sum("estimated_cost"))["cost"]
    by_kind = dict(reports.values_list("category").annotate(n=Count("pk")))
    labels = dict(Category.choices)
    kinds = [f"{n} {labels.get(kind, 'other').lower()}" for kind, n in sorted(by_kind.items(), key=lambda i: -i[1])]
    lines = [f"By kind: {', '.join(kinds)}."] if kinds else []
    return IncidentSummary(
        reported=total, estimated_cost=float(cost) if isinstance(cost, Decimal) else cost, lines=lines
    )


def register() -> None:
    from commonguard.measurement.hooks import register_incidents_provider
    from commonguard.measurement.layers import Layer, register_layer

    register_incidents_provider(briefing_summary)
    register_layer(
        Layer(
            "incidents",
            "Incident reports",
            "Incident reports sent to the state by organisations in the county (those you may read).",
            "count",
            dashboard_counties,
            dashboard_trend,
        )
    )
