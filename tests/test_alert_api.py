"""The alerts API: the TLP read rule as a persona × alert matrix (detail and list), anonymity,
the draft → publish → update → revoke flow, bad input that changes nothing, denied writes, and
sharing groups."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from commonguard.core.models import AuditEvent
from commonguard.sharing.group_services import sharing_group_create
from commonguard.sharing.indicators import defang
from commonguard.sharing.models import Alert, AlertVersion, Indicator, SharingGroup
from commonguard.sharing.services import AlertInput, alert_publish, alert_save_draft
from tests.conftest import PERSONAS, VETTED_PERSONAS

VETTED = set(VETTED_PERSONAS)
INGHAM = {"ingham_member", "ingham_admin", "ingham_official"}

# name: (author, TLP, audience, published?)
ALERTS: dict[str, tuple[str, str, dict[str, Any], bool]] = {
    "clear": ("ingham_member", "clear", {}, True),
    "green": ("washtenaw_member", "green", {}, True),
    "amber_org": ("ingham_member", "amber", {"recipient_orgs": ["washtenaw"]}, True),
    "amber_group": ("washtenaw_admin", "amber", {"sharing_groups": ["lansing_group"]}, True),
    "amber_strict": ("ingham_admin", "amber+strict", {"recipient_orgs": ["guard"]}, True),
    "red": ("ingham_admin", "red", {"recipient_people": ["washtenaw_admin"]}, True),
    "draft": ("ingham_member", "green", {}, False),
}

EXPECTED = {
    "clear": VETTED,
    "green": VETTED,
    # The author's organisation and the one named; not Lansing (a city inside Ingham, its own org),
    # not state staff: AMBER goes only where it is addressed.
    "amber_org": INGHAM | {"washtenaw_member", "washtenaw_admin"},
    "amber_group": {"washtenaw_member", "washtenaw_admin", "lansing_member"},
    "amber_strict": INGHAM | {"coordinator", "responder"},
    "red": {"ingham_admin", "washtenaw_admin"},
    # TLP binds the operator too: beyond CLEAR and GREEN, only where addressed; drafts never.
    "draft": {"ingham_member"},
}


def _org(world: Any, key: str) -> Any:
    return getattr(world, key)


def _make_alert(world: Any, name: str, **overrides: Any) -> Alert:
    author, tlp, audience, published = ALERTS[name]
    user = world[author]
    org = user.memberships.get(status="approved").organization
    groups = []
    if "sharing_groups" in audience:
        groups = [
            sharing_group_create(
                actor=world["washtenaw_admin"], owner=world.washtenaw, name="Lansing", organizations=[world.lansing]
            )
        ]
    data = AlertInput(
        title=f"Alert {name}",
        summary=f"What happened ({name}).",
        category="phishing",
        tlp=tlp,
        recipient_orgs=[_org(world, o) for o in audience.get("recipient_orgs", [])],
        sharing_groups=groups,
        recipient_people=[world[p] for p in audience.get("recipient_people", [])],
        indicators=[(None, f"{name.replace('_', '-')}.example.net")],
        **overrides,
    )
    alert = alert_save_draft(actor=user, author_org=org, data=data)
    if published:
        alert = alert_publish(actor=user, alert=alert)
    return alert


def _post(client: Any, url: str, data: Any) -> Any:
    return client.post(url, json.dumps(data), content_type="application/json")


def _patch(client: Any, url: str, data: Any) -> Any:
    return client.patch(url, json.dumps(data), content_type="application/json")


# --- The read rule ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ALERTS))
def test_alert_matrix(world, as_persona, name):
    """Every persona, one alert per TLP case: API detail (200, or the same 404 as a random uuid),
    API list membership, and the indicators list (indicators follow their alert)."""
    alert = _make_alert(world, name)
    indicator = alert.indicators.get()
    random_url = f"/api/v1/alerts/{uuid.uuid4()}/"
    for persona in PERSONAS:
        visible = persona in EXPECTED[name]
        where = f"{name} as {persona}"
        user = None if persona == "anonymous" else world[persona]
        assert Alert.objects.visible_to(user).filter(pk=alert.pk).exists() is visible, where
        client = as_persona(persona)
        detail = client.get(f"/api/v1/alerts/{alert.uuid}/")
        absent = client.get(random_url)
        if persona == "anonymous":
            assert detail.status_code == absent.status_code == 401, where
            continue
        if visible:
            assert detail.status_code == 200, where
            body = detail.json()
            assert body["uuid"] == str(alert.uuid)
            assert body["indicators"] == [
                {
                    "kind": "domain",
                    "value": indicator.value,
                    "defanged": defang("domain", indicator.value),
                    "comment": "",
                    "warning": "",
                }
            ]
        else:
            assert detail.status_code == 404, where
            assert detail.json() == absent.json() == client.get("/api/v1/alerts/not-a-uuid/").json(), where
        listed = client.get("/api/v1/alerts/", {"page_size": 500}).json()["results"]
        assert (str(alert.uuid) in {row["uuid"] for row in listed}) is visible, where
        found = client.get("/api/v1/indicators/", {"value": indicator.value}).json()["results"]
        assert ([row["id"] for row in found] == [indicator.pk]) is visible, where
        assert (client.get(f"/api/v1/indicators/{indicator.pk}/").status_code == 200) is visible, where


def test_anonymous_alert_hides_its_author(world, as_persona):
    alert = _make_alert(world, "green", anonymous=True)  # by washtenaw_member, Washtenaw County, Region 2
    org = world.washtenaw
    author = world["washtenaw_member"]
    # Peers: only the kind and region, no organisation id, no person, in detail and list alike.
    for persona in ["ingham_member", "lansing_member", "coordinator", "ingham_admin"]:
        client = as_persona(persona)
        detail = client.get(f"/api/v1/alerts/{alert.uuid}/").json()
        (row,) = [r for r in client.get("/api/v1/alerts/").json()["results"] if r["uuid"] == str(alert.uuid)]
        for body in (detail, row):
            assert body["author"] == "A county in Region 2", persona
            assert body["author_organization"] is None
            assert body["author_person"] is None
            assert body["audience"] is None
            assert body["anonymous"] is True
            text = json.dumps(body)
            assert "Washtenaw" not in text and author.email not in text, persona
    # The author's organisation, state staff and the operator know who.
    for persona in ["washtenaw_member", "washtenaw_admin", "analyst", "liaison1", "operator"]:
        body = as_persona(persona).get(f"/api/v1/alerts/{alert.uuid}/").json()
        assert body["author"] == "Washtenaw County", persona
        assert body["author_organization"]["id"] == org.pk, persona
    # The person is shown only to those who may read people (colleagues, state staff, operator).
    assert as_persona("washtenaw_admin").get(f"/api/v1/alerts/{alert.uuid}/").json()["author_person"]["id"] == (
        author.pk
    )
    # Not anonymous: peers see the organisation, but not a person they may not read.
    plain = _make_alert(world, "clear")
    body = as_persona("washtenaw_member").get(f"/api/v1/alerts/{plain.uuid}/").json()
    assert body["author"] == "Ingham County"
    assert body["author_organization"]["id"] == world.ingham.pk
    assert body["author_person"] is None


# --- Writing: the whole flow -----------------------------------------------------------------


def test_create_publish_update_revoke(world, as_persona):
    author = as_persona("ingham_member")
    audit_before = AuditEvent.objects.count()
    response = _post(
        author,
        "/api/v1/alerts/",
        {
            "author_org": world.ingham.pk,
            "title": "  Phishing   wave against county payroll ",
            "summary": "Invoices from a look-alike domain.",
            "category": "phishing",
            "severity": "high",
            "tlp": "TLP:AMBER",
            "attack_techniques": ["t1566.001"],
            "recipient_orgs": [world.washtenaw.pk],
            "recipient_people": [world["ingham_admin"].pk],  # not used by AMBER: dropped, never widened
            "indicators": [
                {"value": "hxxp://payroll-update[.]example/login"},
                {"kind": "ipv4", "value": "45.137.21[.]7"},
            ],
            "text": "Also seen: evil2[.]example.net and CVE-2024-3400 from 91.92.251.9.",
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["version"], body["tlp"]) == ("draft", 0, "amber")
    assert body["title"] == "Phishing wave against county payroll"
    assert body["attack_techniques"] == ["T1566.001"]
    assert {(i["kind"], i["value"]) for i in body["indicators"]} == {
        ("url", "http://payroll-update.example/login"),
        ("ipv4", "45.137.21.7"),
        ("ipv4", "91.92.251.9"),
        ("domain", "evil2.example.net"),
        ("cve", "CVE-2024-3400"),
    }
    for i in body["indicators"]:
        assert i["defanged"] == defang(i["kind"], i["value"])
        if i["kind"] != "cve":
            assert i["defanged"] != i["value"]
    assert body["audience"]["recipient_orgs"] == [
        {"id": world.washtenaw.pk, "name": "Washtenaw County", "kind": "county"}
    ]
    assert body["audience"]["recipient_people"] == []
    url = f"/api/v1/alerts/{body['uuid']}/"
    alert = Alert.objects.get(uuid=body["uuid"])
    assert as_persona("washtenaw_member").get(url).status_code == 404  # a draft: only its author

    # A draft changed is still a draft.
    author = as_persona("ingham_member")
    response = _patch(author, url, {"severity": "critical"})
    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["version"], response.json()["severity"]) == (
        "draft",
        0,
        "critical",
    )
    assert len(response.json()["indicators"]) == 5  # kept when not given

    response = author.post(f"{url}publish/")
    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["version"]) == ("published", 1)
    assert response.json()["published_at"]
    assert author.post(f"{url}publish/").status_code == 400  # already published
    assert as_persona("washtenaw_member").get(url).status_code == 200

    author = as_persona("ingham_member")
    response = _patch(author, url, {"title": "Phishing wave (updated)", "indicators": [{"value": "evil3.example"}]})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["version"], body["title"]) == ("updated", 2, "Phishing wave (updated)")
    assert [i["value"] for i in body["indicators"]] == ["evil3.example"]
    assert body["severity"] == "critical" and body["tlp"] == "amber"  # untouched fields kept
    versions = list(AlertVersion.objects.filter(alert=alert).order_by("version"))
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].snapshot["title"] == "Phishing wave against county payroll"
    assert versions[1].snapshot["title"] == "Phishing wave (updated)"
    assert _patch(author, url, {"author_org": world.lansing.pk}).status_code == 400

    # An admin of the author's organisation may change it too.
    response = _patch(as_persona("ingham_admin"), url, {"recommended_actions": "Block the domain."})
    assert (response.status_code, response.json()["version"]) == (200, 3)

    author = as_persona("ingham_member")
    response = _post(author, f"{url}revoke/", {"reason": "  "})
    assert response.status_code == 400
    assert "Say why" in json.dumps(response.json())
    response = _post(author, f"{url}revoke/", {"reason": "Legitimate vendor after all."})
    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["version"]) == ("revoked", 4)
    assert response.json()["revocation_reason"] == "Legitimate vendor after all."
    assert _patch(author, url, {"title": "Again"}).status_code == 400
    assert as_persona("washtenaw_member").get(url).json()["status"] == "revoked"
    assert AlertVersion.objects.filter(alert=alert).count() == 4
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True)[audit_before:])
    assert actions == [
        "alert.save_draft",
        "alert.save_draft",
        "alert.publish",
        "alert.update",
        "alert.update",
        "alert.revoke",
    ]


def test_publish_needs_an_audience(world, as_persona):
    client = as_persona("ingham_member")
    body = _post(
        client,
        "/api/v1/alerts/",
        {"author_org": world.ingham.pk, "title": "x", "summary": "y", "category": "other", "tlp": "red"},
    ).json()
    response = client.post(f"/api/v1/alerts/{body['uuid']}/publish/")
    assert response.status_code == 400
    assert "name at least one" in response.json()["error"]["fields"]["recipient_people"][0]
    assert Alert.objects.get(uuid=body["uuid"]).status == "draft"


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("amber+strict", "amber+strict"),
        ("TLP:AMBER", "amber"),
        ("tlp:Amber+Strict", "amber+strict"),
        ("WHITE", "clear"),
    ],
)
def test_tlp_forms_accepted(world, as_persona, given, stored):
    response = _post(
        as_persona("ingham_member"),
        "/api/v1/alerts/",
        {"author_org": world.ingham.pk, "title": "t", "summary": "s", "category": "other", "tlp": given},
    )
    assert response.status_code == 201, response.json()
    assert response.json()["tlp"] == stored


def test_filters(world, as_persona):
    green = _make_alert(world, "green")
    strict = _make_alert(world, "amber_strict")
    draft = _make_alert(world, "draft")
    Alert.objects.filter(pk=green.pk).update(published_at=timezone.now() - timedelta(days=3))
    client = as_persona("ingham_member")

    def uuids(**params: Any) -> list[str]:
        response = client.get("/api/v1/alerts/", params)
        assert response.status_code == 200, response.json()
        return [r["uuid"] for r in response.json()["results"]]

    assert uuids() == [str(draft.uuid), str(strict.uuid), str(green.uuid)]  # newest first
    assert uuids(tlp="TLP:AMBER+STRICT") == [str(strict.uuid)]
    assert uuids(status="draft") == [str(draft.uuid)]
    assert uuids(since=(timezone.now() - timedelta(days=1)).isoformat()) == [str(strict.uuid)]
    assert uuids(severity="critical") == []
    assert uuids(category="phishing", page_size=1) == [str(draft.uuid)]
    for bad in [{"tlp": "purple"}, {"since": "yesterday"}, {"status": "gone"}]:
        response = client.get("/api/v1/alerts/", bad)
        assert response.status_code == 400, bad
        assert set(response.json()["error"]["fields"]) == set(bad)
    # Indicators: by kind, by a defanged value, by alert; a malformed uuid is a 400.
    rows = client.get("/api/v1/indicators/", {"value": "amber-strict[.]example[.]net"}).json()["results"]
    assert [(r["alert"]["uuid"], r["defanged"]) for r in rows] == [(str(strict.uuid), "amber-strict[.]example[.]net")]
    assert len(client.get("/api/v1/indicators/", {"alert": str(green.uuid)}).json()["results"]) == 1
    assert client.get("/api/v1/indicators/", {"kind": "ipv4"}).json()["results"] == []
    assert client.get("/api/v1/indicators/", {"alert": "nope"}).status_code == 400


# --- Bad input changes nothing ---------------------------------------------------------------


def _state() -> tuple[int, int, int, int]:
    return (Alert.objects.count(), Indicator.objects.count(), AlertVersion.objects.count(), AuditEvent.objects.count())


def _draft(world: Any) -> dict[str, Any]:
    return {"author_org": world.ingham.pk, "title": "Title", "summary": "Summary", "category": "other", "tlp": "green"}


def test_ten_megabyte_title(world, as_persona):
    before = _state()
    client = as_persona("ingham_member")
    response = _post(client, "/api/v1/alerts/", {**_draft(world), "title": "x" * 10_000_000})
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("The request body is over 2.6 MB; nothing was changed.")
    # Under the body limit, the title's own limit answers.
    response = _post(client, "/api/v1/alerts/", {**_draft(world), "title": "x" * 1_000_000})
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["title"] == ["Ensure this field has no more than 200 characters."]
    assert _state() == before


def test_unknown_tlp(world, as_persona):
    before = _state()
    response = _post(as_persona("ingham_member"), "/api/v1/alerts/", {**_draft(world), "tlp": "TLP:PURPLE"})
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["tlp"] == [
        "Unknown TLP label 'TLP:PURPLE': use one of CLEAR, GREEN, AMBER, AMBER+STRICT, RED."
    ]
    assert _state() == before


def test_one_hundred_thousand_indicators(world, as_persona):
    before = _state()
    client = as_persona("ingham_member")
    many = [{"value": f"h{i}.io"} for i in range(100_000)]
    body = json.dumps({**_draft(world), "indicators": many}, separators=(",", ":"))
    started = time.monotonic()
    response = client.post("/api/v1/alerts/", body, content_type="application/json")
    elapsed = time.monotonic() - started
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["indicators"] == [
        "An alert holds at most 5,000 indicators and this request has 100,000: split larger sets into several "
        "alerts or import them as a feed. Nothing was saved."
    ]
    assert elapsed < 10  # refused before a single one is parsed
    assert _state() == before
    # Longer values make a body over the hub's request limit: refused as a whole, as clearly.
    many = [{"kind": "ipv4", "value": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"} for i in range(100_000)]
    response = _post(client, "/api/v1/alerts/", {**_draft(world), "indicators": many})
    assert response.status_code == 400
    assert "The request body is over" in response.json()["error"]["message"]
    assert _state() == before
    # The limit also holds for what is found in free text, added to the list.
    listed = [{"value": f"10.0.{i // 256}.{i % 256}"} for i in range(4_990)]
    text = "Seen: " + ", ".join(f"evil{i}[.]example[.]com" for i in range(20))
    response = _post(
        as_persona("ingham_member"), "/api/v1/alerts/", {**_draft(world), "indicators": listed, "text": text}
    )
    assert response.status_code == 400
    assert "at most 5,000 indicators" in response.json()["error"]["fields"]["indicators"][0]
    assert _state() == before


def test_invalid_indicators_are_all_listed(world, as_persona):
    before = _state()
    response = _post(
        as_persona("ingham_member"),
        "/api/v1/alerts/",
        {
            **_draft(world),
            "indicators": [
                {"kind": "ipv4", "value": "999.1.1.1"},
                {"kind": "sha256", "value": "abc123"},
                {"kind": "cve", "value": "CVE-24-1"},
                {"value": "fine.example.net"},
            ],
            "attack_techniques": ["T1566", "phishing"],
        },
    )
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    listed = " ".join(fields["indicators"])
    for bad in ["999.1.1.1", "abc123", "CVE-24-1"]:
        assert bad in listed
    assert "fine.example.net" not in listed
    assert "PHISHING" in fields["attack_techniques"][0]
    assert _state() == before


def test_ids_the_caller_cannot_see_are_unknown(world, as_persona):
    client = as_persona("ingham_member")
    before = _state()
    hidden_org, missing = world.pending_org.pk, 987654
    # Washtenaw's member is not someone an Ingham member may read.
    hidden_person = world["washtenaw_member"].pk
    response = _post(
        client,
        "/api/v1/alerts/",
        {
            **_draft(world),
            "tlp": "amber",
            "recipient_orgs": [world.washtenaw.pk, hidden_org],
            "sharing_groups": [missing],
            "recipient_people": [hidden_person],
        },
    )
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert fields == {
        "recipient_orgs": [f"Unknown id: {hidden_org}."],
        "sharing_groups": [f"Unknown id: {missing}."],
        "recipient_people": [f"Unknown id: {hidden_person}."],
    }
    # A hidden id reads exactly like one that does not exist.
    response = _post(client, "/api/v1/alerts/", {**_draft(world), "author_org": missing})
    assert response.json()["error"]["fields"] == {"author_org": [f"Unknown id: {missing}."]}
    response = _post(client, "/api/v1/alerts/", {**_draft(world), "author_org": hidden_org})
    assert response.json()["error"]["fields"] == {"author_org": [f"Unknown id: {hidden_org}."]}
    # A visible organisation the caller does not belong to: a 403 that reveals nothing hidden.
    response = _post(client, "/api/v1/alerts/", {**_draft(world), "author_org": world.washtenaw.pk})
    assert response.status_code == 403
    # Not vetted: the organisation they asked to join is theirs to see, not to write for.
    response = _post(as_persona("unvetted"), "/api/v1/alerts/", _draft(world))
    assert response.status_code == 403
    response = _post(as_persona("unvetted"), "/api/v1/alerts/", {**_draft(world), "author_org": world.washtenaw.pk})
    assert response.json()["error"]["fields"] == {"author_org": [f"Unknown id: {world.washtenaw.pk}."]}
    assert _state() == before


# --- Denied writes ---------------------------------------------------------------------------


def _row(alert: Alert) -> tuple[Any, ...]:
    alert.refresh_from_db()
    return (alert.title, alert.status, alert.version, alert.revocation_reason, alert.modified_at)


def test_only_the_author_and_their_admins_change_an_alert(world, as_persona):
    """Every other persona: 403 where they can read the alert, 404 where they cannot, 401 when
    signed out; the alert, its versions, its indicators and the audit trail are untouched."""
    green = _make_alert(world, "green")  # by washtenaw_member: GREEN, readable by every vetted persona
    draft = _make_alert(world, "draft")  # by ingham_member
    allowed = {"washtenaw_member", "washtenaw_admin"}
    for persona in PERSONAS:
        client = as_persona(persona)
        attempts = [
            # An unknown id in the body changes nothing: a non-editor hears 403 first, not about the id.
            (green, lambda c: _patch(c, f"/api/v1/alerts/{green.uuid}/", {"title": "Defaced", "sharing_groups": [9]})),
            (green, lambda c: _post(c, f"/api/v1/alerts/{green.uuid}/revoke/", {"reason": "Gone"})),
            (draft, lambda c: c.post(f"/api/v1/alerts/{draft.uuid}/publish/")),
            (draft, lambda c: _patch(c, f"/api/v1/alerts/{draft.uuid}/", {"title": "Defaced"})),
        ]
        for alert, attempt in attempts:
            if (persona in allowed and alert is green) or (persona == "ingham_member" and alert is draft):
                continue
            before = (_row(alert), _state())
            response = attempt(client)
            expected = {401} if persona == "anonymous" else {404} if alert is draft or persona not in VETTED else {403}
            assert response.status_code in expected, (persona, alert.title, response.status_code)
            assert (_row(alert), _state()) == before, persona


def test_admin_who_readdresses_to_others_gets_no_content(world, as_persona):
    alert = _make_alert(world, "clear")  # by ingham_member
    response = _patch(
        as_persona("ingham_admin"),
        f"/api/v1/alerts/{alert.uuid}/",
        {"tlp": "red", "recipient_people": [world["ingham_member"].pk]},
    )
    assert response.status_code == 204
    alert.refresh_from_db()
    assert (alert.tlp, alert.version) == ("red", 2)
    assert as_persona("ingham_admin").get(f"/api/v1/alerts/{alert.uuid}/").status_code == 404


# --- Sharing groups --------------------------------------------------------------------------


def test_sharing_groups(world, as_persona):
    admin = as_persona("ingham_admin")
    audit = AuditEvent.objects.count()
    response = _post(
        admin,
        "/api/v1/sharing-groups/",
        {"owner": world.ingham.pk, "name": "Capital area", "organizations": [world.lansing.pk, world.washtenaw.pk]},
    )
    assert response.status_code == 201, response.json()
    group = response.json()
    assert {o["id"] for o in group["organizations"]} == {world.lansing.pk, world.washtenaw.pk}
    assert AuditEvent.objects.filter(action="sharing_group.create").count() == 1
    assert AuditEvent.objects.count() == audit + 1
    url = f"/api/v1/sharing-groups/{group['id']}/"

    before = (SharingGroup.objects.count(), AuditEvent.objects.count())
    # Not an admin of the owner: 403; a hidden or unknown organisation: 400; a duplicate name: 400.
    member = as_persona("ingham_member")
    assert _post(member, "/api/v1/sharing-groups/", {"owner": world.ingham.pk, "name": "Mine"}).status_code == 403
    response = _post(
        as_persona("ingham_admin"),
        "/api/v1/sharing-groups/",
        {"owner": world.ingham.pk, "name": "Other", "organizations": [world.pending_org.pk]},
    )
    assert response.json()["error"]["fields"] == {"organizations": [f"Unknown id: {world.pending_org.pk}."]}
    response = _post(
        as_persona("ingham_admin"), "/api/v1/sharing-groups/", {"owner": world.ingham.pk, "name": "capital AREA"}
    )
    assert response.status_code == 400
    assert "already has a sharing group" in response.json()["error"]["fields"]["name"][0]
    assert _patch(as_persona("washtenaw_admin"), url, {"name": "Taken over"}).status_code == 403
    assert (SharingGroup.objects.count(), AuditEvent.objects.count()) == before
    assert as_persona("unvetted").get(url).status_code == 404
    assert as_persona("unvetted").get("/api/v1/sharing-groups/").json()["results"] == []
    assert as_persona("washtenaw_member").get(url).status_code == 200

    # An AMBER alert to the group follows it: removing Lansing takes the alert away from Lansing.
    sg = SharingGroup.objects.get(pk=group["id"])
    alert = alert_publish(
        actor=world["ingham_member"],
        alert=alert_save_draft(
            actor=world["ingham_member"],
            author_org=world.ingham,
            data=AlertInput(title="t", summary="s", category="other", tlp="amber", sharing_groups=[sg]),
        ),
    )
    assert as_persona("lansing_member").get(f"/api/v1/alerts/{alert.uuid}/").status_code == 200
    response = _patch(as_persona("ingham_admin"), url, {"organizations": [world.washtenaw.pk]})
    assert response.status_code == 200, response.json()
    assert [o["id"] for o in response.json()["organizations"]] == [world.washtenaw.pk]
    event = AuditEvent.objects.filter(action="sharing_group.update").get()
    assert (event.data["added"], event.data["removed"]) == ([], [world.lansing.pk])
    assert as_persona("lansing_member").get(f"/api/v1/alerts/{alert.uuid}/").status_code == 404
    # Renaming keeps the members.
    response = _patch(as_persona("ingham_admin"), url, {"name": "Capital region"})
    assert (response.json()["name"], [o["id"] for o in response.json()["organizations"]]) == (
        "Capital region",
        [world.washtenaw.pk],
    )
    assert AuditEvent.objects.filter(action="sharing_group.update").latest("id").data["fields"] == ["name"]


def test_alert_list_queries_do_not_grow_with_the_page(world, as_persona):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = as_persona("ingham_admin")

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/v1/alerts/").status_code == 200
        return len(ctx.captured_queries)

    _make_alert(world, "amber_strict")
    _make_alert(world, "red")
    few = count()
    for _ in range(10):
        _make_alert(world, "amber_strict", anonymous=True)
        _make_alert(world, "red")
    assert count() == few


def test_schema_lists_the_new_paths(world, as_persona):
    schema = as_persona("ingham_member").get("/api/schema/").content.decode()
    for path in [
        "/api/v1/alerts/:",
        "/api/v1/alerts/{uuid}/:",
        "/api/v1/alerts/{uuid}/publish/:",
        "/api/v1/alerts/{uuid}/revoke/:",
        "/api/v1/indicators/:",
        "/api/v1/indicators/{id}/:",
        "/api/v1/sharing-groups/:",
        "/api/v1/sharing-groups/{id}/:",
    ]:
        assert path in schema
    assert "TlpEnum" in schema and "AlertStatusEnum" in schema
