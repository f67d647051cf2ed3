"""What the library and grants give the measurement app (measurement/hooks.py): resources for the
posture improvement plan's weakest CSF categories, and grant money for the quarterly briefing.
Registered in PartnershipsConfig.ready()."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from django.db.models import Sum
from django.urls import reverse

from commonguard.partnerships.models import SubAward
from commonguard.partnerships.selectors import resources_for_csf_category


def library_for_categories(category_codes: Sequence[str], user: Any) -> dict[str, list[Any]]:
    """Readable library resources tagged with each weak CSF category (most used first)."""
    from commonguard.measurement.hooks import Resource

    found: dict[str, list[Any]] = {}
    for code in category_codes:
        found[code] = [
            Resource(title=r.title, url=reverse("partnerships:resource", args=[r.pk]), kind=r.get_kind_display())
            for r in resources_for_csf_category(user=user, category=code)
        ]
    return found


def grants_in_quarter(organization: Any, state: str, start: date, end: date, user: Any) -> Any:
    """Sub-awards committed (awarded, active or closed) in [start, end): to the organisation, or, for
    the state's briefing, to every local government under the state's programmes."""
    from commonguard.measurement.hooks import GrantSummary

    awards = (
        SubAward.objects.visible_to(user)
        .filter(
            status__in=SubAward.COMMITTED,
            program__state=state,
            created_at__gte=datetime.combine(start, time.min, tzinfo=UTC),
            created_at__lt=datetime.combine(end, time.min, tzinfo=UTC),
        )
        .select_related("program", "organization")
    )
    if organization is not None:
        awards = awards.filter(organization=organization)
    total = awards.aggregate(total=Sum("amount"))["total"] or 0
    listed = [
        (
            f"{a.program} — {a.objective}" if organization is not None else f"{a.organization.name}: {a.objective}",
            float(a.amount),
        )
        for a in awards.order_by("-amount")[:8]
    ]
    return GrantSummary(
        received=float(total),
        awards=listed,
        note="Sub-awards committed this quarter (awarded, active or closed); the state's grant records.",
    )


def register() -> None:
    from commonguard.measurement.hooks import register_grants_provider, register_library_provider

    register_library_provider(library_for_categories)
    register_grants_provider(grants_in_quarter)
