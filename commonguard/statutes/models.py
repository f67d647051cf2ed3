"""Statutory reporting clocks (issue 5): the state laws as data, and each report's obligations.

A ReportingRule is one clock of one law ("Florida: ransomware, 12 hours from discovery, to the CSOC,
FDLE and the sheriff"). When a report is submitted, every enabled rule in force that applies to the
organisation and whose trigger the report meets opens one Obligation per recipient; the deadline
engine (deadlines.py) computes its due time. Research: shared/research/reporting-and-mutual-aid.md §2.3.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import models
from django.db.models import Q

from commonguard.statutes.deadlines import Unit, describe_duration
from commonguard.statutes.querysets import (
    GuardrailNoticeQuerySet,
    ObligationQuerySet,
    ReportingRuleQuerySet,
    SendingQuerySet,
)

# The federal jurisdiction: a rule with this "state" applies in every state (CIRCIA).
FEDERAL = "US"


class Trigger(models.TextChoices):
    INCIDENT = "incident", "Any incident"
    RANSOMWARE = "ransomware", "Ransomware"
    RANSOM_PAYMENT = "ransom_payment", "Ransom payment"
    REMEDIATION = "remediation", "Remediation (after-action / follow-up report)"


class ClockStart(models.TextChoices):
    DISCOVERY = "discovery", "Discovery"
    CONFIRMATION = "confirmation", "Confirmation"
    REASONABLE_BELIEF = "reasonable_belief", "Reasonable belief"
    PAYMENT = "payment", "Payment"
    REMEDIATION = "remediation", "Remediation"


class DurationUnit(models.TextChoices):
    HOURS = Unit.HOURS.value, "Hours"
    CALENDAR_DAYS = Unit.CALENDAR_DAYS.value, "Calendar days"
    BUSINESS_DAYS = Unit.BUSINESS_DAYS.value, "Business days"


class Guardrail(models.TextChoices):
    NONE = "", "None"
    RANSOM_PAYMENT_FORBIDDEN = "ransom_payment_forbidden", "Paying a ransom is forbidden"
    RESOLUTION_REQUIRED = "resolution_required", "Payment needs a governing-body resolution"


class ReportingRule(models.Model):
    """One statutory clock. The state's staff edit their state's rules; the operator the federal ones."""

    state = models.CharField(max_length=2, db_index=True, help_text="Postal code, or US for a federal rule.")
    # Stable key of the shipped rule ("fl-ransomware"), so the data migration and re-seeding are idempotent.
    key = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=160, help_text="What the clock is, e.g. “Ransomware incident report”.")
    citation = models.CharField(max_length=300, help_text="Statute and section, e.g. Fla. Stat. §282.3185(5).")
    source_url = models.URLField(blank=True)
    notes = models.TextField(blank=True, help_text="What the law asks for, in plain words.")
    # Organisation kinds the rule applies to; empty = every kind.
    kinds = models.JSONField(default=list, blank=True)
    # CIRCIA's proposed SLTT criterion: jurisdictions of at least 50,000 people.
    min_population = models.PositiveIntegerField(null=True, blank=True)
    # Conditions on facts of the organisation and the report (empty: none). An organisation whose place or
    # county FIPS code is listed is exempt (New York City). A report opens the rule only if its severity
    # level reaches `min_severity` (Florida: 3) - a report without a level opens it, the cautious reading -,
    # if it involves one of `data_types` (Texas: election data to the Secretary of State) and none of
    # `except_data_types`, and if every report fact named in `required_facts` (yes/no facts) is true
    # (Indiana: a water or wastewater utility's operations affected).
    excluded_fips = models.JSONField(default=list, blank=True)
    min_severity = models.PositiveSmallIntegerField(null=True, blank=True)
    data_types = models.JSONField(default=list, blank=True)
    except_data_types = models.JSONField(default=list, blank=True)
    required_facts = models.JSONField(default=list, blank=True)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.INCIDENT)
    clock_start = models.CharField(max_length=20, choices=ClockStart.choices, default=ClockStart.DISCOVERY)
    duration = models.PositiveIntegerField()
    unit = models.CharField(max_length=16, choices=DurationUnit.choices, default=DurationUnit.HOURS)
    effective_from = models.DateField(null=True, blank=True)
    effective_to = models.DateField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    # IncidentReport field names the recipient expects (shown as a checklist on the obligation).
    required_fields = models.JSONField(default=list, blank=True)
    guardrail = models.CharField(max_length=32, choices=Guardrail.choices, default=Guardrail.NONE, blank=True)
    guardrail_basis = models.CharField(max_length=300, blank=True, help_text="The legal basis of the guardrail.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ReportingRuleQuerySet.as_manager()

    class Meta:
        ordering = ["state", "trigger", "duration", "key"]
        constraints = [
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True)
                | Q(effective_from__isnull=True)
                | Q(effective_to__gte=models.F("effective_from")),
                name="rule_effective_order",
            ),
            models.CheckConstraint(condition=Q(duration__gt=0), name="rule_positive_duration"),
        ]

    def __str__(self) -> str:
        return f"{self.state}: {self.name}"

    @property
    def is_federal(self) -> bool:
        return self.state == FEDERAL

    @property
    def duration_text(self) -> str:
        return describe_duration(self.duration, self.unit)

    @property
    def condition_texts(self) -> list[str]:
        """The rule's conditions on facts, in words (rules screen)."""
        texts = []
        if self.excluded_fips:
            texts.append("not for organisations in " + ", ".join(self.excluded_fips) + " (FIPS)")
        if self.min_severity:
            texts.append(f"severity level {self.min_severity} or higher (or not assessed)")
        if self.data_types:
            texts.append("the report involves " + " or ".join(self.data_types) + " data")
        if self.except_data_types:
            texts.append("the report involves no " + " or ".join(self.except_data_types) + " data")
        texts += [f"the report says yes to {name.replace('_', ' ')}" for name in self.required_facts or []]
        return texts

    def in_force_on(self, day: date) -> bool:
        if self.effective_from and day < self.effective_from:
            return False
        return not (self.effective_to and day > self.effective_to)


class RuleRecipient(models.Model):
    """Who receives a report under a rule. A recipient may keep its own deadline (Ohio: the Cyber
    Integration Center within 7 days, the Auditor of State within 30)."""

    rule = models.ForeignKey(ReportingRule, on_delete=models.CASCADE, related_name="recipients")
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    portal_url = models.URLField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    duration = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: the rule's duration.")
    unit = models.CharField(max_length=16, choices=DurationUnit.choices, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["rule", "position", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def effective_duration(self) -> tuple[int, str]:
        if self.duration:
            return self.duration, self.unit or self.rule.unit
        return self.rule.duration, self.rule.unit


class Obligation(models.Model):
    """One report owed to one recipient under one rule (or the default report to the state)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        SENT_LATE = "sent_late", "Sent after the deadline"
        OVERDUE = "overdue", "Overdue"
        NOT_APPLICABLE = "not_applicable", "Not applicable"
        WAIVED = "waived", "Waived"

    OPEN_STATUSES = frozenset({Status.PENDING, Status.OVERDUE})
    DONE_STATUSES = frozenset({Status.SENT, Status.SENT_LATE})

    report = models.ForeignKey("incidents.IncidentReport", on_delete=models.CASCADE, related_name="obligations")
    # "default" for the report to the state of a state without rules, else "<rule id>:<recipient id>".
    key = models.CharField(max_length=40)
    rule = models.ForeignKey(ReportingRule, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    recipient = models.ForeignKey(
        RuleRecipient, null=True, blank=True, on_delete=models.SET_NULL, related_name="obligations"
    )
    # Kept as text: the obligation reads the same after the rule's recipient is edited.
    recipient_name = models.CharField(max_length=200)
    recipient_email = models.EmailField(blank=True)
    recipient_portal_url = models.URLField(blank=True)
    recipient_phone = models.CharField(max_length=40, blank=True)
    citation = models.CharField(max_length=300, blank=True)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    clock_start = models.CharField(max_length=20, choices=ClockStart.choices)
    # The report's fact the clock started from; `clock_basis` says which, when it stood in for another.
    clock_started_at = models.DateTimeField()
    clock_basis = models.CharField(max_length=120, blank=True)
    duration = models.PositiveIntegerField()
    unit = models.CharField(max_length=16, choices=DurationUnit.choices)
    due_at = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    status_note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    half_reminded_at = models.DateTimeField(null=True, blank=True)
    soon_reminded_at = models.DateTimeField(null=True, blank=True)
    overdue_notified_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = ObligationQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [models.UniqueConstraint(fields=["report", "key"], name="obligation_unique_per_report")]
        indexes = [models.Index(fields=["status", "due_at"], name="obligation_status_due")]

    def __str__(self) -> str:
        return f"{self.recipient_name} by {self.due_at:%Y-%m-%d %H:%M} UTC"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def is_default(self) -> bool:
        return self.key == "default"

    @property
    def duration_text(self) -> str:
        return describe_duration(self.duration, self.unit)


class Sending(models.Model):
    """One sending of a report to an obligation's recipient, with its evidence: the exact content sent."""

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail (sent by CommonGuard)"
        PORTAL = "portal", "Web portal or form"
        PHONE = "phone", "Telephone"
        OTHER_EMAIL = "other_email", "E-mail (sent outside CommonGuard)"
        HUB = "hub", "CommonGuard (the state's recipients)"
        OTHER = "other", "Other"

    obligation = models.ForeignKey(Obligation, on_delete=models.CASCADE, related_name="sendings")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    sent_at = models.DateTimeField()
    reference = models.CharField(max_length=200, blank=True, help_text="Ticket or confirmation number.")
    evidence = models.TextField(help_text="The exact content sent (for e-mail: the whole message).")
    evidence_sha256 = models.CharField(max_length=64)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    late = models.BooleanField(default=False)

    objects = SendingQuerySet.as_manager()

    class Meta:
        ordering = ["sent_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} at {self.sent_at:%Y-%m-%d %H:%M}"


class GuardrailNotice(models.Model):
    """A rule's guardrail met by a report: the warning shown, its legal basis, and (where a resolution
    is required) the governing body's document."""

    report = models.ForeignKey("incidents.IncidentReport", on_delete=models.CASCADE, related_name="guardrail_notices")
    rule = models.ForeignKey(ReportingRule, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=32, choices=Guardrail.choices)
    legal_basis = models.CharField(max_length=300)
    message = models.TextField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    document = models.FileField(upload_to="statutes/resolutions/%Y/%m/", blank=True)
    document_name = models.CharField(max_length=200, blank=True)
    document_uploaded_at = models.DateTimeField(null=True, blank=True)
    document_uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = GuardrailNoticeQuerySet.as_manager()

    class Meta:
        ordering = ["recorded_at", "id"]
        constraints = [models.UniqueConstraint(fields=["report", "rule"], name="guardrail_once_per_rule")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.legal_basis[:60]})"

    @property
    def needs_document(self) -> bool:
        return self.kind == Guardrail.RESOLUTION_REQUIRED and not self.document
