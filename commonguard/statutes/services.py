"""Every change to the statutory clocks: opening and recomputing a report's obligations, recording a
sending (by hand, or by e-mail from CommonGuard with a PDF and a JSON copy), waiving, the guardrails,
and the periodic reminders. Each write is audited (core/audit.py).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone

from commonguard.accounts.viewer import viewer_for
from commonguard.core.audit import audit_batch, audit_record
from commonguard.core.compiled import CompiledInsert
from commonguard.orgs.states import STATES
from commonguard.statutes.cache import state_rules
from commonguard.statutes.deadlines import due_at as compute_due_at
from commonguard.statutes.deadlines import reminder_times
from commonguard.statutes.models import (
    ClockStart,
    DurationUnit,
    Guardrail,
    GuardrailNotice,
    Obligation,
    ReportingRule,
    RuleRecipient,
    Sending,
    Trigger,
)

if TYPE_CHECKING:
    from commonguard.incidents.models import IncidentReport

log = logging.getLogger(__name__)

_INSERT_OBLIGATIONS = CompiledInsert(Obligation)

DEFAULT_KEY = "default"
# Evidence typed or pasted by hand: a whole e-mail or form print-out fits; a disk image does not.
MAX_EVIDENCE_CHARS = 2_000_000
# A clock may be recorded as sent a few minutes "in the future" (clock skew between devices).
FUTURE_SKEW = timedelta(minutes=5)


def default_report_hours() -> int:
    """The deadline of the default report to a state that has no reporting rule (hours from discovery)."""
    return int(getattr(settings, "COMMONGUARD_DEFAULT_REPORT_HOURS", 72))


# --- Which rules a report meets ---------------------------------------------------------------


def trigger_met(report: IncidentReport, trigger: str) -> bool:
    if trigger == Trigger.INCIDENT:
        return True
    if trigger == Trigger.RANSOMWARE:
        return report.category == "ransomware"
    if trigger == Trigger.RANSOM_PAYMENT:
        return bool(report.ransom_paid)
    if trigger == Trigger.REMEDIATION:
        return report.recovered_at is not None
    return False


def clock_fact(report: IncidentReport, clock_start: str, now: datetime) -> tuple[datetime | None, str]:
    """When a clock of kind `clock_start` started for `report`, and a note when another fact stood in.

    Where the report lacks the fact, the earliest fact the organisation gave stands in (the cautious
    reading: a deadline never moves later for a missing answer): confirmation and reasonable belief
    fall back to discovery, discovery to submission. Payment without a date counts from now."""
    submitted = report.submitted_at or now
    if clock_start == ClockStart.DISCOVERY:
        if report.discovered_at:
            return report.discovered_at, ""
        return submitted, "submission (no discovery time given)"
    if clock_start == ClockStart.CONFIRMATION:
        if report.confirmed_at:
            return report.confirmed_at, ""
        if report.discovered_at:
            return report.discovered_at, "discovery (no confirmation time given)"
        return submitted, "submission (no confirmation or discovery time given)"
    if clock_start == ClockStart.REASONABLE_BELIEF:
        # The report has no "reasonable belief" time; discovery is the earliest it can be.
        if report.discovered_at:
            return report.discovered_at, "discovery (the earliest a reasonable belief can be)"
        return submitted, "submission (no discovery time given)"
    if clock_start == ClockStart.PAYMENT:
        if not report.ransom_paid:
            return None, ""
        if report.ransom_paid_at:
            return report.ransom_paid_at, ""
        return now, "the time the payment was reported (no payment time given)"
    if clock_start == ClockStart.REMEDIATION:
        return report.recovered_at, ""
    return None, ""


def _binds(rule: ReportingRule, org: Any) -> bool:
    """Whether the rule applies to the organisation: its kind, its population, not exempt by place."""
    if rule.kinds and org.kind not in rule.kinds:
        return False
    if rule.excluded_fips and {org.place_fips, org.county_fips} & set(rule.excluded_fips):
        return False
    return not (rule.min_population and (org.population or 0) < rule.min_population)


def conditions_met(report: IncidentReport, rule: ReportingRule) -> bool:
    """The rule's conditions on the report's facts (models.ReportingRule). A missing severity level
    never spares a clock (the cautious reading, as with missing times)."""
    if rule.min_severity and report.severity_level is not None and report.severity_level < rule.min_severity:
        return False
    involved = set(report.data_types or [])
    if rule.data_types and not involved & set(rule.data_types):
        return False
    if rule.except_data_types and involved & set(rule.except_data_types):
        return False
    return all(getattr(report, name, False) is True for name in rule.required_facts or [])


def rules_for(report: IncidentReport, now: datetime) -> list[tuple[ReportingRule, list[RuleRecipient]]]:
    """Enabled rules of the report's state (and federal ones) that apply to its organisation, in force
    on the day the report is submitted, each with its recipients (from the per-state table in memory,
    cache.py: this runs in every submission's transaction)."""
    org = report.organization
    day = timezone.localdate(report.submitted_at or now)
    return [(rule, people) for rule, people in state_rules(report.state) if rule.in_force_on(day) and _binds(rule, org)]


@dataclass(frozen=True)
class Wanted:
    key: str
    rule: ReportingRule | None
    recipient: RuleRecipient | None
    recipient_name: str
    recipient_email: str
    recipient_portal_url: str
    recipient_phone: str
    citation: str
    trigger: str
    clock_start: str
    clock_started_at: datetime
    clock_basis: str
    duration: int
    unit: str
    due_at: datetime


def wanted_obligations(report: IncidentReport, now: datetime) -> list[Wanted]:
    """The obligations the report's facts call for now (pure apart from reading the rules)."""
    return _wanted(report, rules_for(report, now), now)


def _wanted(
    report: IncidentReport, rules: list[tuple[ReportingRule, list[RuleRecipient]]], now: datetime
) -> list[Wanted]:
    wanted: list[Wanted] = []
    for rule, recipients in rules:
        if not trigger_met(report, rule.trigger) or not conditions_met(report, rule):
            continue
        started, basis = clock_fact(report, rule.clock_start, now)
        if started is None:
            continue
        for recipient in recipients:
            duration, unit = recipient.effective_duration
            wanted.append(
                Wanted(
                    key=f"{rule.pk}:{recipient.pk}",
                    rule=rule,
                    recipient=recipient,
                    recipient_name=recipient.name,
                    recipient_email=recipient.email,
                    recipient_portal_url=recipient.portal_url,
                    recipient_phone=recipient.phone,
                    citation=rule.citation,
                    trigger=rule.trigger,
                    clock_start=rule.clock_start,
                    clock_started_at=started,
                    clock_basis=basis,
                    duration=duration,
                    unit=unit,
                    due_at=compute_due_at(started, duration, unit, state=report.state),
                )
            )
    return wanted


def _default_obligation(report: IncidentReport, now: datetime) -> Wanted:
    started, basis = clock_fact(report, ClockStart.DISCOVERY, now)
    assert started is not None
    hours = default_report_hours()
    state = STATES.get(report.state)
    return Wanted(
        key=DEFAULT_KEY,
        rule=None,
        recipient=None,
        recipient_name=f"{state.name if state else report.state} state recipients (through CommonGuard)",
        recipient_email="",
        recipient_portal_url="",
        recipient_phone="",
        citation="No state reporting rule: CommonGuard's default report to the state",
        trigger=Trigger.INCIDENT,
        clock_start=ClockStart.DISCOVERY,
        clock_started_at=started,
        clock_basis=basis,
        duration=hours,
        unit=DurationUnit.HOURS,
        due_at=compute_due_at(started, hours, DurationUnit.HOURS, state=report.state),
    )


# --- Opening and recomputing ------------------------------------------------------------------


def _fields(w: Wanted) -> dict[str, Any]:
    return {
        "rule": w.rule,
        "recipient": w.recipient,
        "recipient_name": w.recipient_name,
        "recipient_email": w.recipient_email,
        "recipient_portal_url": w.recipient_portal_url,
        "recipient_phone": w.recipient_phone,
        "citation": w.citation,
        "trigger": w.trigger,
        "clock_start": w.clock_start,
        "clock_started_at": w.clock_started_at,
        "clock_basis": w.clock_basis,
        "duration": w.duration,
        "unit": w.unit,
        "due_at": w.due_at,
    }


@transaction.atomic(savepoint=False)
def obligations_sync(
    *, report: IncidentReport, actor: Any = None, now: datetime | None = None, created: bool = False
) -> list[Obligation]:
    """Open the obligations a submitted report's facts call for, and recompute the open ones.

    Called on submission and on every update (receivers.py). Idempotent: an obligation exists once per
    (report, rule, recipient). Open obligations follow the facts (a later confirmation time moves the
    due time; a clock whose trigger no longer holds becomes "not applicable"); sent, waived and
    not-applicable ones are history and are not touched. A report no rule applies to gets the default
    report to its state, recorded as delivered through CommonGuard (the state's recipients read it here).
    `created`: the report was inserted in this very transaction, so it has no obligations and no
    guardrail notices yet (nothing to read or lock first). Audit rows go in one INSERT at the end.
    """
    with audit_batch():
        return _sync(report, actor, now or timezone.now(), created)


def _sync(report: IncidentReport, actor: Any, now: datetime, created: bool) -> list[Obligation]:
    if report.submitted_at is None:
        return []
    if report.status in SET_ASIDE_STATUSES:
        _set_aside(report, f"The state marked the report {report.get_status_display().lower()}.")
        return []
    rules = rules_for(report, now)
    wanted = _wanted(report, rules, now)
    existing = {} if created else {o.key: o for o in Obligation.objects.select_for_update().filter(report=report)}
    if not wanted:
        wanted = [_default_obligation(report, now)]
    new: list[Obligation] = []
    for w in wanted:
        current = existing.get(w.key)
        if current is None:
            status = Obligation.Status.PENDING if w.due_at > now else Obligation.Status.OVERDUE
            sent_at = None
            if w.key == DEFAULT_KEY:  # delivered by the submission itself (the hub delivery below)
                sent_at = report.submitted_at or now
                status = Obligation.Status.SENT if sent_at <= w.due_at else Obligation.Status.SENT_LATE
            new.append(Obligation(report=report, key=w.key, status=status, sent_at=sent_at, **_fields(w)))
            continue
        if current.is_open and (current.due_at != w.due_at or current.clock_started_at != w.clock_started_at):
            for name, value in _fields(w).items():
                setattr(current, name, value)
            current.status = Obligation.Status.PENDING if w.due_at > now else Obligation.Status.OVERDUE
            # A moved deadline earns fresh reminders.
            current.half_reminded_at = current.soon_reminded_at = None
            if current.status == Obligation.Status.PENDING:
                current.overdue_notified_at = None
            current.save()
            audit_record(
                actor=actor,
                action="obligation.recompute",
                summary=f"Deadline for {current.recipient_name} now {current.due_at:%Y-%m-%d %H:%M} UTC",
                organization=report.organization,
                target=current,
                data={"due_at": current.due_at.isoformat(), "report": str(report.uuid)},
            )
    opened = _INSERT_OBLIGATIONS.insert(new)
    for obligation in opened:
        if obligation.key == DEFAULT_KEY:
            _record_hub_delivery(obligation, report, actor, now)
    wanted_keys = {w.key for w in wanted}
    for key, obligation in existing.items():
        if key not in wanted_keys and key != DEFAULT_KEY and obligation.is_open:
            obligation.status = Obligation.Status.NOT_APPLICABLE
            obligation.status_note = "The report's facts no longer meet this rule's trigger."
            obligation.save(update_fields=["status", "status_note", "updated_at"])
    if opened:
        audit_record(
            actor=actor,
            action="obligation.open",
            summary=f"{len(opened)} reporting obligation(s) opened for report {report.uuid}",
            organization=report.organization,
            target=report,
            data={"obligations": [o.key for o in opened]},
        )
    if report.ransom_paid:
        guardrails_record(report=report, actor=actor, now=now, rules=[rule for rule, _ in rules], created=created)
    return opened


# A report the state finds a duplicate or not reportable owes nobody anything more.
SET_ASIDE_STATUSES = frozenset({"duplicate", "not_reportable"})


def _set_aside(report: IncidentReport, note: str) -> None:
    Obligation.objects.filter(report=report, status__in=list(Obligation.OPEN_STATUSES)).update(
        status=Obligation.Status.NOT_APPLICABLE, status_note=note, updated_at=timezone.now()
    )


def _record_hub_delivery(obligation: Obligation, report: IncidentReport, actor: Any, now: datetime) -> None:
    from commonguard.statutes.documents import report_json

    evidence = report_json(report, obligation)
    _store_sending(
        obligation,
        channel=Sending.Channel.HUB,
        sent_at=report.submitted_at or now,
        reference=str(report.uuid),
        evidence=evidence,
        actor=actor,
    )


def _store_sending(
    obligation: Obligation, *, channel: str, sent_at: datetime, reference: str, evidence: str, actor: Any
) -> Sending:
    late = sent_at > obligation.due_at
    sending = Sending.objects.create(
        obligation=obligation,
        channel=channel,
        sent_at=sent_at,
        reference=reference,
        evidence=evidence,
        evidence_sha256=hashlib.sha256(evidence.encode("utf-8")).hexdigest(),
        recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
        late=late,
    )
    if obligation.status not in Obligation.DONE_STATUSES or obligation.sent_at is None:
        obligation.status = Obligation.Status.SENT_LATE if late else Obligation.Status.SENT
        obligation.sent_at = sent_at
        obligation.save(update_fields=["status", "sent_at", "updated_at"])
    return sending


# --- Guardrails -------------------------------------------------------------------------------


def ransom_guardrails(*, organization: Any, state: str | None = None) -> list[ReportingRule]:
    """The enabled rules with a ransom guardrail that bind `organization`: the report form's "paid"
    step shows their warnings (and asks for the resolution) before the fact is saved."""
    day = timezone.localdate()
    return [
        rule
        for rule, _ in state_rules(state or organization.state)
        if rule.guardrail and rule.in_force_on(day) and _binds(rule, organization)
    ]


def guardrails_record(
    *,
    report: IncidentReport,
    actor: Any = None,
    now: datetime | None = None,
    rules: list[ReportingRule] | None = None,
    created: bool = False,
) -> list[GuardrailNotice]:
    """When a report says a ransom was paid where a rule forbids it or asks for a governing-body
    resolution, record the warning with its legal basis (once per rule), for the state and the record.
    `created`: the report is new in this transaction (it has no notices yet)."""
    if not report.ransom_paid:
        return []
    if rules is None:
        rules = ransom_guardrails(organization=report.organization, state=report.state)
    guarded = [r for r in rules if r.guardrail]
    if not guarded:
        return []
    existing = {} if created else {n.rule_id: n for n in GuardrailNotice.objects.filter(report=report)}
    new = []
    for rule in guarded:
        if rule.pk in existing:
            continue
        if rule.guardrail == Guardrail.RANSOM_PAYMENT_FORBIDDEN:
            message = (
                "This report says a ransom was paid. The law of this state forbids paying a ransom. "
                "The payment is recorded as reported; the state will be in touch about next steps."
            )
        else:
            message = (
                "This report says a ransom was paid. The law of this state allows payment only with a "
                "resolution or ordinance of the governing body: please attach it."
            )
        new.append(
            GuardrailNotice(
                report=report,
                rule=rule,
                kind=rule.guardrail,
                legal_basis=rule.guardrail_basis or rule.citation,
                message=message,
            )
        )
    # A concurrent update of the same report may have written a notice first: the constraint keeps one.
    GuardrailNotice.objects.bulk_create(new, ignore_conflicts=not created)
    for notice in new:
        audit_record(
            actor=actor,
            action="guardrail.record",
            summary=f"Ransom payment reported under {notice.rule.citation}",
            organization=report.organization,
            target=report,
            data={"rule": notice.rule.key, "kind": notice.kind, "legal_basis": notice.legal_basis},
        )
    return [existing.get(rule.pk) or next(n for n in new if n.rule_id == rule.pk) for rule in guarded]


MAX_RESOLUTION_BYTES = 20 * 1024 * 1024
RESOLUTION_TYPES = {"application/pdf", "image/png", "image/jpeg", "text/plain"}


@transaction.atomic
def guardrail_attach_document(*, actor: Any, notice: GuardrailNotice, upload: Any) -> GuardrailNotice:
    """The reporting organisation attaches the governing body's resolution or ordinance."""
    viewer = viewer_for(actor)
    if notice.report.organization_id not in viewer.org_ids:
        raise PermissionDenied("Only the reporting organisation attaches its resolution.")
    if notice.kind != Guardrail.RESOLUTION_REQUIRED:
        raise ValidationError("This guardrail does not ask for a document.")
    if upload.size > MAX_RESOLUTION_BYTES:
        raise ValidationError({"document": "The document is larger than 20 MB."})
    if upload.size == 0:
        raise ValidationError({"document": "The file is empty."})
    content_type = (getattr(upload, "content_type", "") or "").split(";")[0]
    if content_type not in RESOLUTION_TYPES:
        raise ValidationError({"document": "Attach the resolution as a PDF, PNG, JPEG or text file."})
    notice.document.save(f"resolution-{notice.report.uuid}-{notice.pk}", upload, save=False)
    notice.document_name = str(upload.name)[:200]
    notice.document_uploaded_at = timezone.now()
    notice.document_uploaded_by = actor
    notice.save()
    audit_record(
        actor=actor,
        action="guardrail.document",
        summary=f"Governing-body resolution attached for report {notice.report.uuid}",
        organization=notice.report.organization,
        target=notice.report,
        data={"rule": notice.rule.key, "name": notice.document_name},
    )
    return notice


# --- Recording a sending, waiving -------------------------------------------------------------


# The hub operator reads no report (ADR 27), so never acts on its obligations either.
def may_send(actor: Any, obligation: Obligation) -> bool:
    """The reporting organisation records and sends its reports (services and pages)."""
    return obligation.report.organization_id in viewer_for(actor).org_ids


def may_waive(actor: Any, obligation: Obligation) -> bool:
    """The staff of the report's state waive or set aside an obligation."""
    return obligation.report.state in viewer_for(actor).staff_states


@transaction.atomic
def obligation_record_sending(
    *,
    actor: Any,
    obligation: Obligation,
    channel: str,
    sent_at: datetime,
    reference: str = "",
    evidence: str,
    now: datetime | None = None,
) -> Sending:
    """The reporting organisation records that it sent the report (portal, phone, e-mail of its own).
    Callers have already checked the actor may read the obligation. Refused for waived or
    not-applicable obligations, a time in the future, empty evidence."""
    now = now or timezone.now()
    if not may_send(actor, obligation):
        raise PermissionDenied("Only the reporting organisation records its sendings.")
    obligation = Obligation.objects.select_for_update().get(pk=obligation.pk)
    errors: dict[str, str] = {}
    if obligation.status in {Obligation.Status.WAIVED, Obligation.Status.NOT_APPLICABLE}:
        raise ValidationError(f"This obligation is {obligation.get_status_display().lower()}: nothing to send.")
    if channel not in Sending.Channel.values or channel in {Sending.Channel.EMAIL, Sending.Channel.HUB}:
        errors["channel"] = "Choose how the report was sent."
    if timezone.is_naive(sent_at):
        errors["sent_at"] = "Give the time with its time zone."
    elif sent_at > now + FUTURE_SKEW:
        errors["sent_at"] = "The time sent cannot be in the future."
    evidence = (evidence or "").strip()
    if not evidence:
        errors["evidence"] = "Paste what was sent (the form's text, the e-mail, or notes of the call)."
    elif len(evidence) > MAX_EVIDENCE_CHARS:
        errors["evidence"] = "The evidence is too long (2,000,000 characters at most); keep the text, not files."
    if len(reference) > 200:
        errors["reference"] = "The reference is too long (200 characters at most)."
    if errors:
        raise ValidationError(errors)
    sending = _store_sending(
        obligation, channel=channel, sent_at=sent_at, reference=reference.strip(), evidence=evidence, actor=actor
    )
    audit_record(
        actor=actor,
        action="obligation.sent",
        summary=f"Report sent to {obligation.recipient_name} ({sending.get_channel_display()})",
        organization=obligation.report.organization,
        target=obligation,
        data={"sending": sending.pk, "late": sending.late, "sha256": sending.evidence_sha256},
    )
    return sending


def obligation_send_email(*, actor: Any, obligation: Obligation, now: datetime | None = None) -> Sending:
    """Send the report to the recipient's e-mail address from CommonGuard, with the report as PDF and
    as JSON attached; record the whole message as the evidence. Nothing is recorded if the mail server
    refuses."""
    from commonguard.statutes.documents import report_json, report_pdf

    now = now or timezone.now()
    if not may_send(actor, obligation):
        raise PermissionDenied("Only the reporting organisation sends its report.")
    if obligation.status in {Obligation.Status.WAIVED, Obligation.Status.NOT_APPLICABLE}:
        raise ValidationError(f"This obligation is {obligation.get_status_display().lower()}: nothing to send.")
    if not obligation.recipient_email:
        raise ValidationError(
            "This recipient has no e-mail address: send through its portal or by phone, and record it."
        )
    report = obligation.report
    org = report.organization
    subject = f"Cyber incident report from {org.name} ({obligation.citation})"[:200]
    body = (
        f"{org.name} ({org.get_kind_display()}, {report.state}) reports a cyber incident"
        f" under {obligation.citation}.\n\n"
        f"Title: {report.title or '(none)'}\nCategory: {report.get_category_display() or '(not given)'}\n"
        f"Discovered: {report.discovered_at.isoformat() if report.discovered_at else '(not given)'}\n"
        f"Report reference: {report.uuid}\n\n"
        f"The full report is attached as PDF and as JSON.\nSent by {actor.email} through CommonGuard.\n"
    )
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[obligation.recipient_email],
        reply_to=[actor.email],
    )
    message.attach(f"incident-report-{report.uuid}.pdf", report_pdf(report, obligation), "application/pdf")
    message.attach(
        f"incident-report-{report.uuid}.json", report_json(report, obligation).encode("utf-8"), "application/json"
    )
    evidence = message.message().as_string()
    try:
        get_connection().send_messages([message])
    except OSError as exc:
        log.warning("report e-mail to %s failed: %s", obligation.recipient_email, exc)
        raise ValidationError(f"The mail server did not take the message ({exc}). Nothing was recorded.") from exc
    with transaction.atomic():
        locked = Obligation.objects.select_for_update().get(pk=obligation.pk)
        sending = _store_sending(
            locked,
            channel=Sending.Channel.EMAIL,
            sent_at=now,
            reference=message.extra_headers.get("Message-ID", ""),
            evidence=evidence,
            actor=actor,
        )
        audit_record(
            actor=actor,
            action="obligation.email",
            summary=f"Report e-mailed to {obligation.recipient_name} <{obligation.recipient_email}>",
            organization=org,
            target=locked,
            data={"sending": sending.pk, "late": sending.late, "sha256": sending.evidence_sha256},
        )
    return sending


@transaction.atomic
def obligation_close(*, actor: Any, obligation: Obligation, status: str, reason: str) -> Obligation:
    """The state's staff waive an obligation, or find it not applicable, with a reason."""
    if not may_waive(actor, obligation):
        raise PermissionDenied("Only the staff of the report's state waive an obligation.")
    if status not in {Obligation.Status.WAIVED, Obligation.Status.NOT_APPLICABLE}:
        raise ValidationError({"status": "Choose waived or not applicable."})
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why (it is kept with the obligation)."})
    if len(reason) > 300:
        raise ValidationError({"reason": "Keep the reason under 300 characters."})
    obligation = Obligation.objects.select_for_update().get(pk=obligation.pk)
    if not obligation.is_open:
        raise ValidationError("Only a pending or overdue obligation can be waived or set aside.")
    obligation.status = status
    obligation.status_note = reason
    obligation.save(update_fields=["status", "status_note", "updated_at"])
    audit_record(
        actor=actor,
        action=f"obligation.{status}",
        summary=f"{obligation.recipient_name}: {obligation.get_status_display()} ({reason})"[:300],
        organization=obligation.report.organization,
        target=obligation,
    )
    return obligation


# --- Reminders --------------------------------------------------------------------------------


def _claim(pk: int, field: str, now: datetime, **conditions: Any) -> bool:
    return bool(Obligation.objects.filter(pk=pk, **{f"{field}__isnull": True}, **conditions).update(**{field: now}))


def _reminder_recipients(report: IncidentReport) -> list[str]:
    from commonguard.accounts.models import Membership, Role

    emails = set(
        Membership.objects.filter(
            organization_id=report.organization_id,
            status=Membership.Status.APPROVED,
            role=Role.ORG_ADMIN,
            user__is_active=True,
        ).values_list("user__email", flat=True)
    )
    if report.created_by.is_active:
        emails.add(report.created_by.email)
    return sorted(emails)


def _remind(obligation: Obligation, kind: str, now: datetime) -> bool:
    from django.template.loader import render_to_string

    to = _reminder_recipients(obligation.report)
    if not to:
        return False
    subjects = {
        "half": f"Half the time is gone: report to {obligation.recipient_name}",
        "soon": f"Two hours left: report to {obligation.recipient_name}",
        "overdue": f"Still to send: report to {obligation.recipient_name}",
    }
    body = render_to_string(
        "statutes/email/reminder.txt",
        {
            "obligation": obligation,
            "report": obligation.report,
            "kind": kind,
            "now": now,
            "site_url": settings.COMMONGUARD_SITE_URL,
        },
    )
    EmailMessage(subject=subjects[kind][:200], body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=to).send()
    return True


def obligations_tick(*, now: datetime | None = None) -> dict[str, int]:
    """Send the half-time and two-hours-before reminders that are due and mark passed deadlines
    OVERDUE (with one notice). Idempotent and safe to run in several processes: each step is claimed
    by a conditional UPDATE before its mail is sent; a refused mail gives the claim back."""
    now = now or timezone.now()
    counts = {"half": 0, "soon": 0, "overdue": 0}
    # Overdue first: a deadline that has passed needs no "two hours left". An obligation that was
    # already overdue when it opened (a late report) gets its one notice here too.
    unnotified = {
        "status__in": [Obligation.Status.PENDING, Obligation.Status.OVERDUE],
        "overdue_notified_at__isnull": True,
        "due_at__lte": now,
    }
    passed = Obligation.objects.filter(**unnotified).select_related("report__organization", "report__created_by")
    for obligation in passed:
        claimed = Obligation.objects.filter(pk=obligation.pk, **unnotified).update(
            status=Obligation.Status.OVERDUE, overdue_notified_at=now
        )
        if not claimed:
            continue
        Obligation.objects.filter(pk=obligation.pk, half_reminded_at__isnull=True).update(half_reminded_at=now)
        Obligation.objects.filter(pk=obligation.pk, soon_reminded_at__isnull=True).update(soon_reminded_at=now)
        audit_record(
            actor=None,
            action="obligation.overdue",
            summary=f"Deadline passed for the report to {obligation.recipient_name}",
            organization=obligation.report.organization,
            target=obligation,
        )
        if _send_quietly(obligation, "overdue", now, give_back="overdue_notified_at"):
            counts["overdue"] += 1
    pending = Obligation.objects.filter(status=Obligation.Status.PENDING, due_at__gt=now).filter(
        soon_reminded_at__isnull=True
    )
    for obligation in pending.select_related("report__organization", "report__created_by"):
        half, soon = reminder_times(obligation.clock_started_at, obligation.due_at)
        if now >= soon:
            # Both thresholds passed (the ticker was down, or the clock is short): only the later one.
            if _claim(obligation.pk, "soon_reminded_at", now, status=Obligation.Status.PENDING):
                Obligation.objects.filter(pk=obligation.pk, half_reminded_at__isnull=True).update(half_reminded_at=now)
                if _send_quietly(obligation, "soon", now, give_back="soon_reminded_at"):
                    counts["soon"] += 1
        elif (
            now >= half
            and obligation.half_reminded_at is None
            and _claim(obligation.pk, "half_reminded_at", now, status=Obligation.Status.PENDING)
            and _send_quietly(obligation, "half", now, give_back="half_reminded_at")
        ):
            counts["half"] += 1
    return counts


def _send_quietly(obligation: Obligation, kind: str, now: datetime, give_back: str | None = None) -> bool:
    try:
        return _remind(obligation, kind, now)
    except OSError as exc:
        log.warning("reminder %s for obligation %s not sent: %s", kind, obligation.pk, exc)
        if give_back:
            Obligation.objects.filter(pk=obligation.pk).update(**{give_back: None})
        return False
