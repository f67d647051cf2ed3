"""Every change to the directory: new organisations, their vetting, and role-based contacts."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from commonguard.accounts import policies
from commonguard.accounts.models import Membership, Role, User
from commonguard.accounts.viewer import forget_viewer, viewer_for
from commonguard.core.audit import audit_record, stamp_decision
from commonguard.orgs.models import ContactAssignment, Organization, Region, normalise_search_text
from commonguard.orgs.states import state_by_postal


@transaction.atomic
def organization_request(
    *,
    actor: User,
    name: str,
    kind: str,
    state: str,
    county: Organization | None = None,
    website: str = "",
    population: int | None = None,
    message: str = "",
) -> Organization:
    """Ask the state to add a new organisation; the asker becomes its first admin once a state
    liaison approves it. Refuses a name that already exists in the same county (or state)."""
    state_info = state_by_postal(state)
    if kind not in Organization.Kind.values:
        raise ValidationError({"kind": "Choose a kind of organisation from the list."})
    if county is not None and (county.kind != Organization.Kind.COUNTY or county.state != state_info.postal):
        raise ValidationError({"county": f"Choose a county of {state_info.name}."})
    clash = Organization.objects.filter(
        state=state_info.postal, search_name=normalise_search_text(name), county=county
    ).exclude(status=Organization.Status.REJECTED)
    if clash.exists():
        raise ValidationError({"name": f"{name} is already in the directory. Ask to join it instead."})
    org = Organization(
        name=name.strip(),
        kind=kind,
        state=state_info.postal,
        county=county,
        county_fips=county.county_fips if county else "",
        region=county.region if county else None,
        website=website,
        population=population,
        time_zone=county.time_zone if county else state_info.time_zone,
        status=Organization.Status.PENDING,
        requested_by=actor,
    )
    org.full_clean(exclude=["source_key", "search_name"])
    org.save()
    Membership.objects.create(user=actor, organization=org, role=Role.ORG_ADMIN, message=message)
    audit_record(
        actor=actor,
        action="organization.request",
        summary=f"{actor.email} asked to add {org.name} ({org.get_kind_display()}) to the directory",
        organization=org,
        target=org,
    )
    forget_viewer(actor)
    return org


def _decide_organization(*, actor: User, organization: Organization, status: str, note: str, verb: str) -> Organization:
    if organization.status != Organization.Status.PENDING:
        raise ValidationError(f"This organisation was already {organization.get_status_display().lower()}.")
    policies.check_can_decide_organization(actor, organization)
    stamp_decision(organization, actor=actor, status=status, note=note)
    # The requester's own membership follows the organisation's fate.
    follow = Membership.Status.APPROVED if status == Organization.Status.APPROVED else Membership.Status.REJECTED
    for membership in Membership.objects.filter(
        organization=organization, status=Membership.Status.PENDING, user=organization.requested_by
    ):
        stamp_decision(membership, actor=actor, status=follow, note="", at=organization.decided_at)
        forget_viewer(membership.user)
    audit_record(
        actor=actor,
        action=f"organization.{verb}",
        summary=f"{actor.email} {verb}d {organization.name}",
        organization=organization,
        target=organization,
        data={"note": note} if note else None,
    )
    return organization


@transaction.atomic
def organization_approve(*, actor: User, organization: Organization, note: str = "") -> Organization:
    return _decide_organization(
        actor=actor, organization=organization, status=Organization.Status.APPROVED, note=note, verb="approve"
    )


@transaction.atomic
def organization_reject(*, actor: User, organization: Organization, note: str = "") -> Organization:
    return _decide_organization(
        actor=actor, organization=organization, status=Organization.Status.REJECTED, note=note, verb="decline"
    )


@transaction.atomic
def organization_update_profile(
    *, actor: User, organization: Organization, website: str, time_zone: str
) -> Organization:
    policies.check_can_manage_organization(actor, organization)
    organization.website = website
    organization.time_zone = time_zone
    organization.full_clean(exclude=["source_key", "search_name", "county"])
    organization.save(update_fields=["website", "time_zone", "updated_at"])
    audit_record(
        actor=actor,
        action="organization.update",
        summary=f"{actor.email} updated {organization.name}",
        organization=organization,
        target=organization,
    )
    return organization


@transaction.atomic
def contact_assign(
    *, actor: User, organization: Organization, role: str, holder: User, phone: str = "", notes: str = ""
) -> ContactAssignment:
    """Give a contact role to one of the organisation's approved people. The previous holder's
    assignment is ended, not deleted, so the history of who held the role survives."""
    policies.check_can_manage_organization(actor, organization)
    if role not in ContactAssignment.Role.values:
        raise ValidationError({"role": "Choose a contact role from the list."})
    if not Membership.objects.approved().filter(organization=organization, user=holder).exists():
        raise ValidationError({"holder": f"{holder} is not an approved member of {organization.name}."})
    now = timezone.now()
    previous = ContactAssignment.objects.filter(organization=organization, role=role, ended_at__isnull=True).first()
    if previous is not None:
        previous.ended_at = now
        previous.save(update_fields=["ended_at"])
    assignment = ContactAssignment.objects.create(
        organization=organization,
        role=role,
        holder=holder,
        phone=phone or holder.phone,
        notes=notes,
        started_at=now,
        assigned_by=actor,
    )
    audit_record(
        actor=actor,
        action="contact.assign",
        summary=f"{actor.email} made {holder.email} the {assignment.get_role_display()} of {organization.name}"
        + (f" (was {previous.holder.email})" if previous else ""),
        organization=organization,
        target=assignment,
    )
    return assignment


@transaction.atomic
def contact_end(*, actor: User, assignment: ContactAssignment) -> ContactAssignment:
    policies.check_can_manage_organization(actor, assignment.organization)
    if assignment.ended_at is not None:
        raise ValidationError("This contact role has already ended.")
    assignment.ended_at = timezone.now()
    assignment.save(update_fields=["ended_at"])
    audit_record(
        actor=actor,
        action="contact.end",
        summary=f"{actor.email} ended {assignment.holder.email} as {assignment.get_role_display()}",
        organization=assignment.organization,
        target=assignment,
    )
    return assignment


@transaction.atomic
def region_update(*, actor: User, region: Region, name: str, liaison: User | None) -> Region:
    """Rename a region or change its liaison (state liaisons). The new liaison must be a state
    liaison of the same state."""
    policies.check_can_manage_regions(actor, region.state)
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A region needs a name."})
    if Region.objects.filter(state=region.state, name__iexact=name).exclude(pk=region.pk).exists():
        raise ValidationError({"name": f"{region.state} already has a region called {name}."})
    if liaison is not None and region.state not in viewer_for(liaison).liaison_states:
        raise ValidationError({"liaison": f"{liaison} is not a state liaison of {region.state}."})
    before = (region.name, region.liaison_id)
    region.name = name
    region.liaison = liaison
    region.save(update_fields=["name", "liaison"])
    audit_record(
        actor=actor,
        action="region.update",
        summary=f"{actor.email} set {region.name}: liaison {liaison.email if liaison else 'none'}",
        target=region,
        data={"before": {"name": before[0], "liaison_id": before[1]}},
    )
    return region


@transaction.atomic
def organization_set_region(*, actor: User, organization: Organization, region: Region | None) -> Organization:
    """Move an organisation to another region of its state (state liaisons)."""
    policies.check_can_manage_regions(actor, organization.state)
    if region is not None and region.state != organization.state:
        raise ValidationError({"region": f"Choose a region of {organization.state_name}."})
    previous = organization.region
    organization.region = region
    organization.save(update_fields=["region", "updated_at"])
    audit_record(
        actor=actor,
        action="organization.set_region",
        summary=f"{actor.email} moved {organization.name} from {previous or 'no region'} to {region or 'no region'}",
        organization=organization,
        target=organization,
    )
    return organization
