"""Zero leaks, by hypothesis: random worlds of organisations (approved, pending, rejected), people
(approved, pending and removed memberships in every role; an operator), sharing groups, webhooks,
preferences and alerts of all five TLP labels (organisations, groups and people named; anonymous or
not; drafts, published, updated, revoked; with indicators and sightings), with memberships removed
and organisations suspended after publishing and before the workers run.

For every person and every channel, what they receive is exactly what `Alert.objects.visible_to`
(itself checked against a plain statement of ADR 13) allows:

- pages: the feed, its htmx partial, every alert's page (a hidden one answers byte for byte like a
  missing id);
- REST: the alert list and details, the indicator list and its value search;
- the live feed: the `LiveEvent` rows the worker wrote and the stream's WSGI answer, for new alert
  versions and for sightings (which refresh open campaign maps);
- e-mail through a real SMTP server (aiosmtpd): at once, or in the daily digest, as preferences say;
- webhooks through a real HTTP receiver: what the organisation may read within the endpoint's ceiling;
- the campaign map (per alert and statewide) and the log lookup ("have we seen this?").

The push channels (live feed, e-mail, webhooks) announce an alert version when it is published, to
its audience of that moment re-checked at send time: the world only ever *narrows* between publish
and the workers (removals, suspensions, updates), so at the end "received" must equal "may read".
One test, built transactionally (the real `db_worker` runs in between); each example retires the
previous example's world (people deactivated, organisations rejected, alerts back to drafts of
people who no longer exist), so nothing earlier is visible to anyone later and every comparison is
over the whole database."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from commonguard.accounts.models import Membership, Role, User
from commonguard.accounts.viewer import organization_viewer
from commonguard.core.tlp import TLP, TLP_ORDER
from commonguard.orgs.models import Organization, Region
from commonguard.sharing import lookup_services
from commonguard.sharing.delivery import digest_send, wants
from commonguard.sharing.models import (
    FILTER_SEVERITIES,
    Alert,
    AlertPreference,
    DigestRun,
    Indicator,
    LiveEvent,
    SharingGroup,
    Sighting,
    Webhook,
)
from commonguard.sharing.reactions import sighting_report
from commonguard.sharing.services import AlertInput, alert_publish, alert_revoke, alert_save_draft, alert_update
from tests.conftest import sign_in
from tests.test_alert_pages import _without_csrf

pytestmark = pytest.mark.django_db(transaction=True)

# --- The generator of worlds ----------------------------------------------------------------------

ORG_SLOTS = [  # kind, county: three organisations in Ingham (a county can be shown on the map)
    ("county", "26065"),
    ("city", "26065"),
    ("township", "26065"),
    ("county", "26161"),
    ("state_agency", ""),
]
N_ORGS, MAX_PEOPLE, MAX_ALERTS = len(ORG_SLOTS), 5, 6
LABELS = [TLP.CLEAR, TLP.GREEN, TLP.AMBER, TLP.AMBER_STRICT, TLP.RED]
CATEGORIES = [Alert.Category.PHISHING, Alert.Category.MALWARE, Alert.Category.ELECTION]
WEBHOOK_CEILINGS = [TLP.CLEAR, TLP.GREEN, TLP.AMBER, TLP.AMBER_STRICT]

membership = st.one_of(
    st.none(),
    st.tuples(
        st.sampled_from([r.value for r in Role]),
        st.sampled_from(["approved", "approved", "approved", "pending", "removed"]),
    ),
)
preference = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {
            "email": st.booleans(),
            "email_mode": st.sampled_from(["immediate", "digest"]),
            "categories": st.lists(st.sampled_from(CATEGORIES), max_size=2, unique=True),
            "min_severity": st.sampled_from(FILTER_SEVERITIES),
        }
    ),
)
person = st.fixed_dictionaries(
    {
        "memberships": st.lists(membership, min_size=N_ORGS, max_size=N_ORGS),
        "operator": st.integers(0, 7).map(lambda n: n == 0),
        "preference": preference,
    }
)
webhook = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {
            "max_tlp": st.sampled_from(WEBHOOK_CEILINGS),
            "active": st.integers(0, 4).map(lambda n: n > 0),
            "min_severity": st.sampled_from(FILTER_SEVERITIES),
            "categories": st.lists(st.sampled_from(CATEGORIES), max_size=1, unique=True),
        }
    ),
)
alert = st.fixed_dictionaries(
    {
        "author": st.integers(0, MAX_PEOPLE - 1),
        "org": st.integers(0, N_ORGS - 1),
        "tlp": st.sampled_from(LABELS),
        "severity": st.sampled_from(Alert.Severity.values),
        "category": st.sampled_from(CATEGORIES),
        "anonymous": st.booleans(),
        "orgs": st.sets(st.integers(0, N_ORGS - 1), max_size=3),
        "groups": st.sets(st.integers(0, 1), max_size=2),
        "people": st.sets(st.integers(0, MAX_PEOPLE - 1), max_size=3),
        "indicators": st.integers(0, 2),
        "fate": st.sampled_from(["published", "updated", "revoked", "draft", "published"]),
        "new_tlp": st.sampled_from(LABELS),  # for an update: the label may change, the audience with it
    }
)
worlds = st.fixed_dictionaries(
    {
        "orgs": st.lists(
            st.sampled_from(["approved", "approved", "approved", "pending", "rejected"]),
            min_size=N_ORGS,
            max_size=N_ORGS,
        ),
        "people": st.lists(person, min_size=2, max_size=MAX_PEOPLE),
        "groups": st.lists(st.sets(st.integers(0, N_ORGS - 1), min_size=1, max_size=3), max_size=2),
        "webhooks": st.lists(webhook, min_size=N_ORGS, max_size=N_ORGS),
        "alerts": st.lists(alert, min_size=1, max_size=MAX_ALERTS),
        # (person, alert, count, kind, days ago): refused ones (cannot read it, draft...) are skipped
        "sightings": st.lists(
            st.tuples(
                st.integers(0, MAX_PEOPLE - 1),
                st.integers(0, MAX_ALERTS - 1),
                st.integers(1, 5),
                st.sampled_from(["seen", "seen", "false_positive"]),
                st.sampled_from([0, 2, 45]),
            ),
            max_size=6,
        ),
        # After publishing, before the workers: memberships removed, organisations suspended.
        "removals": st.lists(st.tuples(st.integers(0, MAX_PEOPLE - 1), st.integers(0, N_ORGS - 1)), max_size=2),
        "suspended": st.sets(st.integers(0, N_ORGS - 1), max_size=1),
    }
)


@dataclass
class Built:
    orgs: list[Organization]
    people: list[User]
    alerts: list[Alert] = field(default_factory=list)
    webhooks: list[Webhook] = field(default_factory=list)
    indicator_values: list[str] = field(default_factory=list)


_examples = itertools.count(1)


def _retire_previous_worlds() -> None:
    """Nothing of an earlier example may be visible to anyone in this one."""
    User.objects.update(is_active=False)
    Organization.objects.update(status=Organization.Status.REJECTED, county_fips="")  # one county per FIPS
    Membership.objects.update(status=Membership.Status.REMOVED)
    Alert.objects.update(status=Alert.Status.DRAFT)
    Webhook.objects.update(active=False)
    DigestRun.objects.all().delete()
    lookup_services._cache.clear()


def _indicator(n: int) -> str:
    return [f"91.92.251.{n % 250 + 1}", f"drop{n}.evil.example", hashlib.sha256(f"leak{n}".encode()).hexdigest()][n % 3]


def _build(spec: dict[str, Any], receiver_url: str) -> Built:
    """Build the world. The first organisation is approved and the first person an approved member
    of it, so that (nearly) every example has someone who can write alerts."""
    ex = next(_examples)
    spec["orgs"][0] = "approved"
    first = spec["people"][0]["memberships"]
    first[0] = (first[0][0] if first[0] else Role.MEMBER, "approved")
    region, _ = Region.objects.get_or_create(state="MI", number=1, defaults={"name": "Region 1"})
    orgs = [
        Organization.objects.create(
            name=f"Org {ex}.{i} {kind}",
            kind=kind,
            status=status,
            state="MI",
            county_fips=fips,
            region=region,
            time_zone="America/Detroit",
            population=1000,
        )
        for i, ((kind, fips), status) in enumerate(zip(ORG_SLOTS, spec["orgs"], strict=True))
    ]
    people = []
    for i, p in enumerate(spec["people"]):
        user = User.objects.create_user(
            email=f"p{ex}-{i}@example.test", password=None, full_name=f"Person {ex}.{i}", is_superuser=p["operator"]
        )
        for org, choice in zip(orgs, p["memberships"], strict=True):
            if choice is not None:
                Membership.objects.create(user=user, organization=org, role=choice[0], status=choice[1])
        if p["preference"] is not None:
            AlertPreference.objects.create(user=user, **p["preference"])
        people.append(user)
    built = Built(orgs, people)
    groups = []
    for i, members in enumerate(spec["groups"]):
        group = SharingGroup.objects.create(name=f"Group {ex}.{i}", owner=orgs[0])
        group.organizations.set([orgs[m] for m in members])
        groups.append(group)
    for i, (org, hook) in enumerate(zip(orgs, spec["webhooks"], strict=True)):
        if hook is not None:
            built.webhooks.append(
                Webhook.objects.create(
                    organization=org, name=f"Hook {ex}.{i}", url=receiver_url, secret="s" * 64, **hook
                )
            )
    _alerts(spec, built, groups, ex)
    return built


def _fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)  # the Viewer is cached on the object: read memberships anew


def _alerts(spec: dict[str, Any], built: Built, groups: list[SharingGroup], ex: int) -> None:
    people, orgs = built.people, built.orgs
    plans: list[tuple[Alert, dict[str, Any], User]] = []
    members = {p.pk: _member_of(p, orgs) for p in people}
    writers = [p for p in people if members[p.pk]]  # only approved members write alerts
    for i, a in enumerate(spec["alerts"] if writers else []):
        author = _fresh(writers[a["author"] % len(writers)])
        own = members[author.pk]
        values = [_indicator(ex * 10 + i * 3 + k) for k in range(a["indicators"])]
        data = AlertInput(
            title=f"Alert {ex}.{i} {a['tlp']}",
            summary="Something happened.",
            category=a["category"],
            severity=a["severity"],
            tlp=a["tlp"],
            anonymous=a["anonymous"],
            recipient_orgs=[orgs[n] for n in sorted(a["orgs"]) if orgs[n].status == "approved"],
            sharing_groups=[groups[n] for n in sorted(a["groups"]) if n < len(groups)],
            recipient_people=[_fresh(people[n]) for n in sorted(a["people"]) if n < len(people)],
            indicators=[(None, v) for v in values],
        )
        data.recipient_people = [p for p in data.recipient_people if p.pk != author.pk and _vetted(p)]
        try:
            draft = alert_save_draft(actor=author, author_org=own[a["org"] % len(own)], data=data)
        except (PermissionDenied, ValidationError):
            continue
        built.indicator_values += values
        built.alerts.append(draft)
        if a["fate"] != "draft":
            with contextlib.suppress(ValidationError):  # no audience named: it stays a draft
                plans.append((alert_publish(actor=author, alert=draft), a, author))
    for person_i, alert_i, count, kind, days in spec["sightings"] if plans else []:
        actor = _fresh(writers[person_i % len(writers)])
        with contextlib.suppress(PermissionDenied, ValidationError):  # they may not read it
            sighting_report(
                actor=actor,
                alert=plans[alert_i % len(plans)][0],
                organization=members[actor.pk][0],
                kind=kind,
                count=count,
                seen_at=timezone.now() - timedelta(days=days),
            )
    for published, a, author in plans:
        if a["fate"] == "revoked":
            alert_revoke(actor=author, alert=published, reason="False positive.")
        elif a["fate"] == "updated":
            data = AlertInput(
                title=published.title + " (updated)",
                summary=published.summary,
                category=published.category,
                severity=published.severity,
                tlp=a["new_tlp"],
                anonymous=published.anonymous,
                recipient_orgs=list(published.recipient_orgs.all()),
                sharing_groups=list(published.sharing_groups.all()),
                recipient_people=list(published.recipient_people.all()),
                indicators=[(i.kind, i.value) for i in published.indicators.all()],
            )
            with contextlib.suppress(ValidationError):  # the new label needs an audience it does not name
                alert_update(actor=author, alert=published, data=data)
    for person_i, org_i in spec["removals"]:
        Membership.objects.filter(user=people[person_i % len(people)], organization=orgs[org_i]).update(
            status=Membership.Status.REMOVED
        )
    Organization.objects.filter(pk__in=[orgs[n].pk for n in spec["suspended"]]).update(
        status=Organization.Status.PENDING
    )


def _member_of(user: User, orgs: list[Organization]) -> list[Organization]:
    """The organisations of `orgs` of which `user` is an approved member, approved ones only."""
    approved = set(user.memberships.filter(status="approved").values_list("organization_id", flat=True))
    return [o for o in orgs if o.status == "approved" and o.pk in approved]


def _vetted(user: User) -> bool:
    return (
        user.is_superuser
        or Membership.objects.filter(user=user, status="approved", organization__status="approved").exists()
    )


# --- What the policy says (ADR 13), written plainly ------------------------------------------------


def _oracle(user: User) -> set[int]:
    """The alerts `user` may read."""
    if not user.is_active:
        return set()
    approved = set(
        Membership.objects.filter(user=user, status="approved", organization__status="approved").values_list(
            "organization_id", flat=True
        )
    )
    if not (approved or user.is_superuser):
        return set()
    seen = set()
    for a in Alert.objects.prefetch_related("recipient_orgs", "sharing_groups__organizations", "recipient_people"):
        if a.status == Alert.Status.DRAFT:
            ok = a.author_id == user.pk
        elif a.tlp in (TLP.CLEAR, TLP.GREEN):
            ok = True
        elif a.tlp in (TLP.AMBER, TLP.AMBER_STRICT):
            named = {a.author_org_id, *(o.pk for o in a.recipient_orgs.all())}
            named |= {o.pk for g in a.sharing_groups.all() for o in g.organizations.all()}
            ok = bool(named & approved)
        else:
            ok = a.author_id == user.pk or user.pk in {p.pk for p in a.recipient_people.all()}
        if ok:
            seen.add(a.pk)
    return seen


def _pushed_to(user: User, readable: set[int]) -> set[int]:
    """What the live feed and e-mail bring a person: the published alerts they may read and did not
    write, if they are a member of an approved organisation (the operator as such is sent nothing)."""
    if not Membership.objects.filter(user=user, status="approved", organization__status="approved").exists():
        return set()
    live = Alert.objects.filter(pk__in=readable, status__in=Alert.LIVE_STATUSES).exclude(author=user)
    return set(live.values_list("pk", flat=True))


def _told_of_sightings(user: User, readable: set[int]) -> set[int]:
    """The alerts whose sightings a person's live feed announces (open maps refresh): the published
    alerts with sightings that they may read, their own included, if they are a member of an
    approved organisation."""
    if not Membership.objects.filter(user=user, status="approved", organization__status="approved").exists():
        return set()
    live = Alert.objects.filter(pk__in=readable, status__in=Alert.LIVE_STATUSES, sightings__isnull=False)
    return set(live.values_list("pk", flat=True))


def _emailed(user: User, pushed: set[int]) -> tuple[set[int], set[int]]:
    """Of `pushed`, what goes by e-mail at once and what waits for the digest."""
    pref = AlertPreference.objects.filter(user=user).first()
    now, digest = set(), set()
    for a in Alert.objects.filter(pk__in=pushed):
        if pref is None:
            now.add(a.pk)
        elif pref.email and wants(a, pref.categories, pref.min_severity):
            critical = a.severity == Alert.Severity.CRITICAL
            (digest if pref.email_mode == "digest" and not critical else now).add(a.pk)
    return now, digest


def _hooked(hook: Webhook) -> set[int]:
    """What an organisation's endpoint receives: what the organisation as a whole may read (never
    RED), up to the endpoint's ceiling and through its filters."""
    hook.organization.refresh_from_db()
    if not hook.active:
        return set()
    ceiling = TLP_ORDER.index(TLP(hook.max_tlp))
    readable = Alert.objects.visible_to(organization_viewer(hook.organization)).filter(status__in=Alert.LIVE_STATUSES)
    return {
        a.pk
        for a in readable
        if a.tlp != TLP.RED and TLP_ORDER.index(TLP(a.tlp)) <= ceiling and wants(a, hook.categories, hook.min_severity)
    }


# --- Running the channels ---------------------------------------------------------------------------


UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _uuids_to_pks(uuids: set[str]) -> set[int]:
    found = dict(Alert.objects.filter(uuid__in=uuids).values_list("uuid", "pk"))
    assert len(found) == len(uuids), "a channel named an alert that does not exist"
    return set(found.values())


def _linked(html: str) -> set[int]:
    return _uuids_to_pks(set(re.findall(rf'href="/alerts/({UUID})/"', html)))


def _run_worker() -> None:
    call_command("db_worker", "--batch", "--queue-name", "*", "--no-reload", verbosity=0)


def _check_person(user: User, built: Built, cursor: int, mail: dict[str, list[Any]]) -> None:
    readable = set(Alert.objects.visible_to(user).values_list("pk", flat=True))
    assert readable == _oracle(user), "visible_to disagrees with ADR 13"
    vetted = _vetted(user) and user.is_active
    live = set(Alert.objects.filter(pk__in=readable, status__in=Alert.LIVE_STATUSES).values_list("pk", flat=True))
    indicators = set(Indicator.objects.visible_to(user).values_list("pk", flat=True))
    client = sign_in(Client(), user)
    who = user.email

    # Pages: the feed (and its htmx partial), each alert's page; hidden = missing, byte for byte.
    feed = client.get("/alerts/")
    partial = client.get("/alerts/", HTTP_HX_REQUEST="true")
    missing_uuid = "00000000-0000-4000-8000-000000000000"
    missing_page = client.get(f"/alerts/{missing_uuid}/")
    missing_api = client.get(f"/api/v1/alerts/{missing_uuid}/")
    missing_map = client.get(f"/api/v1/alerts/{missing_uuid}/campaign/")
    if vetted:
        assert feed.status_code == partial.status_code == 200
        assert _linked(feed.content.decode()) == readable, who
        assert _linked(partial.content.decode()) == live, who
        assert "<html" not in partial.content.decode()
    else:
        assert feed.status_code != 200 and partial.status_code != 200 and not readable
    for alert in built.alerts:
        page = client.get(f"/alerts/{alert.uuid}/")
        api = client.get(f"/api/v1/alerts/{alert.uuid}/")
        campaign = client.get(f"/api/v1/alerts/{alert.uuid}/campaign/")
        if alert.pk in readable:
            assert page.status_code == api.status_code == 200, (who, alert.title)
            assert api.json()["uuid"] == str(alert.uuid)
            if alert.status != Alert.Status.DRAFT:
                assert campaign.status_code == 200
                _check_campaign(user, campaign.json(), Sighting.objects.filter(alert=alert))
        else:
            for got, absent in [(page, missing_page), (api, missing_api), (campaign, missing_map)]:
                assert got.status_code == absent.status_code and got.status_code in (302, 403, 404), (who, alert.title)
                assert _without_csrf(got.content) == _without_csrf(absent.content), (who, alert.title)

    # REST lists, the indicator search, the statewide map, the log lookup.
    alerts_api = client.get("/api/v1/alerts/", {"page_size": 500})
    indicators_api = client.get("/api/v1/indicators/", {"page_size": 500})
    statewide = client.get("/api/v1/alerts/campaign/", {"days": 30})
    lookup = client.post(
        "/api/v1/lookup/",
        data=json.dumps({"text": "\n".join(f"2024-05-01 fw01 DST={v}" for v in built.indicator_values) or "x"}),
        content_type="application/json",
    )
    # Unvetted callers get empty lists and 404s (or a refusal), never anything else.
    assert alerts_api.status_code == indicators_api.status_code == statewide.status_code == 200, who
    assert {r["uuid"] for r in alerts_api.json()["results"]} == {
        str(u) for u in Alert.objects.filter(pk__in=readable).values_list("uuid", flat=True)
    }, who
    assert {r["id"] for r in indicators_api.json()["results"]} == indicators, who
    for value in built.indicator_values[:3]:
        found = client.get("/api/v1/indicators/", {"value": value}).json()["results"]
        assert {r["id"] for r in found} == set(
            Indicator.objects.visible_to(user).filter(value=value).values_list("pk", flat=True)
        ), who
    window = Sighting.objects.filter(alert__in=live, seen_at__gte=timezone.now() - timedelta(days=30))
    _check_campaign(user, statewide.json(), window)
    lookable = Indicator.objects.visible_to(user).filter(alert__status__in=lookup_services.LOOKUP_STATUSES)
    if lookup.status_code == 200:
        matched = {i["id"] for m in lookup.json()["matches"] for i in m["indicators"]}
        assert matched == set(lookable.values_list("pk", flat=True)), who
    else:
        assert lookup.status_code in (401, 403) and not vetted, who

    # Push channels: the live feed (rows and stream), e-mail (at once and digest).
    pushed = _pushed_to(user, readable)
    told = _told_of_sightings(user, readable)
    events = list(LiveEvent.objects.filter(pk__gt=cursor))
    assert {e.alert_id for e in events if e.kind == "alert" and user.pk in e.user_ids} == pushed, who
    assert {e.alert_id for e in events if e.kind == "sighting" and user.pk in e.user_ids} == told, who
    stream = client.get("/alerts/live/", HTTP_LAST_EVENT_ID=str(cursor))
    if vetted:
        frames: dict[str, set[str]] = {"alert": set(), "sighting": set()}
        name = ""
        for line in stream.content.decode().splitlines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                frames[name].add(json.loads(line[6:])["id"])
        assert _uuids_to_pks(frames["alert"]) == pushed, who
        assert _uuids_to_pks(frames["sighting"]) == told, who
    else:
        assert stream.status_code in (302, 403)
    at_once, in_digest = _emailed(user, pushed)
    messages = mail.get(user.email, [])
    direct = [m for m in messages if "daily digest" not in m["Subject"]]
    ids = [re.match(rf"<({UUID})\.(\d+)\.{user.pk}@", m["Message-ID"]) for m in direct]
    assert all(ids), who
    assert _uuids_to_pks({m.group(1) for m in ids if m}) == at_once, who
    assert len({(m.group(1), m.group(2)) for m in ids if m}) == len(ids), "a version e-mailed twice"
    digests = [m for m in messages if "daily digest" in m["Subject"]]
    assert len(digests) == (1 if in_digest else 0), who
    if digests:
        text = next(p for p in digests[0].walk() if p.get_content_type() == "text/plain")
        listed = set(re.findall(rf"/alerts/({UUID})/", text.get_payload(decode=True).decode()))
        assert _uuids_to_pks(listed) == in_digest, who


def _check_campaign(user: User, data: dict[str, Any], sightings: Any) -> None:
    """Counts only from sightings of alerts the person may read; names only of reporters they may
    know (`Sighting.objects.visible_to`)."""
    seen = sightings.filter(kind=Sighting.Kind.SEEN)
    assert data["totals"]["sightings"] == seen.count(), user.email
    assert data["totals"]["organisations"] == seen.values("organization_id").distinct().count()
    nameable = set(
        Sighting.objects.visible_to(user).filter(pk__in=seen.values("pk")).values_list("organization__name", flat=True)
    )
    named = {n for c in [*data["counties"], data["not_mapped"]] for n in c["reporters"]}
    assert named <= nameable, user.email


@hypothesis_settings(
    max_examples=12,
    deadline=None,
    # `smtp`, `receiver` and `settings` are shared by the examples on purpose: each example clears
    # what they hold and retires the previous world before building its own.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(spec=worlds)
def test_every_channel_delivers_exactly_what_the_read_rule_allows(spec, smtp, receiver, settings) -> None:
    settings.COMMONGUARD_WEBHOOK_ALLOW_PRIVATE = True
    settings.COMMONGUARD_FANOUT_PARALLEL = 1
    _retire_previous_worlds()
    smtp.messages.clear()
    receiver.requests.clear()
    receiver.status = 204
    cursor = LiveEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    built = _build(spec, receiver.url)
    _run_worker()
    assert digest_send(timezone.localtime().replace(hour=23)) >= 0

    published = Alert.objects.filter(pk__in=[a.pk for a in built.alerts], status__in=Alert.LIVE_STATUSES)
    event(f"published alerts: {published.count()}, labels: {len(set(published.values_list('tlp', flat=True)))}")
    event(f"e-mails: {bool(smtp.messages)}, digests: {any('digest' in m['Subject'] for m in smtp.messages)}")
    event(f"webhook posts: {bool(receiver.requests)}, live events: {LiveEvent.objects.filter(pk__gt=cursor).exists()}")
    event(f"sightings: {Sighting.objects.filter(alert__in=published).exists()}")
    mail: dict[str, list[Any]] = {}
    for message in smtp.messages:
        mail.setdefault(message["To"], []).append(message)
    assert set(mail) <= {p.email for p in built.people}, "mail to someone outside the world"
    for user in built.people:
        _check_person(_fresh(user), built, cursor, mail)

    hooked: dict[int, set[str]] = {}
    for request in receiver.requests:
        alert_uuid, _version, _channel, hook_pk = request["headers"]["X-CommonGuard-Delivery"].split(":")
        assert json.loads(request["body"])["alert"]["id"] == alert_uuid
        hooked.setdefault(int(hook_pk), set()).add(alert_uuid)
    assert set(hooked) <= {h.pk for h in built.webhooks}
    for hook in built.webhooks:
        hook.refresh_from_db()
        assert _uuids_to_pks(hooked.get(hook.pk, set())) == _hooked(hook), hook.name
