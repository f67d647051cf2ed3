"""The quarterly briefing for elected officials: one local government's, or the state's, on two
pages of plain language, rendered to PDF by WeasyPrint (imported only when rendering).

Sections: what happened, what it cost, what was shared, how our cyber posture is trending, grant
money received. Costs and grants come from the incidents and grants apps through hooks.py; until
they are installed the briefing says so in those sections.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from django.template.loader import render_to_string

from commonguard.accounts.viewer import organization_viewer
from commonguard.measurement import hooks
from commonguard.measurement.kanon import K
from commonguard.measurement.models import RECOMMENDED_MINIMUM, Assessment
from commonguard.orgs.models import Organization
from commonguard.orgs.states import state_by_postal

HEADINGS = (
    "What happened",
    "What it cost",
    "What was shared",
    "Our cyber posture",
    "Grant money received",
)


@dataclass
class Briefing:
    title: str
    subject: str  # "Ingham County" or "Michigan"
    year: int
    quarter: int
    start: date
    end: date  # exclusive
    happened: list[str] = field(default_factory=list)
    cost: list[str] = field(default_factory=list)
    shared: list[str] = field(default_factory=list)
    posture: list[tuple[str, str, str]] = field(default_factory=list)  # (year, ours, peers/state)
    posture_notes: list[str] = field(default_factory=list)
    grants: list[str] = field(default_factory=list)
    grants_available: bool = False
    costs_available: bool = False
    generated: datetime | None = None

    @property
    def period(self) -> str:
        last = date.fromordinal(self.end.toordinal() - 1)
        return f"Q{self.quarter} {self.year} ({self.start:%B} {self.start.day} to {last:%B} {last.day}, {last.year})"


def quarter_range(year: int, quarter: int) -> tuple[date, date]:
    if quarter not in (1, 2, 3, 4):
        raise ValueError("quarter is 1 to 4")
    start = date(year, 3 * (quarter - 1) + 1, 1)
    end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return start, end


def _dt(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def _n(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _money(amount: float) -> str:
    return f"${amount:,.0f}"


def _alert_facts(readable: Any, start: date, end: date) -> tuple[int, int]:
    from commonguard.sharing.models import Alert

    in_period = readable.filter(status__in=Alert.LIVE_STATUSES, published_at__gte=_dt(start), published_at__lt=_dt(end))
    total = in_period.count()
    urgent = in_period.filter(severity__in=["critical", "high"]).count()
    return total, urgent


def _cost_section(b: Briefing, organization: Organization | None, state: str, user: Any) -> None:
    summary = hooks.incidents_in(organization, state, b.start, b.end, user)
    if summary is None:
        b.cost.append(
            "Incident costs will appear here once incident reports are collected on the hub. "
            "None are recorded for this quarter yet."
        )
        return
    b.costs_available = True
    if summary.reported == 0:
        b.cost.append("No cyber incidents were reported this quarter, so no costs were recorded.")
        return
    cost = _money(summary.estimated_cost) if summary.estimated_cost is not None else "not yet estimated"
    b.cost.append(f"{_n(summary.reported, 'incident was', 'incidents were')} reported; estimated cost: {cost}.")
    b.cost.extend(summary.lines)


def _grant_section(b: Briefing, organization: Organization | None, state: str, user: Any) -> None:
    summary = hooks.grants_received(organization, state, b.start, b.end, user)
    if summary is None:
        b.grants.append(
            "Grant figures (for example the State and Local Cybersecurity Grant Program) will appear here "
            "once grant tracking is switched on."
        )
        return
    b.grants_available = True
    b.grants.append(f"Received this quarter: {_money(summary.received)}.")
    b.grants.extend(f"{name}: {_money(amount)}" for name, amount in summary.awards)
    if summary.note:
        b.grants.append(summary.note)


def briefing_for_org(organization: Organization, year: int, quarter: int, *, user: Any) -> Briefing:
    """A local government's briefing. Its posture figures are its own (private to it): the PDF is
    served only to its members. Peer figures are k-anonymous."""
    from commonguard.measurement.stats import peer_benchmark, posture_by_year
    from commonguard.sharing.models import Alert, Sighting

    start, end = quarter_range(year, quarter)
    b = Briefing(f"Cybersecurity briefing: {organization.name}", organization.name, year, quarter, start, end)
    org_viewer = organization_viewer(organization)
    total, urgent = _alert_facts(Alert.objects.visible_to(org_viewer), start, end)
    seen = Sighting.objects.filter(
        organization=organization, kind=Sighting.Kind.SEEN, seen_at__gte=_dt(start), seen_at__lt=_dt(end)
    ).count()
    b.happened.append(
        f"The state's sharing hub sent {organization.name} {_n(total, 'threat alert', 'threat alerts')} this quarter; "
        f"{_n(urgent, 'was', 'were')} rated high or critical."
    )
    b.happened.append(
        f"Our staff found signs of {_n(seen, 'threat', 'threats')} from those alerts in our own systems (a “sighting”)."
        if seen
        else "Our staff did not report finding any of those threats in our own systems."
    )
    _cost_section(b, organization, organization.state, user)
    published = Alert.objects.filter(
        author_org=organization, status__in=Alert.LIVE_STATUSES, published_at__gte=_dt(start), published_at__lt=_dt(end)
    ).count()
    b.shared.append(
        f"We warned other governments {_n(published, 'time', 'times')} by publishing alerts on the hub."
        if published
        else "We did not publish any alerts this quarter."
    )
    b.shared.append(
        "Each sighting we report helps neighbouring governments see where an attack is spreading "
        f"({seen} this quarter)."
    )
    ours = dict(
        Assessment.objects.filter(organization=organization).exclude(overall=None).values_list("year", "overall")
    )
    state_cells = {int(str(c.key)): c for c in posture_by_year(organization.state)}
    for y in sorted(set(ours) | set(state_cells))[-5:]:
        # The other local governments only (k >= 5 of them): a state mean that counts this one would let
        # it subtract its own score and learn the mean of the rest.
        cell = peer_benchmark(organization, y)
        peer = "fewer than 5 reported" if cell.suppressed else f"{cell.values['overall']:.1f}"
        b.posture.append((str(y), f"{ours[y]:.1f}" if y in ours else "not assessed", peer))
    if ours:
        latest = max(ours)
        level = "at or above" if ours[latest] >= RECOMMENDED_MINIMUM else "below"
        b.posture_notes.append(
            f"Our latest self-assessment ({latest}) scores {ours[latest]:.1f} of 7, {level} the recommended "
            f"minimum of {RECOMMENDED_MINIMUM}."
        )
        if len(ours) > 1:
            years = sorted(ours)
            change = ours[years[-1]] - ours[years[-2]]
            word = "improved" if change > 0.05 else ("slipped" if change < -0.05 else "held steady")
            b.posture_notes.append(f"Since {years[-2]} our score has {word} ({change:+.1f}).")
    else:
        b.posture_notes.append("We have not yet completed the NIST Cybersecurity Framework self-assessment.")
    _grant_section(b, organization, organization.state, user)
    return b


def briefing_for_state(state: str, year: int, quarter: int, *, user: Any) -> Briefing:
    """The state's briefing: state-wide counts, and only k-anonymous figures of private data."""
    from commonguard.accounts.models import Membership
    from commonguard.measurement.stats import posture_by_year, survey_trend
    from commonguard.sharing.models import Alert, Sighting

    start, end = quarter_range(year, quarter)
    name = state_by_postal(state).name
    b = Briefing(f"Cybersecurity briefing: {name}", name, year, quarter, start, end)
    # Counted as the reader may read them (a RED or AMBER alert they may not read is not counted).
    alerts = Alert.objects.visible_to(user).filter(author_org__state=state, status__in=Alert.LIVE_STATUSES)
    total = alerts.filter(published_at__gte=_dt(start), published_at__lt=_dt(end))
    sightings = Sighting.objects.visible_to(user).filter(
        organization__state=state, kind=Sighting.Kind.SEEN, seen_at__gte=_dt(start), seen_at__lt=_dt(end)
    )
    reporting = sightings.values("organization_id").distinct().count()
    b.happened.append(
        f"Governments in {name} published {_n(total.count(), 'threat alert', 'threat alerts')} on the hub this "
        f"quarter; {_n(total.filter(severity__in=['critical', 'high']).count(), 'was', 'were')} high or critical."
    )
    b.happened.append(
        f"{_n(reporting, 'local government', 'local governments')} found signs of those threats in their own "
        f"systems ({_n(sightings.count(), 'sighting', 'sightings')})."
    )
    _cost_section(b, None, state, user)
    members = (
        Membership.objects.filter(
            status=Membership.Status.APPROVED,
            organization__state=state,
            organization__kind__in=Organization.LOCAL_GOVERNMENT_KINDS,
        )
        .values("organization_id")
        .distinct()
        .count()
    )
    all_lg = Organization.objects.filter(state=state, kind__in=Organization.LOCAL_GOVERNMENT_KINDS).count()
    authors = total.values("author_org_id").distinct().count()
    b.shared.append(f"{_n(authors, 'organisation', 'organisations')} shared warnings with the others this quarter.")
    b.shared.append(f"{members:,} of {all_lg:,} local governments take part in the hub.")
    surveys = {int(str(c.key)): c for c in survey_trend(state)}
    cells = {int(str(c.key)): c for c in posture_by_year(state)}
    for y in sorted(set(cells) | set(surveys))[-5:]:
        cell, survey = cells.get(y), surveys.get(y)
        ours = "fewer than 5 reported" if cell is None or cell.suppressed else f"{cell.values['mean']:.1f} ({cell.n})"
        rel = "fewer than 5 answered" if survey is None or survey.suppressed else f"{survey.values['excellent_pct']} %"
        b.posture.append((str(y), ours, rel))
    b.posture_notes.append(
        f"Mean self-assessment score of local governments (1 to 7; {RECOMMENDED_MINIMUM} is the recommended "
        f"minimum), and the share rating the state relationship excellent. Figures from fewer than {K} "
        "governments are not shown."
    )
    _grant_section(b, None, state, user)
    return b


def render_pdf(briefing: Briefing, *, state_briefing: bool = False) -> bytes:
    """The briefing as PDF (WeasyPrint, imported here so the app starts without Pango)."""
    from django.utils import timezone
    from weasyprint import HTML

    briefing.generated = timezone.now()
    html = render_to_string(
        "measurement/briefing_pdf.html",
        {"b": briefing, "headings": HEADINGS, "state_briefing": state_briefing, "minimum": RECOMMENDED_MINIMUM},
    )
    return bytes(HTML(string=html).write_pdf())
