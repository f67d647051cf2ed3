"""Read rules of offers, binding agreements and mission orders (ADR 32). Kept apart from
`querysets.py` so the offers and the time/claims work merge without touching the same lines.

An offer carries the two parties' costs and negotiation: only the two organisations' approved
members, the state staff of the requester's state and the operator read it. A mission order is
read by whoever may read its deployment (ADR 24 rule)."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from commonguard.accounts.viewer import viewer_for


class OfferQuerySet(models.QuerySet):  # type: ignore[type-arg]
    def visible_to(self, user: Any) -> OfferQuerySet:
        viewer = viewer_for(user)
        if not viewer.is_vetted:
            return self.none()
        if viewer.is_operator:
            return self.all()
        return self.filter(
            Q(offering_org_id__in=viewer.org_ids)
            | Q(request__requesting_org_id__in=viewer.org_ids)
            | Q(request__requesting_org__state__in=viewer.staff_states)
        )


class BindingAgreementQuerySet(models.QuerySet):  # type: ignore[type-arg]
    def visible_to(self, user: Any) -> BindingAgreementQuerySet:
        viewer = viewer_for(user)
        if not viewer.is_vetted:
            return self.none()
        if viewer.is_operator:
            return self.all()
        return self.filter(
            Q(offering_org_id__in=viewer.org_ids)
            | Q(requesting_org_id__in=viewer.org_ids)
            | Q(requesting_org__state__in=viewer.staff_states)
        )


class MissionOrderQuerySet(models.QuerySet):  # type: ignore[type-arg]
    def visible_to(self, user: Any) -> MissionOrderQuerySet:
        from commonguard.mutualaid.models import Deployment

        return self.filter(deployment__in=Deployment.objects.visible_to(user).values("pk"))
