"""Federation operations (ADR 30): deleting an alert from its page and the API (tombstones to the
peers that had it, absent everywhere after), the operator's peer pages, backfilling a new peer,
pruning the delivered outbox."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from commonguard.core.models import AuditEvent
from commonguard.core.tlp import TLP
from commonguard.federation.models import Change, Peer, Received
from commonguard.federation.services import (
    FED,
    alert_peers_set,
    backfill,
    changes_page,
    outbox_prune,
    peer_save,
    receive,
)
from commonguard.interop.models import StixObject
from commonguard.sharing.models import Alert
from tests.conftest import sign_in
from tests.measurement_helpers import without_csrf
from tests.sharing_helpers import make_alert
from tests.taxii_helpers import TaxiiClient, token_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _hub_a(settings: Any) -> None:
    settings.COMMONGUARD_HUB_ID = "hub-a"


def new_peer(name: str, *, community: bool = False, **kw: Any) -> Peer:
    return peer_save(actor=None, name=name, url=f"http://127.0.0.1:9/{name}", community=community, **kw)[0]


def green(world: Any, **extra: Any) -> Alert:
    return make_alert(world["ingham_member"], world.ingham, TLP.GREEN, indicators=[("ipv4", "91.92.251.61")], **extra)


def absent_page(client: Client) -> str:
    return without_csrf(client.get("/alerts/00000000-0000-4000-8000-000000000000/").content)


# --- 1. Deleting an alert ---------------------------------------------------------------------


def test_the_delete_page_names_the_peers_that_will_get_a_tombstone(world, client):
    ohio, indiana = new_peer("Ohio", community=True), new_peer("Indiana")
    alert = green(world)
    sign_in(client, world["ingham_member"])
    detail = client.get(f"/alerts/{alert.uuid}/").content.decode()
    assert f"/alerts/{alert.uuid}/delete/" in detail
    page = client.get(f"/alerts/{alert.uuid}/delete/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "tombstone will be sent to every peer hub that got it" in text
    assert "<li>Ohio</li>" in text and "Indiana" not in text
    assert Alert.objects.filter(pk=alert.pk).exists() and ohio and indiana  # a GET deletes nothing


def test_deleting_from_the_page_removes_it_everywhere_and_tells_the_peers(world, client):
    ohio = new_peer("Ohio", community=True)
    alert = green(world)
    alert_uuid = alert.uuid
    stix_rows = list(StixObject.objects.filter(alert=alert).values_list("collection__uuid", "stix_id"))
    assert stix_rows
    reader = world["washtenaw_member"]
    taxii = TaxiiClient(Client(), token_for(reader))
    for collection, stix_id in stix_rows:
        assert taxii.get(f"/taxii2/api/collections/{collection}/objects/{stix_id}/").status_code == 200
    misp = Client(HTTP_AUTHORIZATION=f"Bearer {token_for(reader)}")
    assert misp.get(f"/feeds/misp/{alert_uuid}.json").status_code == 200

    sign_in(client, world["ingham_member"])
    response = client.post(f"/alerts/{alert_uuid}/delete/", {"reason": "Names a person."})
    assert response.status_code == 302 and response["Location"] == "/alerts/"

    assert not Alert.objects.filter(uuid=alert_uuid).exists()
    report = changes_page(ohio, 0)["changes"][-1]["bundle"]["objects"][0]
    assert report["revoked"] is True and report[FED]["deleted"] is True
    event = AuditEvent.objects.get(action="federation.alert_delete")
    assert event.actor_id == world["ingham_member"].pk and "Names a person." in event.summary
    # Absent everywhere, exactly like an alert that never existed.
    reader_client = sign_in(Client(), reader)
    gone = reader_client.get(f"/alerts/{alert_uuid}/")
    assert gone.status_code == 404 and without_csrf(gone.content) == absent_page(reader_client)
    assert reader_client.get(f"/api/v1/alerts/{alert_uuid}/").status_code == 404
    for collection, stix_id in stix_rows:
        answer = taxii.get(f"/taxii2/api/collections/{collection}/objects/{stix_id}/")
        assert answer.status_code == 404
    assert misp.get(f"/feeds/misp/{alert_uuid}.json").status_code == 404
    assert str(alert_uuid) not in misp.get("/feeds/misp/manifest.json").json()


@pytest.mark.parametrize("persona", ["ingham_admin", "ingham_member"])
def test_the_author_and_the_organisation_s_admins_may_delete(world, client, persona):
    alert = green(world)
    sign_in(client, world[persona])
    assert client.post(f"/alerts/{alert.uuid}/delete/").status_code == 302
    assert not Alert.objects.filter(pk=alert.pk).exists()


@pytest.mark.parametrize("persona", ["ingham_official", "lansing_member", "washtenaw_admin", "analyst", "operator"])
def test_readers_who_may_not_edit_cannot_delete(world, client, persona):
    alert = green(world)
    sign_in(client, world[persona])
    assert client.get(f"/alerts/{alert.uuid}/").status_code == 200
    assert f"/alerts/{alert.uuid}/delete/" not in client.get(f"/alerts/{alert.uuid}/").content.decode()
    assert client.get(f"/alerts/{alert.uuid}/delete/").status_code == 403
    assert client.post(f"/alerts/{alert.uuid}/delete/").status_code == 403
    assert Alert.objects.filter(pk=alert.pk).exists()
    assert not AuditEvent.objects.filter(action="federation.alert_delete").exists()


@pytest.mark.parametrize("persona", ["washtenaw_member", "lansing_member", "operator"])
def test_a_person_who_may_not_read_it_gets_the_same_404_as_for_nothing(world, client, persona):
    amber = make_alert(world["ingham_member"], world.ingham, TLP.AMBER, recipient_orgs=[world.guard])
    sign_in(client, world[persona])
    for method in ("get", "post"):
        answer = getattr(client, method)(f"/alerts/{amber.uuid}/delete/")
        absent = getattr(client, method)("/alerts/00000000-0000-4000-8000-000000000000/delete/")
        assert answer.status_code == 404 and without_csrf(answer.content) == without_csrf(absent.content)
    api = client.delete(f"/api/v1/alerts/{amber.uuid}/")
    assert api.status_code == 404
    assert api.content == client.delete("/api/v1/alerts/00000000-0000-4000-8000-000000000000/").content
    assert Alert.objects.filter(pk=amber.pk).exists()


def test_the_api_deletes_for_editors_and_refuses_others(world):
    ohio = new_peer("Ohio", community=True)
    alert = green(world)
    reader = Client(HTTP_AUTHORIZATION=f"Bearer {token_for(world['washtenaw_admin'])}")
    refused = reader.delete(f"/api/v1/alerts/{alert.uuid}/")
    assert refused.status_code == 403 and "delete this alert" in refused.json()["error"]["message"]
    author = Client(HTTP_AUTHORIZATION=f"Bearer {token_for(world['ingham_member'])}")
    too_long = author.delete(f"/api/v1/alerts/{alert.uuid}/?reason={'x' * 501}")
    assert too_long.status_code == 400 and "reason" in too_long.json()["error"]["fields"]
    assert Alert.objects.filter(pk=alert.pk).exists()
    done = author.delete(f"/api/v1/alerts/{alert.uuid}/?reason=Wrong%20county")
    assert done.status_code == 204
    assert author.get(f"/api/v1/alerts/{alert.uuid}/").status_code == 404
    assert author.delete(f"/api/v1/alerts/{alert.uuid}/").status_code == 404
    assert Change.objects.filter(peer=ohio, alert_uuid=alert.uuid).count() == 2
    assert AuditEvent.objects.filter(action="federation.alert_delete", summary__contains="Wrong county").exists()


def test_a_received_alert_is_deleted_by_its_origin_only(world, client):
    peer = new_peer("Ohio", community=True)
    Peer.objects.filter(pk=peer.pk).update(hub_id="hub-b")
    peer.refresh_from_db()
    local = green(world)
    from commonguard.federation.services import alert_payload
    from tests.test_federation import foreign

    bundle = foreign(alert_payload(local))
    assert receive(peer, bundle) == "created"
    received = Received.objects.get().alert
    from django.core.exceptions import PermissionDenied

    from commonguard.federation.services import alert_delete

    with pytest.raises(PermissionDenied):  # not even the peer's service account, its author here
        alert_delete(actor=received.author, alert=received)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token_for(world['ingham_admin'])}")
    assert api.delete(f"/api/v1/alerts/{received.uuid}/").status_code == 403
    sign_in(client, world["ingham_admin"])
    assert client.get(f"/alerts/{received.uuid}/delete/").status_code == 403
    assert Alert.objects.filter(pk=received.pk).exists()


def test_deleting_a_draft_says_nobody_saw_it(world, client):
    draft = make_alert(world["ingham_member"], world.ingham, TLP.GREEN, publish=False)
    sign_in(client, world["ingham_member"])
    assert "nobody else has seen it" in client.get(f"/alerts/{draft.uuid}/delete/").content.decode()
    assert client.post(f"/alerts/{draft.uuid}/delete/").status_code == 302
    assert not Alert.objects.filter(pk=draft.pk).exists()


# --- 3. Backfill ------------------------------------------------------------------------------


def test_a_new_peer_is_queued_what_it_may_receive_of_past_alerts(world):
    past_green = green(world)
    past_clear = make_alert(world["ingham_member"], world.ingham, TLP.CLEAR)
    make_alert(world["ingham_member"], world.ingham, TLP.AMBER, recipient_orgs=[world.guard])
    make_alert(world["ingham_member"], world.ingham, TLP.RED, recipient_people=[world["analyst"]])
    make_alert(world["ingham_member"], world.ingham, TLP.CLEAR, publish=False)  # a draft
    revoked = make_alert(world["ingham_member"], world.ingham, TLP.CLEAR)
    from commonguard.sharing.services import alert_revoke

    alert_revoke(actor=world["ingham_member"], alert=revoked, reason="Wrong.")
    expiring = make_alert(
        world["ingham_member"], world.ingham, TLP.CLEAR, valid_until=timezone.now() + timedelta(hours=1)
    )
    Alert.objects.filter(pk=expiring.pk).update(valid_until=timezone.now() - timedelta(minutes=1))

    community = new_peer("Ohio", community=True)
    other = new_peer("Indiana")
    assert set(Change.objects.filter(peer=community).values_list("alert_uuid", flat=True)) == {
        past_green.uuid,
        past_clear.uuid,
    }
    assert set(Change.objects.filter(peer=other).values_list("alert_uuid", flat=True)) == {past_clear.uuid}
    assert {c["bundle"]["objects"][0]["type"] for c in changes_page(community, 0)["changes"]} <= {
        "identity",
        "marking-definition",
        "report",
        "indicator",
        "ipv4-addr",
    }
    assert AuditEvent.objects.filter(action="federation.backfill").count() == 2


def test_backfill_is_idempotent_and_the_command_catches_up_an_enabled_peer(world):
    peer = new_peer("Ohio", community=True, enabled=False)
    first = green(world)
    assert not Change.objects.filter(peer=peer).exists()
    Peer.objects.filter(pk=peer.pk).update(enabled=True)
    out = StringIO()
    call_command("federation_peer", "backfill", "Ohio", stdout=out)
    assert "queued 1 alert(s) for Ohio" in out.getvalue()
    peer.refresh_from_db()
    assert backfill(peer) == 0
    call_command("federation_peer", "backfill", "Ohio", stdout=out)
    assert Change.objects.filter(peer=peer, alert_uuid=first.uuid).count() == 1
    Change.objects.filter(peer=peer).update(status=Change.Status.SENT, sent_at=timezone.now())
    second = green(world, title="Second wave")  # published after: the outbox writes it, not backfill
    assert backfill(peer) == 0
    assert Change.objects.filter(peer=peer, alert_uuid=second.uuid).count() == 1


def test_backfill_since_a_date_queues_only_what_was_published_since(world):
    peer = new_peer("Ohio", community=True, enabled=False)
    old, recent = green(world, title="Last year's wave"), green(world, title="This week's wave")
    Alert.objects.filter(pk=old.pk).update(published_at=timezone.now() - timedelta(days=400))
    Alert.objects.filter(pk=recent.pk).update(published_at=timezone.now() - timedelta(days=3))
    Peer.objects.filter(pk=peer.pk).update(enabled=True)
    since = (timezone.now() - timedelta(days=30)).date().isoformat()
    out = StringIO()
    call_command("federation_peer", "backfill", "Ohio", "--since", since, stdout=out)
    assert "queued 1 alert(s) for Ohio" in out.getvalue()
    assert set(Change.objects.filter(peer=peer).values_list("alert_uuid", flat=True)) == {recent.uuid}
    event = AuditEvent.objects.get(action="federation.backfill")
    assert event.data["since"].startswith(since) and "published since" in event.summary
    call_command("federation_peer", "backfill", "Ohio", stdout=out)  # the rest, later: once each
    assert Change.objects.filter(peer=peer).count() == 2


@pytest.mark.parametrize("bad", ["last week", "2026-02-30", "2026-13-01T08:00"])
def test_backfill_refuses_a_since_that_is_not_a_date(world, bad):
    new_peer("Ohio", community=True)
    Change.objects.all().delete()
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="is not a date"):
        call_command("federation_peer", "backfill", "Ohio", "--since", bad)
    assert not Change.objects.exists()


def test_backfill_sends_amber_only_to_peers_the_author_named(world):
    peer = new_peer("Ohio")
    amber = make_alert(world["ingham_member"], world.ingham, TLP.AMBER, recipient_orgs=[world.guard], publish=False)
    alert_peers_set(actor=world["ingham_member"], alert=amber, peers=[peer])
    Change.objects.all().delete()
    from commonguard.sharing.services import alert_publish

    alert_publish(actor=world["ingham_member"], alert=amber)
    Change.objects.all().delete()
    assert backfill(peer) == 1
    assert backfill(new_peer("Indiana")) == 0


def test_backfill_refuses_an_unknown_peer_name():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="NAME of a configured peer"):
        call_command("federation_peer", "backfill", "Nowhere")


# --- 4. Pruning the outbox --------------------------------------------------------------------


def test_pruning_deletes_old_delivered_rows_and_keeps_failed_waiting_and_the_latest(world, settings):
    settings.COMMONGUARD_FEDERATION_OUTBOX_RETENTION_DAYS = 30
    peer = new_peer("Ohio", community=True)
    pulled = new_peer("Indiana", community=True, push=False)
    alert = green(world)
    from commonguard.sharing.services import AlertInput, alert_update

    for n in range(3):
        data = AlertInput(title=f"Update {n}", summary=alert.summary, category=alert.category, tlp=TLP.GREEN)
        alert = alert_update(actor=world["ingham_member"], alert=alert, data=data)
    rows = list(Change.objects.filter(peer=peer).order_by("pk"))
    assert len(rows) == 4
    old = timezone.now() - timedelta(days=31)
    Change.objects.filter(peer=peer).update(status=Change.Status.SENT, sent_at=old)
    Change.objects.filter(pk=rows[1].pk).update(status=Change.Status.REFUSED, last_error="422: refused")
    Change.objects.filter(peer=pulled).update(created_at=old)
    recent = rows[2]
    Change.objects.filter(pk=recent.pk).update(sent_at=timezone.now() - timedelta(days=29))
    other = green(world, title="Other")
    Change.objects.filter(alert_uuid=other.uuid, peer=peer).update(
        status=Change.Status.RETRY, created_at=old, last_error="502"
    )

    assert outbox_prune() == 1 + 3  # rows[0] of Ohio; three superseded rows of pull-only Indiana
    kept = set(Change.objects.filter(peer=peer).values_list("pk", flat=True))
    assert kept == {rows[1].pk, rows[2].pk, rows[3].pk} | set(
        Change.objects.filter(alert_uuid=other.uuid, peer=peer).values_list("pk", flat=True)
    )
    assert Change.objects.filter(peer=pulled, alert_uuid=alert.uuid).count() == 1  # the latest stays
    assert outbox_prune() == 0  # idempotent
    # The peers that had the alert are still known: a deletion still sends them a tombstone.
    from commonguard.federation.services import alert_delete

    alert_delete(actor=world["ingham_member"], alert=alert)
    assert Change.objects.filter(peer=peer, alert_uuid=alert.uuid, status=Change.Status.PENDING).count() == 1
    assert Change.objects.filter(peer=pulled, alert_uuid=alert.uuid).count() == 2


def test_the_retention_setting_and_the_command_prune(world, settings):
    peer = new_peer("Ohio", community=True)
    alert = green(world)
    from commonguard.sharing.services import alert_revoke

    alert_revoke(actor=world["ingham_member"], alert=alert, reason="Wrong.")
    Change.objects.filter(peer=peer).update(status=Change.Status.SENT, sent_at=timezone.now() - timedelta(days=3))
    settings.COMMONGUARD_FEDERATION_OUTBOX_RETENTION_DAYS = 5
    out = StringIO()
    call_command("federation_run", "--prune-only", stdout=out)
    assert json.loads(out.getvalue()) == {"pruned": 0}
    settings.COMMONGUARD_FEDERATION_OUTBOX_RETENTION_DAYS = 2
    call_command("federation_run", "--prune-only", stdout=out)
    assert json.loads(out.getvalue().splitlines()[-1]) == {"pruned": 1}
    assert Change.objects.filter(peer=peer).count() == 1


# --- 2. The operator's peer pages -------------------------------------------------------------


def test_the_operator_reads_each_peer_s_settings_backlog_and_errors(world, client):
    ohio = new_peer("Ohio", community=True, amber_organizations=[world.guard])
    indiana = new_peer("Indiana", push=False)
    first, second, third = green(world), green(world, title="Two"), green(world, title="Three")
    rows = {c.alert_uuid: c for c in Change.objects.filter(peer=ohio)}
    sent_at = timezone.now() - timedelta(minutes=5)
    Change.objects.filter(pk=rows[first.uuid].pk).update(status=Change.Status.SENT, sent_at=sent_at)
    Change.objects.filter(pk=rows[second.uuid].pk).update(
        status=Change.Status.REFUSED, last_error="422: TLP:AMBER refused"
    )
    Change.objects.filter(pk=rows[third.uuid].pk).update(created_at=timezone.now() - timedelta(hours=3))
    pulled_at = timezone.now() - timedelta(minutes=1)
    Peer.objects.filter(pk=ohio.pk).update(last_pull_ok_at=pulled_at, hub_id="hub-oh")
    Peer.objects.filter(pk=indiana.pk).update(last_error="The peer did not answer: ConnectError")

    sign_in(client, world["operator"])
    page = client.get("/hub/federation/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Read-only" in text and "manage.py federation_peer" in text
    assert "Ohio" in text and "Indiana" in text and "hub-oh" in text
    assert "TLP:GREEN (community)" in text and "Guard Cyber Unit" in text
    assert "1 pending, 0 waiting to retry, 1 refused" in text
    assert "Oldest waiting: 3\xa0hours" in text
    assert sent_at.strftime("%Y-%m-%d %H:%M:%S") in text and pulled_at.strftime("%Y-%m-%d %H:%M:%S") in text
    assert "422: TLP:AMBER refused" in text and "ConnectError" in text
    assert "Does not push (the peer pulls)" in text
    assert "/hub/federation/" in client.get("/").content.decode()  # in the operator's menu
    detail = client.get(f"/hub/federation/{ohio.pk}/")
    assert detail.status_code == 200
    body = detail.content.decode()
    assert str(first.uuid) in body and "Refused by the peer" in body and "1 delivered" in body
    assert first.title not in body  # ids and states only, no alert content
    assert client.get("/hub/federation/99999/").status_code == 404


@pytest.mark.parametrize("persona", ["ingham_admin", "washtenaw_member", "liaison1", "analyst", "coordinator"])
def test_peer_pages_do_not_exist_for_anyone_but_the_operator(world, client, persona):
    peer = new_peer("Ohio", community=True)
    sign_in(client, world[persona])
    for url in ("/hub/federation/", f"/hub/federation/{peer.pk}/"):
        answer = client.get(url)
        absent = client.get("/hub/federation/99999/")
        assert answer.status_code == 404 and without_csrf(answer.content) == without_csrf(absent.content)
    assert "/hub/federation/" not in client.get("/").content.decode()


def test_peer_pages_send_anonymous_callers_to_sign_in(world, client):
    assert client.get("/hub/federation/")["Location"].startswith("/accounts/login/")


# --- 5. One claim rule for the two outboxes ---------------------------------------------------


def test_a_federation_claim_that_loses_the_race_looks_again(world):
    """The federation outbox claims by the deliveries' rule (core.outbox): when another worker
    takes the rows this one picked between its two statements, it picks again."""
    from django.db import connection

    from commonguard.federation.services import _claim

    peer = new_peer("Ohio", community=True)
    for n in range(4):
        green(world, title=f"Wave {n}")
    raced: dict[str, list[Change]] = {}

    def rival_first(execute, sql, params, many, context):
        if sql.startswith("UPDATE") and "federation_change" in sql and "rival" not in raced:
            raced["rival"] = []
            raced["rival"] = _claim(peer, 2)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(rival_first):
        mine = _claim(peer, 2)
    assert len(raced["rival"]) == 2 and len(mine) == 2
    assert not {row.pk for row in mine} & {row.pk for row in raced["rival"]}
    assert all(row.status == Change.Status.SENDING and row.alert is not None for row in mine)
