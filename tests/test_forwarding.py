"""Forwarding an alert to a colleague, within what its label permits, never beyond it: the rule by
label and person, refusals that change nothing, send nothing and never tell whether a person
exists, and the e-mail through the worker and a real SMTP server."""

from __future__ import annotations

from email.header import decode_header, make_header

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from commonguard.accounts.models import Membership
from commonguard.core.models import AuditEvent
from commonguard.core.tlp import TLP
from commonguard.sharing.forwarding import REFUSED, alert_forward
from commonguard.sharing.services import alert_revoke
from tests.sharing_helpers import make_alert

pytestmark = pytest.mark.django_db(transaction=True)


def _run_worker() -> None:
    call_command("db_worker", "--batch", "--queue-name", "*", "--no-reload", verbosity=0)


def _subject(message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def _parts(message) -> dict[str, str]:
    return {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in message.walk()
        if part.get_content_type() in {"text/plain", "text/html"}
    }


def _alert(world, tlp, **extra):
    if tlp in (TLP.AMBER, TLP.AMBER_STRICT):
        extra.setdefault("recipient_orgs", [world.washtenaw])
    if tlp == TLP.RED:
        extra.setdefault("recipient_people", [world["washtenaw_member"], world["washtenaw_admin"]])
    return make_alert(world["ingham_member"], world.ingham, tlp, **extra)


# (label, forwarder, to whom, allowed)
CASES = [
    ("clear: anyone", TLP.CLEAR, "washtenaw_member", "someone@elsewhere.example", True),
    ("clear: a hub member", TLP.CLEAR, "washtenaw_member", "lansing_member@example.test", True),
    ("green: a vetted member", TLP.GREEN, "washtenaw_member", "lansing_member@example.test", True),
    ("green: the operator", TLP.GREEN, "washtenaw_member", "operator@example.test", True),
    ("green: not vetted", TLP.GREEN, "washtenaw_member", "unvetted@example.test", False),
    ("green: removed", TLP.GREEN, "washtenaw_member", "removed_member@example.test", False),
    ("green: unknown address", TLP.GREEN, "washtenaw_member", "nobody@elsewhere.example", False),
    ("amber: a colleague", TLP.AMBER, "washtenaw_member", "washtenaw_admin@example.test", True),
    ("amber: the author's organisation", TLP.AMBER, "washtenaw_member", "ingham_admin@example.test", True),
    ("amber: outside the audience", TLP.AMBER, "washtenaw_member", "lansing_member@example.test", False),
    ("amber: state staff", TLP.AMBER, "washtenaw_member", "analyst@example.test", False),
    ("amber: unknown address", TLP.AMBER, "washtenaw_member", "nobody@elsewhere.example", False),
    ("amber+strict: a colleague", TLP.AMBER_STRICT, "washtenaw_member", "washtenaw_admin@example.test", True),
    ("amber+strict: audience, other org", TLP.AMBER_STRICT, "washtenaw_member", "ingham_admin@example.test", False),
    ("amber+strict: outside", TLP.AMBER_STRICT, "washtenaw_member", "lansing_member@example.test", False),
    ("red: even a named person", TLP.RED, "washtenaw_member", "washtenaw_admin@example.test", False),
    ("red: the author", TLP.RED, "washtenaw_member", "ingham_member@example.test", False),
]


@pytest.mark.parametrize(("_case", "tlp", "forwarder", "to", "allowed"), CASES, ids=[c[0] for c in CASES])
def test_forwarding_rule(world, smtp, _case, tlp, forwarder, to, allowed):
    alert = _alert(world, tlp)
    _run_worker()
    smtp.messages.clear()
    audit_before = AuditEvent.objects.count()
    tasks_before = DBTaskResult.objects.count()
    if allowed:
        alert_forward(actor=world[forwarder], alert=alert, email=to.upper(), note="Have a look")
        assert AuditEvent.objects.filter(action="alert.forward").count() == 1
        _run_worker()
        assert [m["To"] for m in smtp.messages] == [to]
        return
    with pytest.raises(ValidationError) as refused:
        alert_forward(actor=world[forwarder], alert=alert, email=to, note="Have a look")
    message = " ".join(refused.value.messages)
    if tlp == TLP.RED:
        assert "TLP:RED alert cannot be forwarded" in message
    else:  # the same words whether or not the person exists
        assert message.startswith(REFUSED)
        unknown = pytest.raises(ValidationError)
        with unknown as other:
            alert_forward(actor=world[forwarder], alert=alert, email="no-such-person@elsewhere.example")
        assert other.value.messages == refused.value.messages
    assert AuditEvent.objects.count() == audit_before
    assert DBTaskResult.objects.count() == tasks_before
    _run_worker()
    assert smtp.messages == []


def test_the_forwarded_mail(world, smtp):
    alert = _alert(world, TLP.GREEN, anonymous=True, indicators=[(None, "hxxp://evil[.]example/a")])
    _run_worker()
    smtp.messages.clear()
    alert_forward(
        actor=world["washtenaw_member"], alert=alert, email="lansing_member@example.test", note="Check <b>it</b>"
    )
    _run_worker()
    (message,) = smtp.messages
    assert _subject(message).startswith("Fwd: [TLP:GREEN] [Medium] ")
    parts = _parts(message)
    assert "Washtenaw Member <washtenaw_member@example.test> forwarded this alert to you." in parts["text/plain"]
    assert "Their note: Check <b>it</b>" in parts["text/plain"]
    assert "Check &lt;b&gt;it&lt;/b&gt;" in parts["text/html"] and "<b>it</b>" not in parts["text/html"]
    assert "hxxp[://]evil[.]example/a" in parts["text/plain"]
    for text in parts.values():  # anonymity holds: Lansing may not know the author
        assert "From: A county in Region 1" in text or "<p>From: A county in Region 1</p>" in text
        assert "Ingham" not in text
    assert message["List-Unsubscribe"]


def test_clear_goes_to_any_address_without_naming_an_anonymous_author(world, smtp):
    alert = _alert(world, TLP.CLEAR, anonymous=True)
    _run_worker()
    smtp.messages.clear()
    alert_forward(actor=world["washtenaw_member"], alert=alert, email="press@newsroom.example")
    _run_worker()
    (message,) = smtp.messages
    assert message["To"] == "press@newsroom.example"
    assert message["List-Unsubscribe"] is None
    assert all("Ingham" not in text and "A county in Region 1" in text for text in _parts(message).values())


def test_the_rule_is_checked_again_at_send_time(world, smtp):
    alert = _alert(world, TLP.AMBER)
    _run_worker()
    smtp.messages.clear()
    alert_forward(actor=world["washtenaw_member"], alert=alert, email="washtenaw_admin@example.test")
    Membership.objects.filter(user=world["washtenaw_admin"]).update(status="removed")  # left before the worker ran
    _run_worker()
    assert smtp.messages == []


def test_bad_input_and_revoked_alerts(world, smtp):
    alert = _alert(world, TLP.GREEN)
    for email in ["", "not an address", "a@b@c.example"]:
        with pytest.raises(ValidationError, match="Enter an e-mail address"):
            alert_forward(actor=world["washtenaw_member"], alert=alert, email=email)
    with pytest.raises(ValidationError, match="note"):
        alert_forward(actor=world["washtenaw_member"], alert=alert, email="lansing_member@example.test", note="x" * 501)
    alert_revoke(actor=world["ingham_member"], alert=alert, reason="Wrong")
    with pytest.raises(ValidationError, match="revoked alert cannot be forwarded"):
        alert_forward(actor=world["washtenaw_member"], alert=alert, email="lansing_member@example.test")
    assert not AuditEvent.objects.filter(action="alert.forward").exists()


def test_page_and_api(world, smtp, as_persona):
    alert = _alert(world, TLP.AMBER)
    _run_worker()
    smtp.messages.clear()
    client = as_persona("washtenaw_member")
    page = client.get(f"/alerts/{alert.uuid}/").content.decode()
    assert "Forward this alert by e-mail" in page
    refused = client.post(
        f"/alerts/{alert.uuid}/forward/", {"forward-email": "lansing_member@example.test"}, follow=True
    )
    assert REFUSED.replace("'", "&#x27;") in refused.content.decode()
    done = client.post(f"/alerts/{alert.uuid}/forward/", {"forward-email": "washtenaw_admin@example.test"}, follow=True)
    assert "on its way to washtenaw_admin@example.test" in done.content.decode()
    api = client.post(
        f"/api/v1/alerts/{alert.uuid}/forward/",
        {"email": "ingham_official@example.test"},
        content_type="application/json",
    )
    assert api.status_code == 202 and api.json() == {"to": "ingham_official@example.test", "status": "queued"}
    bad = client.post(
        f"/api/v1/alerts/{alert.uuid}/forward/",
        {"email": "lansing_member@example.test"},
        content_type="application/json",
    )
    assert bad.status_code == 400 and bad.json()["error"]["fields"]["email"][0].startswith(REFUSED)
    # Someone who cannot read the alert: the same 404 as for an alert that does not exist.
    outsider = as_persona("lansing_member")
    hidden = outsider.post(
        f"/api/v1/alerts/{alert.uuid}/forward/", {"email": "x@y.example"}, content_type="application/json"
    )
    missing = outsider.post(
        "/api/v1/alerts/00000000-0000-4000-8000-000000000001/forward/",
        {"email": "x@y.example"},
        content_type="application/json",
    )
    assert (hidden.status_code, hidden.content) == (missing.status_code, missing.content) and hidden.status_code == 404
    assert outsider.post(f"/alerts/{alert.uuid}/forward/", {"forward-email": "x@y.example"}).status_code == 404
    _run_worker()
    assert sorted(m["To"] for m in smtp.messages) == ["ingham_official@example.test", "washtenaw_admin@example.test"]
    red = _alert(world, TLP.RED)
    assert (
        "Forward this alert by e-mail"
        not in as_persona("washtenaw_member").get(f"/alerts/{red.uuid}/").content.decode()
    )
