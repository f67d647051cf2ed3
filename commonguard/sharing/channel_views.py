"""How alerts reach people and organisations: a person's preferences, the e-mail unsubscribe link,
an organisation's webhooks with their dead letters, and the live feed's stream (live.py)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from commonguard.accounts.models import User
from commonguard.orgs.models import Organization
from commonguard.sharing import webhooks as hooks
from commonguard.sharing.delivery import unsubscribe_user_id
from commonguard.sharing.forms import PreferencesForm, WebhookForm
from commonguard.sharing.models import Delivery, Webhook
from commonguard.sharing.preferences import PREFERENCE_FIELDS, preference_for, preferences_save, unsubscribe
from commonguard.web.decorators import vetted_required
from commonguard.web.errors import apply_validation_error, error_text
from commonguard.web.http import AuthedRequest

DEAD_LETTERS_SHOWN = 50


@vetted_required
@require_http_methods(["GET", "POST"])
def preferences(request: AuthedRequest) -> HttpResponse:
    current = preference_for(request.user)
    initial = {field: getattr(current, field) for field in PREFERENCE_FIELDS}
    form = PreferencesForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            preferences_save(actor=request.user, data=form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, "Your alert preferences are saved.")
            return redirect("sharing:preferences")
    admin_orgs = hooks.administered(request.user).order_by("sort_name")
    return render(request, "sharing/preferences.html", {"form": form, "admin_orgs": admin_orgs})


@csrf_exempt  # RFC 8058 one-click: mail clients POST without a session; the signed token is the proof
@require_http_methods(["GET", "POST"])
def unsubscribe_view(request: HttpRequest, token: str) -> HttpResponse:
    """The link in every alert e-mail. GET asks, POST stops alert e-mails; no sign-in needed, the
    signed token names the person. A bad token gets the same page as an expired one."""
    user_id = unsubscribe_user_id(token)
    user = User.objects.filter(pk=user_id, is_active=True).first() if user_id else None
    if user is None:
        return render(request, "sharing/unsubscribe.html", {"invalid": True}, status=404)
    if request.method == "POST":
        unsubscribe(user=user)
        return render(request, "sharing/unsubscribe.html", {"done": True})
    return render(request, "sharing/unsubscribe.html", {"token": token})


def _admin_org(request: AuthedRequest, org_id: int) -> Organization:
    """An organisation the person is an admin of; anyone else gets the same 404 as a missing one."""
    return get_object_or_404(hooks.administered(request.user), pk=org_id)


def _webhook(request: AuthedRequest, org: Organization, pk: int) -> Webhook:
    return get_object_or_404(Webhook.objects.visible_to(request.user), pk=pk, organization=org)


@vetted_required
@require_http_methods(["GET", "POST"])
def webhook_list(request: AuthedRequest, org_id: int) -> HttpResponse:
    org = _admin_org(request, org_id)
    form = WebhookForm(request.POST or None, initial={"max_tlp": "green", "min_severity": "low", "active": True})
    if request.method == "POST" and form.is_valid():
        try:
            data = dict(form.cleaned_data)
            webhook = hooks.webhook_save(actor=request.user, organization=org, webhook=None, data=data)
        except (ValidationError, PermissionDenied) as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"Webhook “{webhook.name}” added. Its signing secret is shown below.")
            return redirect("sharing:webhook", org_id=org.pk, pk=webhook.pk)
    webhooks = list(Webhook.objects.visible_to(request.user).filter(organization=org))
    dead = (
        Delivery.objects.filter(webhook__in=webhooks, status__in=[Delivery.Status.DEAD, Delivery.Status.FAILED])
        .select_related("alert", "webhook")
        .order_by("-created_at")[:DEAD_LETTERS_SHOWN]
    )
    return render(
        request,
        "sharing/webhooks.html",
        {"org": org, "webhooks": webhooks, "form": form, "dead": dead},
        status=400 if form.errors else 200,
    )


@vetted_required
@require_http_methods(["GET", "POST"])
def webhook_detail(request: AuthedRequest, org_id: int, pk: int) -> HttpResponse:
    org = _admin_org(request, org_id)
    webhook = _webhook(request, org, pk)
    initial = {field: getattr(webhook, field) for field in hooks.WEBHOOK_FIELDS}
    form = WebhookForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            hooks.webhook_save(actor=request.user, organization=org, webhook=webhook, data=dict(form.cleaned_data))
        except (ValidationError, PermissionDenied) as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, "Webhook saved.")
            return redirect("sharing:webhook", org_id=org.pk, pk=webhook.pk)
    recent = webhook.deliveries.select_related("alert").order_by("-created_at")[:DEAD_LETTERS_SHOWN]
    return render(
        request,
        "sharing/webhook_detail.html",
        {"org": org, "webhook": webhook, "form": form, "recent": recent},
        status=400 if form.errors else 200,
    )


@vetted_required
@require_POST
def webhook_action(request: AuthedRequest, org_id: int, pk: int, action: str) -> HttpResponse:
    """Rotate the secret, remove the webhook, or send its dead letters again."""
    org = _admin_org(request, org_id)
    webhook = _webhook(request, org, pk)
    try:
        if action == "rotate":
            hooks.webhook_rotate_secret(actor=request.user, webhook=webhook)
            messages.success(request, "New signing secret made: give it to the receiving system.")
        elif action == "delete":
            hooks.webhook_delete(actor=request.user, webhook=webhook)
            messages.success(request, f"Webhook “{webhook.name}” removed.")
            return redirect("sharing:webhooks", org_id=org.pk)
        elif action == "redeliver":
            ids = [int(v) for v in request.POST.getlist("delivery")[:500] if v.isdigit()] or None
            count = hooks.webhook_redeliver(actor=request.user, webhook=webhook, delivery_ids=ids)
            messages.success(request, f"{count} delivery(ies) queued again.")
        else:
            raise ValidationError("Unknown action.")
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    if request.POST.get("next") == "list":
        return redirect("sharing:webhooks", org_id=org.pk)
    return redirect("sharing:webhook", org_id=org.pk, pk=webhook.pk)
