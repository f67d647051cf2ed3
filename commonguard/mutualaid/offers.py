"""The EMAC middle of the chain (ADR 32): request → offer → counter-offers → acceptance signed by
the authorised roles of both sides → binding agreement → a mission order per responder →
deployment. Plus the mutual-aid e-mail outbox and the single-use accept/decline links.

Each service checks who may act, refuses bad input with a clear `ValidationError` (or
`PermissionDenied`) before writing anything, and writes an audit event in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_tasks import task

from commonguard.accounts.models import Membership, Role, User
from commonguard.accounts.viewer import viewer_for
from commonguard.core.audit import audit_record
from commonguard.core.outbox import Outbox, mail_connection
from commonguard.mutualaid import policies, services
from commonguard.mutualaid.models import (
    COST_CATEGORIES,
    Agreement,
    AgreementParty,
    AidNotice,
    AssistanceRequest,
    BindingAgreement,
    Deployment,
    MissionOrder,
    Offer,
    OfferResponder,
    OfferRevision,
    OfferSignature,
    Responder,
    ResponseLink,
    TeamPackage,
)
from commonguard.orgs.models import Organization

OS = Offer.Status
Side = OfferRevision.Side

# Who moves the offer from each status, and where to. `submitted`: the requester's turn (counter,
# accept the terms, decline); `countered`: the offerer's (counter again, accept, withdraw);
# `agreed`: both sign (the second signature makes it binding), or either side backs out.
OFFER_TRANSITIONS: dict[str, frozenset[str]] = {
    OS.SUBMITTED: frozenset({OS.COUNTERED, OS.AGREED, OS.DECLINED, OS.WITHDRAWN}),
    OS.COUNTERED: frozenset({OS.SUBMITTED, OS.AGREED, OS.WITHDRAWN}),
    OS.AGREED: frozenset({OS.BINDING, OS.DECLINED, OS.WITHDRAWN}),
    OS.BINDING: frozenset(),
    OS.DECLINED: frozenset(),
    OS.WITHDRAWN: frozenset(),
}

LINK_DAYS = 7  # an accept/decline link works for a week, once
MAX_ATTEMPTS = 5
LEASE = timedelta(minutes=2)


def _olabel(status: str) -> str:
    return str(OS(status).label).split(" (")[0].lower()


def _check_move(offer: Offer, to: str) -> None:
    allowed = OFFER_TRANSITIONS[offer.status]
    if to not in allowed:
        options = ", ".join(_olabel(s) for s in OS.values if s in allowed) or "nothing (this is final)"
        raise ValidationError(
            {
                "status": f"An offer that is {_olabel(offer.status)} cannot become {_olabel(to)}; "
                f"it can become: {options}."
            }
        )


# --- Who may act for a side -----------------------------------------------------------------


def covering_agreement(requesting_org_id: int, offering_org_id: int, day: date) -> Agreement | None:
    """An agreement in force on `day` that both organisations have signed and not left."""
    bound = AgreementParty.objects.filter(signed_on__isnull=False, signed_on__lte=day, withdrawn_on__isnull=True)
    return (
        Agreement.objects.in_force_on(day)
        .filter(pk__in=bound.filter(organization_id=requesting_org_id).values("agreement_id"))
        .filter(pk__in=bound.filter(organization_id=offering_org_id).values("agreement_id"))
        .order_by("kind", "name")
        .first()
    )


def can_prepare_offer_for(user: Any, org_id: int) -> bool:
    """The offering organisation's coordinators and admins prepare (and counter) offers; only the
    agreement's authorised roles sign them."""
    return org_id in viewer_for(user).admin_org_ids or policies.can_coordinate(user, org_id)


def side_of(user: Any, offer: Offer) -> str | None:
    """The side the person acts for: the requesting or the offering organisation (or none)."""
    orgs = viewer_for(user).org_ids
    if offer.request.requesting_org_id in orgs:
        return Side.REQUESTER
    if offer.offering_org_id in orgs:
        return Side.OFFERER
    return None


def _may_negotiate(user: Any, offer: Offer, side: str) -> bool:
    if side == Side.REQUESTER:
        return policies.can_request_for(user, offer.request.requesting_org_id)
    return can_prepare_offer_for(user, offer.offering_org_id)


def signing_refusal(user: Any, offer: Offer, side: str) -> str | None:
    """Why `user` may not sign for `side` under the covering agreement, or None. The agreement names
    the roles (not persons) authorised to request (requester) and to offer (offerer)."""
    agreement = offer.agreement
    org = offer.request.requesting_org if side == Side.REQUESTER else offer.offering_org
    roles = agreement.request_roles if side == Side.REQUESTER else agreement.offer_roles
    named = ", ".join(str(Role(r).label) for r in roles if r in Role.values) or "no role"
    role = viewer_for(user).roles_by_org.get(org.pk)
    what = "request assistance" if side == Side.REQUESTER else "offer assistance"
    if role is None:
        return f"You are not a member of {org.name}, so you cannot sign for it."
    if role not in roles:
        return (
            f"Your role in {org.name} ({Role(role).label}) is not authorised to {what} under “{agreement.name}”; "
            f"it authorises: {named}."
        )
    return None


# --- Terms -----------------------------------------------------------------------------------


@dataclass
class Terms:
    starts_on: date
    ends_on: date
    mode: str = AssistanceRequest.Mode.EITHER
    costs: dict[str, Decimal] = field(default_factory=dict)
    notes: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "starts_on": self.starts_on.isoformat(),
            "ends_on": self.ends_on.isoformat(),
            "mode": self.mode,
            "costs": {c: f"{Decimal(str(self.costs.get(c, 0) or 0)):.2f}" for c in COST_CATEGORIES},
            "notes": self.notes,
        }


def _clean_terms(terms: Terms, request: AssistanceRequest) -> dict[str, Decimal]:
    errors: dict[str, str] = {}
    if terms.ends_on < terms.starts_on:
        errors["ends_on"] = "The offer cannot end before it starts."
    if terms.starts_on < timezone.localdate():
        errors["starts_on"] = "The offer cannot start in the past."
    if terms.mode not in AssistanceRequest.Mode.values:
        errors["mode"] = "Choose remote, on-site or either."
    elif request.mode != AssistanceRequest.Mode.EITHER and terms.mode not in (request.mode, "either"):
        errors["mode"] = f"The request asks for {request.get_mode_display().lower()} work."
    if (terms.ends_on - terms.starts_on).days > 180:
        errors["ends_on"] = "An offer covers at most 180 days; amend it with a new offer."
    costs: dict[str, Decimal] = {}
    for c in COST_CATEGORIES:
        try:
            value = Decimal(str(terms.costs.get(c, 0) or 0))
        except InvalidOperation:
            errors[f"cost_{c}"] = f"The {c} cost is not a number."
            continue
        if not value.is_finite() or value < 0:
            errors[f"cost_{c}"] = f"The {c} cost cannot be negative."
        elif value >= Decimal("1e10"):
            errors[f"cost_{c}"] = f"The {c} cost is too large."
        costs[c] = value.quantize(Decimal("0.01")) if value.is_finite() else Decimal(0)
    if errors:
        raise ValidationError(errors)
    return costs


def _apply_terms(offer: Offer, terms: Terms, costs: dict[str, Decimal]) -> None:
    offer.starts_on, offer.ends_on, offer.mode, offer.notes = terms.starts_on, terms.ends_on, terms.mode, terms.notes
    for c in COST_CATEGORIES:
        setattr(offer, f"cost_{c}", costs[c])


def terms_of(offer: Offer) -> Terms:
    return Terms(
        starts_on=offer.starts_on,
        ends_on=offer.ends_on,
        mode=offer.mode,
        costs={c: getattr(offer, f"cost_{c}") for c in COST_CATEGORIES},
        notes=offer.notes,
    )


# --- Offers ----------------------------------------------------------------------------------


@dataclass
class OfferInput:
    request: AssistanceRequest
    offering_org: Organization
    terms: Terms
    responders: list[tuple[Responder, str]] = field(default_factory=list)  # (responder, role)
    team: TeamPackage | None = None


@transaction.atomic
def offer_create(*, actor: Any, data: OfferInput) -> Offer:
    """The offering organisation offers help on an open request, under an agreement in force that
    binds both organisations, naming responders (each gets a proposed deployment and an e-mail with
    an accept/decline link)."""
    request = AssistanceRequest.objects.select_for_update().get(pk=data.request.pk)
    org = data.offering_org
    if not can_prepare_offer_for(actor, org.pk):
        raise PermissionDenied("Only the offering organisation's coordinators or admins can prepare its offers.")
    if request.status != AssistanceRequest.Status.OPEN:
        raise ValidationError({"request": "The request is no longer open: offers are closed."})
    if org.pk == request.requesting_org_id:
        raise ValidationError({"offering_org": "An organisation does not make offers on its own request."})
    costs = _clean_terms(data.terms, request)
    agreement = covering_agreement(request.requesting_org_id, org.pk, data.terms.starts_on)
    if agreement is None:
        raise ValidationError(
            {
                "offering_org": f"No agreement in force on {data.terms.starts_on:%Y-%m-%d} binds "
                f"{org.name} and {request.requesting_org.name}; an offer needs one."
            }
        )
    team = data.team
    responders = list(data.responders)
    if team is not None:
        if team.provider_id != org.pk or team.status != TeamPackage.Status.ACTIVE:
            raise ValidationError({"team": "Offer an active team package of the offering organisation."})
        if not responders:
            responders = [(m.responder, m.role) for m in team.member_rows.select_related("responder")]
    if not responders:
        raise ValidationError({"responders": "Name at least one responder."})
    seen: set[int] = set()
    for responder, _role in responders:
        if responder.programme_id != org.pk:
            raise ValidationError({"responders": f"{responder.full_name} is not on the roster of {org.name}."})
        if responder.pk in seen:
            raise ValidationError({"responders": f"{responder.full_name} is named twice."})
        seen.add(responder.pk)
    offer = Offer(request=request, offering_org=org, team=team, agreement=agreement, created_by=actor)
    _apply_terms(offer, data.terms, costs)
    offer.save()
    OfferRevision.objects.create(
        offer=offer, number=1, side=Side.OFFERER, author=actor, terms=data.terms.as_json(), note=data.terms.notes
    )
    days = (data.terms.ends_on - data.terms.starts_on).days + 1
    for responder, role in responders:
        deployment = services.deployment_propose(
            actor=actor, request=request, responder=responder, starts_on=data.terms.starts_on, days=days
        )
        OfferResponder.objects.create(offer=offer, responder=responder, role=role, deployment=deployment)
    audit_record(
        actor=actor,
        action="mutualaid.offer.create",
        summary=f"{org.name} offered {len(responders)} responder(s) on “{request.title}” "
        f"({offer.cost_total:,.2f} estimated)",
        organization=org,
        target=offer,
    )
    _notify_side(offer, Side.REQUESTER, "New offer", f"{org.name} offers help on “{request.title}”.")
    return offer


def _locked(offer: Offer) -> Offer:
    return (
        Offer.objects.select_for_update()
        .select_related("request__requesting_org", "offering_org", "agreement")
        .get(pk=offer.pk)
    )


def _turn(offer: Offer) -> str:
    """Whose move it is while terms are negotiated."""
    return Side.REQUESTER if offer.status == OS.SUBMITTED else Side.OFFERER


@transaction.atomic
def offer_counter(*, actor: Any, offer: Offer, terms: Terms, note: str = "") -> Offer:
    """The side whose turn it is proposes changed terms (a new revision); the turn passes."""
    offer = _locked(offer)
    to = OS.COUNTERED if offer.status == OS.SUBMITTED else OS.SUBMITTED
    if offer.status not in (OS.SUBMITTED, OS.COUNTERED):
        _check_move(offer, OS.COUNTERED)
    side = _turn(offer)
    if not _may_negotiate(actor, offer, side):
        raise PermissionDenied(f"It is the {Side(side).label.lower()}'s turn: only they can counter now.")
    costs = _clean_terms(terms, offer.request)
    if offer.request.status != AssistanceRequest.Status.OPEN:
        raise ValidationError({"request": "The request is no longer open."})
    if terms_of(offer).as_json() == terms.as_json():
        raise ValidationError({"status": "A counter-offer changes at least one term; to take these, accept them."})
    _check_move(offer, to)
    _apply_terms(offer, terms, costs)
    offer.revision += 1
    offer.status = to
    offer.save()
    OfferRevision.objects.create(
        offer=offer, number=offer.revision, side=side, author=actor, terms=terms.as_json(), note=note
    )
    audit_record(
        actor=actor,
        action="mutualaid.offer.counter",
        summary=f"Counter-offer (revision {offer.revision}) by the {Side(side).label.lower()} "
        f"on “{offer.request.title}”",
        organization=offer.request.requesting_org if side == Side.REQUESTER else offer.offering_org,
        target=offer,
        data={"revision": offer.revision, "terms": terms.as_json()},
    )
    other = Side.OFFERER if side == Side.REQUESTER else Side.REQUESTER
    line = f"New terms proposed on “{offer.request.title}”: {note or 'see the offer'}."
    _notify_side(offer, other, "Counter-offer", line)
    return offer


@transaction.atomic
def offer_accept_terms(*, actor: Any, offer: Offer) -> Offer:
    """The side whose turn it is takes the terms as they stand; both sides then sign."""
    offer = _locked(offer)
    _check_move(offer, OS.AGREED)
    side = _turn(offer)
    if not _may_negotiate(actor, offer, side):
        raise PermissionDenied(f"It is the {Side(side).label.lower()}'s turn: only they can accept these terms.")
    offer.status = OS.AGREED
    offer.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor,
        action="mutualaid.offer.agreed",
        summary=f"Terms of revision {offer.revision} agreed on “{offer.request.title}”; awaiting both signatures",
        organization=offer.request.requesting_org if side == Side.REQUESTER else offer.offering_org,
        target=offer,
    )
    for s in (Side.REQUESTER, Side.OFFERER):
        _notify_side(offer, s, "Terms agreed: sign", f"The terms on “{offer.request.title}” are agreed; sign to bind.")
    return offer


@transaction.atomic
def offer_close(*, actor: Any, offer: Offer, to: str, reason: str = "") -> Offer:
    """The requester declines, or the offerer withdraws. The offer's proposed deployments end."""
    offer = _locked(offer)
    if to not in (OS.DECLINED, OS.WITHDRAWN):
        raise ValidationError({"status": "An offer is closed by declining or withdrawing it."})
    _check_move(offer, to)
    side = Side.REQUESTER if to == OS.DECLINED else Side.OFFERER
    if not _may_negotiate(actor, offer, side):
        raise PermissionDenied(
            "Only the requesting organisation declines an offer; only the offering organisation withdraws it."
        )
    offer.status = to
    offer.save(update_fields=["status", "updated_at"])
    ended = Deployment.objects.filter(
        offer_line__offer=offer, status__in=[Deployment.Status.PROPOSED, Deployment.Status.ACCEPTED]
    )
    for deployment in ended:
        deployment.status = Deployment.Status.DECLINED
        deployment.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor,
        action=f"mutualaid.offer.{to}",
        summary=f"Offer on “{offer.request.title}” {_olabel(to)}" + (f": {reason}" if reason else ""),
        organization=offer.request.requesting_org if side == Side.REQUESTER else offer.offering_org,
        target=offer,
    )
    other = Side.OFFERER if side == Side.REQUESTER else Side.REQUESTER
    _notify_side(offer, other, f"Offer {_olabel(to)}", f"The offer on “{offer.request.title}” was {_olabel(to)}.")
    return offer


def offer_move(*, actor: Any, offer: Offer, to: str, terms: Terms | None = None, note: str = "") -> Offer:
    """One entry for every negotiated move, checked against `OFFER_TRANSITIONS` first (a move the
    table does not allow is refused naming the allowed ones). Binding comes from `offer_sign`."""
    current = Offer.objects.get(pk=offer.pk)
    if to not in OS.values:
        raise ValidationError({"status": f"“{to}” is not an offer status."})
    _check_move(current, to)
    if to in (OS.COUNTERED, OS.SUBMITTED):
        if terms is None:
            raise ValidationError({"status": "A counter-offer states its terms."})
        return offer_counter(actor=actor, offer=current, terms=terms, note=note)
    if to == OS.AGREED:
        return offer_accept_terms(actor=actor, offer=current)
    if to in (OS.DECLINED, OS.WITHDRAWN):
        return offer_close(actor=actor, offer=current, to=to, reason=note)
    raise ValidationError({"status": "An offer becomes binding when both sides have signed it."})


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


@transaction.atomic
def offer_sign(*, actor: Any, offer: Offer, typed_name: str, title: str = "", side: str | None = None) -> Offer:
    """A typed-name e-signature on the agreed terms for one side, by a role the covering agreement
    authorises for that side. The second side's signature executes the binding agreement."""
    offer = _locked(offer)
    if offer.status != OS.AGREED:
        raise ValidationError({"status": f"Only agreed terms are signed; this offer is {_olabel(offer.status)}."})
    side = side or side_of(actor, offer)
    if side not in Side.values:
        raise PermissionDenied("You are not a member of either organisation, so you cannot sign.")
    why = signing_refusal(actor, offer, side)
    if why:
        raise PermissionDenied(why)
    if not _same_name(typed_name, actor.full_name):
        raise ValidationError(
            {"typed_name": f"Type your full name exactly as on your account ({actor.full_name}) to sign."}
        )
    if offer.signatures.filter(side=side).exists():
        raise ValidationError({"typed_name": f"The {Side(side).label.lower()} has already signed."})
    today = timezone.localdate()
    bound = offer.agreement.party_rows.filter(
        organization_id__in=[offer.request.requesting_org_id, offer.offering_org_id],
        signed_on__isnull=False,
        withdrawn_on__isnull=True,
    ).count()
    if not offer.agreement.in_force_on(today) or bound < 2:
        raise ValidationError(
            {"status": f"“{offer.agreement.name}” no longer binds both organisations: nothing can be signed under it."}
        )
    org = offer.request.requesting_org if side == Side.REQUESTER else offer.offering_org
    signature = OfferSignature.objects.create(
        offer=offer,
        revision=offer.revision,
        side=side,
        organization=org,
        signer=actor,
        role=viewer_for(actor).roles_by_org[org.pk],
        typed_name=" ".join(typed_name.split()),
        title=title.strip(),
        signed_at=timezone.now(),
    )
    audit_record(
        actor=actor,
        action="mutualaid.offer.sign",
        summary=f"{signature.typed_name} signed for {org.name} ({Side(side).label.lower()}) on “{offer.request.title}”",
        organization=org,
        target=offer,
        data={"side": side, "role": signature.role, "typed_name": signature.typed_name, "revision": offer.revision},
    )
    if offer.signatures.count() == 2:
        _execute(offer, actor)
    return offer


def _snapshot(offer: Offer, rows: list[OfferResponder], signatures: list[OfferSignature]) -> dict[str, Any]:
    request, agreement = offer.request, offer.agreement
    return {
        "request": {
            "id": request.pk,
            "title": request.title,
            "description": request.description,
            "location_county_fips": request.location_county_fips,
            "mode": request.mode,
            "support_provided": request.support_provided,
            "safety_notes": request.safety_notes,
        },
        "parties": {
            "requesting": {"id": request.requesting_org_id, "name": request.requesting_org.name},
            "offering": {"id": offer.offering_org_id, "name": offer.offering_org.name},
        },
        "agreement": {
            "id": agreement.pk,
            "name": agreement.name,
            "kind": agreement.kind,
            "per_diem_basis": agreement.per_diem_basis,
            "liability_terms": agreement.liability_terms,
            "workers_comp_terms": agreement.workers_comp_terms,
            "reimbursement_terms": agreement.reimbursement_terms,
            "data_handling_terms": agreement.data_handling_terms,
        },
        "team": {"id": offer.team_id, "name": offer.team.name} if offer.team else None,
        "terms": terms_of(offer).as_json(),
        "revision": offer.revision,
        "cost_total": str(offer.cost_total),
        "responders": [
            {"id": r.responder_id, "name": r.responder.full_name, "role": r.role, "deployment": r.deployment_id}
            for r in rows
        ],
        "signatures": [
            {
                "side": s.side,
                "organization": s.organization.name,
                "signer_id": s.signer_id,
                "role": s.role,
                "typed_name": s.typed_name,
                "title": s.title,
                "signed_at": s.signed_at.isoformat(),
                "revision": s.revision,
            }
            for s in signatures
        ],
    }


def _execute(offer: Offer, actor: Any) -> BindingAgreement:
    """Both have signed: write the immutable record, issue a mission order per responder (the
    written authorisation), and authorise the deployments already accepted in writing."""
    rows = list(offer.responder_rows.select_related("responder", "deployment").order_by("pk"))
    signatures = list(offer.signatures.select_related("organization", "signer"))
    for row in rows:
        d = row.deployment
        if d.status in (Deployment.Status.PROPOSED, Deployment.Status.ACCEPTED):
            clash = services._overlapping(row.responder, offer.starts_on, offer.ends_on, exclude_pk=d.pk)
            if clash is not None:
                raise ValidationError(
                    {
                        "status": f"{row.responder.full_name} is already committed {clash.starts_on:%Y-%m-%d} – "
                        f"{clash.ends_on:%Y-%m-%d}; change the terms before signing."
                    }
                )
    now = timezone.now()
    snapshot = _snapshot(offer, rows, signatures)
    digest = hashlib.sha256(json.dumps(snapshot, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    binding = BindingAgreement.objects.create(
        number=f"MA-{now:%Y}-{offer.pk:05d}",
        offer=offer,
        request=offer.request,
        agreement=offer.agreement,
        requesting_org=offer.request.requesting_org,
        offering_org=offer.offering_org,
        starts_on=offer.starts_on,
        ends_on=offer.ends_on,
        cost_total=offer.cost_total,
        snapshot=snapshot,
        digest=digest,
        executed_at=now,
    )
    offer.status = OS.BINDING
    offer.save(update_fields=["status", "updated_at"])
    requester_signer = next(s for s in signatures if s.side == Side.REQUESTER)
    offerer_signer = next(s for s in signatures if s.side == Side.OFFERER)
    request = offer.request
    mode = offer.mode if offer.mode != AssistanceRequest.Mode.EITHER else request.mode
    where = request.requesting_org.name + (
        f", county {request.location_county_fips}" if request.location_county_fips else ""
    )
    for i, row in enumerate(rows, start=1):
        d = row.deployment
        if d.status in (Deployment.Status.PROPOSED, Deployment.Status.ACCEPTED):
            d.starts_on, d.ends_on = offer.starts_on, offer.ends_on
        fields = ["starts_on", "ends_on", "updated_at"]
        if d.status == Deployment.Status.ACCEPTED:
            d.status = Deployment.Status.AUTHORISED
            d.authorised_at = now
            d.authorised_by = offerer_signer.signer
            fields += ["status", "authorised_at", "authorised_by"]
        d.save(update_fields=fields)
        MissionOrder.objects.create(
            number=f"{binding.number}-{i:02d}",
            binding=binding,
            deployment=d,
            responder=row.responder,
            role=row.role,
            location=("Remote, for " if mode == AssistanceRequest.Mode.REMOTE else "") + where,
            mode=mode,
            reporting_to=f"{requester_signer.typed_name}"
            + (f", {requester_signer.title}" if requester_signer.title else "")
            + f", {request.requesting_org.name}",
            starts_on=d.starts_on,
            ends_on=d.ends_on,
            data_handling=offer.agreement.data_handling_terms,
            safety_notes=request.safety_notes,
            issued_at=now,
            issued_by=offerer_signer.signer,
        )
        if row.responder.user_id:
            _notice(
                f"mission-order:{binding.number}:{row.responder_id}",
                row.responder.user,
                row.responder.email,
                f"Mission order {binding.number}-{i:02d}: {request.title}",
                f"Your mission order for “{request.title}” at {request.requesting_org.name} is issued "
                f"({d.starts_on:%Y-%m-%d} – {d.ends_on:%Y-%m-%d}).\n\n" + _url("mutualaid:deployment", d.pk),
            )
    audit_record(
        actor=actor,
        action="mutualaid.offer.binding",
        summary=f"Agreement {binding.number} is binding: {offer.offering_org.name} helps "
        f"{request.requesting_org.name} on “{request.title}” ({len(rows)} mission order(s))",
        organization=request.requesting_org,
        target=binding,
        data={"digest": digest},
    )
    for s in (Side.REQUESTER, Side.OFFERER):
        _notify_side(offer, s, f"Binding agreement {binding.number}", f"Both sides signed on “{request.title}”.")
    return binding


def verify(binding: BindingAgreement) -> bool:
    """Does the stored snapshot still match its digest?"""
    text = json.dumps(binding.snapshot, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest() == binding.digest


# --- Deployments wired to the agreement -------------------------------------------------------


def authorisation_refusal(deployment: Deployment) -> str | None:
    """An offered deployment is authorised by its mission order, which only a binding agreement issues."""
    if hasattr(deployment, "offer_line") and not MissionOrder.objects.filter(deployment=deployment).exists():
        return (
            "This deployment comes from an offer: it is authorised by the mission order issued once both "
            "sides have signed the agreement."
        )
    return None


@dataclass
class Paperwork:
    due_on: date | None
    done: bool
    days_left: int | None
    overdue: bool


def paperwork(deployment: Deployment, today: date | None = None) -> Paperwork | None:
    """The emergency pre-deployment's timer: the papers (binding agreement and mission order) are due
    by `paperwork_due_on`; overdue when that day has passed without them."""
    if not deployment.emergency_predeploy:
        return None
    today = today or timezone.localdate()
    done = MissionOrder.objects.filter(deployment=deployment).exists()
    due = deployment.paperwork_due_on
    days_left = (due - today).days if due else None
    return Paperwork(due, done, days_left, bool(not done and due is not None and today > due))


def overdue_paperwork(user: Any, today: date | None = None) -> list[Deployment]:
    today = today or timezone.localdate()
    return list(
        Deployment.objects.visible_to(user)
        .filter(emergency_predeploy=True, paperwork_due_on__lt=today, mission_order__isnull=True)
        .select_related("responder", "request__requesting_org")
    )


# --- Notices: the outbox --------------------------------------------------------------------


def _url(name: str, *args: Any) -> str:
    return str(settings.COMMONGUARD_SITE_URL) + reverse(name, args=args)


def _notice(key: str, user: User | None, email: str, subject: str, body: str) -> None:
    """One e-mail in the outbox, written in the caller's transaction (a key is written once)."""
    if not email:
        return
    _, created = AidNotice.objects.get_or_create(
        key=key[:200],
        defaults={"user": user, "to_email": email, "subject": f"[CommonGuard] {subject}"[:250], "body": body},
    )
    if created:
        transaction.on_commit(_enqueue)


def _enqueue() -> None:
    send_aid_notices.enqueue()


def side_people(offer: Offer, side: str) -> list[User]:
    """Who hears about an offer on one side: the organisation's people who may negotiate or sign for
    it (the agreement's roles for that side, its coordinators, its admins)."""
    org_id = offer.request.requesting_org_id if side == Side.REQUESTER else offer.offering_org_id
    roles = set(offer.agreement.request_roles if side == Side.REQUESTER else offer.agreement.offer_roles)
    roles |= {Role.ORG_ADMIN, Role.COORDINATOR}
    return list(
        User.objects.filter(
            memberships__organization_id=org_id,
            memberships__status=Membership.Status.APPROVED,
            memberships__role__in=roles,
            is_active=True,
            is_service=False,
        ).distinct()
    )


def _notify_side(offer: Offer, side: str, subject: str, line: str) -> None:
    link = _url("mutualaid:offer", offer.pk)
    for user in side_people(offer, side):
        _notice(
            f"offer:{offer.pk}:{offer.status}:{offer.revision}:{side}:{user.pk}",
            user,
            user.email,
            f"{subject}: {offer.request.title}",
            f"{line}\n\nOpen the offer: {link}\n",
        )


def response_link_create(deployment: Deployment) -> str | None:
    """A single-use, expiring link for the responder to accept or decline (None without an account)."""
    responder = deployment.responder
    if responder.user_id is None:
        return None
    token = secrets.token_urlsafe(32)
    ResponseLink.objects.create(
        deployment=deployment,
        user_id=responder.user_id,
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
        expires_at=timezone.now() + timedelta(days=LINK_DAYS),
    )
    return _url("mutualaid:respond", token)


def notify_proposed(deployment: Deployment) -> None:
    """The responder gets an accept/decline link; the coordinators of their programme are told."""
    from commonguard.mutualaid.reminders import programme_coordinators

    responder, request = deployment.responder, deployment.request
    period = f"{deployment.starts_on:%Y-%m-%d} – {deployment.ends_on:%Y-%m-%d}"
    link = response_link_create(deployment)
    _notice(
        f"proposed:{deployment.pk}:responder",
        responder.user,
        responder.email,
        f"You are proposed for: {request.title}",
        f"{request.requesting_org.name} asks for help: “{request.title}” ({request.get_mode_display().lower()}, "
        f"{period}).\n\n"
        + (
            f"Accept (typed-name signature) or decline, once, within {LINK_DAYS} days: {link}\n"
            if link
            else "Tell your coordinator whether you accept.\n"
        ),
    )
    for coordinator in programme_coordinators(responder.programme_id):
        _notice(
            f"proposed:{deployment.pk}:coordinator:{coordinator.pk}",
            coordinator,
            coordinator.email,
            f"{responder.full_name} proposed for: {request.title}",
            f"{responder.full_name} is proposed for “{request.title}” at {request.requesting_org.name} ({period}).\n\n"
            + _url("mutualaid:deployment", deployment.pk)
            + "\n",
        )


OUTBOX = Outbox(pending=AidNotice.Status.PENDING, retry=AidNotice.Status.RETRY, sending=AidNotice.Status.SENDING)


def notices_send(batch: int = 100) -> int:
    """Send what is due in the outbox; returns the number sent. A claimed row whose worker died is
    taken again after the lease; a failed send (the mail server away included) is tried again at
    `retry_at` (30 s, 1, 2, 4 minutes), then recorded as failed after five tries."""
    sent = 0
    while True:
        token = OUTBOX.claim(AidNotice.objects.all(), limit=batch, lease=LEASE)
        if token is None:
            return sent
        rows = list(AidNotice.objects.filter(claim=token, status=AidNotice.Status.SENDING).select_related("user"))
        with mail_connection() as connection:
            for row in rows:
                sent += _send_notice(row, connection)
        if len(rows) < batch:
            return sent


def _send_notice(row: AidNotice, connection: Any) -> int:
    mine = AidNotice.objects.filter(pk=row.pk, claim=row.claim)
    if row.user is not None and not row.user.is_active:
        mine.update(status=AidNotice.Status.FAILED, last_error="inactive")
        return 0
    message = EmailMessage(subject=row.subject, body=row.body, to=[row.to_email], connection=connection)
    message.extra_headers["Message-ID"] = f"<aid-{row.pk}-{row.key.replace(':', '.')}@commonguard>"
    try:
        message.send()
    except Exception as exc:  # SMTP and socket errors alike: tried again later, then recorded
        failure = OUTBOX.failure(row.attempts + 1, max_attempts=MAX_ATTEMPTS, failed=AidNotice.Status.FAILED)
        mine.update(**failure, last_error=str(exc)[:500])
        return 0
    mine.update(status=AidNotice.Status.SENT, sent_at=timezone.now(), attempts=row.attempts + 1, last_error="")
    return 1


@task(queue_name="default")
def send_aid_notices() -> int:
    return notices_send()


# --- The accept/decline link ------------------------------------------------------------------


class LinkRefused(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def link_for(token: str, user: Any, *, lock: bool = False) -> ResponseLink:
    """The link a token names, for the signed-in person, or a clear refusal."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    qs = ResponseLink.objects.select_related("deployment__request__requesting_org", "deployment__responder")
    link = (qs.select_for_update() if lock else qs).filter(token_hash=digest).first()
    if link is None:
        raise LinkRefused("This link is not valid. Open your deployments from the mutual aid pages instead.", 404)
    if link.user_id != user.pk:
        raise LinkRefused(
            "This link was sent to someone else. Sign in as the person it was sent to, or ask your coordinator.",
            403,
        )
    if link.used_at is not None:
        raise LinkRefused(f"This link was already used on {timezone.localtime(link.used_at):%Y-%m-%d %H:%M}.", 410)
    if link.expires_at <= timezone.now():
        raise LinkRefused(
            f"This link expired on {timezone.localtime(link.expires_at):%Y-%m-%d}; ask your coordinator for a new one.",
            410,
        )
    if link.deployment.status != Deployment.Status.PROPOSED:
        raise LinkRefused(
            f"This deployment is already {link.deployment.get_status_display().lower()}: there is nothing to answer.",
            410,
        )
    return link


@transaction.atomic
def link_answer(*, actor: Any, token: str, accept: bool, signature: str = "") -> Deployment:
    """Accept (typed name) or decline through the link; the link is then spent."""
    link = link_for(token, actor, lock=True)
    deployment = services.deployment_transition(
        actor=actor,
        deployment=link.deployment,
        to=Deployment.Status.ACCEPTED if accept else Deployment.Status.DECLINED,
        signature=signature,
    )
    ResponseLink.objects.filter(deployment=deployment, used_at__isnull=True).update(used_at=timezone.now())
    return deployment
