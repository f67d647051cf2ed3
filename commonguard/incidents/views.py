"""Incident report pages: the guided form (3 screens, autosaved drafts), the report, its files,
exports, supplemental updates, the VERIS classification, the state's triage console, tasks, notes, and
the step to warn peers. Every read goes through `visible_to` (anything else is the same 404 as a
missing report) and is audited; every write is a service call with `actor=request.user`."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.db import transaction
from django.db.models import Count
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from commonguard.accounts.models import User
from commonguard.accounts.viewer import viewer_for
from commonguard.core.text import render_markdown
from commonguard.incidents import exports, peers, services, veris
from commonguard.incidents.forms import (
    STEP_FORMS,
    STEP_TITLES,
    AttachmentForm,
    ClassifyForm,
    NoteForm,
    QueueFilterForm,
    TaskForm,
    TriageForm,
    UpdateForm,
    WarnPeersForm,
    facts,
    initial_for,
)
from commonguard.incidents.models import IncidentReport, ReportAttachment, ReportEvent, ReportNote, ReportTask
from commonguard.incidents.querysets import is_state_side, writer_org_ids
from commonguard.orgs.models import Organization
from commonguard.web.decorators import vetted_required
from commonguard.web.errors import apply_validation_error, error_text
from commonguard.web.http import AuthedRequest

# SLA of the state's first response: green under 1 h, gold under 4 h, red after (unacknowledged reports).
SLA_STEPS = ((timedelta(hours=1), "ok", "Within 1 hour"), (timedelta(hours=4), "warn", "1–4 hours"))


def _report_get(request: AuthedRequest, uuid: UUID) -> IncidentReport:
    """One report the person may read, or the same 404 as for a report that does not exist."""
    return get_object_or_404(
        IncidentReport.objects.visible_to(request.user).select_related("organization__region", "assignee"), uuid=uuid
    )


def _tz(report: IncidentReport) -> Any:
    return timezone.override(report.organization.time_zone or "UTC")


# --- The list and starting a report ------------------------------------------------------------------


@vetted_required
def report_list(request: AuthedRequest) -> HttpResponse:
    viewer = viewer_for(request.user)
    reports = (
        IncidentReport.objects.visible_to(request.user)
        .filter(organization_id__in=viewer.org_ids)
        .select_related("organization")[:200]
    )
    orgs = Organization.objects.filter(pk__in=writer_org_ids(viewer)).order_by("name")
    services.audit_list(request.user, len(reports))
    return render(
        request,
        "incidents/report_list.html",
        {"reports": reports, "orgs": orgs, "is_state_staff": viewer.is_state_staff},
    )


@vetted_required
@require_POST
def report_new(request: AuthedRequest) -> HttpResponse:
    viewer = viewer_for(request.user)
    orgs = Organization.objects.filter(pk__in=writer_org_ids(viewer))
    org = orgs.filter(pk=request.POST.get("organization") or 0).first() or (orgs.first() if orgs.count() == 1 else None)
    if org is None:
        messages.error(request, "Choose the organisation the incident happened to.")
        return redirect("incidents:list")
    report = services.report_create(actor=request.user, organization=org)
    return redirect("incidents:step", uuid=report.uuid, step=1)


# --- The guided form ------------------------------------------------------------------------------------


def _steps(step: int) -> list[dict[str, Any]]:
    return [
        {"number": n, "title": title, "state": "complete" if n < step else "current" if n == step else ""}
        for n, title in STEP_TITLES.items()
    ]


@vetted_required
def report_step(request: AuthedRequest, uuid: UUID, step: int) -> HttpResponse:
    report = _report_get(request, uuid)
    if step not in STEP_TITLES:
        raise Http404
    if not report.is_draft:
        return redirect("incidents:detail", uuid=report.uuid)
    if not services.can_write(request.user, report):
        raise PermissionDenied("Only members of the reporting organisation can change this report.")
    if request.method == "GET":  # the form shows the draft's facts: a read like any other
        services.audit_read(request.user, report, f"draft form (step {step})")
    with _tz(report):
        if step == 3:
            return _step_send(request, report)
        form_class = STEP_FORMS[step]
        if request.method != "POST":
            form = form_class(initial=initial_for(report, form_class))
            return _render_step(request, report, step, form)
        form = form_class(request.POST, initial=initial_for(report, form_class))
        if not form.is_valid():
            return _render_step(request, report, step, form, status=400)
        try:
            report = services.report_save(
                actor=request.user, report=report, data=facts(form), revision=form.cleaned_data.get("revision")
            )
        except (ValidationError, PermissionDenied) as exc:
            apply_validation_error(form, exc)
            return _render_step(request, report, step, form, status=409 if _stale(exc) else 400)
        action = request.POST.get("action", "save")
        if action == "next":
            return redirect("incidents:step", uuid=report.uuid, step=step + 1)
        if action == "back" and step > 1:
            return redirect("incidents:step", uuid=report.uuid, step=step - 1)
        messages.success(request, "Draft saved.")
        return redirect("incidents:step", uuid=report.uuid, step=step)


def _stale(exc: Exception) -> bool:
    return isinstance(exc, ValidationError) and hasattr(exc, "error_dict") and "revision" in exc.error_dict


def _render_step(
    request: AuthedRequest, report: IncidentReport, step: int, form: Any, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "incidents/report_step.html",
        {
            "report": report,
            "step": step,
            "steps": _steps(step),
            "step_title": STEP_TITLES[step],
            "form": form,
            "stale": status == 409,
        },
        status=status,
    )


def _step_send(
    request: AuthedRequest, report: IncidentReport, upload_form: Any = None, status: int = 200
) -> HttpResponse:
    if request.method == "POST" and upload_form is None:
        try:
            report = services.report_submit(actor=request.user, report=report, revision=_revision(request))
        except ValidationError as exc:
            return render(
                request,
                "incidents/report_send.html",
                {**_send_context(request, report), "errors": exc.messages, "stale": _stale(exc)},
                status=409 if _stale(exc) else 400,
            )
        messages.success(request, "Your report was sent to the state. Thank you: reporting helps everyone.")
        return redirect("incidents:detail", uuid=report.uuid)
    context = _send_context(request, report)
    if upload_form is not None:
        context["upload_form"] = upload_form
    return render(request, "incidents/report_send.html", context, status=status)


def _send_context(request: AuthedRequest, report: IncidentReport) -> dict[str, Any]:
    return {
        "report": report,
        "step": 3,
        "steps": _steps(3),
        "missing": services.missing_for_submit(report),
        "attachments": ReportAttachment.objects.visible_to(request.user).filter(report=report),
        "upload_form": AttachmentForm(),
        "facts": _facts(report),
    }


def _revision(request: AuthedRequest) -> int | None:
    try:
        return int(request.POST.get("revision", ""))
    except ValueError:
        return None


@vetted_required
@require_POST
def report_autosave(request: AuthedRequest, uuid: UUID, step: int) -> HttpResponse:
    """htmx, on change: save the step's fields; answer a status line and the new revision."""
    report = _report_get(request, uuid)
    if step not in STEP_FORMS or not report.is_draft or not services.can_write(request.user, report):
        raise Http404
    form_class = STEP_FORMS[step]
    with _tz(report):
        form = form_class(request.POST, initial=initial_for(report, form_class))
        problem = ""
        if form.is_valid():
            try:
                report = services.report_save(
                    actor=request.user, report=report, data=facts(form), revision=form.cleaned_data.get("revision")
                )
            except (ValidationError, PermissionDenied) as exc:
                problem = error_text(exc)
        else:
            problem = " ".join(str(e) for errors in form.errors.values() for e in errors)
    return render(
        request,
        "incidents/partials/autosave.html",
        {"report": report, "problem": problem, "saved_at": timezone.now()},
        status=200,
    )


# --- The report ------------------------------------------------------------------------------------------


def _facts(report: IncidentReport) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = [
        ("What happened", report.get_category_display() if report.category else ""),
        ("Started", report.started_at),
        ("Discovered", report.discovered_at),
        ("Confirmed", report.confirmed_at),
        ("Contained", report.contained_at),
        ("Recovered", report.recovered_at),
        ("Systems affected", report.systems_affected),
        ("Services affected", report.services_affected),
        ("Functional impact", report.get_functional_impact_display() if report.functional_impact else ""),
        ("Information impact", report.get_information_impact_display() if report.information_impact else ""),
        ("Recoverability", report.get_recoverability_display() if report.recoverability else ""),
        ("Attack vector", report.get_attack_vector_display() if report.attack_vector else ""),
        ("Data involved", ", ".join(str(dict(_data_labels()).get(v, v)) for v in report.data_types)),
        ("Records affected", report.records_affected),
        ("Severity level", report.get_severity_level_display() if report.severity_level else ""),
        ("Water or wastewater utility operations affected", "Yes" if report.water_utility_affected else ""),
        ("Ransom demanded", "Yes" if report.ransom_demanded else ""),
        ("Ransom amount", f"{report.ransom_amount} {report.ransom_currency}".strip() if report.ransom_amount else ""),
        ("Ransom paid", "Yes" if report.ransom_paid else ""),
        ("Paid at", report.ransom_paid_at),
        ("Last good backup", report.last_good_backup_at),
        ("Backups kept at", report.backup_location),
        ("Backups affected", {True: "Yes", False: "No"}.get(report.backups_affected, "")),  # type: ignore[arg-type]
        ("Estimated cost (USD)", report.estimated_cost),
        ("Law enforcement told", "Yes" if report.law_enforcement_notified else ""),
        ("Insurer told", "Yes" if report.insurer_notified else ""),
        ("Help wanted", report.help_wanted),
    ]
    return [(label, value) for label, value in rows if value not in ("", None)]


def _data_labels() -> list[tuple[str, str]]:
    from commonguard.incidents.models import DataType

    return list(DataType.choices)


@vetted_required
def report_detail(request: AuthedRequest, uuid: UUID) -> HttpResponse:
    report = _report_get(request, uuid)
    services.audit_read(request.user, report, "report")
    return _render_detail(request, report)


def _render_detail(request: AuthedRequest, report: IncidentReport, status: int = 200, **forms: Any) -> HttpResponse:
    viewer = viewer_for(request.user)
    state_side = is_state_side(viewer, report) and not report.is_draft
    can_write = services.can_write(request.user, report)
    context: dict[str, Any] = {
        "report": report,
        "facts": _facts(report),
        "description_html": render_markdown(report.description),
        "updates": report.updates.visible_to(request.user).select_related("author"),
        "attachments": ReportAttachment.objects.visible_to(request.user).filter(report=report),
        "tasks": ReportTask.objects.visible_to(request.user).filter(report=report).select_related("created_by"),
        "events": ReportEvent.objects.visible_to(request.user).filter(report=report).select_related("actor"),
        "notes": ReportNote.objects.visible_to(request.user).filter(report=report).select_related("author")
        if state_side
        else [],
        "state_side": state_side,
        "can_write": can_write,
        "can_act": (can_write or state_side) and not report.is_draft,
        "indicators": [line.strip() for line in report.indicators.splitlines() if line.strip()],
        "veris": report.veris,
        "upload_form": forms.get("upload_form") or AttachmentForm(),
        "task_form": forms.get("task_form") or TaskForm(),
        "note_form": forms.get("note_form") or NoteForm(),
        "triage_form": forms.get("triage_form") or (_triage_form(report) if state_side else None),
    }
    with _tz(report):
        return render(request, "incidents/report_detail.html", context, status=status)


def _staff_choices(report: IncidentReport) -> list[tuple[Any, str]]:
    from commonguard.accounts.models import STATE_STAFF_ROLES, Membership

    people = (
        User.objects.filter(
            memberships__status=Membership.Status.APPROVED,
            memberships__role__in=STATE_STAFF_ROLES,
            memberships__organization__kind="state_agency",
            memberships__organization__state=report.state,
            memberships__organization__status="approved",
        )
        .distinct()
        .order_by("full_name")
    )
    return [("", "Nobody")] + [(p.pk, p.full_name or p.email) for p in people]


def _triage_form(report: IncidentReport, data: Any = None) -> TriageForm:
    form = TriageForm(
        data, initial={"phase": report.phase, "status": report.status, "assignee": report.assignee_id or ""}
    )
    form.fields["assignee"].choices = _staff_choices(report)  # type: ignore[attr-defined]
    return form


@vetted_required
def report_update_view(request: AuthedRequest, uuid: UUID) -> HttpResponse:
    """A supplemental update: the facts as they are now, and what is new."""
    report = _report_get(request, uuid)
    if report.is_draft:
        return redirect("incidents:step", uuid=report.uuid, step=1)
    if not services.can_write(request.user, report):
        raise PermissionDenied("Only members of the reporting organisation can update this report.")
    with _tz(report):
        if request.method != "POST":
            services.audit_read(request.user, report, "update form")
            form = UpdateForm(initial=initial_for(report, UpdateForm))
            return render(request, "incidents/report_update.html", {"report": report, "form": form})
        form = UpdateForm(request.POST, initial=initial_for(report, UpdateForm))
        status = 400
        if form.is_valid():
            data = facts(form)
            note = data.pop("note", "")
            try:
                update = services.report_update(
                    actor=request.user, report=report, data=data, note=note, revision=form.cleaned_data.get("revision")
                )
            except (ValidationError, PermissionDenied) as exc:
                apply_validation_error(form, exc)
                status = 409 if _stale(exc) else 400
            else:
                messages.success(request, f"Update {update.number} was added to the report.")
                return redirect("incidents:detail", uuid=report.uuid)
        return render(
            request,
            "incidents/report_update.html",
            {"report": report, "form": form, "stale": status == 409},
            status=status,
        )


@vetted_required
def report_classify_view(request: AuthedRequest, uuid: UUID) -> HttpResponse:
    report = _report_get(request, uuid)
    if not (services.can_write(request.user, report) or services.can_triage(request.user, report)):
        raise PermissionDenied("Only the reporting organisation and the state's staff can classify this report.")
    initial = {path.replace(".", "__"): values for path, values in (report.veris or {}).items()}
    initial["revision"] = report.revision
    if request.method != "POST":
        services.audit_read(request.user, report, "classification form")
        return render(
            request, "incidents/report_classify.html", {"report": report, "form": ClassifyForm(initial=initial)}
        )
    form = ClassifyForm(request.POST, initial=initial)
    if form.is_valid():
        try:
            services.report_classify(
                actor=request.user,
                report=report,
                classification=form.classification(),
                revision=form.cleaned_data.get("revision"),
            )
        except (ValidationError, PermissionDenied) as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, "The classification was saved.")
            return redirect("incidents:detail", uuid=report.uuid)
    return render(request, "incidents/report_classify.html", {"report": report, "form": form}, status=400)


# --- Files ------------------------------------------------------------------------------------------------


class AttachmentLimitHandler(FileUploadHandler):
    """Stops reading an upload the moment it passes the attachment limit (or at once when the declared
    length already does), so an oversized file is never written anywhere, not even to a temporary file."""

    def __init__(self, request: Any = None, limit: int = 0, refuse: bool = False) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.too_big = refuse

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        if self.too_big:
            raise StopUpload(connection_reset=False)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_big = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


# Room for the form's other fields and the multipart framing in a declared request length.
MULTIPART_OVERHEAD = 64 * 1024


@csrf_exempt
def attachment_upload(request: AuthedRequest, uuid: UUID) -> HttpResponse:
    """The limit is enforced while the body is read, which is before the CSRF check reads it: the
    handler goes in first, then the check runs as on every other form."""
    limit = services.attachment_limit()
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    handler = AttachmentLimitHandler(request, limit, refuse=declared > limit + MULTIPART_OVERHEAD)
    request.upload_handlers = [handler, *request.upload_handlers]
    return _attachment_upload(request, uuid, handler)


@csrf_protect
@vetted_required
@require_POST
def _attachment_upload(request: AuthedRequest, uuid: UUID, handler: AttachmentLimitHandler) -> HttpResponse:
    report = _report_get(request, uuid)
    files = request.FILES  # reads the body through the handler (the CSRF check may have already)
    if handler.too_big:
        form = AttachmentForm(request.POST)
        form.is_valid()
        form.errors.pop("file", None)
        form.add_error("file", services.too_big_message(handler.received if handler.received > handler.limit else None))
        return _upload_failed(request, report, form, status=413)
    form = AttachmentForm(request.POST, files)
    if form.is_valid():
        try:
            attachment = services.attachment_add(
                actor=request.user,
                report=report,
                upload=form.cleaned_data["file"],
                description=form.cleaned_data["description"],
            )
        except (ValidationError, PermissionDenied) as exc:
            apply_validation_error(form, exc)
        else:
            note = (
                " It is kept quarantined: it will only ever be downloaded, never opened."
                if attachment.quarantined
                else ""
            )
            messages.success(request, f"{attachment.name} was attached.{note}")
            if report.is_draft:
                return redirect("incidents:step", uuid=report.uuid, step=3)
            return redirect("incidents:detail", uuid=report.uuid)
    return _upload_failed(request, report, form, status=400)


def _upload_failed(request: AuthedRequest, report: IncidentReport, form: AttachmentForm, status: int) -> HttpResponse:
    if report.is_draft:
        with _tz(report):
            return _step_send(request, report, upload_form=form, status=status)
    return _render_detail(request, report, status=status, upload_form=form)


@vetted_required
def attachment_download(request: AuthedRequest, uuid: UUID, pk: int) -> HttpResponse:
    """Always a download, never inline; quarantined files as opaque bytes under a `.quarantined` name."""
    report = _report_get(request, uuid)
    attachment = get_object_or_404(ReportAttachment.objects.visible_to(request.user), report=report, pk=pk)
    services.audit_read(request.user, report, f"attachment {attachment.sha256[:16]}")
    name = attachment.name + (".quarantined" if attachment.quarantined else "")
    response: Any = FileResponse(
        attachment.file.open("rb"), as_attachment=True, filename=name, content_type="application/octet-stream"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "no-store"
    return response


# --- Exports ---------------------------------------------------------------------------------------------


def _download(body: bytes, name: str, content_type: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@vetted_required
def export_veris(request: AuthedRequest, uuid: UUID) -> HttpResponse:
    report = _report_get(request, uuid)
    services.audit_read(request.user, report, "VERIS export")
    body = json.dumps(veris.export_record(report), indent=2).encode()
    return _download(body, f"incident-{report.uuid}-veris.json", "application/json")


@vetted_required
def export_cisa(request: AuthedRequest, uuid: UUID) -> HttpResponse:
    report = _report_get(request, uuid)
    services.audit_read(request.user, report, "CISA export")
    body = json.dumps(exports.cisa_fields(report), indent=2).encode()
    return _download(body, f"incident-{report.uuid}-cisa.json", "application/json")


@vetted_required
def export_pdf(request: AuthedRequest, uuid: UUID) -> HttpResponse:
    report = _report_get(request, uuid)
    services.audit_read(request.user, report, "PDF summary")
    with _tz(report):
        body = exports.pdf_summary(
            report,
            updates=report.updates.visible_to(request.user).select_related("author"),
            attachments=ReportAttachment.objects.visible_to(request.user).filter(report=report),
        )
    return _download(body, f"incident-{report.uuid}.pdf", "application/pdf")


# --- Tasks, notes, triage -------------------------------------------------------------------------------


@vetted_required
@require_POST
def task_create_view(request: AuthedRequest, uuid: UUID) -> HttpResponse:
    report = _report_get(request, uuid)
    with _tz(report):
        form = TaskForm(request.POST)
        if form.is_valid():
            try:
                services.task_create(
                    actor=request.user,
                    report=report,
                    title=form.cleaned_data["title"],
                    detail=form.cleaned_data["detail"],
                    due_at=form.cleaned_data["due_at"],
                )
            except (ValidationError, PermissionDenied) as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, "The task was added.")
                return redirect("incidents:detail", uuid=report.uuid)
    return _render_detail(request, report, status=400, task_form=form)


@vetted_required
@require_POST
def task_close_view(request: AuthedRequest, uuid: UUID, pk: int) -> HttpResponse:
    report = _report_get(request, uuid)
    task = get_object_or_404(ReportTask.objects.visible_to(request.user), report=report, pk=pk)
    try:
        services.task_close(actor=request.user, task=task, status=request.POST.get("status", ""))
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    return redirect("incidents:detail", uuid=report.uuid)


@vetted_required
@require_POST
def note_add_view(request: AuthedRequest, uuid: UUID) -> HttpResponse:
    report = _report_get(request, uuid)
    if not services.can_triage(request.user, report):
        raise Http404  # the reporter never learns that notes exist
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            services.note_add(actor=request.user, report=report, text=form.cleaned_data["text"])
        except (ValidationError, PermissionDenied) as exc:
            apply_validation_error(form, exc)
        else:
            return redirect("incidents:detail", uuid=report.uuid)
    return _render_detail(request, report, status=400, note_form=form)


@vetted_required
@require_POST
def triage_view(request: AuthedRequest, uuid: UUID) -> HttpResponse:
    report = _report_get(request, uuid)
    if not services.can_triage(request.user, report):
        raise PermissionDenied("Only the state's analysts and liaisons can do this.")
    form = _triage_form(report, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        assignee = User.objects.filter(pk=data["assignee"]).first() if data["assignee"] else None
        try:
            services.report_triage(
                actor=request.user,
                report=report,
                phase=data["phase"],
                status=data["status"],
                assignee=assignee,
                unassign=data["assignee"] is None,
            )
        except (ValidationError, PermissionDenied) as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, "The case was updated.")
            return redirect("incidents:detail", uuid=report.uuid)
    return _render_detail(request, report, status=400, triage_form=form)


def sla_for(report: IncidentReport, now: Any) -> tuple[str, str]:
    if report.status != IncidentReport.Status.SUBMITTED or report.submitted_at is None:
        return "done", "Acknowledged"
    waited = now - report.submitted_at
    for limit, css, label in SLA_STEPS:
        if waited < limit:
            return css, label
    return "late", "Over 4 hours"


@vetted_required
def triage_console(request: AuthedRequest) -> HttpResponse:
    """The state's queue: submitted reports of the states the person is staff of."""
    viewer = viewer_for(request.user)
    if not viewer.is_state_staff:
        raise Http404
    form = QueueFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    reports = (
        IncidentReport.objects.visible_to(request.user)
        .filter(state__in=viewer.staff_states)
        .exclude(status=IncidentReport.Status.DRAFT)
        .select_related("organization__region", "assignee")
    )
    for name in ("status", "phase", "category"):
        if data.get(name):
            reports = reports.filter(**{name: data[name]})
    if data.get("mine"):
        reports = reports.filter(assignee=request.user)
    rows = list(reports.order_by("submitted_at")[:500])
    now = timezone.now()
    open_tasks = dict(
        ReportTask.objects.visible_to(request.user)
        .filter(report__in=[r.pk for r in rows], status=ReportTask.Status.OPEN, assigned_to=ReportTask.Side.STATE)
        .values_list("report_id")
        .annotate(n=Count("id"))
    )
    services.audit_list(request.user, len(rows), "triage queue")
    return render(
        request,
        "incidents/triage_console.html",
        {"form": form, "rows": [(r, *sla_for(r, now), open_tasks.get(r.pk, 0)) for r in rows]},
    )


# --- Warn peers -------------------------------------------------------------------------------------------


@vetted_required
def warn_peers_view(request: AuthedRequest, uuid: UUID) -> HttpResponse:
    report = _report_get(request, uuid)
    peers.author_org_for(request.user, report)
    if report.is_draft:
        messages.error(request, "Send the report to the state first.")
        return redirect("incidents:step", uuid=report.uuid, step=3)
    if request.method != "POST":
        services.audit_read(request.user, report, "warn-peers form")
        title, summary = peers.default_text(report)
        form = WarnPeersForm(initial={"title": title, "summary": summary, "carry_indicators": True})
        return render(request, "incidents/warn_peers.html", {"report": report, "form": form})
    form = WarnPeersForm(request.POST)
    preview = None
    if form.is_valid():
        preview = peers.preview(request.user, report, form.cleaned_data)
        if request.POST.get("action") == "create":
            try:
                with transaction.atomic():
                    alert = peers.warn_peers(actor=request.user, report=report, data=form.cleaned_data)
            except (ValidationError, PermissionDenied) as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, "The alert draft was created: check it and publish it to warn peers.")
                return redirect("sharing:edit", uuid=alert.uuid)
    return render(
        request,
        "incidents/warn_peers.html",
        {
            "report": report,
            "form": form,
            "preview": preview,
            "summary_html": render_markdown(preview.summary) if preview else "",
        },
        status=200 if form.is_valid() and not form.errors else 400,
    )
