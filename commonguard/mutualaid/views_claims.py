"""Pages for the end of a deployment (ADR 33): time and expense logs, release and debrief, the
after-action report, the reimbursement claim (page, PDF, CSV) and the coordinator's dashboard.

Each view: access (a `visible_to` read; absent and forbidden are the same 404), act (a service in
`claims.py`), respond."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils import timezone
from django.views.decorators.http import require_GET

from commonguard.core.tlp import TLP
from commonguard.mutualaid import claims, policies
from commonguard.mutualaid.dashboards import coordinator_dashboard
from commonguard.mutualaid.models import (
    Activity,
    AfterActionReport,
    AssistanceRequest,
    CostCategory,
    Demobilisation,
    Deployment,
    ExpenseLog,
    ReimbursementClaim,
)
from commonguard.web.decorators import vetted_required
from commonguard.web.errors import apply_validation_error, error_text
from commonguard.web.forms import Form
from commonguard.web.http import AuthedRequest

D = Deployment.Status


def _deployment_or_404(request: AuthedRequest, pk: int) -> Deployment:
    deployment = (
        Deployment.objects.visible_to(request.user)
        .select_related("responder", "responder__programme", "request", "request__requesting_org")
        .filter(pk=pk)
        .first()
    )
    if deployment is None:
        raise Http404
    return deployment


class TimeForm(Form):
    day = forms.DateField(label="Day (YYYY-MM-DD)", widget=forms.DateInput(attrs={"type": "date"}))
    activity = forms.ChoiceField(choices=Activity.choices)
    hours = forms.DecimalField(label="Hours", max_digits=4, decimal_places=2, min_value=0)
    note = forms.CharField(label="Note (optional)", max_length=300, required=False)


class ExpenseForm(Form):
    day = forms.DateField(label="Day (YYYY-MM-DD)", widget=forms.DateInput(attrs={"type": "date"}))
    category = forms.ChoiceField(choices=CostCategory.choices)
    amount = forms.DecimalField(label="Amount (US dollars)", max_digits=10, decimal_places=2)
    description = forms.CharField(label="What it was for", max_length=300)
    receipt = forms.FileField(label="Receipt (optional)", required=False)


@vetted_required
def deployment_logs(request: AuthedRequest, pk: int) -> HttpResponse:
    deployment = _deployment_or_404(request, pk)
    today = timezone.localdate()
    initial = {"day": min(today, deployment.ends_on)}
    action = request.POST.get("action") if request.method == "POST" else None
    time_form = TimeForm(request.POST if action == "time" else None, initial=initial, prefix="time")
    expense_form = ExpenseForm(
        request.POST if action == "expense" else None,
        request.FILES if action == "expense" else None,
        initial=initial,
        prefix="expense",
    )
    status = 200
    if action in ("time", "expense"):
        form = time_form if action == "time" else expense_form
        if form.is_valid():
            data = form.cleaned_data
            try:
                if action == "time":
                    claims.time_log(
                        actor=request.user,
                        deployment=deployment,
                        day=data["day"],
                        hours=data["hours"],
                        activity=data["activity"],
                        note=data["note"],
                    )
                else:
                    claims.expense_log(
                        actor=request.user,
                        deployment=deployment,
                        day=data["day"],
                        category=data["category"],
                        amount=data["amount"],
                        description=data["description"],
                        receipt=data.get("receipt"),
                    )
            except (ValidationError, PermissionDenied) as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, "Hours logged." if action == "time" else "Expense logged.")
                return redirect("mutualaid:deployment-logs", pk=deployment.pk)
        status = 400
    return render(
        request,
        "mutualaid/claims/logs.html",
        {
            "d": deployment,
            "time_logs": deployment.time_logs.visible_to(request.user),
            "expense_logs": deployment.expense_logs.visible_to(request.user),
            "time_form": time_form,
            "expense_form": expense_form,
            "can_log": claims.can_log(request.user, deployment) and deployment.status in claims.LOGGABLE,
            "claim": ReimbursementClaim.objects.visible_to(request.user).filter(deployment=deployment).first(),
        },
        status=status,
    )


@vetted_required
@require_GET
def receipt_download(request: AuthedRequest, pk: int) -> HttpResponse:
    """Always a download, never inline; quarantined receipts as opaque bytes under a `.quarantined` name."""
    expense = ExpenseLog.objects.visible_to(request.user).filter(pk=pk).exclude(receipt="").first()
    if expense is None:
        raise Http404
    name = expense.receipt_name + (".quarantined" if expense.receipt_quarantined else "")
    response: Any = FileResponse(
        expense.receipt.open("rb"), as_attachment=True, filename=name, content_type="application/octet-stream"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "no-store"
    return response


class ReleaseForm(Form):
    access_removed = forms.BooleanField(
        label="The requester removed the responder's accounts, VPN access and badges", required=False
    )
    equipment_returned = forms.BooleanField(label="Loaned equipment and evidence media are returned", required=False)
    handover_notes = forms.CharField(
        widget=forms.Textarea, label="Handover notes (what is done, what is open, who holds it now)", required=False
    )


class DebriefForm(Form):
    debrief_notes = forms.CharField(widget=forms.Textarea, label="What the responder reported at the debrief")


@vetted_required
def deployment_release(request: AuthedRequest, pk: int) -> HttpResponse:
    deployment = _deployment_or_404(request, pk)
    action = request.POST.get("action") if request.method == "POST" else None
    release_form = ReleaseForm(request.POST if action == "release" else None)
    debrief_form = DebriefForm(request.POST if action == "debrief" else None)
    status = 200
    if action == "release" and release_form.is_valid():
        data = release_form.cleaned_data
        try:
            claims.release(
                actor=request.user,
                deployment=deployment,
                access_removed=data["access_removed"],
                equipment_returned=data["equipment_returned"],
                handover_notes=data["handover_notes"],
            )
        except (ValidationError, PermissionDenied) as exc:
            apply_validation_error(release_form, exc)
        else:
            messages.success(request, f"{deployment.responder.full_name} is released.")
            return redirect("mutualaid:deployment-release", pk=deployment.pk)
        status = 400
    elif action == "debrief" and debrief_form.is_valid():
        try:
            claims.debrief(actor=request.user, deployment=deployment, notes=debrief_form.cleaned_data["debrief_notes"])
        except (ValidationError, PermissionDenied) as exc:
            apply_validation_error(debrief_form, exc)
        else:
            messages.success(request, "The debrief is recorded.")
            return redirect("mutualaid:deployment-release", pk=deployment.pk)
        status = 400
    elif action is not None:
        status = 400
    return render(
        request,
        "mutualaid/claims/release.html",
        {
            "d": deployment,
            "demob": Demobilisation.objects.visible_to(request.user).filter(deployment=deployment).first(),
            "release_form": release_form,
            "debrief_form": debrief_form,
            "can_coordinate": policies.can_coordinate(request.user, deployment.responder.programme_id),
            "under_way": deployment.status in Deployment.UNDER_WAY,
        },
        status=status,
    )


# --- Claims ------------------------------------------------------------------------------------------


def _claim_or_404(request: AuthedRequest, pk: int) -> tuple[Deployment, ReimbursementClaim | None]:
    deployment = _deployment_or_404(request, pk)
    claim = ReimbursementClaim.objects.visible_to(request.user).filter(deployment=deployment).first()
    return deployment, claim


# The claim page's buttons, by the status they move to.
MOVE_LABELS: dict[str, str] = {
    ReimbursementClaim.Status.SUBMITTED: "Submit the claim",
    ReimbursementClaim.Status.REVIEWED: "Mark reviewed",
    ReimbursementClaim.Status.APPROVED: "Approve",
    ReimbursementClaim.Status.PAID: "Mark paid",
    ReimbursementClaim.Status.WAIVED: "Waive the claim",
    ReimbursementClaim.Status.COLLECTING: "Return for correction",
}


@vetted_required
def claim_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    deployment, claim = _claim_or_404(request, pk)
    if request.method == "POST":
        to = request.POST.get("to", "")
        try:
            if to == "assemble":
                claim = claims.claim_assemble(actor=request.user, deployment=deployment)
                messages.success(request, f"Claim {claim.number} assembled from the logs.")
            else:
                if claim is None:
                    raise Http404
                claim = claims.claim_transition(
                    actor=request.user, claim=claim, to=to, note=request.POST.get("note", "")
                )
                messages.success(request, f"Claim {claim.number} is now {claim.get_status_display().lower()}.")
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, error_text(exc))
        return redirect("mutualaid:claim", pk=deployment.pk)
    can_coordinate = policies.can_coordinate(request.user, deployment.responder.programme_id)
    can_review = claims.can_review(request.user, deployment)
    moves: list[tuple[str, str]] = []
    if claim is not None:
        for to in claims.CLAIM_TRANSITIONS[claim.status]:
            mine = can_coordinate if to in claims.PROVIDER_MOVES else can_review
            if mine:
                moves.append((to, MOVE_LABELS[to]))
        moves.sort(key=lambda m: list(ReimbursementClaim.Status.values).index(m[0]))
    context = {
        "d": deployment,
        "claim": claim,
        "can_coordinate": can_coordinate,
        "moves": moves,
        "needs_note": any(m[0] == ReimbursementClaim.Status.COLLECTING for m in moves),
    }
    if claim is not None:
        context.update(claims.claim_context(claim))
    return render(request, "mutualaid/claims/claim.html", context)


def _download(body: bytes | str, name: str, content_type: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@vetted_required
@require_GET
def claim_pdf(request: AuthedRequest, pk: int) -> HttpResponse:
    _, claim = _claim_or_404(request, pk)
    if claim is None:
        raise Http404
    return _download(claims.claim_pdf(claim), f"{claim.number}.pdf", "application/pdf")


@vetted_required
@require_GET
def claim_csv(request: AuthedRequest, pk: int) -> HttpResponse:
    _, claim = _claim_or_404(request, pk)
    if claim is None:
        raise Http404
    return _download(claims.claim_csv(claim), f"{claim.number}.csv", "text/csv; charset=utf-8")


# --- After-action reports -----------------------------------------------------------------------------


class AfterActionForm(Form):
    title = forms.CharField(max_length=200)
    timeline = forms.CharField(widget=forms.Textarea, label="Timeline")
    what_worked = forms.CharField(widget=forms.Textarea, label="What worked")
    what_to_change = forms.CharField(widget=forms.Textarea, label="What to change")


@vetted_required
def aar_new(request: AuthedRequest, pk: int) -> HttpResponse:
    aid = AssistanceRequest.objects.visible_to(request.user).select_related("requesting_org").filter(pk=pk).first()
    if aid is None:
        raise Http404
    form = AfterActionForm(request.POST or None, initial=claims.aar_template(aid))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                report = claims.aar_create(
                    actor=request.user, request=aid, data=claims.AfterActionInput(**form.cleaned_data)
                )
            except (ValidationError, PermissionDenied) as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, "The after-action report is saved.")
                return redirect("mutualaid:aar", pk=report.pk)
        status = 400
    return render(request, "mutualaid/claims/aar_new.html", {"aid": aid, "form": form}, status=status)


class PublishForm(Form):
    tlp = forms.ChoiceField(choices=TLP.choices, label="TLP label in the library", initial=TLP.AMBER)


@vetted_required
def aar_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    report = (
        AfterActionReport.objects.visible_to(request.user)
        .select_related("request__requesting_org", "author_org", "library_resource")
        .filter(pk=pk)
        .first()
    )
    if report is None:
        raise Http404
    form = PublishForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                claims.aar_publish(actor=request.user, report=report, tlp=form.cleaned_data["tlp"])
            except (ValidationError, PermissionDenied) as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, "Published to the library.")
                return redirect("mutualaid:aar", pk=report.pk)
        status = 400
    from commonguard.accounts.viewer import viewer_for

    return render(
        request,
        "mutualaid/claims/aar.html",
        {"report": report, "form": form, "can_publish": report.author_org_id in viewer_for(request.user).org_ids},
        status=status,
    )


# --- The coordinator's dashboard ---------------------------------------------------------------------


@vetted_required
@require_GET
def dashboard(request: AuthedRequest) -> HttpResponse:
    board = coordinator_dashboard(request.user, timezone.localdate())
    config = {"data": board.map_json(), "atlas_url": static("atlas/counties-10m.json")}
    return render(request, "mutualaid/claims/dashboard.html", {"board": board, "config": config})
