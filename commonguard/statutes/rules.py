"""Writing reporting rules (the rules screen): validation and the audited save."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from commonguard.accounts.viewer import viewer_for
from commonguard.core.audit import audit_record
from commonguard.incidents.models import DataType
from commonguard.orgs.models import Organization
from commonguard.orgs.states import STATES
from commonguard.statutes.models import (
    FEDERAL,
    ClockStart,
    DurationUnit,
    Guardrail,
    Obligation,
    ReportingRule,
    RuleRecipient,
    Trigger,
)

# Longest clock accepted: a year (a longer one is a typo, or not a reporting clock).
MAX_DURATION = {DurationUnit.HOURS: 24 * 366, DurationUnit.CALENDAR_DAYS: 366, DurationUnit.BUSINESS_DAYS: 260}
RULE_FIELDS = [
    "state",
    "name",
    "citation",
    "source_url",
    "notes",
    "kinds",
    "min_population",
    "excluded_fips",
    "min_severity",
    "data_types",
    "except_data_types",
    "required_facts",
    "trigger",
    "clock_start",
    "duration",
    "unit",
    "effective_from",
    "effective_to",
    "enabled",
    "required_fields",
    "guardrail",
    "guardrail_basis",
]
RECIPIENT_FIELDS = ["name", "email", "portal_url", "phone", "duration", "unit"]


def report_field_choices() -> list[tuple[str, str]]:
    """The incident report's facts a rule may require."""
    from commonguard.incidents.models import IncidentReport

    skip = {"id", "uuid", "organization", "state", "created_by", "created_at", "updated_at", "submitted_at"}
    skip |= {"status", "phase", "assignee", "veris"}
    return [
        (f.name, str(f.verbose_name).capitalize()) for f in IncidentReport._meta.concrete_fields if f.name not in skip
    ]


def report_fact_choices() -> list[tuple[str, str]]:
    """The report's yes/no facts a rule may require to be true (Indiana's water utilities)."""
    from commonguard.incidents.models import IncidentReport

    skip = {"ransom_demanded", "ransom_paid", "law_enforcement_notified", "insurer_notified"}
    return [
        (f.name, str(f.verbose_name).capitalize())
        for f in IncidentReport._meta.concrete_fields
        if f.get_internal_type() == "BooleanField" and not f.null and f.name not in skip
    ]


def states_editable_by(user: Any) -> list[str]:
    viewer = viewer_for(user)
    if viewer.is_operator:
        return [FEDERAL, *STATES]
    return sorted(viewer.staff_states)


def _check(data: dict[str, Any], recipients: list[dict[str, Any]]) -> None:
    errors: dict[str, list[str]] = {}

    def err(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if data["state"] != FEDERAL and data["state"] not in STATES:
        err("state", "Choose a state.")
    trigger, clock = data["trigger"], data["clock_start"]
    if trigger not in Trigger.values:
        err("trigger", "Choose what starts the obligation.")
    if clock not in ClockStart.values:
        err("clock_start", "Choose when the clock starts.")
    if trigger == Trigger.RANSOM_PAYMENT and clock != ClockStart.PAYMENT:
        err("clock_start", "A ransom-payment rule's clock starts at the payment.")
    if clock == ClockStart.PAYMENT and trigger != Trigger.RANSOM_PAYMENT:
        err("clock_start", "Only a ransom-payment rule can start its clock at the payment.")
    if (trigger == Trigger.REMEDIATION) != (clock == ClockStart.REMEDIATION):
        err("clock_start", "A remediation (after-action) rule, and only that, starts its clock at remediation.")
    unit = data["unit"]
    if unit not in DurationUnit.values:
        err("unit", "Choose hours, calendar days or business days.")
    duration = data.get("duration")
    if not duration or duration < 1:
        err("duration", "The duration must be at least 1.")
    elif unit in MAX_DURATION and duration > MAX_DURATION[DurationUnit(unit)]:
        err("duration", f"At most {MAX_DURATION[DurationUnit(unit)]} {DurationUnit(unit).label.lower()}.")
    start, end = data.get("effective_from"), data.get("effective_to")
    if start and end and end < start:
        err("effective_to", "The rule cannot end before it starts.")
    kinds = set(data.get("kinds") or [])
    if kinds - set(Organization.Kind.values):
        err("kinds", "Unknown kind of organisation.")
    if data.get("min_severity") is not None and data["min_severity"] not in range(1, 6):
        err("min_severity", "A severity level is 1 to 5.")
    for name in ("data_types", "except_data_types"):
        if set(data.get(name) or []) - set(DataType.values):
            err(name, "Unknown data type.")
    if set(data.get("required_facts") or []) - {name for name, _ in report_fact_choices()}:
        err("required_facts", "Unknown yes/no fact of a report.")
    for code in data.get("excluded_fips") or []:
        if not (str(code).isdigit() and len(str(code)) in (5, 7)):
            err("excluded_fips", f"{code}: give 5-digit county or 7-digit place FIPS codes.")
    fields = set(data.get("required_fields") or [])
    if fields - {name for name, _ in report_field_choices()}:
        err("required_fields", "Unknown report field.")
    if data.get("guardrail") and data["guardrail"] not in Guardrail.values:
        err("guardrail", "Unknown guardrail.")
    if data.get("guardrail") and not (data.get("guardrail_basis") or "").strip():
        err("guardrail_basis", "Give the legal basis of the guardrail: it is recorded with every warning.")
    for name in ("name", "citation"):
        if not (data.get(name) or "").strip():
            err(name, "This field is required.")
    if not recipients:
        err("__all__", "A rule needs at least one recipient.")
    for index, recipient in enumerate(recipients, start=1):
        if not (recipient.get("name") or "").strip():
            err("__all__", f"Recipient {index}: give its name.")
        if bool(recipient.get("duration")) != bool(recipient.get("unit")):
            err("__all__", f"Recipient {index}: give both a duration and its unit, or neither.")
        r_unit, r_duration = recipient.get("unit"), recipient.get("duration")
        if r_unit and r_duration and r_duration > MAX_DURATION.get(DurationUnit(r_unit), 0):
            err("__all__", f"Recipient {index}: the duration is longer than a year.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def rule_save(
    *, actor: Any, rule: ReportingRule | None, key: str = "", data: dict[str, Any], recipients: list[dict[str, Any]]
) -> ReportingRule:
    """Create or change a reporting rule and replace its recipients. A state's staff write their state's
    rules, the operator any rule (the federal ones only the operator). Obligations already opened keep
    their deadlines; new reports use the rule as saved."""
    editable = states_editable_by(actor)
    if rule is not None and rule.state not in editable:
        raise PermissionDenied("Only the staff of this rule's state change it.")
    if data.get("state") not in editable:
        raise ValidationError({"state": "You can write rules only for your own state."})
    _check(data, recipients)
    if rule is None:
        if not key:
            raise ValidationError({"key": "Give the rule a short key, e.g. oh-incident."})
        if ReportingRule.objects.filter(key=key).exists():
            raise ValidationError({"key": "Another rule has this key."})
        rule = ReportingRule(key=key)
        action = "rule.create"
    else:
        rule = ReportingRule.objects.select_for_update().get(pk=rule.pk)
        action = "rule.update"
    before = {f: _plain(getattr(rule, f)) for f in RULE_FIELDS} if rule.pk else {}
    for field in RULE_FIELDS:
        value = data.get(field)
        if field in {"kinds", "required_fields", "data_types", "except_data_types", "required_facts", "excluded_fips"}:
            value = sorted(value or [])
        elif field in {"source_url", "notes", "guardrail", "guardrail_basis"} or field in {"name", "citation"}:
            value = (value or "").strip()
        setattr(rule, field, value)
    rule.updated_by = actor
    rule.full_clean()
    rule.save()
    # Recipients are updated in place, position by position, so that a report's obligations (keyed by
    # recipient) keep following the same recipient after an edit.
    existing = list(rule.recipients.order_by("position", "id"))
    for position, spec in enumerate(recipients):
        row = existing[position] if position < len(existing) else RuleRecipient(rule=rule)
        row.position = position
        row.name = spec["name"].strip()
        row.email = spec.get("email") or ""
        row.portal_url = spec.get("portal_url") or ""
        row.phone = (spec.get("phone") or "").strip()
        row.duration = spec.get("duration") or None
        row.unit = spec.get("unit") or ""
        row.save()
        # Open obligations owed to this recipient take its contact channels as now set: the next
        # "send by e-mail" goes to the address the operator gave (sent ones keep what they were sent to).
        Obligation.objects.filter(recipient=row, status__in=list(Obligation.OPEN_STATUSES)).update(
            recipient_email=row.email, recipient_portal_url=row.portal_url, recipient_phone=row.phone
        )
    for row in existing[len(recipients) :]:
        row.delete()
    after = {f: _plain(getattr(rule, f)) for f in RULE_FIELDS}
    audit_record(
        actor=actor,
        action=action,
        summary=f"Reporting rule {rule.key} ({rule.state}) saved",
        target=rule,
        data={
            "changed": sorted(f for f in RULE_FIELDS if before.get(f) != after[f]),
            "recipients": [r["name"] for r in recipients],
        },
    )
    return rule


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value
