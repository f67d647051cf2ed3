"""Who may change what in mutual aid. Asked by the services; a refusal is PermissionDenied."""

from __future__ import annotations

from typing import Any

from commonguard.accounts.models import Role
from commonguard.accounts.viewer import viewer_for
from commonguard.mutualaid.querysets import coordinator_org_ids


def can_coordinate(user: Any, programme_id: int) -> bool:
    """Coordinators of a programme keep its roster: onboarding, credentials, deployments."""
    return programme_id in coordinator_org_ids(viewer_for(user))


def can_keep_agreement(user: Any, agreement: Any) -> bool:
    """The administering organisation's admins, and the state staff of the agreement's state."""
    viewer = viewer_for(user)
    return agreement.administrator_id in viewer.admin_org_ids or agreement.state in viewer.staff_states


def can_create_agreement_for(user: Any, administrator: Any) -> bool:
    viewer = viewer_for(user)
    return administrator.pk in viewer.admin_org_ids or administrator.state in viewer.staff_states


# Roles that may ask for help on behalf of their organisation without an agreement naming them
# (a volunteer-corps programme needs no agreement: MCL 18.228). A read-only official may not.
REQUESTING_ROLES = frozenset({Role.MEMBER, Role.ORG_ADMIN, Role.COORDINATOR, Role.STATE_LIAISON, Role.ANALYST})


def can_request_for(user: Any, organization_id: int) -> bool:
    viewer = viewer_for(user)
    return viewer.roles_by_org.get(organization_id) in REQUESTING_ROLES
