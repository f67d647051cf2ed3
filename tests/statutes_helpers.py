"""Submitting and updating incident reports the way the incidents app does: the report is written and
`report_submitted` / `report_updated` sent inside the same transaction (incidents/signals.py).

They write the report directly and send the signals, so the clocks are tested apart from the form;
tests/incident_helpers.py builds reports through the incidents services."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from commonguard.incidents.models import IncidentReport
from commonguard.incidents.signals import report_submitted, report_updated
from commonguard.orgs.models import Organization
from commonguard.statutes.models import Obligation
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory


def submit_report(org: Organization, user: Any, *, now: datetime | None = None, **facts: Any) -> IncidentReport:
    facts.setdefault("title", "Encrypted file server")
    facts.setdefault("category", "malware")
    facts.setdefault("discovered_at", (now or timezone.now()) - timezone.timedelta(hours=1))
    with transaction.atomic():
        report = IncidentReport.objects.create(
            organization=org,
            state=org.state,
            created_by=user,
            status=IncidentReport.Status.SUBMITTED,
            submitted_at=now or timezone.now(),
            **facts,
        )
        report_submitted.send(sender=IncidentReport, report=report, by=user)
    return report


def update_report(report: IncidentReport, user: Any, **changes: Any) -> IncidentReport:
    with transaction.atomic():
        for name, value in changes.items():
            setattr(report, name, value)
        report.save()
        report_updated.send(sender=IncidentReport, report=report, by=user, changed=frozenset(changes))
    return report


def state_org(state: str, fips: str, kind: str = "county", population: int = 40000, **kw: Any) -> Organization:
    """An approved organisation of another state than the test world's Michigan."""
    kw.setdefault("name", f"{state} {kind} {fips}")
    return OrganizationFactory(state=state, kind=kind, county_fips=fips, population=population, **kw)


def member_of(org: Organization, role: str = "member", email: str | None = None) -> Any:
    user = UserFactory(**({"email": email} if email else {}))
    MembershipFactory(user=user, organization=org, role=role)
    return user


def keys(report: IncidentReport) -> dict[str, str]:
    """rule key (or "default") + recipient position -> status, for readable assertions."""
    out = {}
    for o in Obligation.objects.filter(report=report).select_related("rule", "recipient"):
        name = "default" if o.rule is None else f"{o.rule.key}#{o.recipient.position if o.recipient else '?'}"
        out[name] = o.status
    return out
