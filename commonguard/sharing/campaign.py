"""The campaign view: where an alert's activity was seen, county by county, as the viewer may know it.

Who may know what (docs/adr/0015-campaign-map-disclosure.md):

- Only alerts the viewer may read (`Alert.objects.visible_to`) are counted; an alert they may not
  read is the same "does not exist" as everywhere else.
- Counts (sightings, organisations, times seen, last seen) per county are known to every reader of
  the alert, as `reaction_counts` already tells them how many organisations saw it.
- Which organisations reported is known only to the people `ReactionQuerySet.visible_to` lets see
  the sighting rows (the reporting organisation, the author's organisation, the state staff of the
  author's state). When the alert is anonymous, its reporters are anonymous too: only the state
  staff, and each reporting organisation for itself, see names.
- A county's count must not single out an organisation to someone who may not see names: a county
  is placed on the map for such a viewer only if at least MIN_COUNTY_AUDIENCE organisations there
  could read the alert (and so could have reported); otherwise its sightings are counted under
  "not shown by county". The same goes for the sightings an anonymous alert's own author
  organisation reports, for viewers who may not know who wrote it.
- False positives are not mapped: only how many organisations found the alert a false positive.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from commonguard.accounts.models import Membership
from commonguard.accounts.viewer import Viewer, viewer_for
from commonguard.core.tlp import TLP
from commonguard.orgs.models import Organization
from commonguard.orgs.states import hub_state as orgs_hub_state
from commonguard.sharing.models import Alert, Sighting

# A county is placed on the map for someone who may not see who reported only when at least this
# many organisations there could read the alert: "a jurisdiction in X County", never "X County".
MIN_COUNTY_AUDIENCE = 3
DEFAULT_DAYS = 30
MAX_DAYS = 365

# Sequential, single-hue and so colour-blind-safe (ColorBrewer "Blues"): (lowest count, colour, label).
# The darkest class is dark enough for white text; no class is the only way to read a count (the table).
SCALE: tuple[tuple[int, str, str], ...] = (
    (1, "#c6dbef", "1"),
    (2, "#9ecae1", "2–4"),
    (5, "#6baed6", "5–9"),
    (10, "#3182bd", "10–19"),
    (20, "#08519c", "20 or more"),
)
NO_SIGHTINGS_COLOUR = "#ffffff"


def colour_for(sightings: int) -> str:
    colour = NO_SIGHTINGS_COLOUR
    for lowest, value, _label in SCALE:
        if sightings >= lowest:
            colour = value
    return colour


@dataclass
class Area:
    """The sightings of one county (or of the "not shown by county" bucket)."""

    fips: str
    name: str
    sightings: int = 0  # reports
    times: int = 0  # the reports' counts added up
    last_seen: datetime | None = None
    org_ids: set[int] = field(default_factory=set)
    reporters: set[str] = field(default_factory=set)

    @property
    def organisations(self) -> int:
        return len(self.org_ids)

    @property
    def reporter_names(self) -> list[str]:
        return sorted(self.reporters)

    @property
    def colour(self) -> str:
        return colour_for(self.sightings)

    def add(self, *, org_id: int, count: int, seen_at: datetime, name: str | None) -> None:
        self.sightings += 1
        self.times += count
        self.org_ids.add(org_id)
        self.last_seen = seen_at if self.last_seen is None else max(self.last_seen, seen_at)
        if name is not None:
            self.reporters.add(name)

    def as_json(self) -> dict[str, Any]:
        return {
            "fips": self.fips,
            "name": self.name,
            "sightings": self.sightings,
            "times": self.times,
            "organisations": self.organisations,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "reporters": self.reporter_names,
        }


@dataclass
class Campaign:
    state_fips: str
    state_name: str
    counties: list[Area]
    not_mapped: Area
    false_positives: int  # organisations that found it a false positive
    organisations: int  # organisations that saw it, wherever they are
    alert: Alert | None = None  # the one alert mapped (None: the statewide view)
    days: int | None = None
    updated_at: datetime = field(default_factory=timezone.now)

    @property
    def sightings(self) -> int:
        return sum(c.sightings for c in self.counties) + self.not_mapped.sightings

    def as_json(self) -> dict[str, Any]:
        return {
            "state": {"fips": self.state_fips, "name": self.state_name},
            "alert": str(self.alert.uuid) if self.alert else None,
            "days": self.days,
            "updated_at": self.updated_at.isoformat(),
            "totals": {
                "sightings": self.sightings,
                "organisations": self.organisations,
                "counties": len(self.counties),
                "false_positives": self.false_positives,
            },
            "counties": [c.as_json() for c in self.counties],
            "not_mapped": {k: v for k, v in self.not_mapped.as_json().items() if k not in ("fips", "name")},
        }


def scale_json() -> dict[str, Any]:
    """The colour scale, for the page's legend and its script (one definition, here)."""
    return {
        "none": NO_SIGHTINGS_COLOUR,
        "classes": [{"min": lowest, "colour": colour, "label": label} for lowest, colour, label in SCALE],
    }


def hub_state() -> tuple[str, str]:
    state = orgs_hub_state()
    return state.fips, state.name


# --- Selectors -------------------------------------------------------------------------------


def campaign_for_alert(*, user: Any, uuid: UUID) -> Campaign:
    """Where the sightings of one alert were reported, as `user` may know it. Raises
    Alert.DoesNotExist for an alert `user` may not read, exactly as for one that does not exist."""
    alert = Alert.objects.visible_to(user).select_related("author_org__region").get(uuid=uuid)
    sightings = Sighting.objects.filter(alert=alert)
    campaign = _aggregate(user, [alert], sightings)
    campaign.alert = alert
    return campaign


def campaign_statewide(*, user: Any, days: int = DEFAULT_DAYS) -> Campaign:
    """The sightings of the last `days` days on every alert `user` may read, by county."""
    since = timezone.now() - timedelta(days=days)
    readable = Alert.objects.visible_to(user).filter(status__in=Alert.LIVE_STATUSES)
    sightings = Sighting.objects.filter(alert__in=readable.values("pk"), seen_at__gte=since)
    alert_ids = set(sightings.values_list("alert_id", flat=True))
    alerts = list(readable.filter(pk__in=alert_ids).select_related("author_org"))
    campaign = _aggregate(user, alerts, sightings.filter(alert__in=[a.pk for a in alerts]))
    campaign.days = days
    return campaign


def _aggregate(user: Any, alerts: list[Alert], sightings: Any) -> Campaign:
    """`alerts` were read through `visible_to(user)`; `sightings` are theirs."""
    viewer = viewer_for(user)
    state_fips, state_name = hub_state()
    by_id = {a.pk: a for a in alerts}
    rows = list(
        sightings.filter(kind=Sighting.Kind.SEEN).values_list(
            "pk", "alert_id", "organization_id", "organization__name", "organization__county_fips", "count", "seen_at"
        )
    )
    named = _nameable_sighting_ids(user, viewer, alerts)
    audience: dict[int | str, Counter[str]] = {}
    counties: dict[str, Area] = {}
    not_mapped = Area(fips="", name="Not shown by county")
    for pk, alert_id, org_id, org_name, county_fips, count, seen_at in rows:
        alert = by_id[alert_id]
        name = org_name if pk in named else None
        fips = county_fips if county_fips and county_fips.startswith(state_fips) else ""
        if fips and alert.anonymous and org_id == alert.author_org_id and not _knows_author(alert, viewer):
            fips = ""
        if fips and not _sees_all_reporters(alert, viewer):
            # Every CLEAR and GREEN alert has the same audience: counted once.
            key = "community" if alert.tlp in (TLP.CLEAR, TLP.GREEN) else alert_id
            if key not in audience:
                audience[key] = _audience_by_county(alert)
            if audience[key][fips] < MIN_COUNTY_AUDIENCE:
                fips = ""
        area = counties.setdefault(fips, Area(fips=fips, name="")) if fips else not_mapped
        area.add(org_id=org_id, count=count, seen_at=seen_at, name=name)
    names = _county_names(user, counties)
    for fips, area in counties.items():
        area.name = names.get(fips, "")
    ordered = sorted(counties.values(), key=lambda a: (-a.sightings, a.name or a.fips))
    return Campaign(
        state_fips=state_fips,
        state_name=state_name,
        counties=ordered,
        not_mapped=not_mapped,
        false_positives=sightings.filter(kind=Sighting.Kind.FALSE_POSITIVE)
        .values("organization_id")
        .distinct()
        .count(),
        organisations=len({row[2] for row in rows}),
    )


def _knows_author(alert: Alert, viewer: Viewer) -> bool:
    """Whether `viewer` may know who wrote an anonymous alert (the rule of services.author_label)."""
    org = alert.author_org
    return viewer.is_operator or org.pk in viewer.org_ids or org.state in viewer.staff_states


def _sees_all_reporters(alert: Alert, viewer: Viewer) -> bool:
    """Whether `viewer` may see who reported every sighting of the alert (then no county is hidden)."""
    if alert.author_org.state in viewer.staff_states:
        return True
    return not alert.anonymous and alert.author_org_id in viewer.org_ids


def _nameable_sighting_ids(user: Any, viewer: Viewer, alerts: list[Alert]) -> set[int]:
    """The sightings whose organisation `user` may see named: the sighting read rule
    (ReactionQuerySet), narrowed for anonymous alerts to the state staff and the reporters themselves."""
    visible = Sighting.objects.visible_to(user).filter(alert__in=[a.pk for a in alerts])
    anonymous = [a.pk for a in alerts if a.anonymous and a.author_org.state not in viewer.staff_states]
    if anonymous:
        visible = visible.exclude(Q(alert__in=anonymous) & ~Q(organization_id__in=viewer.org_ids))
    return set(visible.values_list("pk", flat=True))


def _audience_by_county(alert: Alert) -> Counter[str]:
    """How many approved organisations in each county could read `alert` (and so could have
    reported a sighting of it). Used only to decide whether a county may be shown; never shown."""
    # Organisations that can answer: approved, with at least one approved member.
    answering = Membership.objects.filter(organization=OuterRef("pk"), status=Membership.Status.APPROVED)
    approved = Organization.objects.filter(Exists(answering), status=Organization.Status.APPROVED).exclude(
        county_fips=""
    )
    if alert.tlp in (TLP.CLEAR, TLP.GREEN):
        orgs = approved
    elif alert.tlp in (TLP.AMBER, TLP.AMBER_STRICT):
        orgs = approved.filter(Q(pk=alert.author_org_id) | Q(received_alerts=alert) | Q(sharing_groups__alerts=alert))
    else:
        people = [alert.author_id, *alert.recipient_people.values_list("pk", flat=True)]
        orgs = approved.filter(memberships__user_id__in=people, memberships__status=Membership.Status.APPROVED)
    per_county = orgs.order_by().values("county_fips").annotate(n=Count("pk", distinct=True))
    return Counter({row["county_fips"]: row["n"] for row in per_county})


def _county_names(user: Any, counties: dict[str, Area]) -> dict[str, str]:
    """County names from the directory (the county governments' own names, "Ingham County");
    the map's script falls back to the atlas's name for a county the directory does not have."""
    if not counties:
        return {}
    found = (
        Organization.objects.visible_to(user)
        .filter(kind=Organization.Kind.COUNTY, county_fips__in=list(counties))
        .values_list("county_fips", "name")
    )
    return dict(found)
