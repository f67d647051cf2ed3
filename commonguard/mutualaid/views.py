"""Mutual-aid pages: the overview (who I can call on today, open requests, expiring credentials),
agreements, the roster, team packages, requests with their ranked matches, and deployments.

Each view: access (a `visible_to` read; absent and forbidden are the same 404), act (a service),
respond."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from commonguard.accounts.viewer import viewer_for
from commonguard.mutualaid import offers, policies, selectors, services
from commonguard.mutualaid.matching import match_request
from commonguard.mutualaid.models import (
    AssistanceRequest,
    Credential,
    Deployment,
    Responder,
    Skill,
    TeamPackage,
)
from commonguard.mutualaid.querysets import coordinator_org_ids
from commonguard.mutualaid.views_manage import administrator_choices, may_add_responder, may_create_team
from commonguard.mutualaid.views_offers import deployment_offer_context, request_offers_context
from commonguard.orgs.models import Organization
from commonguard.web.decorators import vetted_required
from commonguard.web.errors import apply_validation_error, error_text, set_choices
from commonguard.web.forms import Form
from commonguard.web.http import AuthedRequest


@vetted_required
def overview(request: AuthedRequest) -> HttpResponse:
    viewer = viewer_for(request.user)
    today = timezone.localdate()
    my_orgs = list(Organization.objects.filter(pk__in=list(viewer.org_ids)).order_by("sort_name"))
    neighbours = [(org, selectors.neighbours_on_call(request.user, org, today)) for org in my_orgs]
    open_requests = (
        AssistanceRequest.objects.visible_to(request.user)
        .filter(status=AssistanceRequest.Status.OPEN)
        .select_related("requesting_org")[:20]
    )
    coordinated = coordinator_org_ids(viewer)
    expiring = (
        Credential.objects.filter(
            responder__programme_id__in=coordinated,
            responder__status__in=[Responder.Status.ACTIVE, Responder.Status.INACTIVE],
            expires_on__lte=today + timedelta(days=30),
        )
        .select_related("responder")
        .order_by("expires_on")[:50]
        if coordinated
        else []
    )
    deployed = (
        Deployment.objects.visible_to(request.user)
        .filter(status__in=Deployment.UNDER_WAY)
        .select_related("responder", "request__requesting_org")[:50]
    )
    return render(
        request,
        "mutualaid/overview.html",
        {
            "neighbours": neighbours,
            "open_requests": open_requests,
            "expiring": expiring,
            "deployed": deployed,
            "is_coordinator": bool(coordinated),
            "today": today,
            "overdue_paperwork": offers.overdue_paperwork(request.user, today),
        },
    )


@vetted_required
def agreement_list(request: AuthedRequest) -> HttpResponse:
    return render(
        request,
        "mutualaid/agreement_list.html",
        {"agreements": selectors.agreement_list(request.user), "can_draw": bool(administrator_choices(request))},
    )


@vetted_required
def agreement_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    agreement = selectors.agreement_list(request.user).prefetch_related("documents").filter(pk=pk).first()
    if agreement is None:
        raise Http404
    return render(
        request,
        "mutualaid/agreement_detail.html",
        {"agreement": agreement, "in_force": agreement.in_force_on(timezone.localdate())},
    )


@vetted_required
def responder_list(request: AuthedRequest) -> HttpResponse:
    skills = list(Skill.objects.all())
    skill = request.GET.get("skill", "")
    responders = selectors.responder_list(request.user)
    if skill:
        responders = responders.filter(skills__slug=skill)
    return render(
        request,
        "mutualaid/responder_list.html",
        {"responders": responders[:500], "skills": skills, "skill": skill, "can_add": may_add_responder(request)},
    )


@vetted_required
def responder_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    view = selectors.responder_detail(request.user, pk)
    if view is None:
        raise Http404
    if request.method == "POST":
        # A coordinator moves the responder along onboarding (the service refuses anyone else).
        to = request.POST.get("to", "")
        try:
            services.responder_transition(actor=request.user, responder=view.responder, to=to)
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(request, f"{view.responder.full_name} is now {Responder.Status(to).label.lower()}.")
        return redirect("mutualaid:responder", pk=pk)
    next_statuses = [
        (status, Responder.Status(status).label)
        for status in Responder.Status.values
        if status in services.TRANSITIONS[view.responder.status]
    ]
    return render(
        request,
        "mutualaid/responder_detail.html",
        {
            "r": view.responder,
            "private": view.private,
            "today": timezone.localdate(),
            "can_coordinate": policies.can_coordinate(request.user, view.responder.programme_id),
            "next_statuses": next_statuses,
        },
    )


@vetted_required
def team_list(request: AuthedRequest) -> HttpResponse:
    teams = TeamPackage.objects.visible_to(request.user).select_related("provider").prefetch_related("capabilities")
    return render(request, "mutualaid/team_list.html", {"teams": teams, "can_create": may_create_team(request)})


class RequestForm(Form):
    requesting_org = forms.TypedChoiceField(label="For", coerce=int)
    title = forms.CharField(max_length=200, label="What you need, in a few words")
    description = forms.CharField(widget=forms.Textarea, label="The situation and the work")
    skills = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, label="Skills needed")
    mode = forms.ChoiceField(choices=AssistanceRequest.Mode.choices, label="On-site or remote")
    starts_on = forms.DateField(label="From (YYYY-MM-DD)", widget=forms.DateInput(attrs={"type": "date"}))
    duration_days = forms.IntegerField(label="For how many days", min_value=1, max_value=90, initial=7)
    headcount = forms.IntegerField(label="How many people", min_value=1, max_value=100, initial=1)
    priority = forms.ChoiceField(choices=AssistanceRequest.Priority.choices, initial=AssistanceRequest.Priority.HIGH)
    support_provided = forms.CharField(widget=forms.Textarea, required=False, label="Support you will provide")
    safety_notes = forms.CharField(widget=forms.Textarea, required=False, label="Safety and data-handling notes")
    report = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, orgs: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "requesting_org", orgs)
        set_choices(self, "skills", [(s.slug, s.name) for s in Skill.objects.order_by("name")])
        self.fields["skills"].widget.attrs["class"] = "usa-checkbox__input"


def _requesting_orgs(request: AuthedRequest) -> list[tuple[int, str]]:
    viewer = viewer_for(request.user)
    ids = [org for org in viewer.org_ids if policies.can_request_for(request.user, org)]
    return list(Organization.objects.filter(pk__in=ids).order_by("sort_name").values_list("pk", "name"))


# What an incident's category usually needs: the request form's first guess, which the requester edits.
SKILLS_FOR_CATEGORY = {
    "ransomware": ["ransomware-recovery", "forensics", "backup-restore", "ad-rebuild"],
    "bec": ["email", "forensics", "identity"],
    "account_compromise": ["identity", "cloud", "threat-hunting"],
    "malware": ["malware-analysis", "endpoint", "forensics"],
    "data_breach": ["forensics", "legal", "pio"],
    "denial_of_service": ["network"],
    "web_defacement": ["forensics", "network"],
    "insider": ["forensics", "legal"],
}


def _report_for_help(request: AuthedRequest, value: Any) -> Any:
    """The incident report a request for help comes from: one the person may read (else none, as if absent)."""
    from commonguard.incidents.models import IncidentReport

    if not value:
        return None
    try:
        return IncidentReport.objects.visible_to(request.user).filter(uuid=value).first()
    except (ValueError, ValidationError):
        return None


def _linked_report(request: AuthedRequest, aid: AssistanceRequest) -> Any:
    """The report a request came from, only when the person may read it (never loaded otherwise)."""
    from commonguard.incidents.models import IncidentReport

    if aid.incident_report_id is None:
        return None
    return IncidentReport.objects.visible_to(request.user).filter(pk=aid.incident_report_id).first()


def _from_report(report: Any) -> dict[str, Any]:
    said = report.help_wanted.strip() or "Help to contain the incident and recover."
    return {
        "requesting_org": report.organization_id,
        "title": f"Help with: {report.title}"[:200] if report.title else "Help with an incident",
        "description": f"{said}\n\n(From our incident report of {report.created_at:%Y-%m-%d}.)",
        "skills": SKILLS_FOR_CATEGORY.get(report.category, []),
        "priority": AssistanceRequest.Priority.HIGH,
        "report": report.uuid,
    }


@vetted_required
def request_list(request: AuthedRequest) -> HttpResponse:
    orgs = _requesting_orgs(request)
    initial: dict[str, Any] = {"starts_on": timezone.localdate()}
    from_report = _report_for_help(request, request.GET.get("report")) if request.method == "GET" else None
    if from_report is not None:
        initial.update(_from_report(from_report))
    form = RequestForm(request.POST or None, orgs=orgs, initial=initial) if orgs else None
    if request.method == "POST" and form is not None:
        if form.is_valid():
            data = form.cleaned_data
            try:
                aid = services.request_create(
                    actor=request.user,
                    data=services.RequestInput(
                        requesting_org=Organization.objects.get(pk=data["requesting_org"]),
                        title=data["title"],
                        description=data["description"],
                        skills=data["skills"],
                        starts_on=data["starts_on"],
                        duration_days=data["duration_days"],
                        mode=data["mode"],
                        headcount=data["headcount"],
                        priority=data["priority"],
                        support_provided=data["support_provided"],
                        safety_notes=data["safety_notes"],
                        incident_report=_report_for_help(request, data.get("report")),
                    ),
                )
            except (ValidationError, PermissionDenied) as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, "Your request is open. Coordinators can now propose responders.")
                return redirect("mutualaid:request", pk=aid.pk)
        status = 400
    else:
        status = 200
    requests = AssistanceRequest.objects.visible_to(request.user).select_related("requesting_org")[:200]
    return render(
        request,
        "mutualaid/request_list.html",
        {"requests": requests, "form": form, "from_report": from_report},
        status=status,
    )


def _request_or_404(request: AuthedRequest, pk: int) -> AssistanceRequest:
    aid = AssistanceRequest.objects.visible_to(request.user).select_related("requesting_org").filter(pk=pk).first()
    if aid is None:
        raise Http404
    return aid


@vetted_required
def request_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    aid = _request_or_404(request, pk)
    if request.method == "POST":
        responder = Responder.objects.visible_to(request.user).filter(pk=request.POST.get("responder")).first()
        if responder is None:
            raise Http404
        try:
            services.deployment_propose(actor=request.user, request=aid, responder=responder)
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(request, f"{responder.full_name} is proposed; they accept or decline in writing.")
        return redirect("mutualaid:request", pk=aid.pk)
    coordinated = coordinator_org_ids(viewer_for(request.user))
    # Only an open request is matched (the matcher refuses the others).
    result = match_request(aid, user=request.user) if aid.status == AssistanceRequest.Status.OPEN else None
    deployments = Deployment.objects.visible_to(request.user).filter(request=aid).select_related("responder")
    return render(
        request,
        "mutualaid/request_detail.html",
        {
            "aid": aid,
            "result": result,
            "coordinated": coordinated,
            "deployments": deployments,
            "skills": aid.skills.all(),
            # The report it came from, named only to those who may read the report.
            "incident_report": _linked_report(request, aid),
            **request_offers_context(request, aid),
        },
    )


class SignatureForm(Form):
    signature = forms.CharField(label="Type your full name to sign", max_length=150)


@vetted_required
def deployment_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    deployment = (
        Deployment.objects.visible_to(request.user)
        .select_related("responder", "request__requesting_org", "responder__programme")
        .filter(pk=pk)
        .first()
    )
    if deployment is None:
        raise Http404
    form = SignatureForm(request.POST or None)
    if request.method == "POST":
        to = request.POST.get("to", "")
        extend_to = request.POST.get("extend_to") or None
        if to in (Deployment.Status.RELEASED, Deployment.Status.DEBRIEFED):
            # Release and debrief go through the demobilisation checklist (ADR 33), never a bare button.
            messages.error(request, "Release and debrief the responder on the release page (the checklist).")
            return redirect("mutualaid:deployment-release", pk=deployment.pk)
        try:
            services.deployment_transition(
                actor=request.user,
                deployment=deployment,
                to=to,
                signature=request.POST.get("signature", ""),
                emergency=request.POST.get("emergency") == "1",
                extend_to=date.fromisoformat(extend_to) if extend_to else None,
            )
        except (ValidationError, PermissionDenied, ValueError) as exc:
            if isinstance(exc, ValueError):
                exc = ValidationError("Enter the new end date as YYYY-MM-DD.")
            messages.error(request, error_text(exc))
        else:
            messages.success(request, f"The deployment is now {Deployment.Status(to).label.lower()}.")
        return redirect("mutualaid:deployment", pk=deployment.pk)
    is_responder = deployment.responder.user_id == request.user.pk
    can_coordinate = policies.can_coordinate(request.user, deployment.responder.programme_id)
    allowed = services.DEPLOYMENT_TRANSITIONS[deployment.status]
    return render(
        request,
        "mutualaid/deployment_detail.html",
        {
            "d": deployment,
            "form": form,
            "is_responder": is_responder,
            "can_coordinate": can_coordinate,
            "allowed": allowed,
            "S": Deployment.Status,
            **deployment_offer_context(request, deployment),
        },
    )
