"""The end of a deployment (ADR 33): time and expense logs, demobilisation and debrief, the
after-action report, and the reimbursement claim with its PDF and CSV.

Every function checks the write rule, refuses bad input with a clear `ValidationError` before
writing anything, and writes an audit event in the same transaction.
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid as uuidlib
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Q, Sum
from django.template.loader import render_to_string
from django.utils import timezone

from commonguard.accounts.viewer import viewer_for
from commonguard.core.audit import audit_record
from commonguard.core.tlp import TLP
from commonguard.mutualaid import policies, services
from commonguard.mutualaid.models import (
    Activity,
    AfterActionReport,
    Agreement,
    ClaimLine,
    CostCategory,
    Demobilisation,
    Deployment,
    ExpenseLog,
    ReimbursementClaim,
    Responder,
    TimeLog,
)

D = Deployment.Status
C = ReimbursementClaim.Status
CENT = Decimal("0.01")
MAX_EXPENSE = Decimal("99999999.99")
RECEIPT_MAX_BYTES = 20 * 1024 * 1024
# Logs are kept while the responder is at work, and after release until the claim leaves "collecting".
LOGGABLE = (D.ACTIVE, D.EXTENDED, D.RELEASED)


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _hours(value: Decimal) -> str:
    """7.50 -> "7.5", 20.00 -> "20" (the same on SQLite and PostgreSQL, whose sums keep the scale)."""
    return format(Decimal(value).normalize(), "f")


def can_log(actor: Any, deployment: Deployment) -> bool:
    """The responder on the deployment, or a coordinator of their programme entering their timesheet."""
    responder = deployment.responder
    is_responder = responder.user_id is not None and responder.user_id == getattr(actor, "pk", None)
    return is_responder or policies.can_coordinate(actor, responder.programme_id)


def can_review(actor: Any, deployment: Deployment) -> bool:
    """The requesting organisation's admins review, approve and pay its claims."""
    return deployment.request.requesting_org_id in viewer_for(actor).admin_org_ids


def _log_refusal(actor: Any, deployment: Deployment, day: date) -> None:
    if not can_log(actor, deployment):
        raise PermissionDenied(
            "Only the responder on this deployment (or a coordinator of their programme) can log time or expenses."
        )
    if deployment.status not in LOGGABLE:
        raise ValidationError(
            {
                "day": f"The deployment is {deployment.get_status_display().lower()}: time and expenses are logged "
                "only on a deployment that is active, extended or released."
            }
        )
    claim = ReimbursementClaim.objects.filter(deployment=deployment).first()
    if claim is not None and claim.status != C.COLLECTING:
        raise ValidationError(
            {"day": f"The claim for this deployment is {claim.get_status_display().lower()}; its logs are closed."}
        )
    if day < deployment.starts_on or day > deployment.ends_on:
        raise ValidationError(
            {
                "day": f"{day:%Y-%m-%d} is outside the deployment "
                f"({deployment.starts_on:%Y-%m-%d} – {deployment.ends_on:%Y-%m-%d})."
            }
        )
    if day > timezone.localdate():
        raise ValidationError({"day": "Time and expenses are logged for days that have happened."})


def _locked(deployment: Deployment) -> Deployment:
    """The deployment, locked, and its responder's row locked too: the 24-hours-a-day rule counts the
    responder's hours across all their deployments, so two logs for one day are written one after
    the other. (On PostgreSQL the joined FOR UPDATE already locks the responder's row; the explicit
    lock keeps the rule if the select is ever narrowed with `of=`.)"""
    locked = (
        Deployment.objects.select_for_update()
        .select_related("responder", "responder__programme", "request", "request__requesting_org")
        .get(pk=deployment.pk)
    )
    Responder.objects.select_for_update().filter(pk=locked.responder_id).values_list("pk", flat=True).first()
    return locked


@transaction.atomic
def time_log(
    *, actor: Any, deployment: Deployment, day: date, hours: Decimal | str, activity: str, note: str = ""
) -> TimeLog:
    """Log hours worked on one day. A day holds at most 24 hours in all activities."""
    deployment = _locked(deployment)
    _log_refusal(actor, deployment, day)
    try:
        amount = Decimal(str(hours))
    except (InvalidOperation, ValueError):
        raise ValidationError({"hours": "Enter the hours as a number, such as 7.5."}) from None
    if not amount.is_finite() or amount <= 0:
        raise ValidationError({"hours": "Log more than 0 hours."})
    amount = _money(amount)
    if activity not in Activity.values:
        raise ValidationError({"activity": "Choose an activity."})
    already = TimeLog.objects.filter(deployment__responder_id=deployment.responder_id, day=day).aggregate(
        h=Sum("hours")
    )["h"] or Decimal(0)
    if already + amount > 24:
        raise ValidationError(
            {
                "hours": f"A day has 24 hours: {_hours(already)} h are already logged for {day:%Y-%m-%d}, "
                f"so at most {_hours(max(Decimal(0), 24 - already))} h more."
            }
        )
    if len(note) > 300:
        raise ValidationError({"note": "Keep the note under 300 characters."})
    log = TimeLog.objects.create(
        deployment=deployment, day=day, hours=amount, activity=activity, note=note.strip(), logged_by=actor
    )
    audit_record(
        actor=actor,
        action="mutualaid.time.log",
        summary=f"{deployment.responder.full_name}: {_hours(amount)} h {log.get_activity_display().lower()} on {day}",
        organization=deployment.responder.programme,
        target=deployment,
    )
    return log


def _receipt_fields(upload: File) -> dict[str, Any]:
    """Checks and hashes a receipt like an incident attachment (quarantine by content and name)."""
    from commonguard.incidents.services import _sniff

    size = int(upload.size or 0)
    if size == 0:
        raise ValidationError({"receipt": "The receipt file is empty."})
    if size > RECEIPT_MAX_BYTES:
        raise ValidationError(
            {"receipt": f"Receipts are limited to {RECEIPT_MAX_BYTES // 1_048_576} MB. Nothing was stored."}
        )
    name = (getattr(upload, "name", "") or "receipt").replace("\\", "/").rsplit("/", 1)[-1][:255] or "receipt"
    digest = hashlib.sha256()
    upload.seek(0)
    head = upload.read(4096)
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    reason = _sniff(head, name)
    return {
        "receipt_name": name,
        "receipt_size": size,
        "receipt_sha256": digest.hexdigest(),
        "receipt_quarantined": bool(reason),
        "quarantine_reason": reason,
    }


@transaction.atomic
def expense_log(
    *,
    actor: Any,
    deployment: Deployment,
    day: date,
    category: str,
    amount: Decimal | str,
    description: str,
    receipt: File | None = None,
) -> ExpenseLog:
    """Log an expense with its receipt (stored under a random name; programs kept quarantined)."""
    deployment = _locked(deployment)
    _log_refusal(actor, deployment, day)
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        raise ValidationError({"amount": "Enter the amount in dollars, such as 42.50."}) from None
    if not value.is_finite():
        raise ValidationError({"amount": "Enter the amount in dollars, such as 42.50."})
    if value < 0:
        raise ValidationError({"amount": "An expense cannot be negative; ask the reviewer to correct an error."})
    if value > MAX_EXPENSE:
        raise ValidationError({"amount": "That amount is too large for one expense."})
    if category not in CostCategory.values:
        raise ValidationError({"category": "Choose personnel, travel, equipment, commodities or other."})
    if not description.strip():
        raise ValidationError({"description": "Say what the expense was for."})
    if len(description) > 300:
        raise ValidationError({"description": "Keep the description under 300 characters."})
    fields = _receipt_fields(receipt) if receipt is not None else {}
    expense = ExpenseLog(
        deployment=deployment,
        day=day,
        category=category,
        amount=_money(value),
        description=description.strip(),
        logged_by=actor,
        **fields,
    )
    if receipt is not None:
        # Stored under a random name: the uploaded name is data, never a path.
        expense.receipt.save(uuidlib.uuid4().hex, receipt, save=False)
    try:
        expense.save()
        audit_record(
            actor=actor,
            action="mutualaid.expense.log",
            summary=f"{deployment.responder.full_name}: {expense.get_category_display().lower()} "
            f"${expense.amount} on {day}" + (" (receipt quarantined)" if expense.receipt_quarantined else ""),
            organization=deployment.responder.programme,
            target=deployment,
            data={"sha256": expense.receipt_sha256, "quarantined": expense.receipt_quarantined},
        )
    except Exception:
        if expense.receipt:
            expense.receipt.delete(save=False)
        raise
    return expense


# --- Demobilisation ---------------------------------------------------------------------------


@transaction.atomic
def release(
    *, actor: Any, deployment: Deployment, access_removed: bool, equipment_returned: bool, handover_notes: str
) -> Demobilisation:
    """Release a responder: the checklist must be complete (access removed, equipment returned,
    handover notes written), then the deployment becomes released."""
    deployment = _locked(deployment)
    if not policies.can_coordinate(actor, deployment.responder.programme_id):
        raise PermissionDenied("Only the responder's coordinators can release a deployment.")
    if deployment.status not in Deployment.UNDER_WAY:
        raise ValidationError(
            {"status": f"A deployment that is {deployment.get_status_display().lower()} cannot be released."}
        )
    errors: dict[str, str] = {}
    if not access_removed:
        errors["access_removed"] = "Confirm that the requester removed the responder's accounts, VPN and badges."
    if not equipment_returned:
        errors["equipment_returned"] = "Confirm that loaned equipment and evidence media were returned."
    if not handover_notes.strip():
        errors["handover_notes"] = "Write the handover notes: what is done, what is open, who holds it now."
    if errors:
        raise ValidationError(errors)
    services.deployment_transition(actor=actor, deployment=deployment, to=D.RELEASED)
    deployment.refresh_from_db()
    demob = Demobilisation.objects.create(
        deployment=deployment,
        access_removed=True,
        equipment_returned=True,
        handover_notes=handover_notes.strip(),
        released_by=actor,
        released_at=deployment.released_at or timezone.now(),
    )
    audit_record(
        actor=actor,
        action="mutualaid.deployment.demobilise",
        summary=f"{deployment.responder.full_name} released from “{deployment.request.title}” (checklist complete)",
        organization=deployment.request.requesting_org,
        target=deployment,
    )
    return demob


@transaction.atomic
def debrief(*, actor: Any, deployment: Deployment, notes: str) -> Demobilisation:
    """Record the debrief of a released responder; the deployment becomes debriefed."""
    deployment = _locked(deployment)
    if not policies.can_coordinate(actor, deployment.responder.programme_id):
        raise PermissionDenied("Only the responder's coordinators can debrief a deployment.")
    demob = Demobilisation.objects.filter(deployment=deployment).first()
    if deployment.status != D.RELEASED or demob is None:
        raise ValidationError({"status": "Only a released deployment (checklist complete) can be debriefed."})
    if not notes.strip():
        raise ValidationError({"debrief_notes": "Write what the responder reported at the debrief."})
    services.deployment_transition(actor=actor, deployment=deployment, to=D.DEBRIEFED)
    demob.debrief_notes = notes.strip()
    demob.debriefed_by = actor
    demob.debriefed_at = timezone.now()
    demob.save(update_fields=["debrief_notes", "debriefed_by", "debriefed_at"])
    return demob


# --- After-action reports ------------------------------------------------------------------------


@dataclass
class AfterActionInput:
    title: str
    timeline: str
    what_worked: str
    what_to_change: str
    deployment: Deployment | None = None


def aar_template(request: Any) -> dict[str, str]:
    """The form's first draft: the timeline from the request's deployments."""
    lines = [f"- {request.starts_on:%Y-%m-%d}: {request.requesting_org.name} asked for help ({request.title})."]
    for d in request.deployments.select_related("responder").order_by("starts_on"):
        lines.append(
            f"- {d.starts_on:%Y-%m-%d} – {d.ends_on:%Y-%m-%d}: {d.responder.full_name} "
            f"({d.get_status_display().lower()})."
        )
    return {
        "title": f"After-action report: {request.title}"[:200],
        "timeline": "\n".join(lines),
        "what_worked": "",
        "what_to_change": "",
    }


def _aar_org(actor: Any, request: Any) -> Any:
    """The organisation writing the report: the requester, or a programme that deployed to it."""
    viewer = viewer_for(actor)
    if request.requesting_org_id in viewer.org_ids and viewer.roles_by_org.get(request.requesting_org_id) in (
        policies.REQUESTING_ROLES
    ):
        return request.requesting_org
    coordinated = [
        d.responder.programme
        for d in request.deployments.select_related("responder__programme")
        if policies.can_coordinate(actor, d.responder.programme_id)
    ]
    if coordinated:
        return coordinated[0]
    raise PermissionDenied(
        "Only the requesting organisation or the coordinators of a programme that deployed can write its report."
    )


@transaction.atomic
def aar_create(*, actor: Any, request: Any, data: AfterActionInput) -> AfterActionReport:
    org = _aar_org(actor, request)
    errors: dict[str, str] = {}
    for name, label in (
        ("title", "a title"),
        ("timeline", "the timeline"),
        ("what_worked", "what worked"),
        ("what_to_change", "what to change"),
    ):
        if not str(getattr(data, name)).strip():
            errors[name] = f"Write {label}."
    if data.deployment is not None and data.deployment.request_id != request.pk:
        errors["deployment"] = "Choose a deployment of this request."
    if errors:
        raise ValidationError(errors)
    report = AfterActionReport.objects.create(
        request=request,
        deployment=data.deployment,
        author=actor,
        author_org=org,
        title=data.title.strip()[:200],
        timeline=data.timeline.strip(),
        what_worked=data.what_worked.strip(),
        what_to_change=data.what_to_change.strip(),
    )
    audit_record(
        actor=actor,
        action="mutualaid.aar.create",
        summary=f"After-action report “{report.title}”",
        organization=org,
        target=report,
    )
    return report


def aar_markdown(report: AfterActionReport) -> str:
    return (
        f"# {report.title}\n\n"
        f"Request: {report.request.title} ({report.request.requesting_org.name})\n\n"
        f"## Timeline\n\n{report.timeline}\n\n"
        f"## What worked\n\n{report.what_worked}\n\n"
        f"## What to change\n\n{report.what_to_change}\n"
    )


@transaction.atomic
def aar_publish(*, actor: Any, report: AfterActionReport, tlp: str) -> Any:
    """Publish to the partnerships library as an after-action report, under `tlp`. TLP:AMBER goes to
    the author's organisation (and the library's rule); TLP:RED to the publisher alone."""
    from commonguard.partnerships import services as library
    from commonguard.partnerships.models import Resource

    if report.author_org_id not in viewer_for(actor).org_ids:
        raise PermissionDenied("Only members of the organisation that wrote the report can publish it.")
    if report.library_resource_id is not None:
        raise ValidationError({"tlp": "This report is already in the library."})
    if tlp not in TLP.values:
        raise ValidationError({"tlp": "Choose a TLP label."})
    named = tlp in (TLP.AMBER, TLP.AMBER_STRICT)
    body = aar_markdown(report).encode()
    upload = SimpleUploadedFile(f"after-action-{report.pk}.md", body, content_type="text/markdown")
    resource = library.resource_create(
        actor=actor,
        data=library.ResourceInput(
            title=report.title,
            kind=Resource.Kind.AFTER_ACTION,
            summary=f"After-action report of a mutual-aid deployment: {report.request.title}. "
            "Timeline, what worked, what to change.",
            author_org=report.author_org,
            tlp=tlp,
            tags=["mutual aid", "after-action"],
            recipient_orgs=[report.author_org] if named else [],
            recipient_people=[actor] if tlp == TLP.RED else [],
        ),
        upload=upload,
    )
    report.library_resource = resource
    report.published_at = timezone.now()
    report.save(update_fields=["library_resource", "published_at", "updated_at"])
    audit_record(
        actor=actor,
        action="mutualaid.aar.publish",
        summary=f"Published “{report.title}” to the library as {resource.get_tlp_display()}",
        organization=report.author_org,
        target=report,
    )
    return resource


# --- Reimbursement claims ------------------------------------------------------------------------

CLAIM_TRANSITIONS: dict[str, frozenset[str]] = {
    C.COLLECTING: frozenset({C.SUBMITTED, C.WAIVED}),
    C.SUBMITTED: frozenset({C.REVIEWED, C.COLLECTING, C.WAIVED}),  # → collecting: returned for correction
    C.REVIEWED: frozenset({C.APPROVED, C.COLLECTING, C.WAIVED}),
    C.APPROVED: frozenset({C.PAID}),
    C.PAID: frozenset(),
    C.WAIVED: frozenset(),
}
# Who moves a claim: the provider (programme coordinators) submits and waives; the requester's admins
# review, return, approve and pay.
PROVIDER_MOVES = frozenset({C.SUBMITTED, C.WAIVED})


def _clabel(status: str) -> str:
    return str(C(status).label).lower()


def claim_agreement(deployment: Deployment) -> Agreement | None:
    """The agreement the deployment runs under: in force on its first day, with both the programme
    and the requester as signed parties; a bilateral one before a regional one before the compact."""
    programme, requester = deployment.responder.programme_id, deployment.request.requesting_org_id
    signed = Q(party_rows__signed_on__isnull=False, party_rows__withdrawn_on__isnull=True)
    candidates = (
        Agreement.objects.in_force_on(deployment.starts_on)
        .filter(signed, party_rows__organization_id=programme)
        .filter(pk__in=Agreement.objects.filter(signed, party_rows__organization_id=requester).values("pk"))
        .select_related("rates")
        .distinct()
    )
    order = {Agreement.Kind.BILATERAL: 0, Agreement.Kind.REGIONAL: 1, Agreement.Kind.STATEWIDE_COMPACT: 2}
    return min(candidates, key=lambda a: (order.get(Agreement.Kind(a.kind), 9), a.pk), default=None)


def _rates(agreement: Agreement | None) -> tuple[Decimal, Decimal, str]:
    if agreement is None:
        return Decimal(0), Decimal(0), "No agreement in force between the programme and the requester: not priced."
    rates = getattr(agreement, "rates", None)
    hourly = rates.personnel_hourly if rates is not None else Decimal(0)
    per_diem = rates.per_diem_daily if rates is not None else Decimal(0)
    notes = []
    if rates is None:
        notes.append(f"“{agreement.name}” sets no rates: hours are listed unpriced.")
    if agreement.per_diem_basis == Agreement.PerDiem.NONE:
        per_diem = Decimal(0)
        notes.append("No per diem under this agreement (donated).")
    else:
        notes.append(f"Per diem: {agreement.get_per_diem_basis_display()}.")
    return hourly, per_diem, " ".join(notes)


def _claim_number(deployment: Deployment) -> str:
    return f"MA-{deployment.starts_on:%Y}-{deployment.pk:05d}"


@transaction.atomic
def claim_assemble(*, actor: Any, deployment: Deployment) -> ReimbursementClaim:
    """(Re)build the claim of a deployment from its logs while it is collecting: personnel hours at
    the agreement's hourly rate, per diem for each day worked, and each expense in its category."""
    deployment = _locked(deployment)
    if not policies.can_coordinate(actor, deployment.responder.programme_id):
        raise PermissionDenied("Only the responder's coordinators can assemble the programme's claim.")
    if deployment.status not in (D.ACTIVE, D.EXTENDED, D.RELEASED, D.DEBRIEFED):
        raise ValidationError(
            {"status": f"A deployment that is {deployment.get_status_display().lower()} has nothing to claim."}
        )
    claim = ReimbursementClaim.objects.select_for_update().filter(deployment=deployment).first()
    if claim is not None and claim.status != C.COLLECTING:
        raise ValidationError(
            {"status": f"The claim is {_clabel(claim.status)}; only a claim that is collecting is re-assembled."}
        )
    agreement = claim_agreement(deployment)
    hourly, per_diem, pricing_note = _rates(agreement)
    if claim is None:
        claim = ReimbursementClaim(deployment=deployment, number=_claim_number(deployment))
    claim.agreement = agreement
    claim.hourly_rate, claim.per_diem_rate, claim.pricing_note = hourly, per_diem, pricing_note[:300]
    times = list(deployment.time_logs.all())
    expenses = list(deployment.expense_logs.all())
    lines: list[ClaimLine] = []
    hours_by_activity: dict[str, Decimal] = {}
    for log in times:
        hours_by_activity[log.activity] = hours_by_activity.get(log.activity, Decimal(0)) + log.hours
    for activity in Activity.values:
        if activity in hours_by_activity:
            h = hours_by_activity[activity]
            lines.append(
                ClaimLine(
                    category=CostCategory.PERSONNEL,
                    description=f"{deployment.responder.full_name}: {Activity(activity).label}",
                    quantity=h,
                    rate=hourly,
                    amount=_money(h * hourly),
                )
            )
    days = sorted({log.day for log in times})
    if days and per_diem > 0:
        lines.append(
            ClaimLine(
                category=CostCategory.TRAVEL,
                description=f"Per diem, {len(days)} day(s) worked",
                quantity=Decimal(len(days)),
                rate=per_diem,
                amount=_money(per_diem * len(days)),
            )
        )
    for e in expenses:
        lines.append(
            ClaimLine(
                category=e.category,
                description=f"{e.day:%Y-%m-%d}: {e.description}"[:300],
                quantity=Decimal(1),
                rate=e.amount,
                amount=e.amount,
                expense=e,
            )
        )
    totals = {c: Decimal(0) for c in CostCategory.values}
    for line in lines:
        totals[line.category] += line.amount
    claim.hours = sum((log.hours for log in times), Decimal(0))
    claim.days_worked = len(days)
    claim.total_personnel = totals[CostCategory.PERSONNEL]
    claim.total_travel = totals[CostCategory.TRAVEL]
    claim.total_equipment = totals[CostCategory.EQUIPMENT]
    claim.total_commodities = totals[CostCategory.COMMODITIES]
    claim.total_other = totals[CostCategory.OTHER]
    claim.total = sum(totals.values(), Decimal(0))
    claim.assembled_at = timezone.now()
    claim.save()
    claim.lines.all().delete()
    for line in lines:
        line.claim = claim
    ClaimLine.objects.bulk_create(lines)
    audit_record(
        actor=actor,
        action="mutualaid.claim.assemble",
        summary=f"Claim {claim.number} assembled: ${claim.total} ({_hours(claim.hours)} h, {len(expenses)} expense(s))",
        organization=deployment.responder.programme,
        target=claim,
    )
    return claim


@transaction.atomic
def claim_transition(*, actor: Any, claim: ReimbursementClaim, to: str, note: str = "") -> ReimbursementClaim:
    """collecting → submitted → reviewed → approved → paid, or waived by the provider before approval;
    the requester may return a submitted or reviewed claim to collecting (with a note)."""
    claim = (
        ReimbursementClaim.objects.select_for_update()
        .select_related("deployment__responder__programme", "deployment__request__requesting_org")
        .get(pk=claim.pk)
    )
    deployment = claim.deployment
    if to not in C.values:
        raise ValidationError({"status": f"“{to}” is not a claim status."})
    allowed = CLAIM_TRANSITIONS[claim.status]
    if to not in allowed:
        options = ", ".join(_clabel(s) for s in C.values if s in allowed) or "nothing (this is final)"
        raise ValidationError(
            {
                "status": f"A claim that is {_clabel(claim.status)} cannot become {_clabel(to)}; "
                f"it can become: {options}."
            }
        )
    if to in PROVIDER_MOVES:
        if not policies.can_coordinate(actor, deployment.responder.programme_id):
            raise PermissionDenied("Only the providing programme's coordinators can submit or waive its claim.")
    elif not can_review(actor, deployment):
        raise PermissionDenied("Only the requesting organisation's admins can review, return, approve or pay a claim.")
    if to == C.SUBMITTED:
        if deployment.status not in (D.RELEASED, D.DEBRIEFED):
            raise ValidationError(
                {"status": "Submit the claim once the responder is released (the logs are then complete)."}
            )
        if claim.assembled_at is None:
            raise ValidationError({"status": "Assemble the claim from the logs first."})
    if to == C.COLLECTING and not note.strip():
        raise ValidationError({"note": "Say what to correct when returning a claim."})
    now = timezone.now()
    fields = ["status", "updated_at"]
    stamp: dict[str, str] = {s: f"{s}_at" for s in (C.SUBMITTED, C.REVIEWED, C.APPROVED, C.PAID, C.WAIVED)}
    if to in stamp:
        setattr(claim, stamp[to], now)
        fields.append(stamp[to])
    if note.strip():
        claim.note = note.strip()
        fields.append("note")
    before = claim.status
    claim.status = to
    claim.save(update_fields=fields)
    audit_record(
        actor=actor,
        action=f"mutualaid.claim.{to}",
        summary=f"Claim {claim.number}: {_clabel(before)} → {_clabel(to)}",
        organization=deployment.request.requesting_org,
        target=claim,
        data={"from": before, "to": to, "total": str(claim.total)},
    )
    return claim


def claim_context(claim: ReimbursementClaim) -> dict[str, Any]:
    lines = list(claim.lines.all())
    by_category = [
        (label, [line for line in lines if line.category == value], getattr(claim, f"total_{value}"))
        for value, label in CostCategory.choices
    ]
    return {"claim": claim, "d": claim.deployment, "by_category": by_category, "lines": lines}


def claim_pdf(claim: ReimbursementClaim) -> bytes:
    from weasyprint import HTML  # lazily: the app starts without Pango

    html = render_to_string("mutualaid/claims/claim_pdf.html", claim_context(claim))
    return bytes(HTML(string=html).write_pdf())


def claim_csv(claim: ReimbursementClaim) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["claim", "category", "description", "quantity", "rate", "amount"])
    for line in claim.lines.all():
        writer.writerow(
            [claim.number, line.category, _safe_cell(line.description), line.quantity, line.rate, line.amount]
        )
    writer.writerow([claim.number, "total", "", "", "", claim.total])
    return out.getvalue()


def _safe_cell(text: str) -> str:
    """No spreadsheet formulas from user text (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
