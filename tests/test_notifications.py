"""Vetting e-mail goes through the real worker (django-tasks database backend) to a real SMTP
server on loopback (aiosmtpd)."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from commonguard.accounts import services
from commonguard.accounts.models import Membership
from tests.factories import UserFactory


def _run_worker() -> None:
    call_command("db_worker", "--batch", "--queue-name", "*", "--no-reload", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_join_request_and_decision_are_mailed_through_the_worker(world, smtp):
    newcomer = UserFactory(email="newcomer@example.test")
    membership = services.membership_request(actor=newcomer, organization=world.washtenaw, message="New network admin")
    assert smtp.messages == []  # nothing is sent inline: the worker does it
    _run_worker()
    assert [m["To"] for m in smtp.messages] == ["washtenaw_admin@example.test"]
    assert "asks to join Washtenaw County" in smtp.messages[0]["Subject"]
    assert "New network admin" in smtp.messages[0].get_payload()

    services.membership_approve(actor=world["washtenaw_admin"], membership=membership)
    _run_worker()
    assert [m["To"] for m in smtp.messages][1:] == ["newcomer@example.test"]
    assert "was approved" in smtp.messages[1]["Subject"]
    _run_worker()
    assert len(smtp.messages) == 2  # each task ran once


@pytest.mark.django_db(transaction=True)
def test_without_an_admin_the_state_liaisons_are_asked(world, smtp):
    services.membership_request(actor=UserFactory(), organization=world.lansing)
    _run_worker()
    assert sorted(m["To"] for m in smtp.messages) == ["liaison1@example.test", "liaison2@example.test"]


@pytest.mark.django_db(transaction=True)
def test_recipients_are_decided_at_send_time(world, smtp):
    """The admin left between the request and the worker's run: they get nothing; the request
    goes to the state's liaisons instead, who can now decide it."""
    membership = services.membership_request(actor=UserFactory(), organization=world.washtenaw)
    Membership.objects.filter(user=world["washtenaw_admin"]).update(status="removed")
    _run_worker()
    assert sorted(m["To"] for m in smtp.messages) == ["liaison1@example.test", "liaison2@example.test"]
    assert Membership.objects.get(pk=membership.pk).status == "pending"
