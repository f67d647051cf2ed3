"""MISP events in (upload, API, a MISP feed folder) and out (the hub's MISP feed), PyMISP round trip."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from pymisp import MISPEvent

from commonguard.accounts.services import token_create
from commonguard.core.models import AuditEvent
from commonguard.core.tlp import TLP
from commonguard.feeds.misp import MispError, import_event, read_event
from commonguard.feeds.models import Feed, MispEventImport
from commonguard.feeds.services import FeedInput, feed_pull, feed_save
from commonguard.sharing.models import Alert, AlertVersion, Delivery, SharingGroup
from tests.conftest import PERSONAS
from tests.sharing_helpers import make_alert

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "misp"

EVENT = {
    "Event": {
        "uuid": "5f1c2a0e-1111-4c2b-9d7e-0a1b2c3d4e5f",
        "info": "Spear-phishing against county clerks",
        "date": "2026-11-01",
        "timestamp": "1793000000",
        "threat_level_id": "1",
        "analysis": "2",
        "Tag": [
            {"name": "tlp:amber+strict"},
            {"name": 'misp-galaxy:mitre-attack-pattern="Spearphishing Link - T1566.002"'},
        ],
        "Attribute": [
            {"type": "ip-dst", "category": "Network activity", "value": "91.92.251.30", "to_ids": True},
            {"type": "domain|ip", "category": "Network activity", "value": "clerk-vote.example|45.137.21.40"},
            {"type": "url", "category": "Network activity", "value": "hxxps://clerk-vote[.]example/login"},
            {"type": "email-src", "category": "Payload delivery", "value": "elections@clerk-vote.example"},
            {"type": "email-subject", "category": "Payload delivery", "value": "Ballot audit - action required"},
            {"type": "vulnerability", "category": "External analysis", "value": "CVE-2024-3400"},
            {"type": "text", "category": "Other", "value": "free text is not an indicator"},
            {"type": "md5", "category": "Payload delivery", "value": "not-a-hash"},
        ],
        "Object": [
            {
                "name": "file",
                "meta-category": "file",
                "Attribute": [
                    {
                        "type": "filename|sha256",
                        "object_relation": "filename",
                        "category": "Payload delivery",
                        "value": "ballot.docm|" + "ab" * 32,
                    },
                ],
            }
        ],
        "Galaxy": [
            {
                "name": "Threat Actor",
                "type": "threat-actor",
                "GalaxyCluster": [{"value": "Sofacy", "type": "threat-actor"}],
            }
        ],
    }
}


def event(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(EVENT)
    data["Event"].update(changes)
    return data


def test_an_event_becomes_an_alert_with_indicators_label_and_references(world):
    result = import_event(event(), actor=world["ingham_member"], org=world.ingham, default_tlp="green")
    alert = result.alert
    assert result.outcome == "created" and alert.status == Alert.Status.PUBLISHED
    assert alert.title == "Spear-phishing against county clerks"
    assert alert.tlp == TLP.AMBER_STRICT and list(alert.recipient_orgs.all()) == [world.ingham]
    assert alert.attack_techniques == ["T1566.002"]
    assert "Threat Actor: Sofacy" in alert.summary
    assert alert.severity == Alert.Severity.HIGH
    assert set(alert.indicators.values_list("kind", "value")) == {
        ("ipv4", "91.92.251.30"),
        ("domain", "clerk-vote.example"),
        ("ipv4", "45.137.21.40"),
        ("url", "https://clerk-vote.example/login"),
        ("email", "elections@clerk-vote.example"),
        ("email_subject", "Ballot audit - action required"),
        ("cve", "CVE-2024-3400"),
        ("filename", "ballot.docm"),
        ("sha256", "ab" * 32),
    }
    assert result.invalid == 1 and result.skipped == 1
    assert not Delivery.objects.filter(alert=alert).exists()
    # AMBER+STRICT: the importing organisation only.
    assert Alert.objects.visible_to(world["ingham_admin"]).filter(pk=alert.pk).exists()
    assert not Alert.objects.visible_to(world["washtenaw_member"]).filter(pk=alert.pk).exists()


def test_reimport_is_idempotent_and_a_newer_timestamp_is_a_new_version(world):
    first = import_event(event(), actor=world["ingham_member"], org=world.ingham, default_tlp="green")
    again = import_event(event(), actor=world["ingham_member"], org=world.ingham, default_tlp="green")
    assert again.outcome == "unchanged" and again.alert.pk == first.alert.pk
    assert AlertVersion.objects.filter(alert=first.alert).count() == 1
    newer = event(timestamp="1793000100", info="Spear-phishing against county clerks (update)")
    newer["Event"]["Attribute"] = newer["Event"]["Attribute"][:1]
    updated = import_event(newer, actor=world["ingham_member"], org=world.ingham, default_tlp="green")
    alert = Alert.objects.get(pk=first.alert.pk)
    assert updated.outcome == "updated" and alert.version == 2 and alert.status == Alert.Status.UPDATED
    assert alert.title.endswith("(update)")
    assert set(alert.indicators.values_list("value", flat=True)) == {"91.92.251.30", "ballot.docm", "ab" * 32}
    assert not Delivery.objects.filter(alert=alert).exists()
    assert MispEventImport.objects.get(alert=alert).timestamp == 1793000100


@pytest.mark.parametrize(
    ("tags", "default", "expected"),
    [
        ([{"name": "tlp:white"}], "amber", TLP.CLEAR),
        ([{"name": "TLP:GREEN"}], "amber", TLP.GREEN),
        ([{"name": "tlp:red"}], "green", TLP.RED),
        ([{"name": "tlp:green"}, {"name": "tlp:amber"}], "clear", TLP.AMBER),  # the most restrictive wins
        ([], "amber", TLP.AMBER),  # no tag: the configured default, never CLEAR by accident
    ],
)
def test_tlp_tags_become_the_label(world, tags, default, expected):
    result = import_event(event(Tag=tags), actor=world["ingham_member"], org=world.ingham, default_tlp=default)
    assert result.alert.tlp == expected
    if expected == TLP.RED:
        assert list(result.alert.recipient_people.all()) == [world["ingham_member"]]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[1, 2]", "not a MISP event"),
        (json.dumps(event(Tag=[{"name": "tlp:ex:chr"}])).encode(), "not a TLP 2.0 label"),
        (json.dumps({"Event": {"uuid": "5f1c2a0e-1111-4c2b-9d7e-0a1b2c3d4e5f"}}).encode(), "not a MISP event"),
    ],
)
def test_bad_events_are_refused_and_store_nothing(world, raw, message):
    with pytest.raises(MispError, match=message):
        import_event(raw, actor=world["ingham_member"], org=world.ingham, default_tlp="green")
    assert not Alert.objects.exists() and not MispEventImport.objects.exists()


@pytest.mark.skipif(not SHARED.exists(), reason="needs ../shared/data/misp")
def test_the_real_events_import(world):
    counts = {}
    for path in sorted(SHARED.glob("*.json")):
        try:
            result = import_event(
                path.read_bytes(), actor=world["ingham_member"], org=world.ingham, default_tlp="amber"
            )
        except MispError:
            counts[path.name] = "refused"
            continue
        counts[path.name] = result.indicators
    assert counts["existing_event.json"] > 50 and counts["mainly_objects_1.json"] >= 15
    sednit = Alert.objects.get(misp_import__event_uuid="5a3c2fcd-8328-42bb-a95e-4f4402de0b81")
    assert sednit.tlp == TLP.CLEAR  # tlp:white
    assert "Sofacy" in sednit.summary
    # Fragments that are not events (a lone galaxy, a sighting) are refused, not guessed.
    assert counts["galaxy.json"] == "refused" and counts["sighting.json"] == "refused"


def _misp_feed(world: Any, folder: Any, events: list[dict[str, Any]], tlp: str, extra: Any = None) -> Feed:
    """A MISP feed folder (manifest.json + <uuid>.json) of `events`, and Ingham's feed of it."""
    manifest = dict(extra or {})
    for item in events:
        uuid = item["Event"]["uuid"]
        (folder / f"{uuid}.json").write_text(json.dumps(item))
        manifest[uuid] = {"timestamp": item["Event"]["timestamp"], "info": item["Event"]["info"]}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return feed_save(
        actor=world["ingham_admin"],
        data=FeedInput(name=f"MISP {tlp}", source=str(folder), format=Feed.Format.MISP, owner=world.ingham, tlp=tlp),
    )


def test_a_misp_feed_folder_is_pulled_event_by_event(world, tmp_path):
    one = event()
    two = event(uuid="6a2d3b1f-2222-4c2b-9d7e-0a1b2c3d4e5f", info="Second", Tag=[])
    broken = "7b3e4c2a-3333-4c2b-9d7e-0a1b2c3d4e5f"
    (tmp_path / f"{broken}.json").write_text("{oops")
    feed = _misp_feed(world, tmp_path, [one, two], "green", extra={broken: {"timestamp": "1"}})
    result = feed_pull(feed)
    assert result.events == {"created": 2, "updated": 0, "unchanged": 0, "failed": 1}
    second = Alert.objects.get(title="Second")
    assert second.tlp == TLP.GREEN and second.author.is_service  # the feed's default; the service account
    result = feed_pull(feed)
    assert result.events == {"created": 0, "updated": 0, "unchanged": 2, "failed": 1}


def test_a_misp_feed_never_widens_its_label_and_refuses_red_events(world, tmp_path):
    """The feed's label is a floor (as for STIX feeds): a tlp:white event in an AMBER feed stays
    AMBER; a tlp:red event has no named people in a feed and is refused."""
    white = event(uuid="8c4f5d3b-4444-4c2b-9d7e-0a1b2c3d4e5f", info="White", Tag=[{"name": "tlp:white"}])
    red = event(uuid="9d5a6e4c-5555-4c2b-9d7e-0a1b2c3d4e5f", info="Red", Tag=[{"name": "tlp:red"}])
    feed = _misp_feed(world, tmp_path, [white, red], "amber")
    result = feed_pull(feed)
    assert result.events == {"created": 1, "updated": 0, "unchanged": 0, "failed": 1}
    assert Alert.objects.get(title="White").tlp == TLP.AMBER
    assert not Alert.objects.filter(title="Red").exists()


def test_a_misp_feed_shares_its_events_with_the_feed_s_sharing_groups(world, tmp_path):
    """An AMBER feed named to a sharing group: each event's alert goes to that group (not only to the
    feed's owner), and an event tag narrowing a GREEN feed to AMBER goes to the owner alone."""
    group = SharingGroup.objects.create(name="Region 2 counties", owner=world.washtenaw)
    group.organizations.add(world.washtenaw)
    one = event(uuid="ad6b7f5d-6666-4c2b-9d7e-0a1b2c3d4e5f", info="For the group", Tag=[])
    (tmp_path / "amber").mkdir()
    feed = _misp_feed(world, tmp_path / "amber", [one], "amber")
    feed.sharing_groups.set([group])
    assert feed_pull(feed).events["created"] == 1
    alert = Alert.objects.get(title="For the group")
    assert list(alert.sharing_groups.all()) == [group]
    assert Alert.objects.visible_to(world["washtenaw_member"]).filter(pk=alert.pk).exists()
    assert not Alert.objects.visible_to(world["lansing_member"]).filter(pk=alert.pk).exists()

    narrowed = event(uuid="be7c8a6e-7777-4c2b-9d7e-0a1b2c3d4e5f", info="Narrowed", Tag=[{"name": "tlp:amber"}])
    (tmp_path / "green").mkdir()
    assert feed_pull(_misp_feed(world, tmp_path / "green", [narrowed], "green")).events["created"] == 1
    alert = Alert.objects.get(title="Narrowed")
    assert alert.tlp == TLP.AMBER and list(alert.recipient_orgs.all()) == [world.ingham]
    assert not alert.sharing_groups.exists()


# --- Export: the hub's MISP feed -------------------------------------------------------------


@pytest.fixture
def exported(world: Any) -> dict[str, Alert]:
    green = make_alert(
        world["ingham_member"],
        world.ingham,
        TLP.GREEN,
        indicators=[("ipv4", "91.92.251.50"), ("domain", "lure.example"), ("sha256", "cd" * 32)],
        attack_techniques=["T1566.001"],
    )
    amber = make_alert(
        world["ingham_member"],
        world.ingham,
        TLP.AMBER,
        indicators=[("ipv4", "91.92.251.51")],
        recipient_orgs=[world.ingham],
    )
    red = make_alert(
        world["ingham_member"],
        world.ingham,
        TLP.RED,
        indicators=[("ipv4", "91.92.251.52")],
        recipient_people=[world["analyst"]],
    )
    draft = make_alert(world["ingham_member"], world.ingham, TLP.GREEN, publish=False)
    return {"green": green, "amber": amber, "red": red, "draft": draft}


def _token_client(user: Any) -> Client:
    _token, secret = token_create(actor=user, name="misp")
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


EXPECTED = {
    # persona → the labels of `exported` they may read
    "ingham_member": {"green", "amber", "red"},
    "ingham_admin": {"green", "amber"},
    "lansing_member": {"green"},
    "washtenaw_member": {"green"},
    "analyst": {"green", "red"},
    "operator": {"green"},
    "unvetted": set(),
    "removed_member": set(),
}


@pytest.mark.parametrize("persona", sorted(EXPECTED))
def test_the_misp_feed_shows_each_caller_what_they_may_read_and_nothing_else(world, exported, persona):
    user = world[persona]
    client = sign_in_or_token(user)
    manifest = client.get("/feeds/misp/manifest.json")
    assert manifest.status_code == 200
    wanted = {str(exported[name].uuid) for name in EXPECTED[persona]}
    assert set(manifest.json()) == wanted
    for name, alert in exported.items():
        response = client.get(f"/feeds/misp/{alert.uuid}.json")
        if name in EXPECTED[persona]:
            assert response.status_code == 200
        else:
            absent = client.get("/feeds/misp/00000000-0000-4000-8000-000000000000.json")
            assert response.status_code == 404 and response.content == absent.content
    hashes = b"".join(client.get("/feeds/misp/hashes.csv").streaming_content).decode()
    for label, value in (("green", b"91.92.251.50"), ("amber", b"91.92.251.51"), ("red", b"91.92.251.52")):
        line = f"{hashlib.md5(value).hexdigest()},{exported[label].uuid}"  # noqa: S324 - MISP's format
        assert (line in hashes.splitlines()) == (label in EXPECTED[persona]), (persona, label)


def sign_in_or_token(user: Any) -> Client:
    from tests.conftest import sign_in

    if user.is_superuser or not user.memberships.filter(status="approved").exists():
        return sign_in(Client(), user)  # a session works too (and the unvetted cannot mint tokens)
    return _token_client(user)


def test_the_misp_feed_refuses_anonymous_callers_and_bad_tokens(world, exported):
    for url in ("/feeds/misp/manifest.json", f"/feeds/misp/{exported['green'].uuid}.json", "/feeds/misp/hashes.csv"):
        assert Client().get(url).status_code in (401, 403)
        basic = base64.b64encode(b"misp:cg_not-a-token").decode()
        assert Client(HTTP_AUTHORIZATION=f"Basic {basic}").get(url).status_code == 401


def test_round_trip_misp_to_commonguard_to_misp_feed_to_pymisp(world):
    imported = import_event(event(), actor=world["ingham_member"], org=world.ingham, default_tlp="green").alert
    client = _token_client(world["ingham_member"])
    body = client.get(f"/feeds/misp/{imported.uuid}.json").json()
    loaded = MISPEvent()
    loaded.load(copy.deepcopy(body))  # load() consumes what it is given
    assert loaded.info == "Spear-phishing against county clerks"
    assert "tlp:amber+strict" in [t.name for t in loaded.tags]
    values = {(a.type, a.value) for a in loaded.attributes}
    assert {
        ("ip-dst", "91.92.251.30"),
        ("domain", "clerk-vote.example"),
        ("email-src", "elections@clerk-vote.example"),
    } <= values
    assert ("sha256", "ab" * 32) in values and ("vulnerability", "CVE-2024-3400") in values
    assert len(values) == 9
    # And back in: the exported event imports to the same indicators and label (deterministic ids).
    again = client.get(f"/feeds/misp/{imported.uuid}.json").json()
    assert again == body
    back = read_event(body)
    assert back.tlp == TLP.AMBER_STRICT and set(back.parsed.wanted) == set(
        imported.indicators.values_list("kind", "value")
    )


def test_anonymous_authors_stay_anonymous_in_the_feed(world):
    alert = make_alert(
        world["ingham_member"], world.ingham, TLP.GREEN, anonymous=True, indicators=[("ipv4", "91.92.251.60")]
    )
    body = _token_client(world["washtenaw_member"]).get(f"/feeds/misp/{alert.uuid}.json").json()
    assert "Ingham" not in json.dumps(body)
    assert body["Event"]["Orgc"]["name"].startswith("A county")


# --- Upload page and API ----------------------------------------------------------------------


def test_the_upload_api_imports_and_reports_bad_input(world):
    client = _token_client(world["ingham_member"])
    response = client.post(
        "/api/v1/misp/events/",
        {"event": event(), "organization": world.ingham.pk, "tlp": "green"},
        content_type="application/json",
    )
    assert response.status_code == 201 and response.json()["outcome"] == "created"
    response = client.post(
        "/api/v1/misp/events/",
        {"event": event(), "organization": world.ingham.pk, "tlp": "green"},
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["outcome"] == "unchanged"
    response = client.post(
        "/api/v1/misp/events/",
        {"event": {"nope": 1}, "organization": world.ingham.pk},
        content_type="application/json",
    )
    assert response.status_code == 400 and "error" in response.json()
    response = client.post(
        "/api/v1/misp/events/",
        {"event": event(), "organization": world.washtenaw.pk},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert Alert.objects.count() == 1


def test_the_upload_page_refuses_oversized_files(world, settings, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import sign_in

    settings.COMMONGUARD_FEED_MAX_BYTES = 100
    sign_in(client, world["ingham_member"])
    upload = SimpleUploadedFile("e.json", json.dumps(event()).encode(), content_type="application/json")
    response = client.post(
        "/feeds/misp/upload/", {"file": upload, "organization": world.ingham.pk, "tlp": "amber", "category": "other"}
    )
    assert response.status_code == 413 and not Alert.objects.exists()
    settings.COMMONGUARD_FEED_MAX_BYTES = 10_000_000
    upload = SimpleUploadedFile("e.json", json.dumps(event()).encode(), content_type="application/json")
    response = client.post(
        "/feeds/misp/upload/", {"file": upload, "organization": world.ingham.pk, "tlp": "amber", "category": "other"}
    )
    assert response.status_code == 302 and Alert.objects.count() == 1


def test_feed_pages_and_api_follow_the_owner_organisation(world, tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("91.92.251.70\n")
    feed = feed_save(
        actor=world["ingham_admin"],
        data=FeedInput(name="Ingham list", source=str(path), format="text", owner=world.ingham, tlp="green"),
    )
    from tests.conftest import sign_in

    for persona in PERSONAS:
        if persona == "anonymous":
            continue
        client = sign_in(Client(), world[persona])
        page = client.get(f"/feeds/{feed.pk}/")
        api = client.get(f"/api/v1/feeds/{feed.pk}/")
        member = persona in {"ingham_member", "ingham_admin", "ingham_official"}
        assert (page.status_code, api.status_code) == ((200, 200) if member else (404, 404)) or (
            persona in {"unvetted", "removed_member"} and page.status_code == 302 and api.status_code == 404
        ), persona
    admin = sign_in(Client(), world["ingham_admin"])
    assert admin.post(f"/api/v1/feeds/{feed.pk}/pull/").status_code == 202
    feed.refresh_from_db()
    assert feed.status == Feed.Status.QUEUED
    member = sign_in(Client(), world["ingham_member"])
    assert member.post(f"/api/v1/feeds/{feed.pk}/pull/").status_code == 403
    assert member.get("/feeds/").status_code == 200


def test_a_feed_is_changed_on_its_page_by_its_organisation_s_admins_only(world, tmp_path):
    from tests.conftest import sign_in

    path = tmp_path / "list.txt"
    path.write_text("91.92.251.71\n")
    feed = feed_save(
        actor=world["ingham_admin"],
        data=FeedInput(
            name="Ingham list", source=str(path), format="text", owner=world.ingham, tlp="green", interval_minutes=5
        ),
    )
    url = f"/feeds/{feed.pk}/edit/"
    form = {
        "name": "Ingham blocklist",
        "source": str(path),
        "format": "text",
        "owner": world.ingham.pk,
        "tlp": "amber",
        "category": "malware",
        "csv_value_column": "1",
        "interval_minutes": "0",
    }
    # Someone who may not read the feed meets a missing page; a member who may read it is told why not.
    assert sign_in(Client(), world["lansing_member"]).post(url, form).status_code == 404
    assert sign_in(Client(), world["ingham_member"]).post(url, form).status_code == 403
    admin = sign_in(Client(), world["ingham_admin"])
    assert admin.get(url).status_code == 200
    # A RED label is refused, with the form shown again and nothing changed.
    refused = admin.post(url, {**form, "tlp": "red"})
    assert refused.status_code == 400
    feed.refresh_from_db()
    assert (feed.name, feed.tlp, feed.interval_minutes, feed.enabled) == ("Ingham list", "green", 5, True)
    response = admin.post(url, form)
    assert response.status_code == 302, response.content[:400]
    feed.refresh_from_db()
    assert (feed.name, feed.tlp, feed.interval_minutes, feed.enabled) == ("Ingham blocklist", "amber", 0, False)
    assert list(feed.recipient_orgs.all()) == [world.ingham]  # AMBER with nobody named: the owner
    assert AuditEvent.objects.filter(action="feed.change", target_id=str(feed.pk)).exists()
