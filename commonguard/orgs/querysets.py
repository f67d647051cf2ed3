"""The read rules of the directory. Pages and API read organisations and contacts only through these."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from commonguard.accounts.viewer import viewer_for


class OrganizationQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> OrganizationQuerySet:
        """Organisations `user` may read.

        - the hub operator: all;
        - a vetted person (an approved member of an approved organisation): every approved organisation;
        - anyone signed in: the organisations they asked to join or asked to create (their own request);
        - a state liaison: also the organisations awaiting approval in their state.
        Everything else answers like something that does not exist.
        """
        viewer = viewer_for(user)
        if not viewer.is_authenticated:
            return self.none()
        if viewer.is_operator:
            return self.all()
        rule = Q(id__in=viewer.requested_org_ids)
        if viewer.is_vetted:
            rule |= Q(status="approved")
        if viewer.liaison_states:
            rule |= Q(status="pending", state__in=viewer.liaison_states)
        return self.filter(rule)

    def approved(self) -> OrganizationQuerySet:
        return self.filter(status="approved")


class RegionQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> RegionQuerySet:
        """Regions are known to every vetted person (they name where an anonymous alert came from)."""
        viewer = viewer_for(user)
        return self.all() if viewer.is_vetted else self.none()


class ContactAssignmentQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> ContactAssignmentQuerySet:
        """Role-based contacts `user` may read.

        - current contacts of approved organisations: every vetted person, except the restricted
          roles (after-hours), which only the organisation's own people, state staff of its state,
          Guard/corps coordinators and the operator see;
        - past holders (the history): the organisation's admins, state staff of its state, operator.
        """
        from commonguard.accounts.models import Role
        from commonguard.orgs.models import ContactAssignment

        viewer = viewer_for(user)
        if viewer.is_operator:
            return self.all()
        if not viewer.is_vetted:
            return self.none()
        restricted = list(ContactAssignment.RESTRICTED_ROLES)
        insiders = Q(organization_id__in=viewer.org_ids) | Q(organization__state__in=viewer.staff_states)
        if viewer.has_role(Role.COORDINATOR):
            insiders = Q(pk__isnull=False)
        historians = Q(organization_id__in=viewer.admin_org_ids) | Q(organization__state__in=viewer.staff_states)
        rule = (
            Q(ended_at__isnull=True) & ~Q(role__in=restricted)
            | Q(ended_at__isnull=True, role__in=restricted) & insiders
            | Q(ended_at__isnull=False) & historians
        )
        return self.filter(rule, organization__status="approved")

    def current(self) -> ContactAssignmentQuerySet:
        return self.filter(ended_at__isnull=True)
