"""Pages of the EMAC middle (ADR 32): make an offer on a request, the offer with its history,
counter-offers and signatures, the binding agreement, the printable mission order, and the
single-use accept/decline link a responder opens from their e-mail.

Each view: access (a `visible_to` read; absent and forbidden are the same 404), act (a service in
`offers.py`), respond."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from commonguard.accounts.viewer import viewer_for
from commonguard.mutualaid import offers
from commonguard.mutualaid.models import (
    COST_CATEGORIES,
    AssistanceRequest,
    BindingAgreement,
    Deployment,
    MissionOrder,
    Offer,
    Responder,
    TeamPackage,
)
from commonguard.mutualaid.querysets import coordinator_org_ids
from commonguard.orgs.models import Organization
from commonguard.web.decorators import vetted_required
from commonguard.web.errors import apply_validation_error, error_text, set_choices
from commonguard.web.forms import Form
from commonguard.web.http import AuthedRequest


def _date_field(label: str) -> forms.DateField:
    return forms.DateField(label=label, widget=forms.DateInput(attrs={"type": "date"}))


def _cost_field(category: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=f"{category.capitalize()} (US$)", max_digits=12, decimal_places=2, initial=Decimal(0), required=False
    )


class TermsForm(Form):
    starts_on = _date_field("From (YYYY-MM-DD)")
    ends_on = _date_field("To (YYYY-MM-DD)")
    mode = forms.ChoiceField(choices=AssistanceRequest.Mode.choices, label="On-site or remote")
    cost_personnel = _cost_field("personnel")
    cost_travel = _cost_field("travel")
    cost_equipment = _cost_field("equipment")
    cost_commodities = _cost_field("commodities")
    cost_other = _cost_field("other")
    notes = forms.CharField(widget=forms.Textarea, required=False, label="Terms and notes")

    def terms(self) -> offers.Terms:
        data = self.cleaned_data
        return offers.Terms(
            starts_on=data["starts_on"],
            ends_on=data["ends_on"],
            mode=data["mode"],
            costs={c: data.get(f"cost_{c}") or Decimal(0) for c in COST_CATEGORIES},
            notes=data.get("notes", ""),
        )


class OfferForm(TermsForm):
    offering_org = forms.TypedChoiceField(label="Offered by", coerce=int)
    team = forms.TypedChoiceField(label="Team package (optional)", coerce=int, required=False, empty_value=None)
    responders = forms.TypedMultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, label="Responders named", coerce=int, required=False
    )
    field_order = ["offering_org", "team", "responders"]

    def __init__(self, *args: Any, orgs: list[Any], teams: list[Any], roster: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "offering_org", orgs)
        set_choices(self, "team", [("", "No team package"), *teams])
        set_choices(self, "responders", roster)
        self.fields["responders"].widget.attrs["class"] = "usa-checkbox__input"


class CounterForm(TermsForm):
    note = forms.CharField(label="What you changed and why", max_length=500, required=False)


class SignForm(Form):
    typed_name = forms.CharField(label="Type your full name to sign", max_length=150)
    title = forms.CharField(label="Your title", max_length=150, required=False)


def _offer_or_404(request: AuthedRequest, pk: int) -> Offer:
    offer = (
        Offer.objects.visible_to(request.user)
        .select_related("request__requesting_org", "offering_org", "agreement", "team")
        .filter(pk=pk)
        .first()
    )
    if offer is None:
        raise Http404
    return offer


def _offering_orgs(request: AuthedRequest, aid: AssistanceRequest) -> list[int]:
    """The person's organisations (other than the requester) for which they may prepare offers."""
    viewer = viewer_for(request.user)
    return [o for o in viewer.org_ids if o != aid.requesting_org_id and offers.can_prepare_offer_for(request.user, o)]


def request_offers_context(request: AuthedRequest, aid: AssistanceRequest) -> dict[str, Any]:
    """What the request page shows of the offers: those the person may read, and whether they can make one."""
    preparers = _offering_orgs(request, aid)
    return {
        "offers": Offer.objects.visible_to(request.user).filter(request=aid).select_related("offering_org"),
        "can_offer": bool(preparers) and aid.status == AssistanceRequest.Status.OPEN,
    }


def deployment_offer_context(request: AuthedRequest, deployment: Deployment) -> dict[str, Any]:
    """The offer and mission order a deployment came from (as the person may read them), and the
    emergency pre-deployment's paperwork timer."""
    line = getattr(deployment, "offer_line", None) if hasattr(deployment, "offer_line") else None
    offer = Offer.objects.visible_to(request.user).filter(pk=line.offer_id).first() if line else None
    order = MissionOrder.objects.visible_to(request.user).filter(deployment=deployment).first()
    return {"offer": offer, "mission_order": order, "paperwork": offers.paperwork(deployment)}


@vetted_required
def offer_new(request: AuthedRequest, pk: int) -> HttpResponse:
    aid = AssistanceRequest.objects.visible_to(request.user).select_related("requesting_org").filter(pk=pk).first()
    if aid is None:
        raise Http404
    viewer = viewer_for(request.user)
    org_ids = _offering_orgs(request, aid)
    if not org_ids or aid.status != AssistanceRequest.Status.OPEN:
        messages.error(request, "You cannot make an offer on this request (it is not open, or you prepare no offers).")
        return redirect("mutualaid:request", pk=aid.pk)
    orgs = list(Organization.objects.filter(pk__in=org_ids).order_by("sort_name").values_list("pk", "name"))
    teams_qs = TeamPackage.objects.visible_to(request.user).filter(
        provider_id__in=org_ids, status=TeamPackage.Status.ACTIVE, is_template=False
    )
    teams = list(teams_qs.values_list("pk", "name"))
    roster_qs = (
        Responder.objects.visible_to(request.user)
        .filter(programme_id__in=coordinator_org_ids(viewer), status=Responder.Status.ACTIVE)
        .select_related("programme")
    )
    roster = [(r.pk, f"{r.full_name} ({r.programme.name})") for r in roster_qs]
    initial: dict[str, Any] = {
        "starts_on": aid.starts_on,
        "ends_on": aid.ends_on,
        "mode": aid.mode,
        "responders": [int(v) for v in request.GET.getlist("responder") if v.isdigit()],
    }
    team_id = request.GET.get("team", "")
    team = teams_qs.filter(pk=int(team_id)).first() if team_id.isdigit() else None
    if team is not None:
        initial["team"] = team.pk
        initial["offering_org"] = team.provider_id
        initial.update({f"cost_{c}": getattr(team, f"cost_{c}") for c in COST_CATEGORIES})
    form = OfferForm(request.POST or None, orgs=orgs, teams=teams, roster=roster, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            chosen_team = teams_qs.filter(pk=data["team"]).first() if data.get("team") else None
            named = list(roster_qs.filter(pk__in=data["responders"]))
            try:
                offer = offers.offer_create(
                    actor=request.user,
                    data=offers.OfferInput(
                        request=aid,
                        offering_org=Organization.objects.get(pk=data["offering_org"]),
                        terms=form.terms(),
                        responders=[(r, "") for r in named],
                        team=chosen_team,
                    ),
                )
            except (ValidationError, PermissionDenied) as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, "Your offer is sent; the requester can accept it or counter.")
                return redirect("mutualaid:offer", pk=offer.pk)
    return render(request, "mutualaid/offers/offer_form.html", {"aid": aid, "form": form}, status=status)


ACTIONS = {"counter", "accept", "decline", "withdraw", "sign"}


@vetted_required
def offer_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    offer = _offer_or_404(request, pk)
    counter_form = CounterForm(
        initial={
            "starts_on": offer.starts_on,
            "ends_on": offer.ends_on,
            "mode": offer.mode,
            "notes": offer.notes,
            **{f"cost_{c}": getattr(offer, f"cost_{c}") for c in COST_CATEGORIES},
        }
    )
    sign_form = SignForm()
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in ACTIONS:
            raise Http404
        try:
            if action == "counter":
                counter_form = CounterForm(request.POST)
                if not counter_form.is_valid():
                    raise ValidationError("Check the new terms.")
                offers.offer_counter(
                    actor=request.user,
                    offer=offer,
                    terms=counter_form.terms(),
                    note=counter_form.cleaned_data.get("note", ""),
                )
                messages.success(request, "Your counter-offer is sent.")
            elif action == "accept":
                offers.offer_accept_terms(actor=request.user, offer=offer)
                messages.success(request, "The terms are agreed; both sides now sign.")
            elif action in ("decline", "withdraw"):
                to = Offer.Status.DECLINED if action == "decline" else Offer.Status.WITHDRAWN
                offers.offer_close(actor=request.user, offer=offer, to=to, reason=request.POST.get("reason", ""))
                messages.success(request, f"The offer is {Offer.Status(to).label.lower()}.")
            else:
                sign_form = SignForm(request.POST)
                if not sign_form.is_valid():
                    raise ValidationError("Type your full name to sign.")
                offers.offer_sign(
                    actor=request.user,
                    offer=offer,
                    typed_name=sign_form.cleaned_data["typed_name"],
                    title=sign_form.cleaned_data.get("title", ""),
                )
                messages.success(request, "Signed.")
        except (ValidationError, PermissionDenied) as exc:
            form = counter_form if action == "counter" else sign_form if action == "sign" else None
            if form is not None and form.is_bound:
                apply_validation_error(form, exc)
            messages.error(request, error_text(exc))
            status = 400
        else:
            return redirect("mutualaid:offer", pk=offer.pk)
        offer = _offer_or_404(request, pk)
    side = offers.side_of(request.user, offer)
    turn = offers._turn(offer) if offer.status in (Offer.Status.SUBMITTED, Offer.Status.COUNTERED) else None
    may_negotiate = side is not None and side == turn and offers._may_negotiate(request.user, offer, side)
    signed_sides = {s.side for s in offer.signatures.all()}
    return render(
        request,
        "mutualaid/offers/offer_detail.html",
        {
            "offer": offer,
            "costs": [(c, getattr(offer, f"cost_{c}")) for c in COST_CATEGORIES],
            "revisions": [
                (r, sum((Decimal(v) for v in r.terms["costs"].values()), Decimal(0)))
                for r in offer.revisions.select_related("author")
            ],
            "lines": offer.responder_rows.select_related("responder", "deployment"),
            "signatures": offer.signatures.select_related("organization"),
            "side": side,
            "turn": turn,
            "may_negotiate": may_negotiate,
            "may_close": side is not None
            and offer.status in Offer.OPEN
            and offers._may_negotiate(request.user, offer, side),
            "can_sign": offer.status == Offer.Status.AGREED and side is not None and side not in signed_sides,
            "sign_refusal": offers.signing_refusal(request.user, offer, side) if side else None,
            "counter_form": counter_form,
            "sign_form": sign_form,
            "binding": BindingAgreement.objects.visible_to(request.user).filter(offer=offer).first(),
            "S": Offer.Status,
        },
        status=status,
    )


@vetted_required
def binding_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    binding = (
        BindingAgreement.objects.visible_to(request.user)
        .select_related("requesting_org", "offering_org", "agreement")
        .filter(pk=pk)
        .first()
    )
    if binding is None:
        raise Http404
    orders = MissionOrder.objects.visible_to(request.user).filter(binding=binding).select_related("responder")
    snap = binding.snapshot
    return render(
        request,
        "mutualaid/offers/binding_detail.html",
        {
            "b": binding,
            "snap": snap,
            "costs": [(c, snap["terms"]["costs"][c]) for c in COST_CATEGORIES],
            "orders": orders,
            "intact": offers.verify(binding),
        },
    )


@vetted_required
def mission_order_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    order = (
        MissionOrder.objects.visible_to(request.user)
        .select_related("binding__requesting_org", "binding__offering_org", "responder__programme", "deployment")
        .filter(pk=pk)
        .first()
    )
    if order is None:
        raise Http404
    return render(request, "mutualaid/offers/mission_order.html", {"o": order})


class AnswerForm(Form):
    signature = forms.CharField(label="Type your full name to sign", max_length=150, required=False)


@login_required
def respond(request: AuthedRequest, token: str) -> HttpResponse:
    """The accept/decline link from the e-mail: only for the signed-in person it was sent to, once,
    before it expires. Opening it changes nothing; the answer is a POST."""
    try:
        link = offers.link_for(token, request.user)
    except offers.LinkRefused as refused:
        return render(request, "mutualaid/offers/respond.html", {"refused": str(refused)}, status=refused.status)
    form = AnswerForm(request.POST or None)
    if request.method == "POST":
        accept = request.POST.get("answer") == "accept"
        try:
            deployment = offers.link_answer(
                actor=request.user, token=token, accept=accept, signature=request.POST.get("signature", "")
            )
        except offers.LinkRefused as refused:
            return render(request, "mutualaid/offers/respond.html", {"refused": str(refused)}, status=refused.status)
        except (ValidationError, PermissionDenied) as exc:
            apply_validation_error(form, exc, default_field="signature")
        else:
            messages.success(request, "You accepted in writing." if accept else "You declined.")
            return redirect("mutualaid:deployment", pk=deployment.pk)
    return render(
        request,
        "mutualaid/offers/respond.html",
        {"d": link.deployment, "form": form, "expires_at": link.expires_at},
        status=400 if form.is_bound else 200,
    )
