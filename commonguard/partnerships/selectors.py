"""Reads of partnerships. Each starts from a model's `visible_to`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from commonguard.accounts.viewer import viewer_for
from commonguard.orgs.models import Organization
from commonguard.partnerships.models import Engagement, GrantProgram, Initiative, Resource, SubAward


def resource_search(
    *, user: Any, query: str = "", kind: str = "", tag: str = "", csf_category: str = ""
) -> QuerySet[Resource]:
    """Library resources `user` may read, matching the words of `query` (PostgreSQL full-text search,
    ranked; on SQLite every word must appear in the title, summary or a tag), with filters. Each row
    carries `use_count`: how many organisations use it."""
    qs = Resource.objects.visible_to(user)
    if kind:
        qs = qs.filter(kind=kind)
    if tag:
        qs = qs.filter(tags__name=tag.strip().lower())
    if csf_category:
        qs = qs.filter(csf_category_q(csf_category))
    qs = qs.annotate(use_count=Count("uses", distinct=True)).select_related("author_org")
    words = query.split()
    if not words:
        return qs.order_by("-created_at", "-id")
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector

        vector = SearchVector("title", weight="A", config="english") + SearchVector(
            "summary", weight="B", config="english"
        )
        search = SearchQuery(query, search_type="websearch", config="english")
        tagged = Resource.objects.filter(tags__name__in=[w.lower() for w in words]).values("pk")
        # ts_rank is not zero for documents that do not match: filter with @@, rank only to order.
        return (
            qs.annotate(document=vector, rank=SearchRank(vector, search))
            .filter(Q(document=search) | Q(pk__in=tagged))
            .order_by("-rank", "-created_at", "-id")
        )
    for word in words:
        qs = qs.filter(Q(title__icontains=word) | Q(summary__icontains=word) | Q(tags__name__icontains=word))
    return qs.distinct().order_by("-created_at", "-id")


def csf_category_q(code: str) -> Q:
    """Resources tagged with exactly this CSF 2.0 category (codes are stored space-separated): "PR"
    or "PR.A" match nothing, "PR.AA" does not match "PR.AAX"."""
    code = code.strip().upper()
    return (
        Q(csf_categories=code)
        | Q(csf_categories__startswith=f"{code} ")
        | Q(csf_categories__endswith=f" {code}")
        | Q(csf_categories__contains=f" {code} ")
    )


def resources_for_csf_category(*, user: Any, category: str, limit: int = 5) -> list[Resource]:
    """For the posture improvement plan: readable resources tagged with a CSF 2.0 category, most used first."""
    return list(resource_search(user=user, csf_category=category).order_by("-use_count", "-created_at")[:limit])


# --- Initiatives at a glance -----------------------------------------------------------------


@dataclass
class InitiativeGlance:
    initiative: Initiative
    milestones_total: int
    milestones_done: int
    milestones_overdue: int
    next_milestone: Any
    partner_count: int

    @property
    def on_track(self) -> bool:
        """On track: the status says so (or planning/completed) and nothing is overdue."""
        return (
            self.initiative.status not in {Initiative.Status.AT_RISK, Initiative.Status.OFF_TRACK}
            and self.milestones_overdue == 0
        )

    @property
    def percent_done(self) -> int:
        return round(100 * self.milestones_done / self.milestones_total) if self.milestones_total else 0


def initiatives_at_a_glance(*, user: Any, today: date | None = None) -> list[InitiativeGlance]:
    today = today or timezone.localdate()
    rows = (
        Initiative.objects.visible_to(user)
        .select_related("lead_org")
        .annotate(
            m_total=Count("milestones", distinct=True),
            m_done=Count("milestones", filter=Q(milestones__done_on__isnull=False), distinct=True),
            m_overdue=Count(
                "milestones", filter=Q(milestones__done_on__isnull=True, milestones__due_on__lt=today), distinct=True
            ),
            p_count=Count("partners", distinct=True),
        )
        .prefetch_related("milestones")
    )
    result = []
    for row in rows:
        upcoming = [m for m in row.milestones.all() if m.done_on is None]
        result.append(
            InitiativeGlance(
                initiative=row,
                milestones_total=row.m_total,
                milestones_done=row.m_done,
                milestones_overdue=row.m_overdue,
                next_milestone=min(upcoming, key=lambda m: m.due_on) if upcoming else None,
                partner_count=row.p_count,
            )
        )
    # What needs attention first.
    return sorted(result, key=lambda g: (g.on_track, g.initiative.title))


# --- Liaison ---------------------------------------------------------------------------------


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def not_contacted_this_quarter(
    *, user: Any, whole_state: bool = False, today: date | None = None
) -> list[Organization]:
    """Local governments of the liaison's regions (or whole state) with no engagement logged since the
    start of the calendar quarter; the last contact date is on each as `last_contact`."""
    viewer = viewer_for(user)
    if not viewer.liaison_states:
        return []
    start = quarter_start(today or timezone.localdate())
    orgs = Organization.objects.visible_to(user).filter(
        status=Organization.Status.APPROVED,
        kind__in=Organization.LOCAL_GOVERNMENT_KINDS,
        state__in=viewer.liaison_states,
    )
    if not whole_state:
        orgs = orgs.filter(region_id__in=viewer.liaison_region_ids)
    engagements = Engagement.objects.visible_to(user)
    contacted = engagements.filter(occurred_on__gte=start).values("organization_id")
    result = list(orgs.exclude(pk__in=contacted).select_related("region").order_by("sort_name"))
    last: dict[int, date] = {}
    for org_id, occurred in engagements.filter(organization__in=[o.pk for o in result]).values_list(
        "organization_id", "occurred_on"
    ):
        if org_id not in last or occurred > last[org_id]:
            last[org_id] = occurred
    for org in result:
        org.last_contact = last.get(org.pk)  # type: ignore[attr-defined]
    return result


# --- Grants ----------------------------------------------------------------------------------


@dataclass
class PassThrough:
    program: GrantProgram
    local_total: Decimal
    rural_total: Decimal
    local_percent: Decimal
    rural_percent: Decimal
    local_ok: bool
    rural_ok: bool
    committed_count: int
    unknown_population: list[str] = field(default_factory=list)
    match_shortfalls: list[tuple[str, Decimal]] = field(default_factory=list)

    @property
    def local_required(self) -> Decimal:
        return (self.program.federal_award * self.program.local_share_minimum / 100).quantize(Decimal("0.01"))

    @property
    def rural_required(self) -> Decimal:
        return (self.program.federal_award * self.program.rural_share_minimum / 100).quantize(Decimal("0.01"))


def pass_through(program: GrantProgram, *, user: Any) -> PassThrough:
    return pass_through_many([program], user=user)[program.pk]


def pass_through_many(programs: list[GrantProgram], *, user: Any) -> dict[int, PassThrough]:
    """The pass-through rules of each programme, computed from its committed sub-awards (awarded,
    active, closed): at least `local_share_minimum` % of the federal award to local governments, at
    least `rural_share_minimum` % to rural areas (population under `rural_population_limit`, from
    the directory). The totals count every committed sub-award; the organisations *named* (unknown
    population, match short) are only those whose sub-award `user` may read
    (`SubAward.objects.visible_to`). Two queries for any number of programmes."""
    by_program: dict[int, list[SubAward]] = {p.pk: [] for p in programs}
    committed = (
        SubAward.objects.filter(program__in=list(by_program), status__in=SubAward.COMMITTED)
        .select_related("organization")
        .order_by("organization__sort_name", "id")
    )
    for award in committed:
        by_program[award.program_id].append(award)
    readable = set(
        SubAward.objects.visible_to(user)
        .filter(program__in=list(by_program), status__in=SubAward.COMMITTED)
        .values_list("pk", flat=True)
    )
    return {p.pk: _pass_through(p, by_program[p.pk], readable) for p in programs}


def _pass_through(program: GrantProgram, awards: list[SubAward], readable: set[int]) -> PassThrough:
    local = rural = Decimal(0)
    unknown: list[str] = []
    shortfalls: list[tuple[str, Decimal]] = []
    for award in awards:
        org = award.organization
        if org.is_local_government:
            local += award.amount
        if org.population is None:
            if award.pk in readable:
                unknown.append(org.name)
        elif org.population < program.rural_population_limit:
            rural += award.amount
        required_match = (award.amount * program.cost_share_rate / 100).quantize(Decimal("0.01"))
        if award.match_amount < required_match and award.pk in readable:
            shortfalls.append((org.name, required_match - award.match_amount))
    award_total = program.federal_award
    local_pct = (100 * local / award_total).quantize(Decimal("0.1"))
    rural_pct = (100 * rural / award_total).quantize(Decimal("0.1"))
    return PassThrough(
        program=program,
        local_total=local,
        rural_total=rural,
        local_percent=local_pct,
        rural_percent=rural_pct,
        local_ok=100 * local >= program.local_share_minimum * award_total,
        rural_ok=100 * rural >= program.rural_share_minimum * award_total,
        committed_count=len(awards),
        unknown_population=unknown,
        match_shortfalls=shortfalls,
    )


# --- Volunteers ------------------------------------------------------------------------------


def _words(text: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", text.lower()) if len(w) > 2}


def match_suggestions(*, user: Any) -> list[tuple[Any, list[Any]]]:
    """For a liaison: each open need of their state with the open offers sharing a skill word, most
    overlap first. Offers and needs are read through their own rules."""
    from commonguard.partnerships.models import LocalNeed, VolunteerOffer

    viewer = viewer_for(user)
    if not viewer.liaison_states:
        return []
    offers = list(
        VolunteerOffer.objects.visible_to(user)
        .filter(status="open", state__in=viewer.liaison_states)
        .select_related("organization", "offered_by")
    )
    needs = LocalNeed.objects.visible_to(user).filter(status="open", organization__state__in=viewer.liaison_states)
    result = []
    for need in needs.select_related("organization"):
        wanted = _words(need.skills)
        scored = sorted(
            ((len(wanted & _words(o.skills)), o) for o in offers), key=lambda pair: (-pair[0], pair[1].title)
        )
        result.append((need, [o for score, o in scored if score > 0]))
    return result
