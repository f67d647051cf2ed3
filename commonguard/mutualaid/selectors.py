"""Reads for mutual-aid pages and the API. Each starts from a `visible_to` rule."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Prefetch, QuerySet

from commonguard.accounts.viewer import viewer_for
from commonguard.mutualaid.models import Agreement, AgreementParty, Responder, ResponderPrivate
from commonguard.orgs.models import Organization


@dataclass
class Neighbour:
    organization: Organization
    agreements: list[Agreement] = field(default_factory=list)
    distance_km: float | None = None
    # May the person ask this neighbour for help, under at least one of the agreements, in their role?
    can_request: bool = False


def _km(a: Organization, b: Organization) -> float | None:
    if a.latitude is None or a.longitude is None or b.latitude is None or b.longitude is None:
        return None
    la1, lo1, la2, lo2 = (math.radians(float(v)) for v in (a.latitude, a.longitude, b.latitude, b.longitude))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def neighbours_on_call(user: Any, organization: Organization, day: date) -> list[Neighbour]:
    """The organisations `organization` can call on on `day`: co-parties (signed, not withdrawn) of
    every agreement in force that day which it has signed, nearest first. Only for the person's own
    organisations (or state staff of its state); anyone else gets an empty list."""
    viewer = viewer_for(user)
    if (
        organization.pk not in viewer.org_ids
        and organization.state not in viewer.staff_states
        and not viewer.is_operator
    ):
        return []
    role = viewer.roles_by_org.get(organization.pk)
    agreements = (
        Agreement.objects.in_force_on(day)
        .filter(
            party_rows__organization=organization,
            party_rows__signed_on__lte=day,
            party_rows__withdrawn_on__isnull=True,
        )
        .distinct()
    )
    rows = (
        AgreementParty.objects.filter(agreement__in=agreements, signed_on__lte=day, withdrawn_on__isnull=True)
        .exclude(organization=organization)
        .select_related("organization", "agreement")
    )
    by_org: dict[int, Neighbour] = {}
    for row in rows:
        n = by_org.setdefault(
            row.organization_id, Neighbour(row.organization, distance_km=_km(organization, row.organization))
        )
        n.agreements.append(row.agreement)
        if role is not None and role in row.agreement.request_roles:
            n.can_request = True
    return sorted(by_org.values(), key=lambda n: (n.distance_km is None, n.distance_km or 0, n.organization.name))


def agreement_list(user: Any) -> QuerySet[Agreement]:
    return (
        Agreement.objects.visible_to(user)
        .select_related("administrator", "region")
        .prefetch_related(Prefetch("party_rows", queryset=AgreementParty.objects.select_related("organization")))
    )


def responder_list(user: Any) -> QuerySet[Responder]:
    return Responder.objects.visible_to(user).select_related("programme").prefetch_related("skills")


@dataclass
class ResponderView:
    responder: Responder
    private: ResponderPrivate | None  # None: the person may not see the personal details


def responder_detail(user: Any, pk: int) -> ResponderView | None:
    """The roster profile, with the personal details only where the field rule allows."""
    responder = (
        Responder.objects.visible_to(user)
        .select_related("programme")
        .prefetch_related("skills", "credentials", "trainings", "availability", "conflicts")
        .filter(pk=pk)
        .first()
    )
    if responder is None:
        return None
    private = ResponderPrivate.objects.visible_to(user).filter(responder=responder).first()
    return ResponderView(responder, private)
