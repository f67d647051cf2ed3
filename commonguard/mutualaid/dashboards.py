"""The coordinator's dashboard (ADR 33): open requests, deployed responders by county (a map with a
table as its text alternative), responder availability by skill, and credentials expiring within
30 days. Everything is read through `visible_to(user)`: the dashboard shows a person only what the
other mutual-aid pages would."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Q

from commonguard.accounts.viewer import viewer_for
from commonguard.mutualaid.models import (
    AssistanceRequest,
    AvailabilityWindow,
    Credential,
    Deployment,
    Responder,
    Skill,
)
from commonguard.mutualaid.querysets import coordinator_org_ids
from commonguard.orgs.models import Organization
from commonguard.orgs.states import STATES

EXPIRY_DAYS = 30
# Sequential blues (USWDS blue-warm family): 0, 1, 2–3, 4+ deployed responders.
COLOURS = ["#f0f0f0", "#d9e8f6", "#73b3e7", "#005ea2", "#162e51"]
BUCKETS = [(0, 0, "none"), (1, 1, "1"), (2, 3, "2–3"), (4, 10**9, "4 or more")]


@dataclass
class CountyRow:
    fips: str
    name: str
    deployed: int
    responders: list[str]
    colour: str = COLOURS[0]


@dataclass
class SkillRow:
    skill: Skill
    active: int  # active on the roster (visible to the reader)
    available: int  # of whom: in an availability window today and not committed today
    deployed: int


@dataclass
class Dashboard:
    today: date
    state: str
    state_name: str
    state_fips: str
    open_requests: list[AssistanceRequest]
    deployed: list[Deployment]
    counties: list[CountyRow]
    skills: list[SkillRow]
    expiring: list[Credential]
    is_coordinator: bool
    legend: list[tuple[str, str]] = field(default_factory=list)

    def map_json(self) -> dict[str, Any]:
        return {
            "state": {"fips": self.state_fips, "name": self.state_name},
            "no_value_colour": COLOURS[0],
            "counties": [
                {"fips": c.fips, "name": c.name, "colour": c.colour, "display": f"{c.deployed} deployed"}
                for c in self.counties
            ],
        }


def _colour(n: int) -> str:
    for i, (low, high, _) in enumerate(BUCKETS):
        if low <= n <= high:
            return COLOURS[i]
    return COLOURS[-1]


def coordinator_dashboard(user: Any, today: date) -> Dashboard:
    viewer = viewer_for(user)
    state = STATES.get(settings.COMMONGUARD_STATE)
    state_postal = settings.COMMONGUARD_STATE
    open_requests = list(
        AssistanceRequest.objects.visible_to(user)
        .filter(status=AssistanceRequest.Status.OPEN)
        .select_related("requesting_org")
        .prefetch_related("skills")
        .order_by("starts_on")[:50]
    )
    deployed = list(
        Deployment.objects.visible_to(user)
        .filter(status__in=Deployment.UNDER_WAY)
        .select_related("responder", "responder__programme", "request", "request__requesting_org")
        .order_by("request__location_county_fips", "responder__full_name")
    )
    # Where the work is: the request's county (the requester's own county when it gave none).
    by_county: dict[str, list[str]] = defaultdict(list)
    for d in deployed:
        fips = d.request.location_county_fips or d.request.requesting_org.county_fips
        if fips:
            by_county[fips].append(d.responder.full_name)
    names = dict(
        Organization.objects.filter(kind=Organization.Kind.COUNTY, county_fips__in=list(by_county)).values_list(
            "county_fips", "name"
        )
    )
    counties = [
        CountyRow(fips=f, name=names.get(f, f), deployed=len(rs), responders=sorted(rs), colour=_colour(len(rs)))
        for f, rs in sorted(by_county.items(), key=lambda kv: (-len(kv[1]), names.get(kv[0], kv[0])))
    ]

    # Availability by skill: active responders the reader may see, available today, not committed today.
    responders = Responder.objects.visible_to(user).filter(status=Responder.Status.ACTIVE)
    window_today = AvailabilityWindow.objects.filter(responder=OuterRef("pk"), starts_on__lte=today, ends_on__gte=today)
    committed_today = Deployment.objects.filter(
        responder=OuterRef("pk"), status__in=Deployment.HOLDING, starts_on__lte=today, ends_on__gte=today
    )
    deployed_now = Deployment.objects.filter(responder=OuterRef("pk"), status__in=Deployment.UNDER_WAY)
    rows = responders.annotate(
        free=Exists(window_today) & ~Exists(committed_today), out=Exists(deployed_now)
    ).values_list("skills__id", "free", "out")
    active: Counter[int] = Counter()
    available: Counter[int] = Counter()
    out: Counter[int] = Counter()
    for skill_id, free, is_out in rows:
        if skill_id is None:
            continue
        active[skill_id] += 1
        available[skill_id] += bool(free)
        out[skill_id] += bool(is_out)
    skills = [
        SkillRow(skill=s, active=active[s.pk], available=available[s.pk], deployed=out[s.pk])
        for s in Skill.objects.filter(pk__in=list(active)).order_by("name")
    ]

    coordinated = coordinator_org_ids(viewer)
    expiring = (
        list(
            Credential.objects.filter(
                responder__in=Responder.objects.visible_to(user).filter(programme_id__in=coordinated),
                responder__status__in=[Responder.Status.ACTIVE, Responder.Status.INACTIVE],
            )
            .filter(Q(expires_on__lte=today + timedelta(days=EXPIRY_DAYS)))
            .select_related("responder", "responder__programme")
            .order_by("expires_on", "responder__full_name")[:200]
        )
        if coordinated
        else []
    )
    return Dashboard(
        today=today,
        state=state_postal,
        state_name=state.name if state else state_postal,
        state_fips=state.fips if state else "",
        open_requests=open_requests,
        deployed=deployed,
        counties=counties,
        skills=skills,
        expiring=expiring,
        is_coordinator=bool(coordinated),
        legend=[(COLOURS[i], label) for i, (_, _, label) in enumerate(BUCKETS)],
    )
