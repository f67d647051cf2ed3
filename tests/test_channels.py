"""The delivery channels beyond e-mail, with real parts: organisation webhooks against a real HTTP
receiver on loopback (signature, presets, the read rule for organisations, retries, dead letters,
redelivery, the private-network guard), personal preferences (filters, digest, unsubscribe link)
and the live feed's stream."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.utils import timezone

from commonguard.core.tlp import TLP
from commonguard.sharing import webhooks as hooks
from commonguard.sharing.delivery import deliveries_resume, digest_send, unsubscribe_token
from commonguard.sharing.models import Alert, AlertPreference, Delivery, LiveEvent, Webhook
from commonguard.sharing.preferences import preferences_save
from commonguard.sharing.services import alert_update
from tests.sharing_helpers import make_alert
from tests.test_alert_pages import _without_csrf

pytestmark = pytest.mark.django_db(transaction=True)


def _run_worker() -> None:
    call_command("db_worker", "--batch", "--queue-name", "*", "--no-reload", verbosity=0)


def _hook(world, org, url, **data) -> Webhook:
    admin = world["ingham_admin"] if org == world.ingham else world["washtenaw_admin"]
    fields = {"name": data.pop("name", "SIEM"), "url": url, "preset": "generic", "max_tlp": "amber", **data}
    return hooks.webhook_save(actor=admin, organization=org, webhook=None, data=fields)


# --- Webhooks ----------------------------------------------------------------------------------


def test_a_webhook_gets_a_signed_generic_payload(world, smtp, receiver):
    hook = _hook(world, world.washtenaw, receiver.url)
    alert = make_alert(world["ingham_member"], world.ingham, TLP.GREEN, indicators=[(None, "hxxp://evil[.]example/a")])
    _run_worker()
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    body, headers = request["body"], request["headers"]
    assert hooks.verify_signature(hook.secret, body, headers["X-CommonGuard-Signature"])
    assert not hooks.verify_signature("another-secret", body, headers["X-CommonGuard-Signature"])
    assert not hooks.verify_signature(hook.secret, body + b" ", headers["X-CommonGuard-Signature"])
    assert headers["X-CommonGuard-Event"] == "alert.published"
    assert headers["X-CommonGuard-Delivery"] == f"{alert.uuid}:1:webhook:{hook.pk}"
    payload = json.loads(body)
    assert payload["alert"]["id"] == str(alert.uuid) and payload["alert"]["tlp"] == "TLP:GREEN"
    assert payload["alert"]["indicators"] == [{"type": "url", "value": "http://evil.example/a"}]
    assert Delivery.objects.get(webhook=hook).status == "sent"


def test_forged_or_stale_signatures_are_refused():
    body = b'{"event":"alert.published"}'
    header = hooks.sign("s3cret", body)
    assert hooks.verify_signature("s3cret", body, header)
    assert not hooks.verify_signature("s3cret", body, header.replace("v1=", "v1=0"))
    assert not hooks.verify_signature("s3cret", body, "t=1,v1=" + header.split("v1=")[1])
    assert not hooks.verify_signature("s3cret", body, "garbage")
    old = hooks.sign("s3cret", body, timestamp=1_000_000_000)
    assert not hooks.verify_signature("s3cret", body, old)


def test_slack_and_teams_presets_show_indicators_defanged(world, smtp, receiver):
    _hook(world, world.washtenaw, receiver.url, name="Slack", preset="slack")
    _hook(world, world.washtenaw, receiver.url, name="Teams", preset="teams")
    make_alert(world["ingham_member"], world.ingham, TLP.GREEN, indicators=[(None, "hxxp://evil[.]example/a")])
    _run_worker()
    bodies = [json.loads(r["body"]) for r in receiver.requests]
    slack = next(b for b in bodies if "blocks" in b)
    teams = next(b for b in bodies if b.get("type") == "message")
    assert slack["text"].startswith("[TLP:GREEN]")
    assert "hxxp[://]evil[.]example/a" in json.dumps(slack) and "http://evil.example" not in json.dumps(slack)
    card = teams["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard" and "hxxp[://]evil[.]example/a" in json.dumps(card)


def test_webhooks_follow_the_read_rule_for_organisations(world, smtp, receiver):
    """AMBER only to the named organisations' endpoints, never above an endpoint's ceiling, never RED."""
    ingham_hook = _hook(world, world.ingham, receiver.url, name="Ingham", max_tlp="amber")
    washtenaw_hook = _hook(world, world.washtenaw, receiver.url, name="Washtenaw", max_tlp="green")
    amber = make_alert(world["lansing_member"], world.lansing, TLP.AMBER, recipient_orgs=[world.ingham])
    also_washtenaw = make_alert(world["lansing_member"], world.lansing, TLP.AMBER, recipient_orgs=[world.washtenaw])
    red = make_alert(world["ingham_member"], world.ingham, TLP.RED, recipient_people=[world["washtenaw_admin"]])
    _run_worker()
    got = {(json.loads(r["body"])["alert"]["id"], r["headers"]["X-CommonGuard-Delivery"]) for r in receiver.requests}
    assert got == {(str(amber.uuid), f"{amber.uuid}:1:webhook:{ingham_hook.pk}")}
    assert not Delivery.objects.filter(alert__in=[also_washtenaw, red], channel="webhook").exists()
    assert washtenaw_hook.deliveries.count() == 0


def test_red_can_never_be_a_webhooks_ceiling(world):
    with pytest.raises(ValidationError):
        _hook(world, world.ingham, "http://127.0.0.1:9/hook", max_tlp="red")
    assert not Webhook.objects.exists()


def test_only_the_organisations_admins_keep_its_webhooks(world, as_persona):
    hook = _hook(world, world.ingham, "http://127.0.0.1:9/hook")
    for name in ["ingham_member", "washtenaw_admin", "liaison1", "operator"]:
        with pytest.raises(PermissionDenied):
            hooks.webhook_rotate_secret(actor=world[name], webhook=hook)
        client = as_persona(name)
        pairs = [
            (f"/alerts/webhooks/{world.ingham.pk}/", f"/alerts/webhooks/{world.ingham.pk + 9000}/"),
            (f"/alerts/webhooks/{world.ingham.pk}/{hook.pk}/", f"/alerts/webhooks/{world.ingham.pk}/{hook.pk + 9000}/"),
        ]
        for url, absent in pairs:
            response, missing = client.get(url), client.get(absent)
            assert response.status_code == missing.status_code == 404, (name, url)
            assert _without_csrf(response.content) == _without_csrf(missing.content)
        assert hook.secret not in client.get("/alerts/preferences/").content.decode()
    page = as_persona("ingham_admin").get(f"/alerts/webhooks/{world.ingham.pk}/{hook.pk}/")
    assert page.status_code == 200 and hook.secret in page.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://localhost/hook",
        "http://example.net/hook",
        "ftp://example.net/hook",
    ],
)
def test_webhooks_may_not_point_into_private_networks(world, settings, url):
    settings.COMMONGUARD_WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(ValidationError) as refused:
        _hook(world, world.ingham, url)
    assert "url" in refused.value.message_dict
    assert not Webhook.objects.exists()


def test_receiver_down_retries_then_dead_letter_then_redelivery(world, smtp, receiver):
    hook = _hook(world, world.washtenaw, receiver.url)
    receiver.status = 503
    alert = make_alert(world["ingham_member"], world.ingham, TLP.GREEN)
    _run_worker()
    row = Delivery.objects.get(webhook=hook)
    assert (row.status, row.attempts, row.response_code) == ("failed", 1, 503)
    backoffs = [row.next_attempt_at - timezone.now()]
    for _ in range(5):  # the retries: each once its back-off has passed
        assert deliveries_resume(older_than=timedelta(0)) == 0  # not due yet
        row.refresh_from_db()
        Delivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        assert deliveries_resume(older_than=timedelta(0)) == 1
        _run_worker()
        row.refresh_from_db()
        backoffs.append(row.next_attempt_at - timezone.now())
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("dead", 6)
    assert len(receiver.requests) == 6
    seconds = [round(b.total_seconds() / 30) for b in backoffs[:5]]
    assert seconds == [1, 2, 4, 8, 16]  # exponential: 30 s, 1, 2, 4, 8 minutes
    assert deliveries_resume(older_than=timedelta(0)) == 0  # a dead letter waits for a person
    page = _admin_client(world).get(f"/alerts/webhooks/{world.washtenaw.pk}/").content.decode()
    assert "Dead letters" in page and alert.title in page and "HTTP 503" in page
    receiver.status = 200
    response = _admin_client(world).post(
        f"/alerts/webhooks/{world.washtenaw.pk}/{hook.pk}/redeliver/", {"delivery": row.pk, "next": "list"}
    )
    assert response.status_code == 302
    _run_worker()
    row.refresh_from_db()
    assert (row.status, row.response_code) == ("sent", 200)
    assert len(receiver.requests) == 7


def _admin_client(world):
    from django.test import Client

    from tests.conftest import sign_in

    return sign_in(Client(), world["washtenaw_admin"])


def test_a_webhook_form_with_a_bad_address_stores_nothing(world, as_persona, settings):
    settings.COMMONGUARD_WEBHOOK_ALLOW_PRIVATE = False
    response = as_persona("ingham_admin").post(
        f"/alerts/webhooks/{world.ingham.pk}/",
        {"name": "SIEM", "url": "https://10.0.0.5/hook", "preset": "generic", "max_tlp": "green"}
        | {"min_severity": "low"},
    )
    assert response.status_code == 400
    assert "private or reserved network" in response.content.decode()
    assert not Webhook.objects.exists()


# --- Preferences ---------------------------------------------------------------------------------


def test_filters_and_digest_shape_what_is_e_mailed(world, smtp):
    preferences_save(actor=world["washtenaw_member"], data={"categories": ["ransomware_precursor"]})
    preferences_save(actor=world["washtenaw_admin"], data={"email_mode": "digest"})
    preferences_save(actor=world["lansing_member"], data={"email": False})
    phishing = make_alert(world["ingham_member"], world.ingham, TLP.GREEN, title="Invoice phishing")
    flash = make_alert(
        world["ingham_member"], world.ingham, TLP.GREEN, severity=Alert.Severity.CRITICAL, title="Wiper loose"
    )
    _run_worker()
    to = [(m["To"], m["Subject"]) for m in smtp.messages]
    # The category filter and "no e-mail" drop the phishing alert; the digest holds it.
    assert not any(t == "washtenaw_member@example.test" and phishing.title in s for t, s in to)
    assert not any(t == "lansing_member@example.test" and phishing.title in s for t, s in to)
    assert not any(t == "washtenaw_admin@example.test" and phishing.title in s for t, s in to)
    # A critical alert passes every filter and skips the digest, but not a "no e-mail" choice.
    flash_to = {t for t, s in to if "Critical" in s}
    assert {"washtenaw_member@example.test", "washtenaw_admin@example.test"} <= flash_to
    assert "lansing_member@example.test" not in flash_to
    # Everyone (but the author and the operator, who belongs to no organisation) has it in the live feed.
    assert Delivery.objects.filter(alert=phishing, channel="app", status="sent").count() == 10
    held = Delivery.objects.get(alert=phishing, recipient=world["washtenaw_admin"], channel="email")
    assert held.status == "held"
    smtp.messages.clear()
    before = timezone.localtime().replace(hour=0, minute=0)
    assert digest_send(before) == 0  # before the digest hour
    morning = timezone.localtime().replace(hour=9)
    assert digest_send(morning) == 1
    assert digest_send(morning) == 0  # once a day
    (digest,) = smtp.messages
    assert digest["To"] == "washtenaw_admin@example.test" and "daily digest: 1 alert" in digest["Subject"]
    held.refresh_from_db()
    assert held.status == "sent"
    assert flash.pk not in Delivery.objects.filter(status="held").values_list("alert_id", flat=True)


def test_the_unsubscribe_link_works_without_signing_in(world, client):
    user = world["washtenaw_member"]
    url = f"/alerts/unsubscribe/{unsubscribe_token(user)}/"
    assert "Stop alert e-mails" in client.get(url).content.decode()
    assert not AlertPreference.objects.filter(user=user).exists()  # a GET changes nothing
    assert client.post(url).status_code == 200
    assert AlertPreference.objects.get(user=user).email is False
    forged = client.post("/alerts/unsubscribe/MTA:1xUfbt:forged/")
    assert forged.status_code == 404
    assert AlertPreference.objects.filter(email=False).count() == 1


def test_preferences_page_saves_and_refuses_nonsense(world, as_persona):
    client = as_persona("washtenaw_member")
    assert client.get("/alerts/preferences/").status_code == 200
    bad = client.post("/alerts/preferences/", {"email_mode": "hourly", "min_severity": "low"})
    assert bad.status_code == 200 and not AlertPreference.objects.exists()
    ok = client.post(
        "/alerts/preferences/",
        {"email": "on", "email_mode": "digest", "min_severity": "high", "categories": ["malware"]},
    )
    assert ok.status_code == 302
    saved = AlertPreference.objects.get(user=world["washtenaw_member"])
    assert (saved.email_mode, saved.min_severity, saved.categories) == ("digest", "high", ["malware"])


# --- The live feed -----------------------------------------------------------------------------


def _events(body: str) -> list[dict]:
    return [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ") and '"title"' in line]


def test_the_live_stream_carries_only_what_the_reader_may_see(world, smtp, as_persona):
    """Under the test server (WSGI) the stream answers by polling; the ids make it lossless."""
    first = {name: as_persona(name).get("/alerts/live/") for name in ["washtenaw_member", "ingham_admin"]}
    for response in first.values():
        assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    amber = make_alert(world["ingham_member"], world.ingham, TLP.AMBER, recipient_orgs=[world.lansing])
    green = make_alert(world["ingham_member"], world.ingham, TLP.GREEN)
    _run_worker()
    assert LiveEvent.objects.count() == 2
    got = {}
    for name in ["washtenaw_member", "ingham_admin"]:
        response = as_persona(name).get("/alerts/live/", HTTP_LAST_EVENT_ID="0")
        got[name] = {event["id"] for event in _events(response.content.decode())}
    assert got["ingham_admin"] == {str(amber.uuid), str(green.uuid)}
    assert got["washtenaw_member"] == {str(green.uuid)}
    alert_update(actor=world["ingham_member"], alert=green, data=_same(green, title="Phishing wave, now with QR"))
    _run_worker()
    latest = max(LiveEvent.objects.values_list("pk", flat=True))
    again = as_persona("washtenaw_member").get("/alerts/live/", HTTP_LAST_EVENT_ID=str(latest - 1)).content.decode()
    assert [e["title"] for e in _events(again)] == ["Phishing wave, now with QR"]


def _same(alert, **changes):
    from commonguard.sharing.services import AlertInput

    data = {f: getattr(alert, f) for f in ["title", "summary", "category", "tlp"]}
    return AlertInput(**{**data, **changes})


def test_a_sighting_refreshes_the_maps_of_those_who_may_read_the_alert_only(world, smtp, as_persona):
    """A sighting is a `sighting` event on the live feed of every reader of the alert (its author
    included; the read rule applied by the worker), naming only the alert and its map's data."""
    from commonguard.sharing.reactions import sighting_report

    amber = make_alert(world["ingham_member"], world.ingham, TLP.AMBER, recipient_orgs=[world.washtenaw])
    _run_worker()
    before = max(LiveEvent.objects.values_list("pk", flat=True))
    sighting_report(actor=world["washtenaw_member"], alert=amber, organization=world.washtenaw, kind="seen", count=3)
    _run_worker()
    (event,) = LiveEvent.objects.filter(pk__gt=before)
    readers = {"ingham_member", "ingham_admin", "ingham_official", "washtenaw_member", "washtenaw_admin"}
    assert event.kind == "sighting"
    assert set(event.user_ids) == {world[name].pk for name in readers}
    for name in ["ingham_member", "washtenaw_admin", "lansing_member", "analyst", "liaison1", "operator"]:
        body = as_persona(name).get("/alerts/live/", HTTP_LAST_EVENT_ID=str(before)).content.decode()
        frames = [line for line in body.splitlines() if line.startswith(("event: ", "data: "))]
        if name in readers:
            data = {"id": str(amber.uuid), "map": f"/alerts/{amber.uuid}/map/data.json"}
            assert frames == ["event: sighting", "data: " + json.dumps(data, separators=(",", ":"))], name
        else:
            assert frames == [], name
    # The task is for published alerts only: a draft has no readers to tell.
    from commonguard.sharing.delivery import sighting_announce

    draft = make_alert(world["ingham_member"], world.ingham, TLP.GREEN, publish=False)
    assert sighting_announce.call(draft.pk) == 0


@pytest.mark.parametrize("name", ["anonymous", "unvetted", "removed_member"])
def test_no_stream_without_vetting(world, as_persona, name):
    assert as_persona(name).get("/alerts/live/").status_code in {302, 403}


# --- The batch forms of the rules agree with the one-at-a-time forms ------------------------------


@pytest.mark.parametrize("tlp", [TLP.CLEAR, TLP.GREEN, TLP.AMBER, TLP.AMBER_STRICT, TLP.RED])
def test_batch_checks_agree_with_the_read_rule(world, tlp):
    from commonguard.accounts.viewer import NO_PERSON, Viewer
    from commonguard.sharing.delivery import (
        EmailRenderer,
        entitled_people,
        entitled_webhooks,
        webhook_entitled,
    )
    from commonguard.sharing.services import author_label

    hooks_by_org = [
        _hook(world, org, "http://127.0.0.1:9/hook", name=f"{org.pk}-{ceiling}", max_tlp=ceiling)
        for org in [world.ingham, world.washtenaw]
        for ceiling in ["green", "amber+strict"]
    ]
    extra = {"recipient_orgs": [world.washtenaw]} if tlp in {TLP.AMBER, TLP.AMBER_STRICT} else {}
    if tlp == TLP.RED:
        extra = {"recipient_people": [world["washtenaw_admin"]]}
    alert = make_alert(world["lansing_member"], world.lansing, tlp, anonymous=True, **extra)
    assert entitled_webhooks(alert, hooks_by_org) == {h.pk for h in hooks_by_org if webhook_entitled(alert, h)}
    people = {u.pk: u for u in world.people.values()}
    readable = {pk for pk, u in people.items() if Alert.objects.visible_to(u).filter(pk=alert.pk).exists()}
    assert entitled_people(alert, people) == readable - {alert.author_id, world["operator"].pk}
    renderer = EmailRenderer(alert)
    for user in people.values():
        assert renderer._author(user) == author_label(alert, user), user.email
    assert renderer._author(Viewer(user_id=NO_PERSON)) == "A city in Region 1"
