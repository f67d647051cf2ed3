"""The read rule of the audit trail."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from commonguard.accounts.viewer import viewer_for


class AuditEventQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> AuditEventQuerySet:
        """Audit events `user` may read.

        - an organisation's admins: the events about their organisation;
        - a state liaison: the events about organisations in the regions assigned to them;
        - everyone: their own sign-ins and security events (MFA, tokens);
        - the operator: all.
        """
        viewer = viewer_for(user)
        if not viewer.is_authenticated:
            return self.none()
        if viewer.is_operator:
            return self.all()
        rule = Q(actor_id=viewer.user_id, kind__in=["sign_in", "security"])
        if viewer.is_vetted:
            rule |= Q(organization_id__in=viewer.admin_org_ids)
            rule |= Q(organization__region_id__in=viewer.liaison_region_ids)
        return self.filter(rule)
