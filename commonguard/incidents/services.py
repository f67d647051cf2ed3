"""Every change to incident reports. Each service is one transaction: it checks the write rule on a
report the actor can already read, validates everything before writing anything, refuses a stale form
(optimistic concurrency on `IncidentReport.revision`), writes a timeline line and the audit trail.

The statutory clocks (commonguard/statutes, built separately) listen to `signals.report_submitted` and
`signals.report_updated`, both sent inside the transaction that changes the report.
"""

from __future__ import annotations

import hashlib
import uuid as uuidlib
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import File
from django.db import transaction
from django.utils import timezone

from commonguard.accounts.models import User
from commonguard.accounts.viewer import viewer_for
from commonguard.core.audit import audit_batch, audit_record
from commonguard.core.compiled import CompiledInsert
from commonguard.core.models import AuditEvent
from commonguard.incidents import signals
from commonguard.incidents.models import (
    AttackVector,
    Category,
    DataType,
    FunctionalImpact,
    IncidentReport,
    InformationImpact,
    Recoverability,
    ReportAttachment,
    ReportEvent,
    ReportNote,
    ReportTask,
    ReportUpdate,
    SeverityLevel,
)
from commonguard.incidents.querysets import is_state_side, writer_org_ids
from commonguard.orgs.models import Organization

# A submission's report and its timeline lines: the hot write path (bench/reports).
_INSERT_REPORT = CompiledInsert(IncidentReport)
_INSERT_EVENTS = CompiledInsert(ReportEvent)

# The fields a reporter fills, in form order. Step 1 is the minimal report.
STEP1_FIELDS = ("title", "category", "description", "started_at", "discovered_at", "confirmed_at")
STEP2_FIELDS = (
    "systems_affected",
    "services_affected",
    "functional_impact",
    "information_impact",
    "recoverability",
    "attack_vector",
    "data_types",
    "records_affected",
    "severity_level",
    "water_utility_affected",
    "ransom_demanded",
    "ransom_amount",
    "ransom_currency",
    "ransom_paid",
    "ransom_paid_at",
    "last_good_backup_at",
    "backup_location",
    "backups_affected",
    "contained_at",
    "recovered_at",
    "estimated_cost",
    "law_enforcement_notified",
    "insurer_notified",
    "help_wanted",
    "indicators",
)
REPORT_FIELDS = STEP1_FIELDS + STEP2_FIELDS
# What a submitted report must say (the minimal report).
REQUIRED_TO_SUBMIT = {
    "title": "Give the incident a short title.",
    "category": "Choose what happened.",
    "description": "Say in a few words what happened.",
    "discovered_at": "Say when you discovered it (an estimate is fine).",
}
TIME_FIELDS = (
    "started_at",
    "discovered_at",
    "confirmed_at",
    "contained_at",
    "recovered_at",
    "ransom_paid_at",
    "last_good_backup_at",
)
CHOICES = {
    "category": Category.values,
    "functional_impact": FunctionalImpact.values,
    "information_impact": InformationImpact.values,
    "recoverability": Recoverability.values,
    "attack_vector": AttackVector.values,
}
BOOLEAN_FIELDS = (
    "ransom_demanded",
    "ransom_paid",
    "law_enforcement_notified",
    "insurer_notified",
    "water_utility_affected",
)
MAX_TEXT = 20_000
FUTURE_SLACK = timedelta(minutes=5)  # a clock a little ahead is not "the future"
TIME_LABELS = {
    "started_at": "The start",
    "discovered_at": "The discovery",
    "confirmed_at": "The confirmation",
    "contained_at": "Containment",
    "recovered_at": "Recovery",
    "ransom_paid_at": "The payment",
    "last_good_backup_at": "The last good backup",
}
MAX_AMOUNT = Decimal("999999999999.99")
STALE = (
    "Someone changed this report (or you did, in another tab) after you opened this form: nothing of "
    "yours was saved. Open the report again to see the latest version, then make your change."
)
# Extensions that are programs or scripts on some system: their files are kept quarantined.
EXECUTABLE_EXTENSIONS = frozenset(
    {
        ".exe",
        ".dll",
        ".scr",
        ".com",
        ".bat",
        ".cmd",
        ".ps1",
        ".psm1",
        ".vbs",
        ".vbe",
        ".js",
        ".jse",
        ".wsf",
        ".wsh",
        ".hta",
        ".msi",
        ".msp",
        ".jar",
        ".lnk",
        ".sh",
        ".bin",
        ".elf",
        ".so",
        ".dylib",
        ".app",
        ".apk",
        ".cpl",
        ".sys",
        ".docm",
        ".xlsm",
        ".pptm",
        ".iso",
        ".img",
        ".py",
        ".pl",
        ".rb",
    }
)
MAGIC = (
    (b"MZ", "a Windows program (PE)"),
    (b"\x7fELF", "a Linux program (ELF)"),
    (b"\xcf\xfa\xed\xfe", "a macOS program (Mach-O)"),
    (b"\xce\xfa\xed\xfe", "a macOS program (Mach-O)"),
    (b"\xca\xfe\xba\xbe", "a Java class or macOS universal program"),
    (b"#!", "a script"),
)


def attachment_limit() -> int:
    return int(getattr(settings, "COMMONGUARD_INCIDENT_ATTACHMENT_MAX", 200 * 1024 * 1024))


# --- The write rule -----------------------------------------------------------------------------


def can_write(actor: Any, report: IncidentReport) -> bool:
    """Members and admins of the reporting organisation change its report (officials only read)."""
    return report.organization_id in writer_org_ids(viewer_for(actor))


def can_triage(actor: Any, report: IncidentReport) -> bool:
    """The state staff of the report's state work the case (once it is submitted)."""
    return not report.is_draft and is_state_side(viewer_for(actor), report)


def _check_write(actor: Any, report: IncidentReport) -> None:
    if not can_write(actor, report):
        raise PermissionDenied("Only members of the reporting organisation can change this report.")


def _check_triage(actor: Any, report: IncidentReport) -> None:
    if not can_triage(actor, report):
        raise PermissionDenied("Only the state's analysts and liaisons can do this.")


def _lock(report: IncidentReport, revision: int | None) -> IncidentReport:
    # The organisation comes along (the audit row names it): one query, only the report's row locked.
    locked = IncidentReport.objects.select_for_update(of=("self",)).select_related("organization").get(pk=report.pk)
    if revision is not None and int(revision) != locked.revision:
        raise ValidationError({"revision": STALE}, code="stale")
    return locked


def _event(report: IncidentReport, actor: Any, kind: str, summary: str, internal: bool = False) -> None:
    ReportEvent.objects.create(**_event_fields(report, actor, kind, summary, internal))


def _event_fields(
    report: IncidentReport, actor: Any, kind: str, summary: str, internal: bool = False
) -> dict[str, Any]:
    return {"report": report, "actor": actor, "kind": kind, "summary": summary[:300], "internal": internal}


def report_event_record(*, report: IncidentReport, actor: Any, kind: str, summary: str) -> None:
    """A line on the report's timeline written by another capability (e.g. mutual aid's request for help)."""
    _event(report, actor, kind, summary)


def _audit(actor: Any, action: str, report: IncidentReport, summary: str, **data: Any) -> None:
    audit_record(
        actor=actor, action=action, summary=summary, organization=report.organization, target=report, data=data
    )


def audit_read(actor: Any, report: IncidentReport, what: str = "report") -> None:
    """Every read of a report (page, API, export, attachment) leaves a trace."""
    audit_record(
        actor=actor,
        action=f"incident.read.{what}",
        summary=f"{getattr(actor, 'email', 'someone')} read {what} of incident report {report.uuid}",
        kind=AuditEvent.Kind.READ,
        organization=report.organization,
        target=report,
    )


def audit_list(actor: Any, count: int, what: str = "report list") -> None:
    """A list of reports is a read too (one row per list, with how many it showed)."""
    audit_record(
        actor=actor,
        action="incident.read.list",
        summary=f"{getattr(actor, 'email', 'someone')} read the {what} ({count} reports)",
        kind=AuditEvent.Kind.READ,
        data={"count": count, "what": what},
    )


# --- Validation -----------------------------------------------------------------------------------


def _clean(report: IncidentReport, data: dict[str, Any]) -> dict[str, Any]:
    """Check `data` (already typed) against the report's other facts; one ValidationError listing
    every problem, before anything is written. Returns only the fields that change."""
    errors: dict[str, list[str]] = {}

    def err(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    unknown = set(data) - set(REPORT_FIELDS)
    for name in sorted(unknown):
        err(name, "Not a field of an incident report.")
    clean: dict[str, Any] = {}
    for name in REPORT_FIELDS:
        if name not in data:
            continue
        value = data[name]
        if name in CHOICES:
            value = value or ""
            if value and value not in CHOICES[name]:
                err(name, "Choose one of the options listed.")
        elif name == "data_types":
            value = list(dict.fromkeys(value or []))
            bad = [v for v in value if v not in DataType.values]
            if bad:
                err(name, "Unknown data types: " + ", ".join(map(str, bad[:10])))
        elif name in ("ransom_amount", "estimated_cost"):
            if value is not None:
                try:
                    value = Decimal(str(value))
                except ArithmeticError:
                    err(name, "Enter an amount, e.g. 25000 or 25000.50.")
                    continue
                if not value.is_finite():
                    err(name, "Enter an amount, e.g. 25000 or 25000.50.")
                elif value < 0:
                    err(name, "An amount cannot be negative.")
                elif value > MAX_AMOUNT:
                    err(name, "That amount is too large.")
        elif name == "severity_level":
            if value in ("", None):
                value = None
            elif value not in SeverityLevel.values:
                err(name, "Choose a level from 1 (low) to 5 (emergency).")
        elif name == "records_affected":
            if value is not None and (not isinstance(value, int) or value < 0):
                err(name, "The number of records cannot be negative.")
        elif name in TIME_FIELDS:
            if value is not None and not isinstance(value, datetime):
                err(name, "Enter a date and time.")
                continue
            if value is not None and value > timezone.now() + FUTURE_SLACK:
                err(name, f"{TIME_LABELS[name]} cannot be in the future.")
        elif name in BOOLEAN_FIELDS:
            value = bool(value)
        elif name == "backups_affected":
            value = None if value is None else bool(value)
        else:
            value = (value or "").strip() if name != "description" else (value or "")
            limit = 200 if name in ("title", "backup_location") else 12 if name == "ransom_currency" else MAX_TEXT
            if len(value) > limit:
                err(name, f"Keep this under {limit:,} characters.")
        clean[name] = value
    if errors:
        raise ValidationError(errors)
    # Cross-field checks on the facts as they would be after the change.
    merged = {name: clean.get(name, getattr(report, name)) for name in REPORT_FIELDS}
    order = [
        ("started_at", "discovered_at", "Discovery cannot come before the incident started."),
        ("discovered_at", "confirmed_at", "Confirmation cannot come before discovery."),
        ("started_at", "contained_at", "Containment cannot come before the incident started."),
        ("contained_at", "recovered_at", "Recovery cannot come before containment."),
    ]
    for first, later, message in order:
        a, b = merged[first], merged[later]
        if a is not None and b is not None and b < a and (first in clean or later in clean):
            err(later, message)
    if merged["ransom_paid"] and not merged["ransom_demanded"] and ("ransom_paid" in clean):
        err("ransom_paid", "A ransom can only be paid if one was demanded: tick “a ransom was demanded” too.")
    if errors:
        raise ValidationError(errors)
    return {name: value for name, value in clean.items() if not _same(value, getattr(report, name))}


def _same(new: Any, old: Any) -> bool:
    """Equal, or the same minute: a form shows times to the minute, so sending a time back unchanged
    is not a change."""
    if isinstance(new, datetime) and isinstance(old, datetime) and new.second == 0 and new.microsecond == 0:
        return new == old.replace(second=0, microsecond=0)
    return bool(new == old)


def missing_for_submit(report: IncidentReport) -> dict[str, str]:
    return {name: message for name, message in REQUIRED_TO_SUBMIT.items() if not getattr(report, name)}


# --- Reporter side ---------------------------------------------------------------------------------


@transaction.atomic
def report_create(*, actor: User, organization: Organization) -> IncidentReport:
    """An empty draft for `organization`, of which the actor is a member or admin."""
    if organization.pk not in writer_org_ids(viewer_for(actor)):
        raise PermissionDenied("You can report incidents only for an organisation you are an approved member of.")
    report = IncidentReport.objects.create(organization=organization, state=organization.state, created_by=actor)
    _event(report, actor, "created", f"{actor.full_name or actor.email} started the report")
    _audit(actor, "incident.create", report, f"{actor.email} started an incident report for {organization.name}")
    return report


@transaction.atomic
def report_save(*, actor: User, report: IncidentReport, data: dict[str, Any], revision: int | None) -> IncidentReport:
    """Save (part of) a draft. A submitted report changes only through `report_update`."""
    _check_write(actor, report)
    report = _lock(report, revision)
    if not report.is_draft:
        raise ValidationError("This report was sent to the state: add a supplemental update instead.")
    changes = _clean(report, data)
    if not changes:
        return report
    for name, value in changes.items():
        setattr(report, name, value)
    report.revision += 1
    report.save()
    _audit(actor, "incident.save_draft", report, f"{actor.email} saved the draft {report.uuid}", fields=sorted(changes))
    return report


def _mark_submitted(report: IncidentReport) -> None:
    """Check the minimal report is complete and mark it sent (the caller saves)."""
    missing = missing_for_submit(report)
    if missing:
        raise ValidationError(dict(missing.items()))
    report.status = IncidentReport.Status.SUBMITTED
    report.submitted_at = timezone.now()
    report.revision += 1


@transaction.atomic
def report_submit(
    *, actor: User, report: IncidentReport, revision: int | None, data: dict[str, Any] | None = None
) -> IncidentReport:
    """Send the draft to the state: the minimal report must be complete. Sends `report_submitted`."""
    _check_write(actor, report)
    report = _lock(report, revision)
    if not report.is_draft:
        raise ValidationError("This report was already sent to the state.")
    changes = _clean(report, data or {})
    for name, value in changes.items():
        setattr(report, name, value)
    _mark_submitted(report)
    report.save()
    _event(report, actor, "submitted", f"{actor.full_name or actor.email} sent the report to the state")
    _audit(actor, "incident.submit", report, f"{actor.email} submitted incident report {report.uuid}")
    signals.report_submitted.send(sender=IncidentReport, report=report, by=actor)
    return report


@transaction.atomic
def report_file(*, actor: User, organization: Organization, data: dict[str, Any], submit: bool) -> IncidentReport:
    """Create a report with its facts and, with `submit`, send it to the state, in one transaction:
    the API's one-call report (`POST /api/v1/incident-reports/` with `"submit": true`) and the hot path
    of the load benchmark. The same checks, timeline lines, audit rows and `report_submitted` as
    `report_create` + `report_save` + `report_submit`, without their re-reads and row locks (the row
    is new: nobody else can hold it) and with the timeline lines and the audit rows in one INSERT each."""
    if organization.pk not in writer_org_ids(viewer_for(actor)):
        raise PermissionDenied("You can report incidents only for an organisation you are an approved member of.")
    report = IncidentReport(organization=organization, state=organization.state, created_by=actor)
    changes = _clean(report, data)
    for name, value in changes.items():
        setattr(report, name, value)
    if changes:
        report.revision += 1
    who = actor.full_name or actor.email
    events = [_event_fields(report, actor, "created", f"{who} started the report")]
    if submit:
        _mark_submitted(report)
        events.append(_event_fields(report, actor, "submitted", f"{who} sent the report to the state"))
    with audit_batch():
        _INSERT_REPORT.insert([report])
        _INSERT_EVENTS.insert([ReportEvent(**fields) for fields in events])
        _audit(actor, "incident.create", report, f"{actor.email} started an incident report for {organization.name}")
        if changes:
            _audit(
                actor,
                "incident.save_draft",
                report,
                f"{actor.email} saved the draft {report.uuid}",
                fields=sorted(changes),
            )
        if submit:
            _audit(actor, "incident.submit", report, f"{actor.email} submitted incident report {report.uuid}")
            signals.report_submitted.send(sender=IncidentReport, report=report, by=actor, created=True)
    return report


def _shown(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


@transaction.atomic
def report_update(
    *, actor: User, report: IncidentReport, data: dict[str, Any], note: str, revision: int | None
) -> ReportUpdate:
    """A supplemental update to a submitted report: the changed facts and a note, numbered. Sends
    `report_updated` with the names of the changed fields (the clocks re-compute what depends on them)."""
    _check_write(actor, report)
    report = _lock(report, revision)
    if report.is_draft:
        raise ValidationError("This report is still a draft: save it, or send it to the state.")
    note = (note or "").strip()
    if len(note) > MAX_TEXT:
        raise ValidationError({"note": f"Keep the note under {MAX_TEXT:,} characters."})
    changes = _clean(report, data)
    if not changes and not note:
        raise ValidationError({"note": "Nothing changed: say what is new, or change a fact."})
    diff = {name: [_shown(getattr(report, name)), _shown(value)] for name, value in changes.items()}
    for name, value in changes.items():
        setattr(report, name, value)
    report.revision += 1
    report.save()
    number = (report.updates.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    update = ReportUpdate.objects.create(report=report, number=number, author=actor, note=note, changes=diff)
    _event(report, actor, "update", f"Supplemental update {number} by {actor.full_name or actor.email}")
    _audit(
        actor, "incident.update", report, f"{actor.email} added update {number} to {report.uuid}", fields=sorted(diff)
    )
    signals.report_updated.send(sender=IncidentReport, report=report, by=actor, changed=frozenset(changes))
    return update


def too_big_message(size: int | None = None) -> str:
    limit = attachment_limit()
    what = f"The file is {size / 1_048_576:,.1f} MB; attachments" if size else "Attachments"
    return (
        f"{what} are limited to {limit // 1_048_576} MB. Nothing was stored. Compress it or split it, or tell "
        "the state analyst you have a larger file."
    )


def _sniff(head: bytes, name: str) -> str:
    """Why a file is kept quarantined ("" if it is not)."""
    for magic, what in MAGIC:
        if head.startswith(magic):
            return f"The file is {what}."
    lower = name.lower()
    ext = "." + lower.rsplit(".", 1)[-1] if "." in lower else ""
    if ext in EXECUTABLE_EXTENSIONS:
        return f"Files ending in {ext} can run as programs."
    return ""


@transaction.atomic
def attachment_add(*, actor: User, report: IncidentReport, upload: File, description: str = "") -> ReportAttachment:
    """Attach a file. Over the limit: refused before anything is stored. A program, a script or a
    malware sample is stored quarantined (never served inline, never under its own name)."""
    if not (can_write(actor, report) or can_triage(actor, report)):
        raise PermissionDenied("Only the reporting organisation and the state's staff can attach files.")
    size = int(upload.size or 0)
    if size > attachment_limit():
        raise ValidationError({"file": too_big_message(size)})
    if size == 0:
        raise ValidationError({"file": "The file is empty."})
    name = (getattr(upload, "name", "") or "attachment").replace("\\", "/").rsplit("/", 1)[-1][:255] or "attachment"
    description = (description or "").strip()
    if len(description) > 300:
        raise ValidationError({"description": "Keep the description under 300 characters."})
    digest = hashlib.sha256()
    upload.seek(0)
    head = upload.read(4096)
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    reason = _sniff(head, name)
    attachment = ReportAttachment(
        report=report,
        uploaded_by=actor,
        name=name,
        size=size,
        sha256=digest.hexdigest(),
        quarantined=bool(reason),
        quarantine_reason=reason,
        description=description,
    )
    # Stored under a random name: the uploaded name is data, never a path.
    attachment.file.save(uuidlib.uuid4().hex, upload, save=False)
    attachment.save()
    quarantine = " (quarantined)" if reason else ""
    _event(report, actor, "attachment", f"{actor.full_name or actor.email} attached {name}{quarantine}")
    _audit(
        actor,
        "incident.attach",
        report,
        f"{actor.email} attached {name}{quarantine} to {report.uuid}",
        sha256=attachment.sha256,
        size=size,
        quarantined=bool(reason),
    )
    return attachment


@transaction.atomic
def report_classify(
    *, actor: User, report: IncidentReport, classification: dict[str, Any], revision: int | None
) -> IncidentReport:
    """The optional VERIS 1.4.1 classification, by the reporter or the state's staff."""
    from commonguard.incidents.veris import clean_classification

    if not (can_write(actor, report) or can_triage(actor, report)):
        raise PermissionDenied("Only the reporting organisation and the state's staff can classify this report.")
    report = _lock(report, revision)
    clean = clean_classification(classification)
    if clean == report.veris:
        return report
    report.veris = clean
    report.revision += 1
    report.save(update_fields=["veris", "revision", "updated_at"])
    if not report.is_draft:
        _event(report, actor, "classified", f"{actor.full_name or actor.email} classified the incident (VERIS)")
    _audit(actor, "incident.classify", report, f"{actor.email} classified {report.uuid} (VERIS)")
    return report


# --- State side ------------------------------------------------------------------------------------


@transaction.atomic
def report_acknowledge(*, actor: User, report: IncidentReport) -> IncidentReport:
    _check_triage(actor, report)
    report = _lock(report, None)
    if report.status != IncidentReport.Status.SUBMITTED:
        return report
    report.status = IncidentReport.Status.ACKNOWLEDGED
    report.save(update_fields=["status", "updated_at"])
    _event(report, actor, "acknowledged", "The state acknowledged the report")
    _audit(actor, "incident.acknowledge", report, f"{actor.email} acknowledged {report.uuid}")
    return report


@transaction.atomic
def report_triage(
    *,
    actor: User,
    report: IncidentReport,
    phase: str | None = None,
    assignee: User | None = None,
    unassign: bool = False,
    status: str | None = None,
) -> IncidentReport:
    """Case phase, assignment and status, by the state staff of the report's state."""
    _check_triage(actor, report)
    report = _lock(report, None)
    before_status = report.status
    said: list[str] = []
    if phase is not None and phase != report.phase:
        if phase not in IncidentReport.Phase.values:
            raise ValidationError({"phase": "Choose a phase from the list."})
        report.phase = phase
        said.append(f"phase: {IncidentReport.Phase(phase).label}")
        if phase == IncidentReport.Phase.CLOSED and report.status != IncidentReport.Status.CLOSED:
            report.status = IncidentReport.Status.CLOSED
    if status is not None and status != report.status:
        allowed = {
            IncidentReport.Status.ACKNOWLEDGED,
            IncidentReport.Status.CLOSED,
            IncidentReport.Status.DUPLICATE,
            IncidentReport.Status.NOT_REPORTABLE,
        }
        if status not in allowed:
            raise ValidationError({"status": "Choose a status from the list."})
        report.status = status
        said.append(f"status: {IncidentReport.Status(status).label}")
    if unassign and report.assignee_id is not None:
        report.assignee = None
        said.append("unassigned")
    elif assignee is not None and assignee.pk != report.assignee_id:
        if report.state not in viewer_for(assignee).staff_states:
            raise ValidationError({"assignee": "Assign the case to an analyst or liaison of the state."})
        report.assignee = assignee
        said.append(f"assigned to {assignee.full_name or assignee.email}")
    if not said:
        return report
    status_changed = report.status != before_status
    report.save(update_fields=["phase", "status", "assignee", "updated_at"])
    if status_changed:  # duplicate / not reportable sets the statutory obligations aside
        signals.report_updated.send(sender=IncidentReport, report=report, by=actor, changed=frozenset({"status"}))
    # The phase is the reporter's business too; who holds the case is the state's.
    public = [s for s in said if not s.startswith(("assigned", "unassigned"))]
    internal = [s for s in said if s.startswith(("assigned", "unassigned"))]
    if public:
        _event(report, actor, "triage", "The state set " + "; ".join(public))
    if internal:
        _event(report, actor, "assignment", f"{actor.full_name or actor.email}: " + "; ".join(internal), internal=True)
    _audit(actor, "incident.triage", report, f"{actor.email} changed {report.uuid}: " + "; ".join(said))
    return report


@transaction.atomic
def note_add(*, actor: User, report: IncidentReport, text: str) -> ReportNote:
    """An internal note of the state's staff: never shown to the reporter."""
    _check_triage(actor, report)
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": "Write the note."})
    if len(text) > MAX_TEXT:
        raise ValidationError({"text": f"Keep the note under {MAX_TEXT:,} characters."})
    note = ReportNote.objects.create(report=report, author=actor, text=text)
    _event(report, actor, "note", f"{actor.full_name or actor.email} added an internal note", internal=True)
    _audit(actor, "incident.note", report, f"{actor.email} added an internal note to {report.uuid}")
    return note


def _side(actor: Any, report: IncidentReport) -> str:
    if can_triage(actor, report):
        return ReportTask.Side.STATE
    if can_write(actor, report):
        return ReportTask.Side.REPORTER
    raise PermissionDenied("Only the reporting organisation and the state's staff can do this.")


@transaction.atomic
def task_create(
    *, actor: User, report: IncidentReport, title: str, detail: str = "", due_at: datetime | None = None
) -> ReportTask:
    """One side asks the other to do something ("action required")."""
    if report.is_draft:
        raise ValidationError("Send the report to the state first.")
    side = _side(actor, report)
    other = ReportTask.Side.REPORTER if side == ReportTask.Side.STATE else ReportTask.Side.STATE
    title = " ".join((title or "").split())
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = "Say what needs doing."
    elif len(title) > 200:
        errors["title"] = "Keep the title under 200 characters."
    if len(detail or "") > MAX_TEXT:
        errors["detail"] = f"Keep the detail under {MAX_TEXT:,} characters."
    if due_at is not None and due_at < timezone.now():
        errors["due_at"] = "The due time is in the past."
    if errors:
        raise ValidationError(errors)
    task = ReportTask.objects.create(
        report=report, title=title, detail=detail or "", assigned_to=other, created_by=actor, due_at=due_at
    )
    _event(report, actor, "task", f"Action required of {ReportTask.Side(other).label.lower()}: {title}")
    _audit(actor, "incident.task", report, f"{actor.email} asked {other} to: {title}")
    return task


@transaction.atomic
def task_close(*, actor: User, task: ReportTask, status: str) -> ReportTask:
    """Either side marks a task done (or its creator's side cancels it)."""
    report = task.report
    side = _side(actor, report)
    if status not in (ReportTask.Status.DONE, ReportTask.Status.CANCELLED):
        raise ValidationError({"status": "Mark the task done or cancelled."})
    if status == ReportTask.Status.CANCELLED and side == task.assigned_to:
        raise PermissionDenied("Only the side that asked can cancel a task.")
    task = ReportTask.objects.select_for_update().get(pk=task.pk)
    if task.status != ReportTask.Status.OPEN:
        raise ValidationError("This task is already closed.")
    task.status = status
    task.closed_by = actor
    task.closed_at = timezone.now()
    task.save()
    _event(report, actor, "task", f"Task “{task.title}” {task.get_status_display().lower()}")
    _audit(actor, "incident.task_close", report, f"{actor.email} marked “{task.title}” {status}")
    return task
