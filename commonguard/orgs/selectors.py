"""Reads of the directory. Every one starts from `visible_to`."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from commonguard.orgs.models import ContactAssignment, Organization, normalise_search_text


def organization_list(
    *,
    user: Any,
    q: str = "",
    kind: str = "",
    state: str = "",
    county: int | None = None,
    region: int | None = None,
    status: str = "",
) -> QuerySet[Organization]:
    """Directory search: every word of `q` must appear in the name (or be the FIPS code)."""
    qs = Organization.objects.visible_to(user).select_related("county", "region")
    words = normalise_search_text(q).split()
    if len(words) == 1 and words[0].isdigit():
        code = words[0]
        # The `exclude` repeats the partial unique indexes' condition (a code is never empty), so
        # that the database can look the code up in them instead of scanning the directory.
        if len(code) == 7:
            qs = qs.filter(place_fips=code).exclude(place_fips="")
        else:
            qs = qs.filter(county_fips=code, kind="county").exclude(county_fips="")
    else:
        for word in words[:8]:
            qs = qs.filter(search_name__contains=word)
    if kind:
        qs = qs.filter(kind=kind)
    if state:
        qs = qs.filter(state=state.upper())
    if county:
        qs = qs.filter(county_id=county)
    if region:
        qs = qs.filter(region_id=region)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("sort_name", "id")


def organization_get(*, user: Any, pk: Any) -> Organization:
    """One organisation, or 404 alike for "hidden" and "absent"."""
    return get_object_or_404(Organization.objects.visible_to(user).select_related("county", "region__liaison"), pk=pk)


def organization_join_candidates(*, q: str, limit: int = 20) -> list[dict[str, Any]]:
    """Approved organisations whose name matches, for the join-request picker.

    Deliberately not behind visible_to: an unvetted person must be able to name the government
    they work for. Only public-record facts leave here (the names and kinds of governments from
    the Census, and the hub's own organisations): never people, contacts or anything else.
    See docs/adr/0008-read-rule.md."""
    words = normalise_search_text(q).split()
    if not words:
        return []
    qs = Organization.objects.approved()
    for word in words[:8]:
        qs = qs.filter(search_name__contains=word)
    rows = qs.order_by("sort_name", "id").values("id", "name", "kind", "state", "county__name")[:limit]
    return [
        {
            "id": r["id"],
            "name": r["name"],
            "kind": Organization.Kind(r["kind"]).label,
            "state": r["state"],
            "county": r["county__name"] or "",
        }
        for r in rows
    ]


def contact_list(
    *, user: Any, organization: Organization | None = None, current: bool | None = None
) -> QuerySet[ContactAssignment]:
    qs = ContactAssignment.objects.visible_to(user).select_related("holder", "organization")
    if organization is not None:
        qs = qs.filter(organization=organization)
    if current is True:
        qs = qs.filter(ended_at__isnull=True)
    elif current is False:
        qs = qs.filter(ended_at__isnull=False)
    return qs


def organization_for_join(*, pk: Any) -> Organization:
    """An approved organisation a person may ask to join (the same public-record exception as
    `organization_join_candidates`): 404 for anything else."""
    return get_object_or_404(Organization.objects.approved(), pk=pk)
