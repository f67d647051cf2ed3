"""Building incident reports for tests, through the services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from commonguard.accounts.models import User
from commonguard.incidents import services
from commonguard.incidents.models import IncidentReport
from commonguard.orgs.models import Organization

MINIMAL = {
    "title": "Ransomware on the file servers",
    "category": "ransomware",
    "description": "Files renamed with a .lock extension; a ransom note on every share.",
}


def make_report(
    author: User, org: Organization, *, submit: bool = True, extra: dict[str, Any] | None = None
) -> IncidentReport:
    report = services.report_create(actor=author, organization=org)
    data = {**MINIMAL, "discovered_at": timezone.now() - timedelta(hours=3), **(extra or {})}
    report = services.report_save(actor=author, report=report, data=data, revision=report.revision)
    if submit:
        report = services.report_submit(actor=author, report=report, revision=report.revision)
    return report


def upload(name: str = "notes.txt", content: bytes = b"ransom note text\n") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/plain")
