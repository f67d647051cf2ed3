"""The rules CommonGuard ships (data/rules.json), loaded by a data migration and by the demo.

Loading creates the rules that are missing and leaves existing ones alone: once shipped, a rule
belongs to its state's staff, who edit it on the rules screen.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

RULES_FILE = Path(__file__).resolve().parent / "data" / "rules.json"


def shipped_rules() -> list[dict[str, Any]]:
    return list(json.loads(RULES_FILE.read_text(encoding="utf-8"))["rules"])


def load_shipped_rules(rule_model: Any, recipient_model: Any) -> int:
    """Create the shipped rules that do not exist yet (by key). Takes the models so a migration can
    pass its historical ones. Returns how many were created."""
    created = 0
    for spec in shipped_rules():
        if rule_model.objects.filter(key=spec["key"]).exists():
            continue
        recipients = spec.get("recipients", [])
        known = {f.name for f in rule_model._meta.get_fields()}  # a migration's model may predate a field
        fields = {k: v for k, v in spec.items() if k not in {"recipients", "key"} and k in known}
        for day in ("effective_from", "effective_to"):
            if fields.get(day):
                fields[day] = date.fromisoformat(fields[day])
        rule = rule_model.objects.create(key=spec["key"], **fields)
        for position, recipient in enumerate(recipients):
            recipient_model.objects.create(rule=rule, position=position, **recipient)
        created += 1
    return created


# Conditions added after the first rules shipped (migration 0004): set on the shipped rules that exist.
CONDITION_FIELDS = ("excluded_fips", "min_severity", "data_types", "except_data_types", "required_facts")
CONTACT_FIELDS = ("email", "portal_url", "phone")


def apply_shipped_conditions(rule_model: Any, recipient_model: Any) -> int:
    """Give the existing shipped rules the conditions of data/rules.json (fields nobody could have set
    before they existed), fill the recipients' contact channels the research names where they are
    still empty (never overwriting what a state's staff typed), and create the rules that are new.
    Returns how many rules were changed or created."""
    changed = load_shipped_rules(rule_model, recipient_model)
    for spec in shipped_rules():
        rule = rule_model.objects.filter(key=spec["key"]).first()
        if rule is None:
            continue
        updates = {name: spec[name] for name in CONDITION_FIELDS if name in spec and getattr(rule, name) != spec[name]}
        if updates:
            rule_model.objects.filter(pk=rule.pk).update(**updates)
            changed += 1
        rows = list(recipient_model.objects.filter(rule=rule).order_by("position", "id"))
        for row, wanted in zip(rows, spec.get("recipients", []), strict=False):
            if row.name != wanted["name"]:
                continue
            fill = {name: wanted[name] for name in CONTACT_FIELDS if wanted.get(name) and not getattr(row, name)}
            if fill:
                recipient_model.objects.filter(pk=row.pk).update(**fill)
    return changed
