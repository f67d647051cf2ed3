"""Threat alert pages: the feed, an alert, composing and editing, publishing and revoking.
Access, act, respond: every read through `visible_to`, every write through a service with
`actor=request.user`; an alert the person may not read is a 404 exactly like a missing one."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import F
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from commonguard.accounts.viewer import viewer_for
from commonguard.core.text import render_markdown
from commonguard.core.tlp import GUIDANCE, TLP
from commonguard.orgs import selectors as org_selectors
from commonguard.orgs.models import Organization
from commonguard.sharing import recipient_views, services
from commonguard.sharing.delivery import delivery_receipts
from commonguard.sharing.forms import (
    AcknowledgeForm,
    AlertFilterForm,
    AlertForm,
    DeleteForm,
    PreviewForm,
    RevokeForm,
    SightingForm,
    initial_for,
)
from commonguard.sharing.indicators import defang
from commonguard.sharing.models import MAX_INDICATORS, Acknowledgement, Alert, Indicator, Sighting
from commonguard.sharing.reactions import alert_acknowledge, reaction_counts, sighting_report
from commonguard.web.decorators import vetted_required
from commonguard.web.errors import apply_validation_error, error_text, form_errors_text, set_choices
from commonguard.web.http import AuthedRequest

PAGE_SIZE = 25
ORG_MATCHES = 20
SAVE_ACTIONS = {"draft", "publish", "update"}

# What a recipient may do with an alert of each label (GUIDANCE says the same to its author).
RECIPIENT_GUIDANCE = {
    TLP.CLEAR: "You may share it without limit, publicly included.",
    TLP.GREEN: "You may share it with peers in the community, but not on public channels.",
    TLP.AMBER: "You may share it within your organisation and with its clients, with those who need to know.",
    TLP.AMBER_STRICT: "You may share it within your own organisation only, with those who need to know.",
    TLP.RED: "For your eyes only: do not share it with anyone.",
}

SHOWN_INDICATORS = MAX_INDICATORS


def _alert_get(request: AuthedRequest, uuid: UUID) -> Alert:
    """One alert the person may read, or the same 404 as for an alert that does not exist."""
    return get_object_or_404(
        Alert.objects.visible_to(request.user).select_related("author_org__region", "author"), uuid=uuid
    )


def _rows(alerts: Any, request: AuthedRequest) -> list[tuple[Alert, str]]:
    return [(a, services.author_label(a, request.user)) for a in alerts]


@vetted_required
def alert_list(request: AuthedRequest) -> HttpResponse:
    form = AlertFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    visible = Alert.objects.visible_to(request.user).select_related("author_org__region")
    live = visible.filter(status__in=Alert.LIVE_STATUSES)
    for name in ("category", "severity", "tlp"):
        if data.get(name):
            live = live.filter(**{name: data[name]})
    live = live.order_by(F("published_at").desc(nulls_last=True), "-id")
    page = Paginator(live, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context: dict[str, Any] = {
        "form": form,
        "page": page,
        "rows": _rows(page, request),
        "query": query.urlencode(),
        "filtered": any(data.values()),
    }
    if request.htmx:
        return render(request, "sharing/partials/alert_results.html", context)
    drafts = visible.filter(status=Alert.Status.DRAFT, author=request.user).order_by("-modified_at")
    context["drafts"] = drafts
    if viewer_for(request.user).is_state_staff:
        from commonguard.sharing.kev import last_import

        context["kev_last"] = last_import()
    return render(request, "sharing/alert_list.html", context)


@vetted_required
def alert_detail(request: AuthedRequest, uuid: UUID) -> HttpResponse:
    return _render_detail(request, _alert_get(request, uuid))


def _render_detail(
    request: AuthedRequest, alert: Alert, revoke_form: RevokeForm | None = None, status: int = 200
) -> HttpResponse:
    indicators = Indicator.objects.visible_to(request.user).filter(alert=alert).order_by("kind", "value")
    # Imported feeds hold tens of thousands: the page shows the first SHOWN_INDICATORS (every alert a
    # person writes fits), the API and the MISP feed give them all.
    indicators_total = indicators.count()
    indicators = indicators[:SHOWN_INDICATORS]
    can_edit = services.can_edit_alert(request.user, alert)
    can_revoke = can_edit and alert.status in (Alert.Status.PUBLISHED, Alert.Status.UPDATED)
    context = {
        "alert": alert,
        "author": services.author_label(alert, request.user),
        "tlp_label": TLP(alert.tlp).label,
        "tlp_guidance": RECIPIENT_GUIDANCE[TLP(alert.tlp)],
        "audience_rule": GUIDANCE[TLP(alert.tlp)],
        "summary_html": render_markdown(alert.summary),
        "actions_html": render_markdown(alert.recommended_actions),
        "indicators": [(i.get_kind_display(), defang(i.kind, i.value), i.warning) for i in indicators],
        "indicators_total": indicators_total,
        "techniques": [(t, _attack_url(t)) for t in alert.attack_techniques],
        "can_edit": can_edit,
        "can_delete": can_edit and not _is_received(alert),
        "audience": _audience(alert) if can_edit else [],
        "revoke_form": (revoke_form or RevokeForm()) if can_revoke else None,
        "receipts": delivery_receipts(alert) if can_edit else [],
        **_reactions_context(request, alert),
        **recipient_views.detail_context(request, alert),
    }
    return render(request, "sharing/alert_detail.html", context, status=status)


@vetted_required
def alert_receipts(request: AuthedRequest, uuid: UUID) -> HttpResponse:
    """htmx, polled: the delivery receipts of an alert, for its editors (404 for anyone else)."""
    alert = _alert_get(request, uuid)
    if not services.can_edit_alert(request.user, alert):
        raise Http404
    return render(request, "sharing/partials/receipts.html", {"alert": alert, "receipts": delivery_receipts(alert)})


def _is_received(alert: Alert) -> bool:
    from commonguard.federation.selectors import is_received

    return is_received(alert)


def _attack_url(technique: str) -> str:
    """T1566.001 → https://attack.mitre.org/techniques/T1566/001/ (the ids are validated on save)."""
    return "https://attack.mitre.org/techniques/" + "".join(f"{part}/" for part in technique.split("."))


def _audience(alert: Alert) -> list[str]:
    """Whom the author named (shown to those who may change the alert)."""
    return [
        *(o.name for o in alert.recipient_orgs.order_by("sort_name")),
        *(f"Sharing group: {g.name}" for g in alert.sharing_groups.all()),
        *(f"{p.full_name} ({p.email})" for p in alert.recipient_people.all()),
    ]


@vetted_required
def alert_create(request: AuthedRequest) -> HttpResponse:
    return _compose(request, None)


@vetted_required
def alert_edit(request: AuthedRequest, uuid: UUID) -> HttpResponse:
    alert = _alert_get(request, uuid)
    if not services.can_edit_alert(request.user, alert):
        raise PermissionDenied("Only the author or an admin of the author's organisation can change this alert.")
    if alert.status == Alert.Status.REVOKED:
        messages.error(request, "A revoked alert cannot be changed.")
        return redirect("sharing:alert", uuid=alert.uuid)
    return _compose(request, alert)


def _compose(request: AuthedRequest, alert: Alert | None) -> HttpResponse:
    """The compose and edit page. A POST whose button is not a save (Preview, Find, or Enter in a
    field) shows the form again with the preview and the organisation matches: nothing is saved."""
    published = alert is not None and alert.status != Alert.Status.DRAFT
    if request.method != "POST":
        form = AlertForm(user=request.user, published=published, initial=initial_for(alert) if alert else None)
        return _render_compose(request, form, alert)
    try:
        post = request.POST
    except (RequestDataTooBig, TooManyFieldsSent):
        return _too_big(request, alert)
    form = AlertForm(post, user=request.user, published=published, initial=initial_for(alert) if alert else None)
    action = post.get("action", "")
    if action not in SAVE_ACTIONS:
        return _render_compose(request, form, alert, preview=True)
    if not form.is_valid():
        return _render_compose(request, form, alert, status=400)
    try:
        saved = _save(request, form, alert, action)
    except (ValidationError, PermissionDenied) as exc:
        apply_validation_error(form, exc)
        return _render_compose(request, form, alert, status=400)
    found = len(form.cleaned_data["paste"])
    pasted = (
        f" {found} indicator{'s' if found != 1 else ''} found in the pasted text."
        if form.data.get("paste", "").strip()
        else ""
    )
    messages.success(request, _saved_message(saved, action) + pasted)
    return redirect("sharing:alert", uuid=saved.uuid)


def _save(request: AuthedRequest, form: AlertForm, alert: Alert | None, action: str) -> Alert:
    if alert is not None and alert.status != Alert.Status.DRAFT:
        if action != "update":
            raise ValidationError("This alert is published: publish an update instead.")
        with transaction.atomic():
            _peers_set(request, form, alert)
            return services.alert_update(actor=request.user, alert=alert, data=form.to_input(alert.author_org))
    if action == "update":
        raise ValidationError("This alert is a draft: save it or publish it.")
    author_org = form.author_organization()
    if author_org is None:
        raise ValidationError({"author_org": "Choose one of your organisations."})
    data = form.to_input(author_org)
    # "Save and publish" is one step: if publishing is refused, the draft is not kept either.
    with transaction.atomic():
        saved = services.alert_save_draft(actor=request.user, author_org=author_org, data=data, alert=alert)
        _peers_set(request, form, saved)
        if action == "publish":
            saved = services.alert_publish(actor=request.user, alert=saved)
    return saved


def _peers_set(request: AuthedRequest, form: AlertForm, alert: Alert) -> None:
    """The peer hubs the author named (TLP:AMBER only), set before the version is written."""
    from commonguard.federation.services import alert_peers_set

    peers = list(form.cleaned_data.get("federation_peers") or [])
    alert_peers_set(actor=request.user, alert=alert, peers=peers, tlp=form.cleaned_data["tlp"])


def _saved_message(alert: Alert, action: str) -> str:
    label = TLP(alert.tlp).label
    if action == "publish":
        return f"Published as {label}."
    if action == "update":
        return f"Version {alert.version} is published."
    return "Draft saved. Only you can see it until you publish it."


def _too_big(request: AuthedRequest, alert: Alert | None) -> HttpResponse:
    from django.conf import settings

    published = alert is not None and alert.status != Alert.Status.DRAFT
    form = AlertForm(user=request.user, published=published, initial=initial_for(alert) if alert else None)
    limit = filesizeformat(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    problem = (
        f"What you sent is larger than the {limit} a form may hold (or names too many organisations), so nothing "
        "was saved. A title is at most 200 characters and each text at most 20,000: shorten them, split pasted "
        "text, or address a sharing group instead of hundreds of organisations."
    )
    return _render_compose(request, form, alert, problem=problem, status=413)


def _render_compose(
    request: AuthedRequest,
    form: AlertForm,
    alert: Alert | None,
    *,
    preview: bool = False,
    problem: str = "",
    status: int = 200,
) -> HttpResponse:
    chosen_ids = form.chosen_org_ids()
    q = (form.data.get("org_q", "") if form.is_bound else "").strip()[:100]
    context = {
        "form": form,
        "alert": alert,
        "published": alert is not None and alert.status != Alert.Status.DRAFT,
        "org_q": q,
        "problem": problem,
        **_org_choices(request, chosen_ids, q),
    }
    if preview:
        context.update(_preview(form.data.get("summary", ""), form.data.get("recommended_actions", "")))
    return render(request, "sharing/alert_form.html", context, status=status)


def _org_choices(request: AuthedRequest, chosen_ids: list[int], q: str) -> dict[str, Any]:
    """The organisations already named (ticked) and, for a search, the approved ones that match."""
    approved = Organization.objects.visible_to(request.user).approved()
    chosen = list(approved.filter(pk__in=chosen_ids).order_by("sort_name")) if chosen_ids else []
    matches: list[Organization] = []
    if q:
        found = org_selectors.organization_list(user=request.user, q=q, status=Organization.Status.APPROVED)
        matches = list(found.exclude(pk__in=[o.pk for o in chosen])[:ORG_MATCHES])
    return {"chosen_orgs": chosen, "org_matches": matches, "org_q": q, "org_limit": ORG_MATCHES}


@vetted_required
@require_GET
def organization_choices(request: AuthedRequest) -> HttpResponse:
    """htmx: the audience picker's checkboxes (the ticked ones kept, then the matches)."""
    ids = [int(v) for v in request.GET.getlist("recipient_orgs")[:2000] if v.isdigit()]
    q = request.GET.get("org_q", "").strip()[:100]
    return render(request, "sharing/partials/org_choices.html", _org_choices(request, ids, q))


def _preview(summary: str, actions: str) -> dict[str, Any]:
    form = PreviewForm({"summary": summary, "recommended_actions": actions})
    if not form.is_valid():
        return {"preview": True, "preview_error": "The text is too long to preview (over 20,000 characters)."}
    return {
        "preview": True,
        "preview_summary": render_markdown(form.cleaned_data["summary"]),
        "preview_actions": render_markdown(form.cleaned_data["recommended_actions"]),
    }


@vetted_required
@require_POST
def alert_preview(request: AuthedRequest) -> HttpResponse:
    """htmx: the Markdown of the summary and the recommended actions, as the alert will show it."""
    try:
        post = request.POST
    except (RequestDataTooBig, TooManyFieldsSent):
        return render(
            request,
            "sharing/partials/preview.html",
            {"preview": True, "preview_error": "The text is too long to preview."},
            status=413,
        )
    return render(
        request, "sharing/partials/preview.html", _preview(post.get("summary", ""), post.get("recommended_actions", ""))
    )


@vetted_required
@require_POST
def alert_publish(request: AuthedRequest, uuid: UUID) -> HttpResponse:
    alert = _alert_get(request, uuid)
    try:
        services.alert_publish(actor=request.user, alert=alert)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, "Not published: " + " ".join(_messages(exc)))
        return redirect("sharing:edit" if services.can_edit_alert(request.user, alert) else "sharing:alert", uuid=uuid)
    messages.success(request, f"Published as {TLP(alert.tlp).label}.")
    return redirect("sharing:alert", uuid=uuid)


@vetted_required
@require_POST
def alert_revoke(request: AuthedRequest, uuid: UUID) -> HttpResponse:
    alert = _alert_get(request, uuid)
    form = RevokeForm(request.POST)
    if form.is_valid():
        try:
            services.alert_revoke(actor=request.user, alert=alert, reason=form.cleaned_data["reason"])
        except (ValidationError, PermissionDenied) as exc:
            apply_validation_error(form, exc, "reason")
        else:
            messages.success(request, "The alert is revoked. Recipients see it marked as revoked, with your reason.")
            return redirect("sharing:alert", uuid=uuid)
    if not services.can_edit_alert(request.user, alert) or alert.status == Alert.Status.REVOKED:
        messages.error(request, "Not revoked: " + form_errors_text(form))
        return redirect("sharing:alert", uuid=uuid)
    return _render_detail(request, alert, form, status=400)


@vetted_required
@require_http_methods(["GET", "POST"])
def alert_delete(request: AuthedRequest, uuid: UUID) -> HttpResponse:
    """Confirm, then delete an alert (its author or an admin of its organisation, as for editing
    and revoking): gone here, a tombstone to every peer hub that was sent it (ADR 22, 30)."""
    from commonguard.federation import selectors as federation
    from commonguard.federation.services import alert_delete as delete_alert

    alert = _alert_get(request, uuid)
    if not services.can_edit_alert(request.user, alert) or federation.is_received(alert):
        raise PermissionDenied("Only the author or an admin of the author's organisation can delete this alert.")
    form = DeleteForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        title = alert.title
        delete_alert(actor=request.user, alert=alert, reason=form.cleaned_data["reason"])
        messages.success(request, f"The alert “{title}” is deleted.")
        return redirect("sharing:feed")
    context = {
        "alert": alert,
        "form": form,
        "tlp_label": TLP(alert.tlp).label,
        "peers": federation.peers_told(alert),
        "was_published": alert.status != Alert.Status.DRAFT,
    }
    return render(request, "sharing/alert_delete.html", context, status=400 if form.errors else 200)


def _messages(exc: ValidationError | PermissionDenied) -> list[str]:
    return exc.messages if isinstance(exc, ValidationError) else [str(exc)]


# --- Recipients' answers: acknowledgements and sightings ---------------------------------------


def _answering_orgs(request: AuthedRequest, alert: Alert) -> list[tuple[int, str]]:
    """The person's organisations that can answer this alert (their own approved ones)."""
    orgs = Organization.objects.visible_to(request.user).filter(pk__in=viewer_for(request.user).org_ids)
    return [(o.pk, o.name) for o in orgs.order_by("sort_name")]


def _reaction_forms(request: AuthedRequest, alert: Alert) -> tuple[AcknowledgeForm | None, SightingForm | None]:
    if alert.status not in (Alert.Status.PUBLISHED, Alert.Status.UPDATED):
        return None, None
    orgs = _answering_orgs(request, alert)
    done = set(Acknowledgement.objects.filter(alert=alert).values_list("organization_id", flat=True))
    ack_orgs = [(pk, name) for pk, name in orgs if pk != alert.author_org_id and pk not in done]
    ack_form = sighting_form = None
    if ack_orgs:
        ack_form = AcknowledgeForm(prefix="ack")
        set_choices(ack_form, "organization", ack_orgs)
    if orgs:
        sighting_form = SightingForm(prefix="sighting")
        set_choices(sighting_form, "organization", orgs)
        indicators = Indicator.objects.visible_to(request.user).filter(alert=alert).order_by("kind", "value")
        indicators = indicators[:SHOWN_INDICATORS]
        set_choices(
            sighting_form,
            "indicator",
            [("", "— the alert as a whole —"), *((i.pk, defang(i.kind, i.value)) for i in indicators)],
        )
    return ack_form, sighting_form


def _reactions_context(request: AuthedRequest, alert: Alert) -> dict[str, Any]:
    ack_form, sighting_form = _reaction_forms(request, alert)
    return {
        "reaction_counts": reaction_counts(alert),
        "acknowledgements": Acknowledgement.objects.visible_to(request.user)
        .filter(alert=alert)
        .select_related("organization", "user"),
        "sightings": Sighting.objects.visible_to(request.user)
        .filter(alert=alert)
        .select_related("organization", "user", "indicator"),
        "ack_form": ack_form,
        "sighting_form": sighting_form,
    }


@vetted_required
@require_POST
def alert_acknowledge_view(request: AuthedRequest, uuid: UUID) -> HttpResponse:
    alert = _alert_get(request, uuid)
    form = AcknowledgeForm(request.POST, prefix="ack")
    set_choices(form, "organization", _answering_orgs(request, alert))
    if form.is_valid():
        org = Organization.objects.visible_to(request.user).get(pk=form.cleaned_data["organization"])
        try:
            alert_acknowledge(actor=request.user, alert=alert, organization=org, note=form.cleaned_data["note"])
            messages.success(request, f"Acknowledged for {org.name}. The author can see it.")
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, error_text(exc))
    else:
        messages.error(request, "Nothing was recorded: " + form_errors_text(form))
    return redirect("sharing:alert", uuid=uuid)


@vetted_required
@require_POST
def alert_sighting_view(request: AuthedRequest, uuid: UUID) -> HttpResponse:
    alert = _alert_get(request, uuid)
    form = SightingForm(request.POST, prefix="sighting")
    set_choices(form, "organization", _answering_orgs(request, alert))
    indicators = Indicator.objects.visible_to(request.user).filter(alert=alert)
    set_choices(form, "indicator", [("", "—"), *((i.pk, i.value) for i in indicators)])
    if form.is_valid():
        data = form.cleaned_data
        org = Organization.objects.visible_to(request.user).get(pk=data["organization"])
        indicator = indicators.filter(pk=data["indicator"]).first() if data["indicator"] else None
        try:
            sighting_report(
                actor=request.user,
                alert=alert,
                organization=org,
                kind=data["kind"],
                seen_at=data["seen_at"],
                count=data["count"],
                indicator=indicator,
                note=data["note"],
            )
            messages.success(request, "Thank you: your report is recorded and the author can see it.")
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, error_text(exc))
    else:
        messages.error(request, "Nothing was recorded: " + form_errors_text(form))
    return redirect("sharing:alert", uuid=uuid)
