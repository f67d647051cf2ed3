"""Demo incident reports (idempotent): written through the services, by the demo people, so the
triage console, a report with its update, task and note, and a draft show realistic content."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from commonguard.accounts.models import Membership, Role, User
from commonguard.incidents import services
from commonguard.incidents.models import IncidentReport

DEMO_REPORTS: list[dict[str, Any]] = [
    {
        "title": "Ransomware on the county file servers (demo)",
        "category": "ransomware",
        "description": "Staff found `.lock` files on every share at 7:40 and a ransom note, `README-RECOVER.txt`, "
        "in each folder. We pulled the file servers off the network.",
        "hours_ago": 20,
        "extra": {
            "functional_impact": "significant_critical",
            "information_impact": "suspected",
            "recoverability": "supplemented",
            "attack_vector": "email",
            "data_types": ["pii"],
            "ransom_demanded": True,
            "ransom_amount": Decimal("250000"),
            "ransom_currency": "BTC",
            "backup_location": "Offline tapes in the courthouse vault",
            "backups_affected": False,
            "law_enforcement_notified": True,
            "help_wanted": "Forensics help for the file servers; advice on restoring from tape.",
            "indicators": "45.137.21.9\nupdate-check.example.net",
        },
        "submit": True,
        "update": "Backups checked: the tapes from last Friday are clean. Restoring the clerk's share first.",
        "task": "Send us a copy of the ransom note and the mail that started it.",
        "note": "Same infrastructure as last month's alert on the township VPNs?",
        "phase": "containment",
    },
    {
        "title": "Payroll diverted by a spoofed e-mail (demo)",
        "category": "bec",
        "description": "A direct-deposit change request that looked like it came from an employee was processed.",
        "hours_ago": 3,
        "extra": {"attack_vector": "impersonation", "estimated_cost": Decimal("4800"), "functional_impact": "none"},
        "submit": True,
    },
    {
        "title": "Website defaced overnight (demo draft)",
        "category": "web_defacement",
        "description": "The parks page shows a banner that is not ours.",
        "hours_ago": 1,
        "extra": {},
        "submit": False,
    },
]


def _reporters(state: str) -> list[tuple[User, Any]]:
    rows = (
        Membership.objects.filter(
            status=Membership.Status.APPROVED,
            role__in=[Role.MEMBER, Role.ORG_ADMIN],
            organization__state=state,
            organization__status="approved",
        )
        .exclude(organization__kind="state_agency")
        .select_related("user", "organization")
        .order_by("organization__name", "user__email")
    )
    seen: dict[int, tuple[User, Any]] = {}
    for m in rows:
        seen.setdefault(m.organization_id, (m.user, m.organization))
    return list(seen.values())


def seed_demo(state: Any) -> int:
    """Reports in the demo state; returns how many were added (0 when they exist)."""
    postal = getattr(state, "postal", state)
    reporters = _reporters(postal)
    if not reporters:
        return 0
    analyst = (
        Membership.objects.filter(
            status=Membership.Status.APPROVED,
            role__in=[Role.ANALYST, Role.STATE_LIAISON],
            organization__kind="state_agency",
            organization__state=postal,
        )
        .select_related("user")
        .order_by("role", "user__email")
        .first()
    )
    added = 0
    for i, spec in enumerate(DEMO_REPORTS):
        author, org = reporters[i % len(reporters)]
        if IncidentReport.objects.filter(organization=org, title=spec["title"]).exists():
            continue
        with transaction.atomic():
            report = services.report_create(actor=author, organization=org)
            data = {
                "title": spec["title"],
                "category": spec["category"],
                "description": spec["description"],
                "discovered_at": timezone.now() - timedelta(hours=spec["hours_ago"]),
                **spec["extra"],
            }
            report = services.report_save(actor=author, report=report, data=data, revision=report.revision)
            if spec["submit"]:
                report = services.report_submit(actor=author, report=report, revision=report.revision)
            if spec.get("update"):
                services.report_update(actor=author, report=report, data={}, note=spec["update"], revision=None)
            if analyst is not None and spec["submit"] and spec.get("phase"):
                services.report_triage(
                    actor=analyst.user, report=report, phase=spec["phase"], status="acknowledged", assignee=analyst.user
                )
                services.task_create(actor=analyst.user, report=report, title=spec["task"])
                services.note_add(actor=analyst.user, report=report, text=spec["note"])
        added += 1
    return added
