"""Pages for what a recipient does with an alert beyond reading it: questions to the author,
forwarding to a colleague, the version history. Access, act, respond: the alert is read through
`visible_to` (a hidden one is the same 404 as a missing one), every write through a service."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from commonguard.core.text import render_markdown
from commonguard.core.tlp import TLP
from commonguard.orgs.models import Organization
from commonguard.sharing import forwarding, history, questions
from commonguard.sharing.models import Alert, Question
from commonguard.sharing.recipient_forms import AskForm, ForwardForm, ReplyForm
from commonguard.sharing.services import author_label
from commonguard.web.decorators import vetted_required
from commonguard.web.errors import error_text, form_errors_text, set_choices
from commonguard.web.http import AuthedRequest


def _alert_get(request: AuthedRequest, uuid: UUID) -> Alert:
    return get_object_or_404(
        Alert.objects.visible_to(request.user).select_related("author_org__region", "author"), uuid=uuid
    )


def _back(alert: Alert, anchor: str) -> HttpResponse:
    return redirect(reverse("sharing:alert", kwargs={"uuid": alert.uuid}) + f"#{anchor}")


def detail_context(request: AuthedRequest, alert: Alert) -> dict[str, Any]:
    """What the alert page shows of questions, forwarding and history to this person."""
    threads = questions.threads_for(request.user, alert)
    ask_form = None
    if alert.status in questions.OPEN_FOR_QUESTIONS:
        orgs = questions.asking_organizations(request.user, alert)
        if orgs:
            ask_form = AskForm(prefix="ask")
            set_choices(ask_form, "organization", [(o.pk, o.name) for o in orgs])
    forward_form = None
    if alert.tlp != TLP.RED and alert.status in forwarding.FORWARDABLE:
        forward_form = ForwardForm(prefix="forward")
    return {
        "threads": [(t, ReplyForm(prefix=f"reply-{t.question.pk}")) for t in threads],
        "ask_form": ask_form,
        "author_known": questions.knows_author(alert, request.user),
        "forward_form": forward_form,
        "forward_rule": "Anyone, by e-mail: TLP:CLEAR is public."
        if alert.tlp == TLP.CLEAR
        else forwarding.RULES.get(TLP(alert.tlp), forwarding.RED_REFUSED),
    }


@vetted_required
@require_POST
def question_ask_view(request: AuthedRequest, uuid: UUID) -> HttpResponse:
    alert = _alert_get(request, uuid)
    form = AskForm(request.POST, prefix="ask")
    set_choices(form, "organization", [(o.pk, o.name) for o in questions.asking_organizations(request.user, alert)])
    if not form.is_valid():
        messages.error(request, "Your question was not sent: " + form_errors_text(form))
        return _back(alert, "questions")
    organization = Organization.objects.get(pk=form.cleaned_data["organization"])
    try:
        question = questions.question_ask(
            actor=request.user, alert=alert, organization=organization, body=form.cleaned_data["body"]
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, "Your question was not sent: " + error_text(exc))
        return _back(alert, "questions")
    messages.success(request, "Your question is sent to the author. You will get an e-mail when they answer.")
    return _back(alert, f"question-{question.pk}")


@vetted_required
@require_POST
def question_reply_view(request: AuthedRequest, uuid: UUID, pk: int) -> HttpResponse:
    alert = _alert_get(request, uuid)
    question = get_object_or_404(Question.objects.visible_to(request.user).filter(alert=alert), pk=pk)
    form = ReplyForm(request.POST, prefix=f"reply-{question.pk}")
    if not form.is_valid():
        messages.error(request, "Your reply was not sent: " + form_errors_text(form))
        return _back(alert, f"question-{question.pk}")
    try:
        questions.question_reply(actor=request.user, question=question, body=form.cleaned_data["body"])
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, "Your reply was not sent: " + error_text(exc))
    else:
        messages.success(request, "Your reply is sent.")
    return _back(alert, f"question-{question.pk}")


@vetted_required
@require_POST
def alert_forward_view(request: AuthedRequest, uuid: UUID) -> HttpResponse:
    alert = _alert_get(request, uuid)
    form = ForwardForm(request.POST, prefix="forward")
    if not form.is_valid():
        messages.error(request, "Not forwarded: " + form_errors_text(form))
        return _back(alert, "forward")
    try:
        address = forwarding.alert_forward(
            actor=request.user, alert=alert, email=form.cleaned_data["email"], note=form.cleaned_data["note"]
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, "Not forwarded: " + error_text(exc))
    else:
        messages.success(request, f"The alert is on its way to {address}.")
    return _back(alert, "forward")


@vetted_required
@require_GET
def alert_history(request: AuthedRequest, uuid: UUID) -> HttpResponse:
    alert = _alert_get(request, uuid)
    versions, withheld = history.versions_for(request.user, alert)
    rows = [
        (
            v,
            render_markdown(v.snapshot.get("summary", "")) if v.changes is None else "",
        )
        for v in versions
    ]
    return render(
        request,
        "sharing/alert_history.html",
        {
            "alert": alert,
            "tlp_label": TLP(alert.tlp).label,
            "author": author_label(alert, request.user),
            "rows": rows,
            "withheld": withheld,
        },
    )
