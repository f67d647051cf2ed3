"""The read rule of incident reports (confidential by default; docs/adr/0027-incident-reports.md).

- A report is read by the approved members, admins and read-only officials of the reporting
  organisation; a draft only by its members and admins (officials see what was sent).
- A submitted report is read by the state staff (analysts and liaisons) of the report's state.
- Nobody else: not other organisations, not the hub operator, not the Guard or responders (help comes
  through the mutual-aid request, which carries what the reporter chooses to share).
Everything under a report (attachments, updates, tasks, timeline) inherits the rule; internal notes
and internal timeline lines are the state staff's alone. Anything else answers like absent (404).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from commonguard.accounts.viewer import Viewer, viewer_for

# Roles of the reporting organisation that read its reports, and the ones that also write (and read drafts).
READER_ROLES = frozenset({"member", "org_admin", "official"})
WRITER_ROLES = frozenset({"member", "org_admin"})


def reader_org_ids(viewer: Viewer) -> list[int]:
    return [org for org, role in viewer.roles_by_org.items() if role in READER_ROLES]


def writer_org_ids(viewer: Viewer) -> list[int]:
    return [org for org, role in viewer.roles_by_org.items() if role in WRITER_ROLES]


def rule_q(viewer: Viewer, prefix: str = "") -> Q:
    """The rule as a filter on IncidentReport (or, with `prefix="report__"`, on a row under one)."""
    draft = "draft"
    org = Q(**{f"{prefix}organization_id__in": reader_org_ids(viewer)}) & ~Q(**{f"{prefix}status": draft})
    org_drafts = Q(**{f"{prefix}organization_id__in": writer_org_ids(viewer), f"{prefix}status": draft})
    state = Q(**{f"{prefix}state__in": sorted(viewer.staff_states)}) & ~Q(**{f"{prefix}status": draft})
    return org | org_drafts | state


def is_state_side(viewer: Viewer, report: Any) -> bool:
    """State staff of the report's state (who triage it), as opposed to its reporting organisation."""
    return report.state in viewer.staff_states


class IncidentReportQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> IncidentReportQuerySet:
        viewer = viewer_for(user)
        if not viewer.is_vetted:
            return self.none()
        return self.filter(rule_q(viewer))


class ReportChildQuerySet(models.QuerySet):
    """Attachments, supplemental updates, tasks: the report's readers, never re-derived."""

    def visible_to(self, user: Any) -> ReportChildQuerySet:
        viewer = viewer_for(user)
        if not viewer.is_vetted:
            return self.none()
        return self.filter(rule_q(viewer, "report__"))


class ReportNoteQuerySet(models.QuerySet):
    """Internal notes: the state staff of the report's state, on reports they may read."""

    def visible_to(self, user: Any) -> ReportNoteQuerySet:
        viewer = viewer_for(user)
        if not viewer.is_vetted or not viewer.staff_states:
            return self.none()
        return self.filter(report__state__in=sorted(viewer.staff_states)).exclude(report__status="draft")


class ReportEventQuerySet(models.QuerySet):
    """The timeline: the report's readers; internal lines the state staff only."""

    def visible_to(self, user: Any) -> ReportEventQuerySet:
        viewer = viewer_for(user)
        if not viewer.is_vetted:
            return self.none()
        staff = Q(report__state__in=sorted(viewer.staff_states)) & ~Q(report__status="draft")
        return self.filter(rule_q(viewer, "report__")).filter(Q(internal=False) | staff)
