"""The read rules of measurement (ADR 26). Anything outside them answers like absent (404).

- An assessment is private to its organisation: the approved members of that organisation read it;
  nobody else does — not state staff, not the operator. Others see only k-anonymous aggregates.
- A survey answer is read only by the survey owners of its state (while they are vetted). The
  answering organisation, state staff and the operator see aggregates only.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from commonguard.accounts.viewer import viewer_for


def survey_owner_states(user: Any) -> frozenset[str]:
    """The states whose individual survey answers `user` may read."""
    from commonguard.measurement.models import SurveyOwner

    viewer = viewer_for(user)
    if not viewer.is_vetted or viewer.user_id is None:
        return frozenset()
    return frozenset(SurveyOwner.objects.filter(user_id=viewer.user_id).values_list("state", flat=True))


class AssessmentQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> AssessmentQuerySet:
        """Assessments of the organisations where `user` is an approved member."""
        viewer = viewer_for(user)
        if not viewer.org_ids:
            return self.none()
        return self.filter(organization_id__in=viewer.org_ids)


class SurveyResponseQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> SurveyResponseQuerySet:
        """Individual answers: only the survey owners of the answer's state."""
        states = survey_owner_states(user)
        if not states:
            return self.none()
        return self.filter(state__in=states)


class SurveyOwnerQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> SurveyOwnerQuerySet:
        """Who owns the survey of a state: the owners themselves and state staff of that state."""
        viewer = viewer_for(user)
        if viewer.user_id is None or not viewer.is_vetted:
            return self.none()
        if viewer.is_operator:
            return self.all()
        return self.filter(models.Q(user_id=viewer.user_id) | models.Q(state__in=viewer.staff_states))
