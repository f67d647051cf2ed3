"""Federation between hubs, in one process: what leaves by label, what a received bundle becomes
and who reads it, refusals that store nothing, loops, and the peer endpoints' authentication.
Two and three real hubs exchanging over HTTP: tests/test_federation_live.py."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from commonguard.core.tlp import STIX_TLP2_MARKING_IDS, TLP
from commonguard.federation.models import Change, Peer, Received, Tombstone
from commonguard.federation.services import (
    FED,
    FIELDS,
    FederationError,
    alert_delete,
    alert_payload,
    alert_peers_set,
    bundle_for,
    changes_page,
    peer_save,
    pull,
    receive,
    report_id,
)
from commonguard.sharing.models import Alert
from commonguard.sharing.services import AlertInput, alert_publish, alert_revoke, alert_update
from tests.sharing_helpers import make_alert

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _hub_a(settings: Any) -> None:
    settings.COMMONGUARD_HUB_ID = "hub-a"


def new_peer(name: str, *, community: bool = False, hub_id: str = "", **kw: Any) -> Peer:
    peer, _ = peer_save(actor=None, name=name, url=f"http://127.0.0.1:9/{name}", community=community, **kw)
    if hub_id:
        Peer.objects.filter(pk=peer.pk).update(hub_id=hub_id)
        peer.refresh_from_db()
    return peer


def publish(world: Any, tlp: str, peers: list[Peer] = (), **extra: Any) -> Alert:  # type: ignore[assignment]
    author = world["ingham_member"]
    if tlp in (TLP.AMBER, TLP.AMBER_STRICT):
        extra.setdefault("recipient_orgs", [world.washtenaw])
    if tlp == TLP.RED:
        extra.setdefault("recipient_people", [world["washtenaw_member"]])
    alert = make_alert(author, world.ingham, tlp, publish=False, **extra)
    alert_peers_set(actor=author, alert=alert, peers=list(peers))
    return alert_publish(actor=author, alert=alert)


def rows_for(alert: Alert) -> set[str]:
    return set(Change.objects.filter(alert_uuid=alert.uuid).values_list("peer__name", flat=True))


def rep(bundle: dict) -> dict:
    return next(o for o in bundle["objects"] if o["type"] == "report")


def foreign(bundle: dict, *, origin: str = "hub-b", path: list[str] | None = None, alert_uuid: Any = None) -> dict:
    """The bundle as hub B would send it for an alert of its own (a fresh uuid, B's provenance)."""
    bundle = copy.deepcopy(bundle)
    alert_uuid = alert_uuid or uuid.uuid4()
    report = next(o for o in bundle["objects"] if o["type"] == "report")
    report["id"] = report_id(alert_uuid)
    report[FIELDS]["uuid"] = str(alert_uuid)
    report[FED].update(origin=origin, path=path or [origin])
    return bundle


def test_what_leaves_the_hub_by_label(world):
    community, outside = new_peer("Ohio", community=True), new_peer("Indiana")
    clear = publish(world, TLP.CLEAR)
    green = publish(world, TLP.GREEN)
    amber_named = publish(world, TLP.AMBER, peers=[outside])
    amber = publish(world, TLP.AMBER)
    strict = publish(world, TLP.AMBER_STRICT, peers=[outside, community])
    red = publish(world, TLP.RED, peers=[outside])
    assert rows_for(clear) == {"Ohio", "Indiana"}
    assert rows_for(green) == {"Ohio"}
    assert rows_for(amber_named) == {"Indiana"}
    assert rows_for(amber) == rows_for(strict) == rows_for(red) == set()
    # AMBER+STRICT and RED cannot even record a named peer.
    assert not strict.federation_peers.exists() and not red.federation_peers.exists()
    # What a peer may pull is what the rule allows, nothing more.
    page = changes_page(outside, 0)
    sent = {json.dumps(c["bundle"]) for c in page["changes"]}
    assert len(page["changes"]) == 2 and all(str(a.uuid) in "".join(sent) for a in (clear, amber_named))
    assert not any(str(a.uuid) in "".join(sent) for a in (green, amber, strict, red))
    payload = alert_payload(clear)
    report = next(o for o in payload["objects"] if o["type"] == "report")
    assert report[FED] == {
        "origin": "hub-a",
        "path": ["hub-a"],
        "origin_modified": report["modified"],
        "deleted": False,
    }
    assert report["object_marking_refs"] == [STIX_TLP2_MARKING_IDS[TLP.CLEAR]]


def test_a_disabled_peer_gets_nothing_and_drafts_never_leave(world):
    new_peer("Ohio", community=True, enabled=False)
    new_peer("Indiana", community=True)
    draft = make_alert(world["ingham_member"], world.ingham, TLP.CLEAR, publish=False)
    assert rows_for(draft) == set()
    assert rows_for(publish(world, TLP.CLEAR)) == {"Indiana"}


def test_narrowing_the_label_withdraws_it_from_the_peer(world):
    ohio = new_peer("Ohio", community=True)
    alert = publish(world, TLP.GREEN)
    data = AlertInput(
        title=alert.title, summary=alert.summary, category=alert.category, tlp=TLP.AMBER, recipient_orgs=[world.guard]
    )
    alert = alert_update(actor=world["ingham_member"], alert=alert, data=data)
    assert Change.objects.filter(peer=ohio, alert_uuid=alert.uuid).count() == 2
    report = bundle_for(ohio, alert.uuid, alert)["objects"][0]
    assert report["revoked"] is True and report[FED]["deleted"] is True and report[FED]["withdrawn"] is True
    assert "title" not in report[FIELDS] and alert.title not in json.dumps(report)


def test_deleting_sends_a_tombstone_to_the_peers_that_had_it(world):
    ohio, indiana = new_peer("Ohio", community=True), new_peer("Indiana")
    alert = publish(world, TLP.GREEN)
    alert_uuid = alert.uuid
    with pytest.raises(Exception, match="Only the author"):
        alert_delete(actor=world["washtenaw_admin"], alert=alert)
    alert_delete(actor=world["ingham_member"], alert=alert, reason="Names a person.")
    assert not Alert.objects.filter(uuid=alert_uuid).exists()
    assert Change.objects.filter(peer=ohio, alert_uuid=alert_uuid).count() == 2
    assert not Change.objects.filter(peer=indiana).exists()
    report = changes_page(ohio, 0)["changes"][-1]["bundle"]["objects"][0]
    assert report["revoked"] is True and report[FED]["deleted"] is True and report[FED]["withdrawn"] is False


# --- Receiving --------------------------------------------------------------------------------


def received_from_b(world: Any, tlp: str, peer: Peer, **extra: Any) -> tuple[dict, uuid.UUID]:
    """A bundle for an alert of hub B (built from a local alert, then given B's identity)."""
    local = publish(world, tlp, **extra)
    bundle = alert_payload(local)
    Change.objects.all().delete()
    alert_uuid = uuid.uuid4()
    return foreign(bundle, alert_uuid=alert_uuid), alert_uuid


def readers(alert_uuid: uuid.UUID, world: Any) -> set[str]:
    from tests.conftest import VETTED_PERSONAS

    return {p for p in VETTED_PERSONAS if Alert.objects.visible_to(world[p]).filter(uuid=alert_uuid).exists()}


def test_a_received_green_alert_is_read_by_the_community_as_from_the_peer(world):
    ohio = new_peer("Ohio", community=True)
    bundle, alert_uuid = received_from_b(world, TLP.GREEN, ohio, indicators=[(None, "91.92.251.7")])
    assert receive(ohio, bundle) == "created"
    alert = Alert.objects.get(uuid=alert_uuid)
    assert alert.author_org == ohio.organization and alert.status == Alert.Status.PUBLISHED
    assert list(alert.indicators.values_list("value", flat=True)) == ["91.92.251.7"]
    received = Received.objects.get(alert=alert)
    assert received.origin_hub == "hub-b" and received.peer == ohio
    assert Peer.objects.get(pk=ohio.pk).hub_id == "hub-b"  # learned from the first bundle
    assert readers(alert_uuid, world) == {
        "ingham_member",
        "ingham_admin",
        "ingham_official",
        "lansing_member",
        "washtenaw_member",
        "washtenaw_admin",
        "liaison1",
        "liaison2",
        "analyst",
        "coordinator",
        "responder",
        "operator",
    }
    # The same bundle again (pushed and pulled): nothing changes.
    versions = alert.versions.count()
    assert receive(ohio, bundle) == "unchanged"
    assert Alert.objects.filter(uuid=alert_uuid).count() == 1 and alert.versions.count() == versions


def test_a_received_amber_alert_is_read_only_by_the_organisations_named_for_that_peer(world):
    ohio = new_peer("Ohio", community=True, amber_organizations=[world.state_it])
    bundle, alert_uuid = received_from_b(world, TLP.AMBER, ohio)
    assert receive(ohio, bundle) == "created"
    assert readers(alert_uuid, world) == {"liaison1", "liaison2", "analyst"}
    # A peer for which nobody was named to read AMBER: refused, nothing stored.
    indiana = new_peer("Indiana")
    bundle, other = received_from_b(world, TLP.AMBER, indiana)
    with pytest.raises(FederationError) as refused:
        receive(indiana, foreign(bundle, origin="hub-c", alert_uuid=other))
    assert refused.value.status == 422
    assert not Alert.objects.filter(uuid=other).exists() and not Received.objects.filter(peer=indiana).exists()


@pytest.mark.parametrize("label", [TLP.AMBER_STRICT, TLP.RED])
def test_strict_and_red_are_refused_if_a_peer_sends_them(world, label):
    ohio = new_peer("Ohio", community=True, amber_organizations=[world.state_it])
    bundle, _ = received_from_b(world, TLP.GREEN, ohio)
    report = next(o for o in bundle["objects"] if o["type"] == "report")
    report[FIELDS]["tlp"] = label.value
    for obj in bundle["objects"]:
        if "object_marking_refs" in obj:
            obj["object_marking_refs"] = [STIX_TLP2_MARKING_IDS[label]]
    before = Alert.objects.count()
    with pytest.raises(FederationError, match="never leaves"):
        receive(ohio, bundle)
    assert Alert.objects.count() == before and not Received.objects.exists()


def test_updates_revocations_and_deletions_arrive_in_order(world):
    ohio = new_peer("Ohio", community=True)
    local = publish(world, TLP.GREEN, indicators=[(None, "45.137.21.9")])
    v1 = foreign(alert_payload(local), alert_uuid=(alert_uuid := uuid.uuid4()))
    data = AlertInput(
        title="Now with a second host",
        summary=local.summary,
        category=local.category,
        tlp=TLP.GREEN,
        indicators=[(None, "45.137.21.9"), (None, "45.137.21.10")],
    )
    local = alert_update(actor=world["ingham_member"], alert=local, data=data)
    v2 = foreign(alert_payload(local), alert_uuid=alert_uuid)
    local = alert_revoke(actor=world["ingham_member"], alert=local, reason="It was a test.")
    v3 = foreign(alert_payload(local), alert_uuid=alert_uuid)
    assert receive(ohio, v1) == "created"
    assert receive(ohio, v2) == "updated"
    alert = Alert.objects.get(uuid=alert_uuid)
    assert alert.title == "Now with a second host" and alert.indicators.count() == 2
    assert receive(ohio, v1) == "unchanged"  # an older version arriving late changes nothing
    assert Alert.objects.get(uuid=alert_uuid).title == "Now with a second host"
    assert receive(ohio, v3) == "revoked"
    alert = Alert.objects.get(uuid=alert_uuid)
    assert alert.status == Alert.Status.REVOKED and alert.revocation_reason == "It was a test."
    tombstone = {
        "type": "bundle",
        "id": f"bundle--{uuid.uuid4()}",
        "objects": [
            {
                "type": "report",
                "spec_version": "2.1",
                "id": report_id(alert_uuid),
                "created": "2026-11-21T00:00:00.000000Z",
                "modified": "2030-01-01T00:00:00.000000Z",
                "name": "Deleted",
                "published": "2026-11-21T00:00:00.000000Z",
                "report_types": ["threat-report"],
                "object_refs": ["identity--0b0e4a3c-3d49-4a7e-9d55-5b1d8d6f3c11"],
                "revoked": True,
                FED: {
                    "origin": "hub-b",
                    "path": ["hub-b"],
                    "origin_modified": "2030-01-01T00:00:00.000000Z",
                    "deleted": True,
                },
                FIELDS: {"uuid": str(alert_uuid)},
            }
        ],
    }
    assert receive(ohio, tombstone) == "deleted"
    assert not Alert.objects.filter(uuid=alert_uuid).exists() and Tombstone.objects.filter(alert_uuid=alert_uuid)
    # A copy arriving late by another route does not bring it back.
    assert receive(ohio, v2) == "ignored" and not Alert.objects.filter(uuid=alert_uuid).exists()


def test_no_loops(world):
    ohio = new_peer("Ohio", community=True, hub_id="hub-b")
    indiana = new_peer("Indiana", community=True, hub_id="hub-c")
    local = publish(world, TLP.GREEN)
    # Our own alert coming back through B: ignored, ours unchanged.
    back = alert_payload(local)
    rep(back)[FED]["path"] = ["hub-a", "hub-b"]
    assert receive(ohio, back) == "ignored"
    assert Alert.objects.filter(uuid=local.uuid).count() == 1 and not Received.objects.exists()
    # B's alert via C: it is passed on to nobody who has seen it (B is in its path, C sent it).
    bundle, alert_uuid = received_from_b(world, TLP.GREEN, ohio)
    rep(bundle)[FED]["path"] = ["hub-b", "hub-c"]
    assert receive(indiana, bundle) == "created"
    assert not Change.objects.filter(alert_uuid=alert_uuid).exists()
    # A third peer of the community gets it, with the path extended.
    kansas = new_peer("Kansas", community=True, hub_id="hub-d")
    alert = Alert.objects.get(uuid=alert_uuid)
    alert_update(
        actor=alert.author,
        alert=alert,
        data=AlertInput(title="v2", summary=alert.summary, category=alert.category, tlp=TLP.GREEN),
    )
    assert rows_for(alert) == {"Kansas"}
    # (Kansas was also backfilled with `local`, published before it was added: ADR 30.)
    reports = [rep(c["bundle"]) for c in changes_page(kansas, 0)["changes"]]
    report = next(r for r in reports if r["id"] == report_id(alert_uuid))
    assert report[FED]["path"] == ["hub-b", "hub-c", "hub-a"] and report[FED]["origin"] == "hub-b"
    # A bundle claiming to be from another hub than the peer that sent it: refused.
    with pytest.raises(FederationError) as wrong:
        receive(ohio, bundle)
    assert wrong.value.status == 403


def _bad(bundle: dict, how: str) -> Any:
    bundle = copy.deepcopy(bundle)
    report = next(o for o in bundle["objects"] if o["type"] == "report")
    if how == "not a bundle":
        return {"type": "report"}
    if how == "no objects":
        bundle["objects"] = "x"
    elif how == "report id":
        report["id"] = f"report--{uuid.uuid4()}"
    elif how == "marking":
        report["object_marking_refs"] = [STIX_TLP2_MARKING_IDS[TLP.CLEAR]]
    elif how == "no provenance":
        del report[FED]
    elif how == "path":
        report[FED]["path"] = ["somewhere-else"]
    elif how == "timestamp":
        report["created"] = "yesterday"
    elif how == "type":
        bundle["objects"].append({"type": "Not A Type", "id": "x"})
    elif how == "indicator":
        report[FIELDS]["indicators"] = [["ipv4", "not an address"]]
    elif how == "deep":
        deep: Any = {}
        for _ in range(60):
            deep = {"x": deep}
        report["x_deep"] = deep
    elif how == "title":
        report[FIELDS]["title"] = ""
    return bundle


@pytest.mark.parametrize(
    "how",
    [
        "not a bundle",
        "no objects",
        "report id",
        "marking",
        "no provenance",
        "path",
        "timestamp",
        "type",
        "indicator",
        "deep",
        "title",
    ],
)
def test_invalid_bundles_are_refused_and_store_nothing(world, how):
    ohio = new_peer("Ohio", community=True)
    bundle, alert_uuid = received_from_b(world, TLP.GREEN, ohio)
    alerts, audit = Alert.objects.count(), world.ingham.pk
    with pytest.raises(FederationError) as refused:
        receive(ohio, _bad(bundle, how))
    assert refused.value.status in (400, 422) and str(refused.value)
    assert Alert.objects.count() == alerts and not Received.objects.exists() and audit
    assert not Alert.objects.filter(uuid=alert_uuid).exists()


# --- The endpoints ----------------------------------------------------------------------------


def test_the_endpoints_answer_only_configured_enabled_peers(world, client):
    ohio, ohio_token = peer_save(actor=None, name="Ohio", url="http://127.0.0.1:9", community=True)
    indiana, indiana_token = peer_save(actor=None, name="Indiana", url="http://127.0.0.1:9")
    clear = publish(world, TLP.CLEAR)
    green = publish(world, TLP.GREEN)
    for headers in ({}, {"authorization": "Bearer nope"}, {"authorization": f"Basic {ohio_token}"}):
        assert client.get("/federation/v1/changes/", headers=headers).status_code == 401
        assert client.post("/federation/v1/inbox/", "{}", "application/json", headers=headers).status_code == 401
    page = client.get("/federation/v1/changes/", headers={"authorization": f"Bearer {indiana_token}"}).json()
    assert [c["bundle"]["objects"][0] for c in page["changes"]] and str(green.uuid) not in json.dumps(page)
    assert str(clear.uuid) in json.dumps(page) and page["hub"] == "hub-a"
    page = client.get("/federation/v1/changes/", headers={"authorization": f"Bearer {ohio_token}"}).json()
    assert str(green.uuid) in json.dumps(page)
    nxt = client.get(
        f"/federation/v1/changes/?added_after={page['next']}", headers={"authorization": f"Bearer {ohio_token}"}
    ).json()
    assert nxt["changes"] == [] and nxt["next"] == page["next"]
    bad = client.get("/federation/v1/changes/?added_after=x", headers={"authorization": f"Bearer {ohio_token}"})
    assert bad.status_code == 400 and bad.json()["error"]["message"]
    answer = client.post(
        "/federation/v1/inbox/", "{not json", "application/json", headers={"authorization": f"Bearer {ohio_token}"}
    )
    assert answer.status_code == 400
    bundle = foreign(alert_payload(clear))
    auth = {"authorization": f"Bearer {ohio_token}"}
    answer = client.post("/federation/v1/inbox/", json.dumps(bundle), "application/json", headers=auth)
    assert answer.status_code == 200 and answer.json() == {"hub": "hub-a", "result": "created"}
    Peer.objects.filter(pk=ohio.pk).update(enabled=False)
    assert client.get("/federation/v1/changes/", headers={"authorization": f"Bearer {ohio_token}"}).status_code == 401
    assert indiana.pk


def test_peer_configuration_is_checked(world):
    with pytest.raises(ValidationError):
        peer_save(actor=None, name="Bad", url="ftp://hub.example")
    with pytest.raises(ValidationError):
        peer_save(actor=None, name="Fast", url="http://hub.example", pull_interval=0.1)
    assert not Peer.objects.exists()
    peer, token = peer_save(actor=None, name="Ohio", url="https://hub.oh.example/")
    assert peer.url == "https://hub.oh.example" and len(token) > 30 and peer.organization.status == "approved"
    again, token2 = peer_save(actor=None, name="Ohio", url="https://hub.oh.example", community=True)
    assert again.pk == peer.pk and token2 == "" and again.token == token and again.community


# --- Bad peers: down, 500, invalid answers (a real HTTP server on loopback) --------------------


class FakePeer:
    """A real HTTP server answering what the test says: `changes` (status, body) for the pull
    endpoint, `inbox` (status, body) for the push endpoint; it records the bundles pushed to it."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        fake = self
        self.changes: tuple[int, bytes] = (200, b'{"changes": [], "next": 0, "more": false}')
        self.inbox: tuple[int, bytes] = (200, b'{"result": "created"}')
        self.pushed: list[dict] = []

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer(*fake.changes)

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                fake.pushed.append(json.loads(self.rfile.read(length)))
                self._answer(*fake.inbox)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_peer() -> Any:
    fake = FakePeer()
    yield fake
    fake.close()


def _closed_port_url() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_a_peer_that_is_down_or_fails_keeps_the_changes_for_later(world, fake_peer):
    from commonguard.federation.services import LEASE, _claim, push_pending

    down, _ = peer_save(actor=None, name="Down", url=_closed_port_url(), community=True)
    failing, _ = peer_save(actor=None, name="Failing", url=fake_peer.url, community=True)
    fake_peer.inbox = (500, b"<html>oops</html>")
    alert = publish(world, TLP.GREEN)
    assert push_pending(down) == {"sent": 0, "retry": 1, "refused": 0}
    assert push_pending(failing) == {"sent": 0, "retry": 1, "refused": 0}
    row = Change.objects.get(peer=down)
    assert row.status == Change.Status.RETRY and row.attempts == 1 and "Connect" in row.last_error
    assert Change.objects.get(peer=failing).last_error.startswith("500")
    assert push_pending(failing) == {"sent": 0, "retry": 0, "refused": 0}  # backing off
    # The peer recovers; the row is due again: sent.
    fake_peer.inbox = (200, b'{"result": "created"}')
    Change.objects.filter(peer=failing).update(next_attempt_at=timezone_now())
    assert push_pending(failing) == {"sent": 1, "retry": 0, "refused": 0}
    assert rep(fake_peer.pushed[-1])[FIELDS]["uuid"] == str(alert.uuid)
    # A worker that died holding rows: the claim expires and they are sent again.
    update = AlertInput(title="v2", summary=alert.summary, category=alert.category, tlp=TLP.GREEN)
    alert_update(actor=world["ingham_member"], alert=alert, data=update)
    assert len(_claim(failing, 10)) == 1  # ...and then the worker dies
    assert push_pending(failing)["sent"] == 0
    Change.objects.filter(peer=failing, status=Change.Status.SENDING).update(claimed_at=timezone_now() - LEASE * 2)
    assert push_pending(failing)["sent"] == 1 and rep(fake_peer.pushed[-1])[FIELDS]["title"] == "v2"
    # A peer that refuses the bundle (4xx): not retried forever, the reason kept.
    fake_peer.inbox = (422, b'{"error": {"message": "no AMBER readers"}}')
    alert_update(actor=world["ingham_member"], alert=alert, data=replace_title(update, "v3"))
    assert push_pending(failing) == {"sent": 0, "retry": 0, "refused": 1}
    assert "no AMBER readers" in Change.objects.filter(peer=failing).latest("pk").last_error


def timezone_now() -> Any:
    from django.utils import timezone

    return timezone.now()


def replace_title(data: AlertInput, title: str) -> AlertInput:
    from dataclasses import replace

    return replace(data, title=title)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, b"<html>Internal error</html>"),
        (200, b"{not json"),
        (200, b'{"changes": "nope", "next": 0}'),
        (200, b'{"changes": [{"seq": 0, "bundle": {}}], "next": 0}'),
        (401, b'{"error": {"message": "who are you"}}'),
    ],
)
def test_pulling_a_bad_answer_stores_nothing_and_keeps_the_cursor(world, fake_peer, status, body):
    peer, _ = peer_save(actor=None, name="Odd", url=fake_peer.url, community=True)
    fake_peer.changes = (status, body)
    alerts = Alert.objects.count()
    result = pull(peer)
    peer.refresh_from_db()
    assert result["error"] and peer.last_error == result["error"] and peer.cursor == 0
    assert Alert.objects.count() == alerts and not Received.objects.exists()


def test_pulling_down_peer(world):
    peer, _ = peer_save(actor=None, name="Down", url=_closed_port_url(), community=True)
    result = pull(peer)
    peer.refresh_from_db()
    assert "did not answer" in result["error"] and peer.cursor == 0 and peer.next_pull_at is not None


def test_a_page_with_an_invalid_bundle_applies_what_comes_before_it_only(world, fake_peer):
    peer, _ = peer_save(actor=None, name="Half", url=fake_peer.url, community=True)
    good, good_uuid = received_from_b(world, TLP.GREEN, peer)
    bad, bad_uuid = received_from_b(world, TLP.GREEN, peer)
    rep(bad)["created"] = "not a time"
    after, after_uuid = received_from_b(world, TLP.GREEN, peer)
    page = {
        "hub": "hub-b",
        "changes": [{"seq": 5, "bundle": good}, {"seq": 7, "bundle": bad}, {"seq": 9, "bundle": after}],
        "next": 9,
        "more": False,
    }
    fake_peer.changes = (200, json.dumps(page).encode())
    result = pull(peer)
    peer.refresh_from_db()
    assert result["created"] == 1 and "Invalid STIX" in result["error"] and peer.cursor == 5
    assert Alert.objects.filter(uuid=good_uuid).exists()
    assert not Alert.objects.filter(uuid__in=[bad_uuid, after_uuid]).exists()
    # Pulled again (the peer fixed it): taken from where it stopped, the good one not repeated.
    rep(bad)["created"] = rep(good)["created"]
    page["changes"] = page["changes"][1:]
    fake_peer.changes = (200, json.dumps(page).encode())
    result = pull(peer)
    peer.refresh_from_db()
    assert result["created"] == 2 and result["error"] == "" and peer.cursor == 9


def test_imported_alerts_stay_home_and_origins_cannot_be_swapped(world):
    ohio = new_peer("Ohio", community=True)
    kev = publish(world, TLP.CLEAR)
    Alert.objects.filter(pk=kev.pk).update(source_key="kev:CVE-2026-0001")
    kev.refresh_from_db()
    assert not may_send_now(kev, ohio)
    bundle, alert_uuid = received_from_b(world, TLP.GREEN, ohio)
    assert receive(ohio, bundle) == "created"
    forged = copy.deepcopy(bundle)
    rep(forged)[FED].update(origin="hub-x", path=["hub-x", "hub-b"], origin_modified="2031-01-01T00:00:00.000Z")
    with pytest.raises(FederationError) as refused:
        receive(ohio, forged)
    assert refused.value.status == 403 and Received.objects.get(alert__uuid=alert_uuid).origin_hub == "hub-b"


def may_send_now(alert: Alert, peer: Peer) -> bool:
    from commonguard.federation.rules import may_send

    return may_send(alert, peer)


def test_the_alert_form_names_peers_for_amber_only(world, as_persona):
    from tests.test_alert_pages import _compose, _created

    ohio = new_peer("Ohio")
    new_peer("Indiana", community=True)
    client = as_persona("ingham_member")
    page = client.get("/alerts/new/").content.decode()
    assert "Other states' hubs (TLP:AMBER only)" in page and "Ohio" in page and "Indiana" in page
    amber = _created(
        _compose(client, world, tlp="amber", recipient_orgs=[world.washtenaw.pk], federation_peers=[ohio.pk])
    )
    assert set(amber.federation_peers.values_list("peer_id", flat=True)) == {ohio.pk}
    assert rows_for(amber) == {"Ohio"}
    # The choice means nothing on another label: not kept, nothing sent to the ticked peer.
    green = _created(_compose(client, world, tlp="green", title="Green one", federation_peers=[ohio.pk]))
    assert not green.federation_peers.exists() and rows_for(green) == {"Indiana"}
    # An unknown peer id is a form error, nothing saved.
    before = Alert.objects.count()
    response = _compose(client, world, tlp="amber", recipient_orgs=[world.washtenaw.pk], federation_peers=[999999])
    assert response.status_code == 400 and Alert.objects.count() == before
