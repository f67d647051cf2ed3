"""Mutual-aid e-mail (ADR 32): the outbox is written with the change and sent by the worker to a
real SMTP server; a crashed worker's claim is taken again; the accept/decline link works once, for
the signed-in responder, until it expires, and refuses a reused, expired or foreign link clearly."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from commonguard.mutualaid import offers, services
from commonguard.mutualaid.models import AidNotice, Deployment, ResponseLink
from tests.conftest import sign_in
from tests.mutualaid_helpers import aid_request, compact, make_responder, place_world


@pytest.fixture
def proposed(world: Any) -> dict[str, Any]:
    place_world(world)
    compact(world, [world.ingham, world.guard])
    rae = make_responder(world, name="Responder", user=world["responder"])
    aid = aid_request(world)
    offer = offers.offer_create(
        actor=world["coordinator"],
        data=offers.OfferInput(
            request=aid,
            offering_org=world.guard,
            terms=offers.Terms(starts_on=aid.starts_on, ends_on=aid.ends_on),
            responders=[(rae, "Lead")],
        ),
    )
    return {"rae": rae, "aid": aid, "offer": offer, "deployment": Deployment.objects.get(responder=rae)}


def _link(sink: Any, to: str) -> str:
    for message in sink.messages:
        if message["To"] == to:
            body = message.get_payload(decode=True).decode()
            found = re.search(r"https?://[^/\s]+(/mutualaid/respond/[^/\s]+/)", body)
            if found:
                return found.group(1)
    raise AssertionError(f"no link to {to}")


def test_offer_notices_go_out_through_the_outbox(world: Any, proposed: dict[str, Any], smtp: Any) -> None:
    keys = set(AidNotice.objects.values_list("key", flat=True))
    # The responder (with a link), their programme's coordinator, and the requester's people who
    # may negotiate or sign (admin and members under the compact's request roles).
    assert any(k.endswith(":responder") for k in keys)
    to = set(AidNotice.objects.values_list("to_email", flat=True))
    assert {"responder@example.test", "coordinator@example.test", "ingham_admin@example.test"} <= to
    assert "washtenaw_admin@example.test" not in to and "ingham_official@example.test" not in to
    sent = offers.notices_send()
    assert sent == len(smtp.messages) == AidNotice.objects.count()
    assert set(AidNotice.objects.values_list("status", flat=True)) == {"sent"}
    assert offers.notices_send() == 0  # nothing twice
    body = next(m for m in smtp.messages if m["To"] == "responder@example.test").get_payload(decode=True).decode()
    assert "/mutualaid/respond/" in body and "+1 517" not in body


def test_a_crashed_worker_loses_nothing(world: Any, proposed: dict[str, Any], smtp: Any) -> None:
    # A worker claimed the rows and died before sending: after the lease they go out.
    AidNotice.objects.update(status="sending", claim="dead", claimed_at=timezone.now())
    assert offers.notices_send() == 0
    AidNotice.objects.update(claimed_at=timezone.now() - offers.LEASE - timedelta(seconds=1))
    assert offers.notices_send() == AidNotice.objects.count() == len(smtp.messages)


def test_a_failed_send_is_retried_later_then_recorded(world: Any, proposed: dict[str, Any], settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens
    assert offers.notices_send() == 0
    assert set(AidNotice.objects.values_list("status", "attempts")) == {("retry", 1)}
    assert offers.notices_send() == 0  # not before its retry time
    assert set(AidNotice.objects.values_list("attempts", flat=True)) == {1}
    for attempt in range(2, offers.MAX_ATTEMPTS + 1):
        AidNotice.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        assert offers.notices_send() == 0
        assert set(AidNotice.objects.values_list("attempts", flat=True)) == {attempt}
    # Five tries: recorded as failed with the error, never tried again.
    assert set(AidNotice.objects.values_list("status", flat=True)) == {"failed"}
    assert all(AidNotice.objects.values_list("last_error", flat=True))
    AidNotice.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert offers.notices_send() == 0 and set(AidNotice.objects.values_list("attempts", flat=True)) == {5}


def test_a_notice_whose_send_failed_goes_out_when_the_server_is_back(
    world: Any, proposed: dict[str, Any], settings: Any, smtp: Any
) -> None:
    good = settings.EMAIL_PORT
    settings.EMAIL_PORT = 9
    assert offers.notices_send() == 0
    settings.EMAIL_PORT = good
    AidNotice.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert offers.notices_send() == AidNotice.objects.count() == len(smtp.messages)


def test_the_link_accepts_once(world: Any, proposed: dict[str, Any], smtp: Any) -> None:
    offers.notices_send()
    path = _link(smtp, "responder@example.test")
    client = sign_in(Client(), world["responder"])
    page = client.get(path)
    assert page.status_code == 200 and "Accept and sign" in page.content.decode()
    assert Deployment.objects.get().status == "proposed"  # opening changes nothing
    wrong = client.post(path, {"answer": "accept", "signature": "Someone Else"})
    assert wrong.status_code == 400 and "Type your full name exactly" in wrong.content.decode()
    assert Deployment.objects.get().status == "proposed"
    done = client.post(path, {"answer": "accept", "signature": "Responder"})
    assert done.status_code == 302
    d = Deployment.objects.get()
    assert d.status == "accepted" and d.accepted_signature == "Responder"
    again = client.get(path)
    assert again.status_code == 410 and "already used" in again.content.decode()
    assert client.post(path, {"answer": "decline"}).status_code == 410
    assert Deployment.objects.get().status == "accepted"


def test_the_link_declines(world: Any, proposed: dict[str, Any], smtp: Any) -> None:
    offers.notices_send()
    client = sign_in(Client(), world["responder"])
    assert client.post(_link(smtp, "responder@example.test"), {"answer": "decline"}).status_code == 302
    assert Deployment.objects.get().status == "declined"


def test_expired_foreign_and_unknown_links_are_refused(world: Any, proposed: dict[str, Any], smtp: Any) -> None:
    offers.notices_send()
    path = _link(smtp, "responder@example.test")
    other = sign_in(Client(), world["coordinator"])
    foreign = other.get(path)
    assert foreign.status_code == 403 and "sent to someone else" in foreign.content.decode()
    assert "Ransomware" not in foreign.content.decode()  # nothing about the deployment
    assert other.post(path, {"answer": "decline"}).status_code == 403
    assert Deployment.objects.get().status == "proposed"
    owner = sign_in(Client(), world["responder"])
    assert owner.get("/mutualaid/respond/not-a-token/").status_code == 404
    ResponseLink.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    expired = owner.get(path)
    assert expired.status_code == 410 and "expired" in expired.content.decode()
    assert owner.post(path, {"answer": "accept", "signature": "Responder"}).status_code == 410
    assert Deployment.objects.get().status == "proposed"
    anonymous = Client().get(path)
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]


def test_a_direct_proposal_also_notifies(world: Any, smtp: Any) -> None:
    place_world(world)
    rae = make_responder(world, name="Responder", user=world["responder"])
    services.deployment_propose(actor=world["coordinator"], request=aid_request(world), responder=rae)
    offers.notices_send()
    assert _link(smtp, "responder@example.test").startswith("/mutualaid/respond/")


def test_the_command_sends_what_a_dead_worker_left(world: Any, proposed: dict[str, Any], smtp: Any) -> None:
    from io import StringIO

    from django.core.management import call_command

    AidNotice.objects.update(status="sending", claim="dead", claimed_at=timezone.now() - timedelta(minutes=5))
    out = StringIO()
    call_command("mutualaid_notices", stdout=out)
    assert f"{AidNotice.objects.count()} mutual-aid notice(s) sent." in out.getvalue()
    assert len(smtp.messages) == AidNotice.objects.count()
