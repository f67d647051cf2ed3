"""Read rules of the statutory clocks (ADR 0008).

Obligations, sendings and guardrail notices are part of their report: whoever may read the report
may read them, nobody else: everything in this app reads reports through `readable_reports`, which
is the report's own rule (`IncidentReport.objects.visible_to`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Q

from commonguard.accounts.viewer import viewer_for

if TYPE_CHECKING:
    from commonguard.incidents.models import IncidentReport


def readable_reports(user: Any) -> models.QuerySet[IncidentReport]:
    """Incident reports `user` may read: the report's own read rule (incidents/querysets.py)."""
    from commonguard.incidents.models import IncidentReport

    return IncidentReport.objects.visible_to(user)


class ReportingRuleQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> ReportingRuleQuerySet:
        """The law is public: every vetted person may read every rule (and see which are disabled)."""
        viewer = viewer_for(user)
        return self if viewer.is_vetted else self.none()


class ObligationQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> ObligationQuerySet:
        """Obligations of the reports `user` may read (inherited, never re-derived)."""
        return self.filter(report__in=readable_reports(user))

    def overdue_shown_to(self, user: Any) -> ObligationQuerySet:
        """An organisation's own overdue obligations: to its members and to its region's liaison only
        (not to other organisations, and not as a ranking)."""
        viewer = viewer_for(user)
        if not viewer.is_authenticated:
            return self.none()
        own = Q(report__organization_id__in=list(viewer.org_ids))
        liaison = Q(report__organization__region_id__in=list(viewer.liaison_region_ids)) & Q(
            report__state__in=list(viewer.liaison_states)
        )
        return (
            self.visible_to(user)
            .filter(own | liaison if viewer.liaison_region_ids else own)
            .filter(status=self.model.Status.OVERDUE)
        )


class SendingQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> SendingQuerySet:
        """Sendings of the obligations `user` may read."""
        return self.filter(obligation__report__in=readable_reports(user))


class GuardrailNoticeQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> GuardrailNoticeQuerySet:
        """Guardrail notices (and their resolution documents) of the reports `user` may read."""
        return self.filter(report__in=readable_reports(user))
