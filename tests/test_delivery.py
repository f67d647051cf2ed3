"""Publish → outbox → worker → a real SMTP server on loopback. Each recipient once, the read rule
re-checked at send time, retries after failure, and recovery of what a stopped worker left."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from commonguard.accounts.models import Membership
from commonguard.core.tlp import TLP
from commonguard.sharing.delivery import _deliver_email, claim, deliveries_resume
from commonguard.sharing.models import Alert, Delivery
from commonguard.sharing.services import alert_revoke
from tests.conftest import VETTED_PERSONAS
from tests.sharing_helpers import make_alert

pytestmark = pytest.mark.django_db(transaction=True)


def _run_worker() -> None:
    call_command("db_worker", "--batch", "--queue-name", "*", "--no-reload", verbosity=0)


def _vetted_except(world, author: str) -> set[str]:
    return {f"{n}@example.test" for n in VETTED_PERSONAS if n not in {author, "operator"}}


def test_green_alert_reaches_every_vetted_person_once(world, smtp):
    alert = make_alert(world["ingham_member"], world.ingham, TLP.GREEN, indicators=[(None, "hxxp://evil[.]example/a")])
    emails = Delivery.objects.filter(alert=alert, channel="email", status="pending")
    assert emails.count() == len(_vetted_except(world, "ingham_member"))
    assert Delivery.objects.filter(alert=alert, channel="app").count() == emails.count()
    assert smtp.messages == []  # nothing inline: the worker sends
    _run_worker()
    received = sorted(m["To"] for m in smtp.messages)
    assert received == sorted(_vetted_except(world, "ingham_member"))
    message = smtp.messages[0]
    assert message["Subject"].startswith("[TLP:GREEN] [Medium] ")
    assert message["List-Unsubscribe"].strip().startswith("<http://127.0.0.1:8000/alerts/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"].startswith(f"<{alert.uuid}.1.")
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in message.walk()
        if part.get_content_type() in {"text/plain", "text/html"}
    }
    assert set(parts) == {"text/plain", "text/html"}
    assert "hxxp[://]evil[.]example/a" in parts["text/plain"] and "http://evil.example" not in parts["text/plain"]
    assert "From: Ingham County" in parts["text/plain"]
    _run_worker()
    assert len(smtp.messages) == len(received)  # run again: nobody gets it twice
    assert set(Delivery.objects.filter(alert=alert).values_list("status", flat=True)) == {"sent"}


def test_amber_goes_to_its_audience_only_and_anonymity_holds_in_mail(world, smtp):
    make_alert(world["ingham_member"], world.ingham, TLP.AMBER, recipient_orgs=[world.washtenaw], anonymous=True)
    _run_worker()
    to = {m["To"]: m for m in smtp.messages}
    assert set(to) == {
        "ingham_admin@example.test",
        "ingham_official@example.test",
        "washtenaw_member@example.test",
        "washtenaw_admin@example.test",
    }
    assert (
        "From: A county in Region 1"
        in to["washtenaw_member@example.test"].get_payload()[0].get_payload(decode=True).decode()
    )
    assert "From: Ingham County" in to["ingham_admin@example.test"].get_payload()[0].get_payload(decode=True).decode()


def test_the_rule_is_checked_again_at_send_time(world, smtp):
    alert = make_alert(world["ingham_member"], world.ingham, TLP.RED, recipient_people=[world["washtenaw_admin"]])
    Membership.objects.filter(user=world["washtenaw_admin"]).update(status="removed")  # left before the worker ran
    _run_worker()
    assert smtp.messages == []
    assert set(Delivery.objects.filter(alert=alert).values_list("channel", "status")) == {
        ("email", "skipped"),
        ("app", "skipped"),
    }


def test_smtp_down_then_retry(world, smtp, settings):
    real_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = 1  # nothing listens there
    alert = make_alert(world["ingham_member"], world.ingham, TLP.RED, recipient_people=[world["washtenaw_admin"]])
    _run_worker()
    row = Delivery.objects.get(alert=alert, channel="email")
    assert (row.status, row.attempts) == ("failed", 1) and row.next_attempt_at > timezone.now()
    settings.EMAIL_PORT = real_port
    Delivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert deliveries_resume() == 1
    _run_worker()
    assert [m["To"] for m in smtp.messages] == ["washtenaw_admin@example.test"]
    assert Delivery.objects.get(pk=row.pk).status == "sent"


def test_what_a_stopped_worker_left_is_resumed_and_sent_once(world, smtp, settings):
    alert = make_alert(world["ingham_member"], world.ingham, TLP.GREEN)
    # A worker sent two deliveries, claimed two more and died; its tasks will never finish.
    _deliver_email(alert, claim(alert.pk, alert.version, "email", limit=2))
    stuck = claim(alert.pk, alert.version, "email", limit=2)
    assert {row.status for row in stuck} == {"sending"}
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.all().delete()
    assert len(smtp.messages) == 2
    assert deliveries_resume(older_than=timedelta(0)) == 2  # e-mail and the live feed
    _run_worker()
    # The claimed rows wait for their lease to run out: another worker might still be on them.
    assert Delivery.objects.filter(pk__in=[row.pk for row in stuck], status="sending").count() == 2
    settings.COMMONGUARD_DELIVERY_LEASE_SECONDS = 0
    assert deliveries_resume(older_than=timedelta(0)) == 1
    _run_worker()
    received = [m["To"] for m in smtp.messages]
    assert sorted(received) == sorted(_vetted_except(world, "ingham_member"))
    assert len(received) == len(set(received))


def test_revocation_is_announced_and_flash_goes_first(world, smtp):
    from django_tasks_db.models import DBTaskResult

    alert = make_alert(
        world["ingham_member"],
        world.ingham,
        TLP.RED,
        recipient_people=[world["analyst"]],
        severity=Alert.Severity.CRITICAL,
    )
    assert set(DBTaskResult.objects.values_list("queue_name", flat=True)) == {"flash"}
    # Revoked before the worker sent version 1: the superseded version is skipped, and the
    # revocation (which carries the whole alert) is what the recipient receives, once.
    alert_revoke(actor=world["ingham_member"], alert=alert, reason="False positive.")
    _run_worker()
    subjects = [m["Subject"] for m in smtp.messages]
    assert len(subjects) == 1 and subjects[0].startswith("[TLP:RED] [Critical (flash)] Revoked: ")
    assert set(Delivery.objects.filter(alert=alert, version=1).values_list("status", flat=True)) == {"skipped"}


def test_a_claim_that_loses_the_race_looks_again(world):
    """Two e-mail tasks share a fan-out: when another worker claims the rows this one picked between
    its two statements, it picks again instead of ending its task with work left."""
    from django.db import connection

    alert = make_alert(world["ingham_member"], world.ingham, TLP.GREEN)
    raced: dict[str, list[Delivery]] = {}

    def rival_first(execute, sql, params, many, context):
        if sql.startswith("UPDATE") and "sharing_delivery" in sql and "rival" not in raced:
            raced["rival"] = []
            raced["rival"] = claim(alert.pk, alert.version, "email", limit=2)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(rival_first):
        mine = claim(alert.pk, alert.version, "email", limit=2)
    assert len(raced["rival"]) == 2 and len(mine) == 2
    assert not {row.pk for row in mine} & {row.pk for row in raced["rival"]}


def test_a_flash_alert_runs_ahead_of_bulk_work_queued_before_it(world, smtp):
    """The worker serves every queue; the KEV import and three imported alerts' fan-outs were queued
    first, yet the county's flash alert is what it takes next: its live feed, then its e-mail."""
    from django_tasks_db.models import DBTaskResult

    from commonguard.sharing.kev import kev_import

    for _ in range(3):
        kev_import.enqueue("/nonexistent/kev.json")
    imported = make_alert(world["ingham_member"], world.ingham, TLP.CLEAR)
    Alert.objects.filter(pk=imported.pk).update(source_key="kev:CVE-2099-0002")
    imported.refresh_from_db()
    from commonguard.sharing.delivery import enqueue_fanout, queue_for

    enqueue_fanout(imported.pk, imported.version, queue_for(imported))
    flash = make_alert(world["ingham_member"], world.ingham, TLP.GREEN, severity=Alert.Severity.CRITICAL)
    first_flash = DBTaskResult.objects.filter(queue_name="flash").order_by("enqueued_at").first()
    assert first_flash is not None and DBTaskResult.objects.filter(enqueued_at__lt=first_flash.enqueued_at).count() > 3
    call_command("db_worker", "--batch", "--queue-name", "*", "--no-reload", "--max-tasks", "2", verbosity=0)
    done = DBTaskResult.objects.exclude(status="READY").order_by("started_at")
    assert [(r.queue_name, r.args_kwargs["args"][-1]) for r in done] == [("flash", "app"), ("flash", "email")]
    assert Delivery.objects.filter(alert=flash, channel="app", status="sent").exists()
    assert not Delivery.objects.filter(alert=imported, status="sent").exists()


def test_editors_see_delivery_receipts_others_get_404(world, smtp, as_persona):
    alert = make_alert(world["ingham_member"], world.ingham, TLP.GREEN)
    _run_worker()
    page = as_persona("ingham_admin").get(f"/alerts/{alert.uuid}/receipts/")
    assert page.status_code == 200
    assert f"{len(_vetted_except(world, 'ingham_member'))} delivered" in page.content.decode()
    detail = as_persona("ingham_member").get(f"/alerts/{alert.uuid}/").content.decode()
    assert "Version 1, E-mail:" in detail
    assert as_persona("washtenaw_member").get(f"/alerts/{alert.uuid}/receipts/").status_code == 404
    assert "Version 1, E-mail:" not in as_persona("washtenaw_member").get(f"/alerts/{alert.uuid}/").content.decode()
