"""Write rules for memberships and organisations. Services call these before changing anything.

A rule that fails raises PermissionDenied with a sentence a person can act on. Rules are only
asked about objects the actor can already see (callers fetch through `visible_to` first), so a
403 never reveals that something hidden exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied

from commonguard.accounts.models import STATE_STAFF_ROLES, Membership, Role
from commonguard.accounts.viewer import viewer_for

if TYPE_CHECKING:
    from commonguard.orgs.models import Organization

# Which roles each kind of organisation can give. State staff roles exist only in state agencies;
# coordinators belong to the Guard, the volunteer corps or the state.
_ROLES_ANYWHERE = {Role.MEMBER, Role.ORG_ADMIN, Role.RESPONDER, Role.OFFICIAL}


def roles_for_kind(kind: str) -> list[str]:
    roles = set(_ROLES_ANYWHERE)
    if kind == "state_agency":
        roles |= {Role.STATE_LIAISON, Role.ANALYST, Role.COORDINATOR}
    if kind in {"guard_unit", "volunteer_corps"}:
        roles |= {Role.COORDINATOR}
    return [value for value in Role.values if value in roles]


def check_role_allowed(*, role: str, organization: Organization) -> None:
    if role not in roles_for_kind(organization.kind):
        raise PermissionDenied(
            f"A {organization.get_kind_display().lower()} cannot give the role "
            f"“{Role(role).label}”. Choose one of: "
            + ", ".join(Role(r).label for r in roles_for_kind(organization.kind))
            + "."
        )


def organization_has_admin(organization: Organization) -> bool:
    return Membership.objects.filter(
        organization=organization, role=Role.ORG_ADMIN, status=Membership.Status.APPROVED
    ).exists()


def can_decide_membership(actor: Any, membership: Membership) -> bool:
    """The organisation's admins decide; where it has none yet, a liaison of its state does.
    Requests for state-staff roles are decided only by the state agency's admins."""
    viewer = viewer_for(actor)
    if viewer.is_operator:
        return True
    if membership.user_id == viewer.user_id:
        return False  # nobody vets themselves
    org = membership.organization
    if org.id in viewer.admin_org_ids:
        return True
    if membership.role in STATE_STAFF_ROLES:
        return False
    return org.state in viewer.liaison_states and not organization_has_admin(org)


def check_can_decide_membership(actor: Any, membership: Membership) -> None:
    if not can_decide_membership(actor, membership):
        raise PermissionDenied(
            "Only an admin of this organisation can decide this request "
            "(or a state liaison, while the organisation has no admin)."
        )


def can_manage_organization(actor: Any, organization: Organization) -> bool:
    viewer = viewer_for(actor)
    return viewer.is_operator or organization.id in viewer.admin_org_ids


def check_can_manage_organization(actor: Any, organization: Organization) -> None:
    if not can_manage_organization(actor, organization):
        raise PermissionDenied("Only an admin of this organisation can change its people, roles and contacts.")


def can_decide_organization(actor: Any, organization: Organization) -> bool:
    viewer = viewer_for(actor)
    return viewer.is_operator or organization.state in viewer.liaison_states


def check_can_decide_organization(actor: Any, organization: Organization) -> None:
    if not can_decide_organization(actor, organization):
        raise PermissionDenied("Only a state liaison of this state can approve a new organisation.")


def can_manage_regions(actor: Any, state: str) -> bool:
    """State liaisons define their state's regions and who belongs to which."""
    viewer = viewer_for(actor)
    return viewer.is_operator or state in viewer.liaison_states


def check_can_manage_regions(actor: Any, state: str) -> None:
    if not can_manage_regions(actor, state):
        raise PermissionDenied("Only a state liaison of this state can change its regions.")
