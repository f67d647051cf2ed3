"""Real hubs on loopback: this test process is hub A (pytest-django's live server on the test
database), hubs B and C are uvicorn processes on their own databases (tests/hubs.py), driven through
their own services (tests/hub_control.py). They exchange alerts both ways by push and by pull."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from commonguard.core.tlp import TLP
from commonguard.federation.models import Change, Peer, Received
from commonguard.federation.services import alert_delete, alert_peers_set, peer_save, pull, push_pending
from commonguard.sharing.models import Alert
from commonguard.sharing.services import AlertInput, alert_publish, alert_revoke, alert_update
from tests.hubs import hub_process, migrated_template
from tests.sharing_helpers import make_alert

pytestmark = pytest.mark.django_db(transaction=True)
TOKEN_AB = "link-a-b-secret-0123456789abcdefghij"
TOKEN_BC = "link-b-c-secret-0123456789abcdefghij"
TOKEN_AC = "link-a-c-secret-0123456789abcdefghij"


@pytest.fixture(scope="session")
def template(tmp_path_factory: Any) -> Path:
    return migrated_template(tmp_path_factory.mktemp("hubs"))


@pytest.fixture(autouse=True)
def _hub_a(settings: Any) -> None:
    settings.COMMONGUARD_HUB_ID = "hub-a"


def publish(world: Any, tlp: str, title: str, peers: list[Peer] = (), **extra: Any) -> Alert:  # type: ignore[assignment]
    author = world["ingham_member"]
    if tlp in (TLP.AMBER, TLP.AMBER_STRICT):
        extra.setdefault("recipient_orgs", [world.washtenaw])
    if tlp == TLP.RED:
        extra.setdefault("recipient_people", [world["washtenaw_member"]])
    alert = make_alert(author, world.ingham, tlp, publish=False, title=title, **extra)
    alert_peers_set(actor=author, alert=alert, peers=list(peers))
    return alert_publish(actor=author, alert=alert)


def titles(hub: Any, email: str) -> dict[str, dict]:
    return {a["title"]: a for a in hub.call("visible", email=email)["alerts"]}


def test_two_hubs_exchange_alerts_both_ways(world, live_server, template, tmp_path):
    with hub_process("hub-b", template, tmp_path) as b:
        b.call("seed")
        peer_b, _ = peer_save(
            actor=None, name="B", url=b.url, token=TOKEN_AB, community=True, amber_organizations=[world.state_it]
        )
        b.call(
            "peer",
            name="A",
            url=live_server.url,
            token=TOKEN_AB,
            community=True,
            amber_source_keys=["fedtest:soc"],
            pull_interval=2,
        )

        # A → B by push, by label.
        green = publish(world, TLP.GREEN, "A green", indicators=[(None, "91.92.251.20")])
        publish(world, TLP.CLEAR, "A clear")
        amber = publish(world, TLP.AMBER, "A amber to B", peers=[peer_b])
        publish(world, TLP.AMBER, "A amber kept")
        publish(world, TLP.AMBER_STRICT, "A strict", peers=[peer_b])
        publish(world, TLP.RED, "A red", peers=[peer_b])
        assert push_pending(peer_b) == {"sent": 3, "retry": 0, "refused": 0}
        seen = titles(b, "reader@hub.example")
        assert set(seen) == {"A green", "A clear"}
        assert seen["A green"]["author_org"] == "Hub: A" and seen["A green"]["indicators"] == ["91.92.251.20"]
        assert seen["A green"]["uuid"] == str(green.uuid) and seen["A green"]["path"] == ["hub-a"]
        assert set(titles(b, "soc_member@hub.example")) == {"A green", "A clear", "A amber to B"}
        assert len(b.call("held")["uuids"]) == 3  # nothing else crossed, not even unreadably

        # B → A by pull: B's own alerts, and nothing of A's comes back.
        b.call("publish", author="author@hub.example", title="B green", tlp="green", indicators=["45.137.21.40"])
        b.call(
            "publish",
            author="author@hub.example",
            title="B amber to A",
            tlp="amber",
            recipient_source_keys=["fedtest:reader_org"],
            peers=["A"],
        )
        b.call(
            "publish", author="author@hub.example", title="B red", tlp="red", recipient_people=["reader@hub.example"]
        )
        result = pull(peer_b)
        assert result["error"] == "" and result["created"] == 2 and result.get("unchanged", 0) == 0
        washtenaw = {a.title for a in Alert.objects.visible_to(world["washtenaw_member"])}
        analyst = {a.title for a in Alert.objects.visible_to(world["analyst"])}
        assert "B green" in washtenaw and "B amber to A" not in washtenaw and "B red" not in washtenaw
        assert {"B green", "B amber to A"} <= analyst and "B red" not in analyst
        assert Peer.objects.get(pk=peer_b.pk).hub_id == "hub-b"
        # B pushing what it has: only its own alerts, never A's back (A answers "unchanged").
        pushed = b.call("run", pull=False)["pushed"][0]
        assert pushed["refused"] == 0 and pushed["retry"] == 0
        assert Alert.objects.filter(uuid=green.uuid).count() == 1
        assert set(Received.objects.values_list("alert__title", flat=True)) == {"B green", "B amber to A"}

        # Update, revocation and deletion propagate.
        data = AlertInput(
            title="A green, second version",
            summary=green.summary,
            category=green.category,
            tlp=TLP.GREEN,
            indicators=[(None, "91.92.251.20"), (None, "91.92.251.21")],
        )
        alert_update(actor=world["ingham_member"], alert=green, data=data)
        alert_revoke(actor=world["ingham_member"], alert=Alert.objects.get(pk=amber.pk), reason="False positive.")
        push_pending(peer_b)
        seen = titles(b, "soc_member@hub.example")
        assert seen["A green, second version"]["indicators"] == ["91.92.251.20", "91.92.251.21"]
        assert seen["A amber to B"]["status"] == "revoked"
        alert_delete(actor=world["ingham_member"], alert=Alert.objects.get(pk=green.pk), reason="Mistake.")
        push_pending(peer_b)
        assert "A green, second version" not in titles(b, "soc_member@hub.example")
        assert str(green.uuid) not in b.call("held")["uuids"]
        assert not Change.objects.exclude(status=Change.Status.SENT).exists()


def test_three_hubs_no_loop_and_one_copy_each(world, live_server, template, tmp_path):
    with hub_process("hub-b", template, tmp_path) as b, hub_process("hub-c", template, tmp_path) as c:
        for hub in (b, c):
            hub.call("seed")
        # A – B – C in a line first: A does not know C.
        peer_b, _ = peer_save(actor=None, name="B", url=b.url, token=TOKEN_AB, community=True)
        b.call("peer", name="A", url=live_server.url, token=TOKEN_AB, community=True)
        b.call("peer", name="C", url=c.url, token=TOKEN_BC, community=True)
        c.call("peer", name="B", url=b.url, token=TOKEN_BC, community=True)
        green = publish(world, TLP.GREEN, "Travels far")
        push_pending(peer_b)
        passed = b.call("run", pull=False)  # B passes it on to C
        assert sum(p["sent"] for p in passed["pushed"]) == 1, b.call("changes")
        held_c = c.call("held")["uuids"]
        assert held_c.count(str(green.uuid)) == 1
        assert titles(c, "reader@hub.example")["Travels far"]["path"] == ["hub-a", "hub-b"]
        c.call("run")  # C sends nothing back to B, and pulls nothing new
        b.call("run")
        assert b.call("held")["uuids"].count(str(green.uuid)) == 1

        # Close the triangle: A – C. An update now reaches C twice (from A and via B): one copy.
        peer_c, _ = peer_save(actor=None, name="C", url=c.url, token=TOKEN_AC, community=True)
        c.call("peer", name="A", url=live_server.url, token=TOKEN_AC, community=True)
        data = AlertInput(title="Travels far, v2", summary=green.summary, category=green.category, tlp=TLP.GREEN)
        alert_update(actor=world["ingham_member"], alert=green, data=data)
        push_pending(peer_b)
        push_pending(peer_c)
        for _ in range(2):
            b.call("run")
            c.call("run")
            pull(peer_b)
            pull(peer_c)
        for hub in (b, c):
            assert hub.call("held")["uuids"].count(str(green.uuid)) == 1
            assert "Travels far, v2" in titles(hub, "reader@hub.example")
        assert Alert.objects.filter(uuid=green.uuid).count() == 1 and not Received.objects.exists()
        assert Alert.objects.get(uuid=green.uuid).version == 2  # nothing came back as a new version
