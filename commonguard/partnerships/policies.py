"""Write rules of partnerships. Asked only about objects the actor can already see (visible_to), so a
refusal never reveals that something hidden exists."""

from __future__ import annotations

from typing import Any

from commonguard.accounts.models import Role
from commonguard.accounts.viewer import viewer_for
from commonguard.orgs.models import Organization


def can_manage_initiative(user: Any, initiative: Any) -> bool:
    """The lead organisation's admins, the state staff of the initiative's state, the operator."""
    viewer = viewer_for(user)
    if viewer.is_operator or initiative.lead_org_id in viewer.admin_org_ids:
        return True
    return initiative.state in viewer.staff_states


def can_add_progress_note(user: Any, initiative: Any) -> bool:
    """Managers, and the admins of a partner organisation (reporting their part)."""
    if can_manage_initiative(user, initiative):
        return True
    viewer = viewer_for(user)
    return initiative.partners.filter(organization_id__in=viewer.admin_org_ids).exists()


def can_lead_from(user: Any, organization: Organization) -> bool:
    """Who may start an initiative, event or programme in an organisation's name: its admins, or
    state staff for their own state agency."""
    viewer = viewer_for(user)
    if viewer.is_operator or organization.pk in viewer.admin_org_ids:
        return True
    return organization.pk in viewer.org_ids and organization.state in viewer.staff_states


def can_log_engagement(user: Any, organization: Organization) -> bool:
    """State liaisons log engagements with the organisations of their state."""
    return organization.state in viewer_for(user).liaison_states


def can_manage_event(user: Any, event: Any) -> bool:
    viewer = viewer_for(user)
    return viewer.is_operator or event.organizer_org_id in viewer.admin_org_ids or event.state in viewer.staff_states


def can_manage_program(user: Any, program: Any) -> bool:
    viewer = viewer_for(user)
    if viewer.is_operator or program.administrator_id in viewer.admin_org_ids:
        return True
    return program.state in viewer.staff_states


# Who edits a library resource: the editors of the organisation that shared it (not its officials).
RESOURCE_EDIT_ROLES = frozenset({Role.ORG_ADMIN, Role.MEMBER})


def can_edit_resource(user: Any, resource: Any) -> bool:
    return viewer_for(user).roles_by_org.get(resource.author_org_id) in RESOURCE_EDIT_ROLES
