"""Demo content of the statutory clocks: the shipped rules (the data migration loads them already;
this re-adds any a demo operator deleted). Reports and their obligations come from the incidents
app's demo reports, through report_submitted."""

from __future__ import annotations

from typing import Any

from commonguard.statutes.models import ReportingRule, RuleRecipient
from commonguard.statutes.shipped import load_shipped_rules


def seed_demo(state: Any = None) -> int:
    """Idempotent. Returns how many shipped rules were added."""
    return load_shipped_rules(ReportingRule, RuleRecipient)
