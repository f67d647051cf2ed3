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
        fields = {k: v for k, v in spec.items() if k not in {"recipients", "key"}}
        for day in ("effective_from", "effective_to"):
            if fields.get(day):
                fields[day] = date.fromisoformat(fields[day])
        rule = rule_model.objects.create(key=spec["key"], **fields)
        for position, recipient in enumerate(recipients):
            recipient_model.objects.create(rule=rule, position=position, **recipient)
        created += 1
    return created
