"""Pages of the statutory clocks: the rules screen, a report's obligations (record a sending, send by
e-mail, waive), the resolution upload, an organisation's own overdue obligations, the state's
reporting health. Reads start from the read rules; what a person may not read is a 404."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db.models import BooleanField
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from commonguard.accounts.viewer import viewer_for
from commonguard.core.audit import audit_record
from commonguard.core.models import AuditEvent
from commonguard.incidents.services import audit_list, audit_read
from commonguard.orgs.states import STATES
from commonguard.statutes.forms import CloseForm, RecipientFormSet, ResolutionForm, RuleForm, SendingForm, state_label
from commonguard.statutes.models import GuardrailNotice, Obligation, ReportingRule, Sending
from commonguard.statutes.rules import rule_save, states_editable_by
from commonguard.statutes.selectors import (
    obligation_for,
    report_for,
    report_obligations,
    state_reporting_health,
)
from commonguard.statutes.services import (
    guardrail_attach_document,
    may_send,
    may_waive,
    obligation_close,
    obligation_record_sending,
    obligation_send_email,
)
from commonguard.web.decorators import vetted_required
from commonguard.web.errors import apply_validation_error, error_text
from commonguard.web.http import AuthedRequest

# --- Rules -------------------------------------------------------------------------------------


@vetted_required
def rule_list(request: AuthedRequest) -> HttpResponse:
    rules = ReportingRule.objects.visible_to(request.user).prefetch_related("recipients")
    editable = set(states_editable_by(request.user))
    groups: dict[str, list[ReportingRule]] = {}
    for rule in rules:
        groups.setdefault(rule.state, []).append(rule)
    states = [
        {"code": code, "name": state_label(code), "rules": groups[code], "editable": code in editable}
        for code in sorted(groups, key=lambda c: (c == "US", state_label(c)))
    ]
    return render(request, "statutes/rule_list.html", {"states": states, "may_create": bool(editable)})


def _rule_input(form: RuleForm, formset: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    data = dict(form.cleaned_data)
    data["guardrail"] = data.get("guardrail") or ""
    recipients = [
        {k: v for k, v in f.cleaned_data.items() if k != "DELETE"}
        for f in formset.forms
        if f.has_content() and not f.cleaned_data.get("DELETE")
    ]
    return data, recipients


@vetted_required
def rule_edit(request: AuthedRequest, pk: int | None = None) -> HttpResponse:
    rule = None
    if pk is not None:
        rule = ReportingRule.objects.visible_to(request.user).filter(pk=pk).first()
        if rule is None:
            raise Http404
    states = states_editable_by(request.user)
    may_edit = rule.state in states if rule is not None else bool(states)
    if not may_edit:
        if rule is None:
            raise Http404
        return render(request, "statutes/rule_detail.html", {"rule": rule, "state_name": state_label(rule.state)})
    initial: dict[str, Any] = {"enabled": True}
    recipients_initial: list[dict[str, Any]] = []
    if rule is not None:
        initial = {f: getattr(rule, f) for f in RuleForm.base_fields if f != "key"}
        recipients_initial = [
            {f: getattr(r, f) for f in ("name", "email", "portal_url", "phone", "duration", "unit")}
            for r in rule.recipients.all()
        ]
    form = RuleForm(request.POST or None, initial=initial, states=states, creating=rule is None)
    # Every row is cleaned, even one left as it was shown (all its fields are optional; empty rows drop).
    formset = RecipientFormSet(
        request.POST or None, initial=recipients_initial, prefix="recipients", form_kwargs={"empty_permitted": False}
    )
    if request.method == "POST":
        if form.is_valid() and formset.is_valid():
            data, recipients = _rule_input(form, formset)
            try:
                saved = rule_save(
                    actor=request.user,
                    rule=rule,
                    key=form.cleaned_data.get("key", ""),
                    data=data,
                    recipients=recipients,
                )
            except (ValidationError, PermissionDenied) as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, f"The rule “{saved.name}” ({saved.state}) is saved.")
                return redirect("statutes:rules")
        status = 400
    else:
        status = 200
    context = {"form": form, "formset": formset, "rule": rule}
    return render(request, "statutes/rule_form.html", context, status=status)


# --- A report's obligations --------------------------------------------------------------------


@vetted_required
def report_obligation_list(request: AuthedRequest, uuid: Any) -> HttpResponse:
    report = report_for(user=request.user, uuid=uuid)
    if report is None:
        raise Http404
    notices = GuardrailNotice.objects.visible_to(request.user).filter(report=report).select_related("rule")
    context = {
        "report": report,
        "obligations": report_obligations(user=request.user, report=report),
        "notices": notices,
        "resolution_form": ResolutionForm(),
        "may_upload": report.organization_id in viewer_for(request.user).org_ids,
    }
    audit_read(request.user, report, "obligations")
    return render(request, "statutes/report_obligations.html", context)


def _zone(obligation: Obligation) -> ZoneInfo:
    try:
        return ZoneInfo(obligation.report.organization.time_zone)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _obligation_or_404(request: AuthedRequest, pk: int) -> Obligation:
    obligation = obligation_for(user=request.user, pk=pk)
    if obligation is None:
        raise Http404
    return obligation


@vetted_required
def obligation_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    obligation = _obligation_or_404(request, pk)
    zone = _zone(obligation)
    may_send_it, may_close = may_send(request.user, obligation), may_waive(request.user, obligation)
    form = SendingForm(request.POST or None, initial={"sent_at": timezone.now().astimezone(zone).replace(tzinfo=None)})
    status = 200
    if request.method == "POST":
        if not may_send_it:
            raise PermissionDenied("Only the reporting organisation records its sendings.")
        with timezone.override(zone):
            valid = form.is_valid()
        if valid:
            data = form.cleaned_data
            try:
                obligation_record_sending(
                    actor=request.user,
                    obligation=obligation,
                    channel=data["channel"],
                    sent_at=data["sent_at"],
                    reference=data["reference"],
                    evidence=data["evidence"],
                )
            except (ValidationError, PermissionDenied) as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, f"Recorded: the report went to {obligation.recipient_name}. Thank you.")
                return redirect("statutes:obligation", pk=obligation.pk)
        status = 400
    closed = obligation.status in {Obligation.Status.WAIVED, Obligation.Status.NOT_APPLICABLE}
    context = {
        "obligation": obligation,
        "report": obligation.report,
        "sendings": Sending.objects.visible_to(request.user)
        .filter(obligation=obligation)
        .select_related("recorded_by"),
        "form": form if may_send_it and not closed else None,
        "close_form": CloseForm() if may_close and obligation.is_open else None,
        "may_email": may_send_it and bool(obligation.recipient_email) and not closed,
        "required": _required_facts(obligation),
        "zone": zone,
    }
    audit_read(request.user, obligation.report, f"obligation {obligation.pk}")
    return render(request, "statutes/obligation_detail.html", context, status=status)


def _required_facts(obligation: Obligation) -> list[dict[str, Any]]:
    if obligation.rule is None:
        return []
    report = obligation.report
    facts = []
    for name in obligation.rule.required_fields:
        try:
            field = report._meta.get_field(name)
        except FieldDoesNotExist:  # a rule may name a fact a later version of the report dropped
            continue
        value = getattr(report, name, None)
        # A yes/no fact is always answered; others must not be empty.
        given = isinstance(field, BooleanField) or value not in (None, "", [], {})
        facts.append({"label": str(getattr(field, "verbose_name", name)).capitalize(), "given": given})
    return facts


@require_POST
@vetted_required
def obligation_email(request: AuthedRequest, pk: int) -> HttpResponse:
    obligation = _obligation_or_404(request, pk)
    try:
        obligation_send_email(actor=request.user, obligation=obligation)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(
            request, f"Sent to {obligation.recipient_email} with the report as PDF and JSON; the message is kept."
        )
    return redirect("statutes:obligation", pk=obligation.pk)


@require_POST
@vetted_required
def obligation_close_view(request: AuthedRequest, pk: int) -> HttpResponse:
    obligation = _obligation_or_404(request, pk)
    form = CloseForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose waived or not applicable, and say why.")
        return redirect("statutes:obligation", pk=obligation.pk)
    try:
        obligation_close(
            actor=request.user,
            obligation=obligation,
            status=form.cleaned_data["status"],
            reason=form.cleaned_data["reason"],
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, "Saved.")
    return redirect("statutes:obligation", pk=obligation.pk)


@require_POST
@vetted_required
def guardrail_document(request: AuthedRequest, pk: int) -> HttpResponse:
    notice = GuardrailNotice.objects.visible_to(request.user).filter(pk=pk).select_related("report", "rule").first()
    if notice is None:
        raise Http404
    form = ResolutionForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose the file of the resolution or ordinance.")
    else:
        try:
            guardrail_attach_document(actor=request.user, notice=notice, upload=form.cleaned_data["document"])
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(request, "The resolution is attached to the report.")
    return redirect("statutes:report", uuid=notice.report.uuid)


# --- Overdue and health ------------------------------------------------------------------------


@vetted_required
def overdue_list(request: AuthedRequest) -> HttpResponse:
    obligations = list(
        Obligation.objects.overdue_shown_to(request.user)
        .select_related("report__organization")
        .order_by("report__organization__sort_name", "due_at")
    )
    audit_list(request.user, len({o.report_id for o in obligations}), "overdue obligations")
    return render(request, "statutes/overdue.html", {"obligations": obligations})


@vetted_required
def health(request: AuthedRequest, state: str) -> HttpResponse:
    if state.upper() not in STATES:
        raise Http404
    figures = state_reporting_health(user=request.user, state=state.upper())
    if figures is None:
        raise Http404
    # Aggregates over the state's reports: a read of reports too, kept with what was shown.
    audit_record(
        actor=request.user,
        action="incident.read.health",
        summary=f"{request.user.email} read the reporting health of {state.upper()}",
        kind=AuditEvent.Kind.READ,
        data={"state": state.upper()},
    )
    return render(request, "statutes/health.html", {"figures": figures, "state_name": state_label(state.upper())})
