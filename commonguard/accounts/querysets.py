"""The read rules of people, memberships and tokens."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from commonguard.accounts.viewer import viewer_for


class UserQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> UserQuerySet:
        """People `user` may read: themselves, and the holders of memberships they may read."""
        from commonguard.accounts.models import Membership

        viewer = viewer_for(user)
        if not viewer.is_authenticated:
            return self.none()
        if viewer.is_operator:
            return self.all()
        memberships = Membership.objects.visible_to(user).values("user_id")
        return self.filter(Q(pk=viewer.user_id) | Q(pk__in=memberships))


class MembershipQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> MembershipQuerySet:
        """Memberships `user` may read.

        - their own, in any status (an unvetted person sees only their own request);
        - approved memberships of the organisations they belong to (their colleagues);
        - every membership, pending included, of the organisations they administer;
        - state liaisons: every membership in their state (they vet where no admin exists);
          analysts: the approved memberships in their state;
        - the operator: all.
        """
        viewer = viewer_for(user)
        if not viewer.is_authenticated:
            return self.none()
        if viewer.is_operator:
            return self.all()
        rule = Q(user_id=viewer.user_id)
        if viewer.is_vetted:
            rule |= Q(status="approved", organization_id__in=viewer.org_ids)
            rule |= Q(organization_id__in=viewer.admin_org_ids)
            rule |= Q(status="approved", organization__state__in=viewer.staff_states)
            rule |= Q(organization__state__in=viewer.liaison_states)
        return self.filter(rule)

    def approved(self) -> MembershipQuerySet:
        return self.filter(status="approved", organization__status="approved")

    def pending(self) -> MembershipQuerySet:
        return self.filter(status="pending")


class ApiTokenQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> ApiTokenQuerySet:
        """A person sees only their own tokens (the operator revokes others' in the admin site)."""
        viewer = viewer_for(user)
        if not viewer.is_authenticated:
            return self.none()
        return self.filter(user_id=viewer.user_id)
