"""Write rules of measurement, asked by services about objects the actor can already see."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied

from commonguard.accounts.models import Role
from commonguard.accounts.viewer import viewer_for
from commonguard.orgs.models import Organization

# Who fills in the organisation's self-assessment: its admins and members (officials read it).
ASSESSMENT_EDIT_ROLES = frozenset({Role.ORG_ADMIN, Role.MEMBER})


def can_edit_assessment(user: Any, organization_id: int) -> bool:
    return viewer_for(user).roles_by_org.get(organization_id) in ASSESSMENT_EDIT_ROLES


def require_assessment_editor(user: Any, organization_id: int) -> None:
    if not can_edit_assessment(user, organization_id):
        raise PermissionDenied("Only the organisation's admins and members can change its self-assessment.")


def can_answer_survey(user: Any, organization: Organization) -> bool:
    """The survey goes to each local government's IT lead: an admin of an approved local government."""
    return (
        organization.kind in Organization.LOCAL_GOVERNMENT_KINDS
        and organization.status == Organization.Status.APPROVED
        and viewer_for(user).roles_by_org.get(organization.pk) == Role.ORG_ADMIN
    )


def require_survey_answerer(user: Any, organization: Organization) -> None:
    if not can_answer_survey(user, organization):
        raise PermissionDenied("The survey is answered by an admin (the IT lead) of a local government.")


def require_operator(user: Any) -> None:
    if not viewer_for(user).is_operator:
        raise PermissionDenied("Only the hub operator can name the survey owners.")
