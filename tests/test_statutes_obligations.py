"""Obligations: opened on submission, recomputed on updates, sent, waived, reminded, overdue.

Reports are submitted as the incidents app does (tests/statutes_helpers.py). Mail goes to a real SMTP
sink on loopback (conftest `smtp`)."""

from __future__ import annotations

import json
from datetime import timedelta
from email.message import Message
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from commonguard.core.models import AuditEvent
from commonguard.statutes import cache
from commonguard.statutes.models import GuardrailNotice, Obligation, ReportingRule, RuleRecipient, Sending
from commonguard.statutes.services import (
    obligation_close,
    obligation_record_sending,
    obligation_send_email,
    obligations_sync,
    obligations_tick,
)
from commonguard.statutes.shipped import load_shipped_rules
from tests.statutes_helpers import keys, member_of, state_org, submit_report, update_report

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _shipped_rules(db: Any) -> None:
    """The data migration's rules, again: a transactional test earlier in the run flushes them."""
    load_shipped_rules(ReportingRule, RuleRecipient)


def _fl() -> tuple[Any, Any]:
    org = state_org("FL", "12086", name="Miami-Dade County")
    return org, member_of(org, role="org_admin", email="it@miami-dade.example")


def test_state_without_rules_gets_the_default_report_to_the_state(world: Any) -> None:
    report = submit_report(world.ingham, world["ingham_member"])
    assert keys(report) == {"default": "sent"}
    obligation = Obligation.objects.get(report=report)
    assert "Michigan" in obligation.recipient_name
    assert obligation.due_at == obligation.clock_started_at + timedelta(hours=72)
    sending = obligation.sendings.get()
    assert sending.channel == Sending.Channel.HUB
    assert json.loads(sending.evidence)["report"]["uuid"] == str(report.uuid)


def test_florida_ransomware_opens_both_clocks_for_all_three_recipients() -> None:
    org, user = _fl()
    discovered = timezone.now() - timedelta(hours=2)
    report = submit_report(org, user, category="ransomware", discovered_at=discovered)
    assert keys(report) == {
        "fl-ransomware#0": "pending",
        "fl-ransomware#1": "pending",
        "fl-ransomware#2": "pending",
        "fl-incident#0": "pending",
        "fl-incident#1": "pending",
        "fl-incident#2": "pending",
    }
    ransomware = Obligation.objects.filter(report=report, rule__key="fl-ransomware")
    assert {o.due_at for o in ransomware} == {discovered + timedelta(hours=12)}
    assert {o.recipient_name for o in ransomware} == {
        "Florida Digital Service Cybersecurity Operations Center (CSOC)",
        "FDLE Cybercrime Office",
        "County sheriff",
    }
    # Submitting twice (a retried request) opens nothing more.
    obligations_sync(report=report)
    assert Obligation.objects.filter(report=report).count() == 6


def test_rules_apply_only_to_their_kinds_of_organisation() -> None:
    school = state_org("FL", "12999", kind="school_district")
    report = submit_report(school, member_of(school))
    assert keys(report) == {"default": "sent"}


def test_a_report_submitted_after_the_deadline_opens_overdue() -> None:
    org, user = _fl()
    report = submit_report(org, user, category="ransomware", discovered_at=timezone.now() - timedelta(hours=13))
    assert set(keys(report).items()) >= {("fl-ransomware#0", "overdue"), ("fl-incident#0", "pending")}


def test_ransom_paid_later_opens_new_yorks_payment_notice() -> None:
    org = state_org("NY", "36001")
    user = member_of(org)
    report = submit_report(org, user, category="ransomware")
    assert keys(report) == {"ny-incident#0": "pending"}
    paid = timezone.now() - timedelta(hours=1)
    update_report(report, user, ransom_demanded=True, ransom_paid=True, ransom_paid_at=paid, ransom_amount=5000)
    assert keys(report) == {
        "ny-incident#0": "pending",
        "ny-ransom-payment#0": "pending",
        "ny-ransom-statement#0": "pending",
    }
    notice = Obligation.objects.get(report=report, rule__key="ny-ransom-payment")
    assert notice.due_at == paid + timedelta(hours=24)


def test_a_later_confirmation_moves_north_carolinas_deadline() -> None:
    org = state_org("NC", "37063")
    user = member_of(org)
    discovered = timezone.now() - timedelta(hours=3)
    report = submit_report(org, user, discovered_at=discovered)
    obligation = Obligation.objects.get(report=report)
    assert obligation.due_at == discovered + timedelta(hours=24)
    assert "discovery" in obligation.clock_basis  # the cautious stand-in for the missing confirmation
    Obligation.objects.filter(pk=obligation.pk).update(half_reminded_at=timezone.now())
    confirmed = discovered + timedelta(hours=2)
    update_report(report, user, confirmed_at=confirmed)
    obligation.refresh_from_db()
    assert obligation.due_at == confirmed + timedelta(hours=24)
    assert obligation.clock_basis == ""
    assert obligation.half_reminded_at is None  # a moved deadline earns fresh reminders
    assert AuditEvent.objects.filter(action="obligation.recompute", target_id=str(obligation.pk)).exists()


def test_no_longer_ransomware_sets_the_ransomware_clock_aside_but_keeps_history() -> None:
    org, user = _fl()
    report = submit_report(org, user, category="ransomware")
    sent = Obligation.objects.filter(report=report, rule__key="fl-ransomware").first()
    assert sent is not None
    obligation_record_sending(
        actor=user, obligation=sent, channel="portal", sent_at=timezone.now(), evidence="Form text."
    )
    update_report(report, user, category="malware")
    statuses = keys(report)
    assert statuses["fl-ransomware#0"] == "sent"  # history stays
    assert statuses["fl-ransomware#1"] == statuses["fl-ransomware#2"] == "not_applicable"
    assert statuses["fl-incident#0"] == "pending"


def test_circia_is_off_by_default_and_applies_from_50000_people_when_enabled() -> None:
    big = state_org("VA", "51059", population=1_150_000)
    small = state_org("VA", "51003", population=40_000)
    assert keys(submit_report(big, member_of(big))) == {"va-incident#0": "pending"}
    ReportingRule.objects.filter(key="us-circia-incident").update(enabled=True)
    cache.invalidate()  # a queryset update sends no signal: the rules screen saves through rule_save
    assert keys(submit_report(big, member_of(big))) == {"va-incident#0": "pending", "us-circia-incident#0": "pending"}
    assert keys(submit_report(small, member_of(small))) == {"va-incident#0": "pending"}


def test_ohio_has_two_recipients_with_their_own_deadlines() -> None:
    org = state_org("OH", "39049")
    discovered = timezone.now() - timedelta(hours=1)
    report = submit_report(org, member_of(org), discovered_at=discovered)
    dues = list(Obligation.objects.filter(report=report).order_by("due_at").values_list("duration", "unit"))
    assert dues == [(7, "calendar_days"), (30, "calendar_days")]


# --- Guardrails --------------------------------------------------------------------------------


def test_ransom_paid_where_forbidden_warns_and_records_the_legal_basis() -> None:
    org = state_org("NC", "37119")
    user = member_of(org)
    report = submit_report(org, user, category="ransomware")
    assert not GuardrailNotice.objects.filter(report=report).exists()
    update_report(report, user, ransom_paid=True)
    notice = GuardrailNotice.objects.get(report=report)
    assert notice.kind == "ransom_payment_forbidden"
    assert "§143-800" in notice.legal_basis
    event = AuditEvent.objects.get(action="guardrail.record")
    assert event.data["legal_basis"] == notice.legal_basis
    update_report(report, user, ransom_amount=100)  # recorded once
    assert GuardrailNotice.objects.filter(report=report).count() == 1


# --- Sending -----------------------------------------------------------------------------------


def test_recording_a_sending_on_time_and_late() -> None:
    org, user = _fl()
    report = submit_report(org, user, category="ransomware", discovered_at=timezone.now() - timedelta(hours=11))
    on_time, late = Obligation.objects.filter(report=report, rule__key="fl-ransomware")[:2]
    sending = obligation_record_sending(
        actor=user,
        obligation=on_time,
        channel="portal",
        sent_at=timezone.now() - timedelta(minutes=5),
        reference="CSOC-4411",
        evidence="Submitted the CSOC form: ransomware on the file server.",
    )
    on_time.refresh_from_db()
    assert (on_time.status, sending.late, sending.reference) == ("sent", False, "CSOC-4411")
    assert len(sending.evidence_sha256) == 64
    obligation_record_sending(
        actor=user,
        obligation=late,
        channel="phone",
        sent_at=timezone.now() + timedelta(hours=2),
        evidence="x",
        now=timezone.now() + timedelta(hours=2),
    )
    late.refresh_from_db()
    assert late.status == "sent_late"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sent_at": "future"}, "sent_at"),
        ({"evidence": "   "}, "evidence"),
        ({"channel": "email"}, "channel"),  # e-mail from CommonGuard is recorded by sending it
        ({"channel": "pigeon"}, "channel"),
        ({"reference": "r" * 201}, "reference"),
    ],
)
def test_bad_sendings_are_refused_and_nothing_is_stored(change: dict[str, Any], field: str) -> None:
    org, user = _fl()
    report = submit_report(org, user)
    obligation = Obligation.objects.filter(report=report).first()
    assert obligation is not None
    args: dict[str, Any] = {"channel": "portal", "sent_at": timezone.now(), "evidence": "Sent.", "reference": ""}
    args.update(change)
    if args["sent_at"] == "future":
        args["sent_at"] = timezone.now() + timedelta(hours=1)
    with pytest.raises(ValidationError) as exc:
        obligation_record_sending(actor=user, obligation=obligation, **args)
    assert field in exc.value.message_dict
    assert not Sending.objects.filter(obligation=obligation).exists()
    obligation.refresh_from_db()
    assert obligation.status == "pending"


def test_only_the_reporting_organisation_records_and_only_the_state_waives() -> None:
    org, user = _fl()
    fl_state = state_org("FL", "", kind="state_agency", name="Florida Digital Service")
    analyst = member_of(fl_state, role="analyst")
    report = submit_report(org, user)
    obligation = Obligation.objects.filter(report=report).first()
    assert obligation is not None
    with pytest.raises(PermissionDenied):
        obligation_record_sending(
            actor=analyst, obligation=obligation, channel="portal", sent_at=timezone.now(), evidence="x"
        )
    with pytest.raises(PermissionDenied):
        obligation_close(actor=user, obligation=obligation, status="waived", reason="We think it is minor.")
    with pytest.raises(ValidationError):
        obligation_close(actor=analyst, obligation=obligation, status="waived", reason=" ")
    obligation_close(actor=analyst, obligation=obligation, status="waived", reason="Reported by phone to the CSOC.")
    obligation.refresh_from_db()
    assert (obligation.status, obligation.status_note) == ("waived", "Reported by phone to the CSOC.")
    with pytest.raises(ValidationError):
        obligation_record_sending(
            actor=user, obligation=obligation, channel="portal", sent_at=timezone.now(), evidence="x"
        )


def _attachments(message: Message) -> dict[str, bytes]:
    found = {}
    for part in message.walk():
        name = part.get_filename()
        if name:
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[name] = payload
    return found


def test_sending_by_email_attaches_the_pdf_and_json_and_keeps_the_message(smtp: Any) -> None:
    import pypdfium2

    org, user = _fl()
    rule = ReportingRule.objects.get(key="fl-incident")
    rule.recipients.filter(position=0).update(email="csoc@florida-soc.example")
    report = submit_report(org, user, description="Files encrypted on the clerk's server.")
    obligation = Obligation.objects.get(report=report, rule=rule, recipient__position=0)
    assert obligation.recipient_email == "csoc@florida-soc.example"
    sending = obligation_send_email(actor=user, obligation=obligation)
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["To"] == "csoc@florida-soc.example"
    assert message["Reply-To"] == user.email
    files = _attachments(message)
    pdf = files[f"incident-report-{report.uuid}.pdf"]
    assert pdf.startswith(b"%PDF")
    document = pypdfium2.PdfDocument(pdf)
    text = document[0].get_textpage().get_text_range()
    assert "Files encrypted on the clerk" in text
    copy = json.loads(files[f"incident-report-{report.uuid}.json"])
    assert copy["report"]["description"] == "Files encrypted on the clerk's server."
    assert copy["obligation"]["citation"] == rule.citation
    obligation.refresh_from_db()
    assert obligation.status == "sent"
    assert sending.channel == "email"
    assert "incident-report-" in sending.evidence and "csoc@florida-soc.example" in sending.evidence


def test_sending_by_email_with_the_mail_server_down_records_nothing(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    org, user = _fl()
    ReportingRule.objects.get(key="fl-incident").recipients.update(email="csoc@florida-soc.example")
    report = submit_report(org, user)
    obligation = Obligation.objects.filter(report=report).first()
    assert obligation is not None
    with pytest.raises(ValidationError, match="Nothing was recorded"):
        obligation_send_email(actor=user, obligation=obligation)
    assert not Sending.objects.filter(obligation=obligation).exists()


# --- Reminders and overdue ---------------------------------------------------------------------


def test_reminders_at_half_time_two_hours_before_and_overdue(smtp: Any) -> None:
    org, user = _fl()
    start = timezone.now()
    report = submit_report(org, user, category="ransomware", discovered_at=start, now=start)
    csoc = Obligation.objects.get(report=report, rule__key="fl-ransomware", recipient__position=0)
    # Only this clock, to keep the counts readable.
    Obligation.objects.filter(report=report).exclude(pk=csoc.pk).update(status="waived")

    assert obligations_tick(now=start + timedelta(hours=5)) == {"half": 0, "soon": 0, "overdue": 0}
    assert obligations_tick(now=start + timedelta(hours=6, minutes=1)) == {"half": 1, "soon": 0, "overdue": 0}
    assert obligations_tick(now=start + timedelta(hours=6, minutes=2)) == {"half": 0, "soon": 0, "overdue": 0}
    assert obligations_tick(now=start + timedelta(hours=10, minutes=1)) == {"half": 0, "soon": 1, "overdue": 0}
    assert obligations_tick(now=start + timedelta(hours=12, minutes=1)) == {"half": 0, "soon": 0, "overdue": 1}
    assert obligations_tick(now=start + timedelta(hours=13)) == {"half": 0, "soon": 0, "overdue": 0}
    csoc.refresh_from_db()
    assert csoc.status == "overdue"
    subjects = [" ".join(m["Subject"].split()) for m in smtp.messages]  # unfold long headers
    assert subjects == [
        "Half the time is gone: report to Florida Digital Service Cybersecurity Operations Center (CSOC)",
        "Two hours left: report to Florida Digital Service Cybersecurity Operations Center (CSOC)",
        "Still to send: report to Florida Digital Service Cybersecurity Operations Center (CSOC)",
    ]
    assert all(m["To"] == user.email for m in smtp.messages)
    body = smtp.messages[2].get_payload()
    assert "It is not too late" in body and f"/statutes/obligations/{csoc.pk}/" in body
    # Sent late: the obligation says so, and no more mail.
    obligation_record_sending(
        actor=user,
        obligation=csoc,
        channel="portal",
        sent_at=start + timedelta(hours=13),
        evidence="Sent.",
        now=start + timedelta(hours=13),
    )
    csoc.refresh_from_db()
    assert csoc.status == "sent_late"
    assert obligations_tick(now=start + timedelta(hours=20)) == {"half": 0, "soon": 0, "overdue": 0}


def test_a_missed_half_time_reminder_is_not_sent_after_the_two_hour_one(smtp: Any) -> None:
    org, user = _fl()
    start = timezone.now()
    report = submit_report(org, user, category="ransomware", discovered_at=start, now=start)
    Obligation.objects.filter(report=report).exclude(rule__key="fl-ransomware", recipient__position=0).update(
        status="waived"
    )
    assert obligations_tick(now=start + timedelta(hours=11)) == {"half": 0, "soon": 1, "overdue": 0}
    assert obligations_tick(now=start + timedelta(hours=11, minutes=30)) == {"half": 0, "soon": 0, "overdue": 0}
    assert len(smtp.messages) == 1


def test_a_refused_reminder_is_tried_again(settings: Any, smtp: Any) -> None:
    org, user = _fl()
    start = timezone.now()
    report = submit_report(org, user, category="ransomware", discovered_at=start, now=start)
    Obligation.objects.filter(report=report).exclude(rule__key="fl-ransomware", recipient__position=0).update(
        status="waived"
    )
    good_port = settings.EMAIL_PORT
    settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = 9, 2
    assert obligations_tick(now=start + timedelta(hours=7)) == {"half": 0, "soon": 0, "overdue": 0}
    settings.EMAIL_PORT = good_port
    assert obligations_tick(now=start + timedelta(hours=7, minutes=1)) == {"half": 1, "soon": 0, "overdue": 0}
    assert len(smtp.messages) == 1


def test_a_late_report_gets_its_overdue_notice_and_a_refused_one_is_tried_again(settings: Any, smtp: Any) -> None:
    """An obligation already overdue when it opens (a late report) still gets its one notice; a notice
    the mail server refuses is sent at the next tick, not lost."""
    org, user = _fl()
    now = timezone.now()
    report = submit_report(org, user, category="ransomware", discovered_at=now - timedelta(hours=13), now=now)
    Obligation.objects.filter(report=report).exclude(rule__key="fl-ransomware", recipient__position=0).update(
        status="waived"
    )
    assert Obligation.objects.get(report=report, status="overdue").overdue_notified_at is None
    good_port = settings.EMAIL_PORT
    settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = 9, 2
    assert obligations_tick(now=now + timedelta(minutes=1)) == {"half": 0, "soon": 0, "overdue": 0}
    settings.EMAIL_PORT = good_port
    assert obligations_tick(now=now + timedelta(minutes=2)) == {"half": 0, "soon": 0, "overdue": 1}
    assert obligations_tick(now=now + timedelta(minutes=3)) == {"half": 0, "soon": 0, "overdue": 0}
    assert len(smtp.messages) == 1


def test_the_tick_command_runs_once(smtp: Any) -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("obligations_tick", stdout=out)
    assert "reminders: 0 half-time, 0 two-hours; 0 overdue" in out.getvalue()


def test_a_report_the_state_finds_not_reportable_owes_nothing_more() -> None:
    org, user = _fl()
    report = submit_report(org, user, category="ransomware")
    first = Obligation.objects.filter(report=report).first()
    assert first is not None
    obligation_record_sending(actor=user, obligation=first, channel="portal", sent_at=timezone.now(), evidence="x")
    update_report(report, user, status="not_reportable")
    statuses = set(keys(report).values())
    assert statuses == {"sent", "not_applicable"}
    assert obligations_tick(now=timezone.now() + timedelta(days=3)) == {"half": 0, "soon": 0, "overdue": 0}
