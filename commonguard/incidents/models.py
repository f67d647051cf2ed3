"""Incident reports a local government files with its state (issue 5).

The fields follow the Federal Incident Notification Guidelines (the NCISS vocabularies), so a report
exports 1:1 to CISA's form, plus what state laws ask for (Florida's backup and ransom facts, New York's
payment notice, Ohio's governing-body resolution); research: shared/research/reporting-and-mutual-aid.md
§2.2–2.4. A report is confidential by default: the reporting organisation and its state's recipients
read it (querysets.py).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from commonguard.incidents.querysets import (
    IncidentReportQuerySet,
    ReportChildQuerySet,
    ReportEventQuerySet,
    ReportNoteQuerySet,
)


class Category(models.TextChoices):
    RANSOMWARE = "ransomware", "Ransomware"
    BEC = "bec", "Business e-mail compromise"
    ACCOUNT_COMPROMISE = "account_compromise", "Account compromise"
    MALWARE = "malware", "Malware"
    DATA_BREACH = "data_breach", "Data breach"
    DENIAL_OF_SERVICE = "denial_of_service", "Denial of service"
    WEB_DEFACEMENT = "web_defacement", "Web defacement"
    INSIDER = "insider", "Insider"
    OTHER = "other", "Other"


class FunctionalImpact(models.TextChoices):
    NONE = "none", "No impact"
    MINIMAL_NON_CRITICAL = "minimal_non_critical", "Minimal impact to non-critical services"
    MINIMAL_CRITICAL = "minimal_critical", "Minimal impact to critical services"
    SIGNIFICANT_NON_CRITICAL = "significant_non_critical", "Significant impact to non-critical services"
    DENIAL_NON_CRITICAL = "denial_non_critical", "Denial of non-critical services"
    SIGNIFICANT_CRITICAL = "significant_critical", "Significant impact to critical services"
    DENIAL_CRITICAL = "denial_critical", "Denial of critical services / loss of control"


class InformationImpact(models.TextChoices):
    NONE = "none", "No impact"
    SUSPECTED = "suspected", "Suspected but not identified"
    PRIVACY_BREACH = "privacy_breach", "Privacy data breach"
    PROPRIETARY_BREACH = "proprietary_breach", "Proprietary information breach"
    DESTRUCTION_NON_CRITICAL = "destruction_non_critical", "Destruction of non-critical systems"
    CRITICAL_SYSTEMS_BREACH = "critical_systems_breach", "Critical systems data breach"
    CORE_CREDENTIAL = "core_credential", "Core credential compromise"
    DESTRUCTION_CRITICAL = "destruction_critical", "Destruction of critical systems"


class Recoverability(models.TextChoices):
    REGULAR = "regular", "Regular: predictable with existing resources"
    SUPPLEMENTED = "supplemented", "Supplemented: predictable with additional resources"
    EXTENDED = "extended", "Extended: cannot predict; needs additional resources"
    NOT_RECOVERABLE = "not_recoverable", "Not recoverable"


class AttackVector(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    ATTRITION = "attrition", "Attrition (brute force)"
    WEB = "web", "Web"
    EMAIL = "email", "E-mail / phishing"
    REMOVABLE_MEDIA = "removable_media", "External / removable media"
    IMPERSONATION = "impersonation", "Impersonation / spoofing"
    IMPROPER_USAGE = "improper_usage", "Improper usage"
    LOSS_THEFT = "loss_theft", "Loss or theft of equipment"
    OTHER = "other", "Other"


class DataType(models.TextChoices):
    PII = "pii", "Personal information (PII)"
    PHI = "phi", "Health information (PHI)"
    CJIS = "cjis", "Criminal justice information (CJIS)"
    FTI = "fti", "Federal tax information (FTI)"
    PAYMENT = "payment", "Payment card data"
    CREDENTIALS = "credentials", "Credentials"
    ELECTION = "election", "Election data"


class SeverityLevel(models.IntegerChoices):
    """The National Cyber Incident Response Plan's levels (Florida's statute keys its clocks on them)."""

    EMERGENCY = 5, "Level 5 – Emergency"
    SEVERE = 4, "Level 4 – Severe"
    HIGH = 3, "Level 3 – High"
    MEDIUM = 2, "Level 2 – Medium"
    LOW = 1, "Level 1 – Low"


class IncidentReport(models.Model):
    """One incident, as the reporting organisation tells it. A draft until submitted."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        ACKNOWLEDGED = "acknowledged", "Acknowledged by the state"
        CLOSED = "closed", "Closed"
        DUPLICATE = "duplicate", "Duplicate"
        NOT_REPORTABLE = "not_reportable", "Not reportable"

    class Phase(models.TextChoices):
        """The state's case, through the incident-response phases (NIST SP 800-61)."""

        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        CONTAINMENT = "containment", "Containment"
        ERADICATION = "eradication", "Eradication"
        RECOVERY = "recovery", "Recovery"
        POST_INCIDENT = "post_incident", "Post-incident"
        CLOSED = "closed", "Closed"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="incident_reports")
    # The state the report goes to (the organisation's state when filed; kept if the org moves).
    state = models.CharField(max_length=2, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.OPEN)
    # The state analyst who has the case.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Whoever fills the form may save a draft half-done: the fields a submitted report needs are checked
    # by the submit service, not by the database.
    title = models.CharField(max_length=200, blank=True)
    category = models.CharField(max_length=24, choices=Category.choices, blank=True)
    description = models.TextField(blank=True, help_text="What happened (Markdown).")
    # When: started may be approximate; discovered is when the organisation first knew something was wrong,
    # confirmed when it knew it was an incident. Statutory clocks start from one of these (or payment).
    started_at = models.DateTimeField(null=True, blank=True)
    discovered_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    contained_at = models.DateTimeField(null=True, blank=True)
    recovered_at = models.DateTimeField(null=True, blank=True)
    systems_affected = models.TextField(blank=True)
    services_affected = models.TextField(blank=True)
    functional_impact = models.CharField(max_length=32, choices=FunctionalImpact.choices, blank=True)
    information_impact = models.CharField(max_length=32, choices=InformationImpact.choices, blank=True)
    recoverability = models.CharField(max_length=16, choices=Recoverability.choices, blank=True)
    attack_vector = models.CharField(max_length=16, choices=AttackVector.choices, blank=True)
    data_types = models.JSONField(default=list, blank=True, help_text="DataType values.")
    records_affected = models.PositiveIntegerField(null=True, blank=True)
    # Facts some statutes key on (statutes' rule conditions): the severity level (Florida: levels 3-5
    # within 48 hours), and whether a water or wastewater utility's operations are affected (Indiana:
    # 24 hours, IC 13-18-16.5). Election data (Texas: to the Secretary of State) is a data type.
    severity_level = models.PositiveSmallIntegerField(
        "Severity level", choices=SeverityLevel.choices, null=True, blank=True
    )
    water_utility_affected = models.BooleanField("Water or wastewater utility operations affected", default=False)
    # Ransom.
    ransom_demanded = models.BooleanField(default=False)
    ransom_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    ransom_currency = models.CharField(max_length=12, blank=True, help_text="USD, BTC, XMR, ...")
    ransom_paid = models.BooleanField(default=False)
    ransom_paid_at = models.DateTimeField(null=True, blank=True)
    # Backups (Florida's after-action report asks for these).
    last_good_backup_at = models.DateTimeField(null=True, blank=True)
    backup_location = models.CharField(max_length=200, blank=True)
    backups_affected = models.BooleanField(null=True, blank=True)
    estimated_cost = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    law_enforcement_notified = models.BooleanField(default=False)
    insurer_notified = models.BooleanField(default=False)
    help_wanted = models.TextField(blank=True, help_text="What help the organisation wants, if any.")
    # Optional VERIS 1.4.1 classification: {"actor": {...}, "action": {...}, "asset": {...}, "attribute": {...}}.
    veris = models.JSONField(default=dict, blank=True)
    # Indicators as the reporter pasted them (one per line, defanged or not); parsed when peers are warned.
    indicators = models.TextField(blank=True)
    # Optimistic concurrency: every save adds one; a form carries the revision it was opened at.
    revision = models.PositiveIntegerField(default=1)

    objects = IncidentReportQuerySet.as_manager()

    class Meta:
        ordering = ["-submitted_at", "-created_at", "-id"]
        indexes = [models.Index(fields=["state", "status", "submitted_at"], name="incident_state_queue")]

    def __str__(self) -> str:
        return self.title or f"Incident report {self.uuid}"

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT


class ReportAttachment(models.Model):
    """A file attached to a report. Never served inline; an executable or a malware sample is kept
    quarantined (served only as `application/octet-stream` under a `.quarantined` name)."""

    report = models.ForeignKey(IncidentReport, on_delete=models.CASCADE, related_name="attachments")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)
    file = models.FileField(upload_to="incidents/%Y/%m/")
    name = models.CharField(max_length=255, help_text="The file name as uploaded.")
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    quarantined = models.BooleanField(default=False)
    quarantine_reason = models.CharField(max_length=200, blank=True)
    description = models.CharField(max_length=300, blank=True)

    objects = ReportChildQuerySet.as_manager()

    class Meta:
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.name


class ReportUpdate(models.Model):
    """A supplemental update to a submitted report: what changed (field -> [before, after]) and a note.
    Numbered from 1 per report; the report's own fields carry the latest facts."""

    report = models.ForeignKey(IncidentReport, on_delete=models.CASCADE, related_name="updates")
    number = models.PositiveIntegerField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    note = models.TextField(blank=True)
    changes = models.JSONField(default=dict, blank=True)

    objects = ReportChildQuerySet.as_manager()

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["report", "number"], name="incident_update_number")]

    def __str__(self) -> str:
        return f"Update {self.number} of {self.report_id}"


class ReportTask(models.Model):
    """Something one side asks the other to do ("action required")."""

    class Side(models.TextChoices):
        REPORTER = "reporter", "The reporting organisation"
        STATE = "state", "The state"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    report = models.ForeignKey(IncidentReport, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=200)
    detail = models.TextField(blank=True)
    assigned_to = models.CharField(max_length=8, choices=Side.choices)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    due_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = ReportChildQuerySet.as_manager()

    class Meta:
        ordering = ["status", "due_at", "created_at", "id"]

    def __str__(self) -> str:
        return self.title


class ReportNote(models.Model):
    """An internal note of the state's staff: never shown to the reporting organisation."""

    report = models.ForeignKey(IncidentReport, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    text = models.TextField()

    objects = ReportNoteQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Note on {self.report_id}"


class ReportEvent(models.Model):
    """One line of the report's timeline (everything that happened to it). `internal` lines (notes,
    assignment) are the state's alone."""

    report = models.ForeignKey(IncidentReport, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=32)
    summary = models.CharField(max_length=300)
    internal = models.BooleanField(default=False)

    objects = ReportEventQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return self.summary
