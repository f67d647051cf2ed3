"""Every state change of mutual aid: agreements, the roster and its onboarding, team packages,
requests and deployments. Each service checks the write rule (`policies.py`), refuses bad input
with a clear `ValidationError` before writing anything, and writes an audit event in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from commonguard.accounts.models import Role
from commonguard.core.audit import audit_record
from commonguard.mutualaid import policies
from commonguard.mutualaid.models import (
    Agreement,
    AgreementParty,
    AssistanceRequest,
    AvailabilityWindow,
    Credential,
    Deployment,
    Responder,
    ResponderPrivate,
    Skill,
    TeamMember,
    TeamPackage,
    Training,
    skill_bits_of,
)
from commonguard.orgs.models import Organization

# EMAC lets resources deploy before the paperwork in an emergency; the papers are then due within 30 days.
PAPERWORK_DUE_DAYS = 30


def county_centroid(state: str, county_fips: str) -> tuple[float | None, float | None]:
    """The county organisation's coordinates (a population-weighted centre, see orgs.seeding)."""
    row = (
        Organization.objects.filter(kind=Organization.Kind.COUNTY, county_fips=county_fips, latitude__isnull=False)
        .values_list("latitude", "longitude")
        .first()
    )
    if row is None:
        return None, None
    return float(row[0]), float(row[1])


def _skills(slugs: Iterable[str]) -> list[Skill]:
    wanted = sorted(set(slugs))
    found = list(Skill.objects.filter(slug__in=wanted))
    unknown = sorted(set(wanted) - {s.slug for s in found})
    if unknown:
        raise ValidationError({"skills": f"Unknown skill(s): {', '.join(unknown)}."})
    return found


# --- Agreements --------------------------------------------------------------------------------


@dataclass
class AgreementInput:
    name: str
    kind: str
    administrator: Organization
    effective_from: date
    effective_to: date | None = None
    region_id: int | None = None
    legal_basis: str = ""
    liability_terms: str = ""
    workers_comp_terms: str = ""
    reimbursement_terms: str = ""
    per_diem_basis: str = Agreement.PerDiem.REQUESTER_RATES
    data_handling_terms: str = ""
    request_roles: list[str] = field(default_factory=lambda: [Role.ORG_ADMIN])
    offer_roles: list[str] = field(default_factory=lambda: [Role.ORG_ADMIN, Role.COORDINATOR])


def _check_roles(roles: Sequence[str], name: str) -> None:
    bad = sorted(set(roles) - set(Role.values))
    if bad:
        raise ValidationError({name: f"Unknown role(s): {', '.join(bad)}."})
    if not roles:
        raise ValidationError({name: "Name at least one role."})


@transaction.atomic
def agreement_create(*, actor: Any, data: AgreementInput) -> Agreement:
    """A draft agreement kept by `data.administrator`. Its admins or the state staff may create it."""
    if not policies.can_create_agreement_for(actor, data.administrator):
        raise PermissionDenied("Only the administering organisation's admins or state staff can draw up an agreement.")
    if data.kind not in Agreement.Kind.values:
        raise ValidationError({"kind": "Choose statewide compact, regional or bilateral."})
    if data.effective_to is not None and data.effective_to < data.effective_from:
        raise ValidationError({"effective_to": "The agreement cannot end before it takes effect."})
    if data.kind == Agreement.Kind.REGIONAL and data.region_id is None:
        raise ValidationError({"region_id": "A regional agreement names its region."})
    if data.per_diem_basis not in Agreement.PerDiem.values:
        raise ValidationError({"per_diem_basis": "Unknown per-diem basis."})
    _check_roles(data.request_roles, "request_roles")
    _check_roles(data.offer_roles, "offer_roles")
    agreement = Agreement.objects.create(
        name=data.name.strip(),
        kind=data.kind,
        state=data.administrator.state,
        region_id=data.region_id,
        administrator=data.administrator,
        effective_from=data.effective_from,
        effective_to=data.effective_to,
        legal_basis=data.legal_basis,
        liability_terms=data.liability_terms,
        workers_comp_terms=data.workers_comp_terms,
        reimbursement_terms=data.reimbursement_terms,
        per_diem_basis=data.per_diem_basis,
        data_handling_terms=data.data_handling_terms,
        request_roles=sorted(set(data.request_roles)),
        offer_roles=sorted(set(data.offer_roles)),
    )
    audit_record(
        actor=actor,
        action="mutualaid.agreement.create",
        summary=f"Drew up the agreement “{agreement.name}”",
        organization=data.administrator,
        target=agreement,
    )
    return agreement


@transaction.atomic
def agreement_party_sign(
    *,
    actor: Any,
    agreement: Agreement,
    organization: Organization,
    signed_on: date,
    signed_by_name: str,
    title: str = "",
) -> AgreementParty:
    """Record that `organization` signed (joined) the agreement. A bilateral agreement has two parties."""
    if not policies.can_keep_agreement(actor, agreement):
        raise PermissionDenied("Only the agreement's administrator or state staff can record signatures.")
    if organization.status != Organization.Status.APPROVED:
        raise ValidationError({"organization": "Only an approved organisation can be a party."})
    if organization.state != agreement.state:
        raise ValidationError({"organization": "The party must be in the agreement's state."})
    if not signed_by_name.strip():
        raise ValidationError({"signed_by_name": "Name the person who signed."})
    existing = agreement.party_rows.exclude(organization=organization).filter(withdrawn_on__isnull=True).count()
    if agreement.kind == Agreement.Kind.BILATERAL and existing >= 2:
        raise ValidationError({"organization": "A bilateral agreement has exactly two parties."})
    if (
        agreement.kind == Agreement.Kind.REGIONAL
        and agreement.region_id
        and organization.region_id != agreement.region_id
    ):
        raise ValidationError({"organization": "A regional agreement binds organisations of its region only."})
    party, _ = AgreementParty.objects.update_or_create(
        agreement=agreement,
        organization=organization,
        defaults={
            "signed_on": signed_on,
            "signed_by_name": signed_by_name.strip(),
            "signed_by_title": title,
            "withdrawn_on": None,
        },
    )
    audit_record(
        actor=actor,
        action="mutualaid.agreement.sign",
        summary=f"{organization.name} signed “{agreement.name}” ({signed_by_name.strip()})",
        organization=organization,
        target=agreement,
    )
    return party


@transaction.atomic
def agreement_set_status(*, actor: Any, agreement: Agreement, status: str) -> Agreement:
    """Draft → in force (needs two signed parties) → terminated."""
    if not policies.can_keep_agreement(actor, agreement):
        raise PermissionDenied("Only the agreement's administrator or state staff can change its status.")
    allowed = {
        Agreement.Status.DRAFT: {Agreement.Status.IN_FORCE},
        Agreement.Status.IN_FORCE: {Agreement.Status.TERMINATED},
        Agreement.Status.TERMINATED: set(),
    }
    if status not in allowed[Agreement.Status(agreement.status)]:
        raise ValidationError(
            {"status": f"An agreement that is {agreement.get_status_display().lower()} cannot become {status}."}
        )
    if status == Agreement.Status.IN_FORCE:
        signed = agreement.party_rows.filter(signed_on__isnull=False, withdrawn_on__isnull=True).count()
        if signed < 2:
            raise ValidationError({"status": "An agreement comes into force once at least two parties have signed."})
    agreement.status = status
    agreement.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor,
        action=f"mutualaid.agreement.{status}",
        summary=f"“{agreement.name}” is now {agreement.get_status_display().lower()}",
        organization=agreement.administrator,
        target=agreement,
    )
    return agreement


# --- Roster and onboarding ---------------------------------------------------------------------

S = Responder.Status
# Onboarding: applied → screening → background check → agreement signed → training → active ⇄ inactive;
# any state but separated → separated.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.APPLIED: frozenset({S.SCREENING, S.SEPARATED}),
    S.SCREENING: frozenset({S.BACKGROUND_CHECK, S.SEPARATED}),
    S.BACKGROUND_CHECK: frozenset({S.AGREEMENT_SIGNED, S.SEPARATED}),
    S.AGREEMENT_SIGNED: frozenset({S.TRAINING, S.SEPARATED}),
    S.TRAINING: frozenset({S.ACTIVE, S.SEPARATED}),
    S.ACTIVE: frozenset({S.INACTIVE, S.SEPARATED}),
    S.INACTIVE: frozenset({S.ACTIVE, S.SEPARATED}),
    S.SEPARATED: frozenset(),
}


def _label(status: str) -> str:
    return str(S(status).label).lower()


@dataclass
class ResponderInput:
    programme: Organization
    full_name: str
    email: str
    source: str
    home_county_fips: str
    work_mode: str = Responder.WorkMode.EITHER
    skills: list[str] = field(default_factory=list)
    phone: str = ""
    home_address: str = ""
    user_id: int | None = None


@transaction.atomic
def responder_create(*, actor: Any, data: ResponderInput) -> Responder:
    """Put an applicant on a programme's roster (status applied). Coordinators of the programme only."""
    if not policies.can_coordinate(actor, data.programme.pk):
        raise PermissionDenied("Only the programme's coordinators can add responders.")
    errors: dict[str, str] = {}
    if not data.full_name.strip():
        errors["full_name"] = "Enter the responder's name."
    if data.source not in Responder.Source.values:
        errors["source"] = "Choose member organisation, Guard, volunteer corps or university."
    if data.work_mode not in Responder.WorkMode.values:
        errors["work_mode"] = "Choose remote, on-site or either."
    if len(data.home_county_fips) != 5 or not data.home_county_fips.isdigit():
        errors["home_county_fips"] = "The home county is a five-digit FIPS code, e.g. 26065."
    if errors:
        raise ValidationError(errors)
    skills = _skills(data.skills)
    lat, lng = county_centroid(data.programme.state, data.home_county_fips)
    responder = Responder.objects.create(
        user_id=data.user_id,
        full_name=data.full_name.strip(),
        email=data.email.strip().lower(),
        programme=data.programme,
        source=data.source,
        status=S.APPLIED,
        status_changed_at=timezone.now(),
        home_county_fips=data.home_county_fips,
        latitude=lat,
        longitude=lng,
        work_mode=data.work_mode,
        skill_bits=skill_bits_of(skills),
    )
    responder.skills.set(skills)
    ResponderPrivate.objects.create(responder=responder, phone=data.phone, home_address=data.home_address)
    audit_record(
        actor=actor,
        action="mutualaid.responder.create",
        summary=f"Added {responder.full_name} to the roster of {data.programme.name}",
        organization=data.programme,
        target=responder,
    )
    return responder


@transaction.atomic
def responder_set_skills(*, actor: Any, responder: Responder, skills: list[str]) -> Responder:
    if not policies.can_coordinate(actor, responder.programme_id):
        raise PermissionDenied("Only the programme's coordinators can change a responder's skills.")
    found = _skills(skills)
    responder.skills.set(found)
    responder.skill_bits = skill_bits_of(found)
    responder.save(update_fields=["skill_bits", "updated_at"])
    audit_record(
        actor=actor,
        action="mutualaid.responder.skills",
        summary=f"Skills of {responder.full_name}: {', '.join(sorted(s.slug for s in found)) or 'none'}",
        organization=responder.programme,
        target=responder,
    )
    return responder


@transaction.atomic
def responder_set_conflicts(*, actor: Any, responder: Responder, organizations: list[Organization]) -> None:
    if not policies.can_coordinate(actor, responder.programme_id):
        raise PermissionDenied("Only the programme's coordinators can record conflicts of interest.")
    responder.conflicts.set(organizations)
    audit_record(
        actor=actor,
        action="mutualaid.responder.conflicts",
        summary=f"Conflicts of interest of {responder.full_name}: {len(organizations)} organisation(s)",
        organization=responder.programme,
        target=responder,
    )


@transaction.atomic
def background_check_record(
    *, actor: Any, responder: Responder, result: str, checked_on: date, note: str = ""
) -> Responder:
    """Record the result of the background check (coordinators only). The result itself is a
    personal detail; only that a check was completed, and when, shows on the roster."""
    if not policies.can_coordinate(actor, responder.programme_id):
        raise PermissionDenied("Only the programme's coordinators can record a background check.")
    if result not in (ResponderPrivate.Result.CLEAR, ResponderPrivate.Result.ADVERSE):
        raise ValidationError({"result": "A background check is clear or adverse."})
    if checked_on > timezone.localdate():
        raise ValidationError({"checked_on": "The check cannot be dated in the future."})
    private = ResponderPrivate.objects.select_for_update().get(responder=responder)
    private.background_check_result = result
    private.background_check_note = note
    private.save(update_fields=["background_check_result", "background_check_note"])
    responder.background_check = Responder.BackgroundCheck.COMPLETE
    responder.background_checked_on = checked_on
    responder.save(update_fields=["background_check", "background_checked_on", "updated_at"])
    # The result stays out of the audit summary: the trail is read more widely than the roster.
    audit_record(
        actor=actor,
        action="mutualaid.responder.background_check",
        summary=f"Recorded the background check of {responder.full_name}",
        organization=responder.programme,
        target=responder,
    )
    return responder


def lapsed_credentials(responder: Responder, on: date) -> list[Credential]:
    return [c for c in responder.credentials.all() if not c.valid_on(on)]


def _guard(responder: Responder, to: str, today: date) -> str | None:
    """Why the move to `to` is refused, or None."""
    if to == S.AGREEMENT_SIGNED:
        result = ResponderPrivate.objects.filter(responder=responder).values_list("background_check_result", flat=True)
        if responder.background_check != Responder.BackgroundCheck.COMPLETE or list(result) != ["clear"]:
            return "the background check must be complete and clear before the volunteer agreement is signed"
    if to == S.ACTIVE:
        if not responder.trainings.exists():
            return "record at least one completed training first"
        lapsed = lapsed_credentials(responder, today)
        if lapsed:
            return "these credentials have lapsed: " + ", ".join(c.name for c in lapsed)
    return None


@transaction.atomic
def responder_transition(
    *, actor: Any, responder: Responder, to: str, note: str = "", system: bool = False
) -> Responder:
    """Move a responder along onboarding. Coordinators of the programme only (or the system, for
    lapsed credentials). An illegal move is refused naming the moves that are allowed."""
    if not system and not policies.can_coordinate(actor, responder.programme_id):
        raise PermissionDenied("Only the programme's coordinators can move a responder through onboarding.")
    responder = Responder.objects.select_for_update().get(pk=responder.pk)
    if to not in S.values:
        raise ValidationError({"status": f"“{to}” is not an onboarding status."})
    allowed = TRANSITIONS[responder.status]
    if to not in allowed:
        options = ", ".join(_label(s) for s in S.values if s in allowed) or "nothing (separation is final)"
        raise ValidationError(
            {
                "status": f"A responder who is {_label(responder.status)} cannot become {_label(to)}; "
                f"they can become: {options}."
            }
        )
    why = _guard(responder, to, timezone.localdate())
    if why:
        raise ValidationError({"status": f"{responder.full_name} cannot become {_label(to)}: {why}."})
    before = responder.status
    responder.status = to
    responder.status_changed_at = timezone.now()
    fields = ["status", "status_changed_at", "updated_at"]
    if to == S.BACKGROUND_CHECK and responder.background_check == Responder.BackgroundCheck.NOT_STARTED:
        responder.background_check = Responder.BackgroundCheck.PENDING
        fields.append("background_check")
    if to == S.AGREEMENT_SIGNED:
        responder.agreement_signed_on = timezone.localdate()
        fields.append("agreement_signed_on")
    responder.save(update_fields=fields)
    audit_record(
        actor=None if system else actor,
        action="mutualaid.responder.status",
        summary=f"{responder.full_name}: {_label(before)} → {_label(to)}" + (f" ({note})" if note else ""),
        organization=responder.programme,
        target=responder,
        data={"from": before, "to": to},
    )
    return responder


@transaction.atomic
def credential_add(
    *,
    actor: Any,
    responder: Responder,
    name: str,
    expires_on: date | None,
    issued_on: date | None = None,
    issuer: str = "",
) -> Credential:
    if not policies.can_coordinate(actor, responder.programme_id):
        raise PermissionDenied("Only the programme's coordinators can record credentials.")
    if not name.strip():
        raise ValidationError({"name": "Name the credential."})
    if issued_on and expires_on and expires_on < issued_on:
        raise ValidationError({"expires_on": "A credential cannot expire before it was issued."})
    credential = Credential.objects.create(
        responder=responder, name=name.strip(), issuer=issuer, issued_on=issued_on, expires_on=expires_on
    )
    audit_record(
        actor=actor,
        action="mutualaid.credential.add",
        summary=f"Credential “{credential.name}” for {responder.full_name}",
        organization=responder.programme,
        target=responder,
    )
    return credential


@transaction.atomic
def training_add(*, actor: Any, responder: Responder, name: str, completed_on: date) -> Training:
    if not policies.can_coordinate(actor, responder.programme_id):
        raise PermissionDenied("Only the programme's coordinators can record training.")
    if completed_on > timezone.localdate():
        raise ValidationError({"completed_on": "Training cannot be completed in the future."})
    training = Training.objects.create(responder=responder, name=name.strip(), completed_on=completed_on)
    audit_record(
        actor=actor,
        action="mutualaid.training.add",
        summary=f"Training “{training.name}” for {responder.full_name}",
        organization=responder.programme,
        target=responder,
    )
    return training


@transaction.atomic
def availability_add(
    *, actor: Any, responder: Responder, starts_on: date, ends_on: date, note: str = ""
) -> AvailabilityWindow:
    """The responder themself or a coordinator of their programme."""
    if responder.user_id != getattr(actor, "pk", None) and not policies.can_coordinate(actor, responder.programme_id):
        raise PermissionDenied("Only the responder or their coordinators can set availability.")
    if ends_on < starts_on:
        raise ValidationError({"ends_on": "The window cannot end before it starts."})
    window = AvailabilityWindow.objects.create(responder=responder, starts_on=starts_on, ends_on=ends_on, note=note)
    audit_record(
        actor=actor,
        action="mutualaid.availability.add",
        summary=f"{responder.full_name} available {starts_on:%Y-%m-%d} – {ends_on:%Y-%m-%d}",
        organization=responder.programme,
        target=responder,
    )
    return window


# --- Team packages -----------------------------------------------------------------------------


@transaction.atomic
def team_from_template(*, actor: Any, template: TeamPackage, provider: Organization, name: str) -> TeamPackage:
    """A draft package for `provider` copied from a typing template (roles, capabilities, limits)."""
    if not template.is_template:
        raise ValidationError({"template": "Start from a template package."})
    if not policies.can_coordinate(actor, provider.pk) and provider.pk not in _admin_orgs(actor):
        raise PermissionDenied("Only the provider's coordinators or admins can build its team packages.")
    team = TeamPackage.objects.create(
        name=name.strip() or template.name,
        provider=provider,
        status=TeamPackage.Status.DRAFT,
        nims_resource_type=template.nims_resource_type,
        type_level=template.type_level,
        mission=template.mission,
        limitations=template.limitations,
        roles=template.roles,
        remote_capable=template.remote_capable,
        onsite_capable=template.onsite_capable,
        self_sufficiency_hours=template.self_sufficiency_hours,
        max_deployment_days=template.max_deployment_days,
        shift_length_hours=template.shift_length_hours,
        skill_bits=template.skill_bits,
    )
    team.capabilities.set(template.capabilities.all())
    audit_record(
        actor=actor,
        action="mutualaid.team.create",
        summary=f"Team package “{team.name}” from “{template.name}”",
        organization=provider,
        target=team,
    )
    return team


def _admin_orgs(actor: Any) -> frozenset[int]:
    from commonguard.accounts.viewer import viewer_for

    return viewer_for(actor).admin_org_ids


@transaction.atomic
def team_add_member(*, actor: Any, team: TeamPackage, responder: Responder, role: str) -> TeamMember:
    if team.provider_id is None or not policies.can_coordinate(actor, team.provider_id):
        raise PermissionDenied("Only the provider's coordinators can staff its team packages.")
    if responder.programme_id != team.provider_id:
        raise ValidationError({"responder": "A team is staffed from its provider's own roster."})
    member, _ = TeamMember.objects.update_or_create(team=team, responder=responder, defaults={"role": role})
    audit_record(
        actor=actor,
        action="mutualaid.team.member",
        summary=f"{responder.full_name} on “{team.name}” as {role}",
        organization=team.provider,
        target=team,
    )
    return member


# --- Requests ----------------------------------------------------------------------------------


@dataclass
class RequestInput:
    requesting_org: Organization
    title: str
    description: str
    skills: list[str]
    starts_on: date
    duration_days: int = 7
    mode: str = AssistanceRequest.Mode.EITHER
    headcount: int = 1
    priority: str = AssistanceRequest.Priority.HIGH
    support_provided: str = ""
    safety_notes: str = ""
    location_county_fips: str = ""
    incident_report: Any = None  # an IncidentReport of the requesting organisation that the actor may read


@transaction.atomic
def request_create(*, actor: Any, data: RequestInput) -> AssistanceRequest:
    """An organisation asks for help. Any approved member but a read-only official may ask."""
    if not policies.can_request_for(actor, data.requesting_org.pk):
        raise PermissionDenied("Only members of the organisation (not read-only officials) can ask for help for it.")
    errors: dict[str, str] = {}
    if not data.title.strip():
        errors["title"] = "Say in a few words what you need."
    if not data.description.strip():
        errors["description"] = "Describe the situation and the work."
    if not data.skills:
        errors["skills"] = "Choose at least one skill."
    if data.duration_days < 1 or data.duration_days > 90:
        errors["duration_days"] = "A request lasts from 1 to 90 days."
    if data.headcount < 1 or data.headcount > 100:
        errors["headcount"] = "Ask for 1 to 100 people."
    if data.mode not in AssistanceRequest.Mode.values:
        errors["mode"] = "Choose remote, on-site or either."
    if data.priority not in AssistanceRequest.Priority.values:
        errors["priority"] = "Choose a priority."
    if data.starts_on < timezone.localdate() - timedelta(days=1):
        errors["starts_on"] = "Help cannot be requested for a day in the past."
    if data.incident_report is not None:
        from commonguard.incidents.models import IncidentReport

        readable = IncidentReport.objects.visible_to(actor).filter(pk=data.incident_report.pk)
        if data.incident_report.organization_id != data.requesting_org.pk or not readable.exists():
            errors["requesting_org"] = "Ask for help from an incident report of the organisation the help is for."
    if errors:
        raise ValidationError(errors)
    skills = _skills(data.skills)
    org = data.requesting_org
    fips = data.location_county_fips or org.county_fips
    lat, lng = (
        (float(org.latitude), float(org.longitude))
        if not data.location_county_fips and org.latitude is not None and org.longitude is not None
        else county_centroid(org.state, fips)
    )
    request = AssistanceRequest.objects.create(
        requesting_org=org,
        created_by=actor,
        title=data.title.strip(),
        description=data.description.strip(),
        skill_bits=skill_bits_of(skills),
        mode=data.mode,
        location_county_fips=fips,
        latitude=lat,
        longitude=lng,
        starts_on=data.starts_on,
        duration_days=data.duration_days,
        headcount=data.headcount,
        priority=data.priority,
        support_provided=data.support_provided,
        safety_notes=data.safety_notes,
        incident_report=data.incident_report,
    )
    request.skills.set(skills)
    if data.incident_report is not None:
        from commonguard.incidents.services import report_event_record

        report_event_record(
            report=data.incident_report,
            actor=actor,
            kind="aid_requested",
            summary=f"Asked for help through mutual aid: {request.title}",
        )
    audit_record(
        actor=actor,
        action="mutualaid.request.create",
        summary=f"{org.name} asked for help: {request.title}",
        organization=org,
        target=request,
    )
    return request


# --- Deployments -------------------------------------------------------------------------------

D = Deployment.Status
DEPLOYMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    D.PROPOSED: frozenset({D.ACCEPTED, D.DECLINED, D.ACTIVE}),  # → active only as an emergency pre-deployment
    D.ACCEPTED: frozenset({D.AUTHORISED, D.ACTIVE}),  # idem
    D.DECLINED: frozenset(),
    D.AUTHORISED: frozenset({D.ACTIVE}),
    D.ACTIVE: frozenset({D.EXTENDED, D.RELEASED}),
    D.EXTENDED: frozenset({D.EXTENDED, D.RELEASED}),
    D.RELEASED: frozenset({D.DEBRIEFED}),
    D.DEBRIEFED: frozenset(),
}


def _dlabel(status: str) -> str:
    return str(D(status).label).lower()


def _overlapping(
    responder: Responder, starts_on: date, ends_on: date, exclude_pk: int | None = None
) -> Deployment | None:
    qs = Deployment.objects.filter(
        responder=responder, status__in=Deployment.HOLDING, starts_on__lte=ends_on, ends_on__gte=starts_on
    )
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.select_related("request").first()


@transaction.atomic
def deployment_propose(
    *,
    actor: Any,
    request: AssistanceRequest,
    responder: Responder,
    starts_on: date | None = None,
    days: int | None = None,
) -> Deployment:
    """A coordinator proposes one of their responders for a request (the responder then accepts in writing)."""
    if not policies.can_coordinate(actor, responder.programme_id):
        raise PermissionDenied("Only the responder's coordinators can propose them.")
    if request.status != AssistanceRequest.Status.OPEN:
        raise ValidationError({"request": "The request is no longer open."})
    if responder.status != S.ACTIVE:
        raise ValidationError({"responder": f"{responder.full_name} is {_label(responder.status)}, not active."})
    if responder.conflicts.filter(pk=request.requesting_org_id).exists():
        raise ValidationError(
            {
                "responder": f"{responder.full_name} has a declared conflict of interest with "
                f"{request.requesting_org.name}."
            }
        )
    start = starts_on or request.starts_on
    end = start + timedelta(days=(days or request.duration_days) - 1)
    Responder.objects.select_for_update().filter(pk=responder.pk).first()
    clash = _overlapping(responder, start, end)
    if clash is not None:
        raise ValidationError(
            {
                "responder": f"{responder.full_name} is already committed "
                f"{clash.starts_on:%Y-%m-%d} – {clash.ends_on:%Y-%m-%d} "
                f"(“{clash.request.title}”)."
            }
        )
    deployment = Deployment.objects.create(request=request, responder=responder, starts_on=start, ends_on=end)
    audit_record(
        actor=actor,
        action="mutualaid.deployment.propose",
        summary=f"Proposed {responder.full_name} for “{request.title}”",
        organization=responder.programme,
        target=deployment,
    )
    from commonguard.mutualaid.offers import notify_proposed  # the outbox: an accept/decline link (ADR 32)

    notify_proposed(deployment)
    return deployment


@transaction.atomic
def deployment_transition(
    *,
    actor: Any,
    deployment: Deployment,
    to: str,
    signature: str = "",
    emergency: bool = False,
    extend_to: date | None = None,
) -> Deployment:
    """Move a deployment: the responder accepts or declines in writing (typed name); a coordinator
    of their programme authorises, starts (or, flagged as an emergency, starts before the paperwork,
    with papers due in 30 days), extends, releases and debriefs."""
    deployment = Deployment.objects.select_for_update().select_related("responder", "request").get(pk=deployment.pk)
    responder = deployment.responder
    today = timezone.localdate()
    if to not in D.values:
        raise ValidationError({"status": f"“{to}” is not a deployment status."})
    allowed = DEPLOYMENT_TRANSITIONS[deployment.status]
    if to not in allowed:
        options = ", ".join(_dlabel(s) for s in D.values if s in allowed) or "nothing (this is final)"
        raise ValidationError(
            {
                "status": f"A deployment that is {_dlabel(deployment.status)} cannot become {_dlabel(to)}; "
                f"it can become: {options}."
            }
        )
    is_responder = responder.user_id is not None and responder.user_id == getattr(actor, "pk", None)
    if to in (D.ACCEPTED, D.DECLINED):
        if not is_responder:
            raise PermissionDenied("Only the responder can accept or decline in writing.")
        if (
            to == D.ACCEPTED
            and " ".join(signature.split()).casefold() != " ".join(responder.full_name.split()).casefold()
        ):
            raise ValidationError(
                {"signature": f"Type your full name exactly as on the roster ({responder.full_name}) to sign."}
            )
    elif not policies.can_coordinate(actor, responder.programme_id):
        raise PermissionDenied(
            "Only the responder's coordinators can authorise, start, extend or release a deployment."
        )
    fields = ["status", "updated_at"]
    if to == D.ACCEPTED:
        clash = _overlapping(responder, deployment.starts_on, deployment.ends_on, exclude_pk=deployment.pk)
        if clash is not None:
            raise ValidationError(
                {
                    "status": f"You are already committed {clash.starts_on:%Y-%m-%d} – {clash.ends_on:%Y-%m-%d}; "
                    "these days overlap."
                }
            )
        deployment.accepted_at = timezone.now()
        deployment.accepted_signature = " ".join(signature.split())
        fields += ["accepted_at", "accepted_signature"]
    if to == D.AUTHORISED:
        from commonguard.mutualaid.offers import authorisation_refusal

        why = authorisation_refusal(deployment)
        if why:
            raise ValidationError({"status": why})
        deployment.authorised_at = timezone.now()
        deployment.authorised_by = actor
        fields += ["authorised_at", "authorised_by"]
    if to == D.ACTIVE:
        if deployment.status != D.AUTHORISED:
            if not emergency:
                raise ValidationError(
                    {
                        "status": "The deployment is not authorised in writing yet; "
                        "only an emergency pre-deployment may start now."
                    }
                )
            deployment.emergency_predeploy = True
            deployment.paperwork_due_on = today + timedelta(days=PAPERWORK_DUE_DAYS)
            fields += ["emergency_predeploy", "paperwork_due_on"]
        why = _activation_refusal(deployment, today)
        if why:
            raise ValidationError({"status": why})
    if to == D.EXTENDED:
        if extend_to is None or extend_to <= deployment.ends_on:
            raise ValidationError({"extend_to": "An extension needs a new end date after the current one."})
        clash = _overlapping(responder, deployment.ends_on + timedelta(days=1), extend_to, exclude_pk=deployment.pk)
        if clash is not None:
            raise ValidationError(
                {"extend_to": f"{responder.full_name} is committed elsewhere from {clash.starts_on:%Y-%m-%d}."}
            )
        deployment.ends_on = extend_to
        fields.append("ends_on")
    if to == D.RELEASED:
        deployment.released_at = timezone.now()
        fields.append("released_at")
    if to == D.DEBRIEFED:
        deployment.debriefed_at = timezone.now()
        fields.append("debriefed_at")
    before = deployment.status
    deployment.status = to
    deployment.save(update_fields=fields)
    audit_record(
        actor=actor,
        action=f"mutualaid.deployment.{to}",
        summary=f"{responder.full_name} on “{deployment.request.title}”: {_dlabel(before)} → {_dlabel(to)}"
        + (" (emergency pre-deployment)" if to == D.ACTIVE and deployment.emergency_predeploy else ""),
        organization=deployment.request.requesting_org,
        target=deployment,
        data={"from": before, "to": to, "signature": deployment.accepted_signature if to == D.ACCEPTED else ""},
    )
    return deployment


def _activation_refusal(deployment: Deployment, today: date) -> str | None:
    """Why this responder may not start work now, or None (research §1.7 deployment guard)."""
    responder = deployment.responder
    if responder.status != S.ACTIVE:
        return f"{responder.full_name} is {_label(responder.status)} on the roster, not active."
    on = max(today, deployment.starts_on)
    lapsed = [c.name for c in responder.credentials.filter(Q(expires_on__lt=on))]
    if lapsed:
        return f"{responder.full_name}'s credentials have expired: {', '.join(lapsed)}."
    if responder.conflicts.filter(pk=deployment.request.requesting_org_id).exists():
        return (
            f"{responder.full_name} has a declared conflict of interest with {deployment.request.requesting_org.name}."
        )
    clash = _overlapping(responder, deployment.starts_on, deployment.ends_on, exclude_pk=deployment.pk)
    if clash is not None:
        return f"{responder.full_name} is already committed {clash.starts_on:%Y-%m-%d} – {clash.ends_on:%Y-%m-%d}."
    return None
