"""One action to warn peers: from a report, a sanitised alert draft through the ordinary alert services
(`sharing.services.alert_save_draft`), so every rule of alerts (TLP, indicators, warning lists) applies.

Sanitised: the default text is built from the report's structured facts, never from its free text
(which may name people, systems or addresses); the organisation is anonymous unless chosen; the
reporter (or the state) edits the text and sees exactly what peers will see before the draft exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from commonguard.accounts.models import STATE_STAFF_ROLES, User
from commonguard.accounts.viewer import viewer_for
from commonguard.core.tlp import TLP
from commonguard.incidents.models import Category, IncidentReport
from commonguard.incidents.services import _audit, _event, can_triage, can_write
from commonguard.orgs.models import Organization
from commonguard.sharing import indicators as ioc
from commonguard.sharing.models import Alert
from commonguard.sharing.services import AlertInput, alert_save_draft

ALERT_CATEGORY: dict[str, str] = {
    Category.RANSOMWARE: Alert.Category.RANSOMWARE_PRECURSOR,
    Category.BEC: Alert.Category.BEC,
    Category.MALWARE: Alert.Category.MALWARE,
    Category.DENIAL_OF_SERVICE: Alert.Category.DDOS,
    Category.ACCOUNT_COMPROMISE: Alert.Category.PHISHING,
}


def author_org_for(actor: Any, report: IncidentReport) -> Organization:
    """The reporting organisation for its members; the state agency for the state's staff."""
    if can_write(actor, report):
        return report.organization
    if can_triage(actor, report):
        viewer = viewer_for(actor)
        for org in Organization.objects.filter(pk__in=viewer.org_ids, state=report.state, kind="state_agency"):
            if viewer.roles_by_org.get(org.pk) in STATE_STAFF_ROLES:
                return org
    raise PermissionDenied("Only the reporting organisation and the state's staff can warn peers from a report.")


def default_text(report: IncidentReport) -> tuple[str, str]:
    """A title and summary from the structured facts only."""
    what = report.get_category_display() if report.category else "A cyber incident"
    title = f"{what} reported by a local government"
    lines = [f"A local government in the state reported **{what.lower()}**."]
    if report.attack_vector:
        lines.append(f"- How it got in: {report.get_attack_vector_display()}")
    if report.functional_impact:
        lines.append(f"- Functional impact: {report.get_functional_impact_display()}")
    if report.discovered_at:
        lines.append(f"- Discovered: {report.discovered_at:%Y-%m-%d}")
    if report.ransom_demanded:
        lines.append("- A ransom was demanded.")
    lines.append("")
    lines.append("Check your logs for the indicators below and report a sighting if you see them.")
    return title, "\n".join(lines)


def parsed_indicators(report: IncidentReport) -> tuple[list[tuple[str | None, str]], list[str]]:
    """The report's indicators that parse (kind guessed) and the lines that do not."""
    good: list[tuple[str | None, str]] = []
    bad: list[str] = []
    for line in report.indicators.splitlines():
        value = line.strip()
        if not value:
            continue
        try:
            ioc.parse_many([(None, value)])
        except ValidationError:
            bad.append(value)
        else:
            good.append((None, value))
    return good, bad


@dataclass
class Preview:
    author: str
    title: str
    summary: str
    tlp: str
    indicators: list[str]
    skipped: list[str]


def preview(actor: Any, report: IncidentReport, data: dict[str, Any]) -> Preview:
    """Exactly what peers will see: the author as they will read it, the text, the label, the indicators."""
    org = author_org_for(actor, report)
    if data.get("include_identity"):
        author = org.name
    else:
        kind = org.get_kind_display().lower()
        article = "An" if kind[:1] in "aeiou" else "A"
        author = f"{article} {kind} in {org.region.name}" if org.region_id and org.region else f"{article} {kind}"
    good, bad = parsed_indicators(report) if data.get("carry_indicators") else ([], [])
    shown = [ioc.defang(p.kind, p.value) for p in ioc.parse_many(good)] if good else []
    return Preview(author, data["title"], data["summary"], TLP(data["tlp"]).label, shown, bad)


@transaction.atomic
def warn_peers(*, actor: User, report: IncidentReport, data: dict[str, Any]) -> Alert:
    """Create the alert draft (the author publishes it from the alert's page)."""
    org = author_org_for(actor, report)
    good, _ = parsed_indicators(report) if data.get("carry_indicators") else ([], [])
    alert = alert_save_draft(
        actor=actor,
        author_org=org,
        data=AlertInput(
            title=data["title"],
            summary=data["summary"],
            category=ALERT_CATEGORY.get(report.category, str(Alert.Category.OTHER)),
            tlp=data["tlp"],
            anonymous=not data.get("include_identity"),
            indicators=good,
            confirm_benign=False,
        ),
    )
    _event(report, actor, "warn_peers", "An alert draft to warn peers was created", internal=can_triage(actor, report))
    _audit(actor, "incident.warn_peers", report, f"{actor.email} drafted alert {alert.uuid} from {report.uuid}")
    return alert
