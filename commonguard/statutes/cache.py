"""The rule table of each state, kept in memory: every submission's transaction needs its state's
rules with their recipients, and they change a few times a year.

Invalidation: any save or delete of a rule or a recipient empties this process's table at once and
again when the transaction commits (receivers.py); other processes reload theirs at the latest after
`COMMONGUARD_RULES_CACHE_SECONDS` (30 s by default; 0 turns the cache off). The cached rows are shared
between requests: read them, never change them.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.conf import settings

from commonguard.statutes.models import FEDERAL, ReportingRule, RuleRecipient

Table = list[tuple[ReportingRule, list[RuleRecipient]]]

_lock = threading.Lock()
_tables: dict[str, tuple[float, Table]] = {}


def ttl_seconds() -> float:
    return float(getattr(settings, "COMMONGUARD_RULES_CACHE_SECONDS", 30))


def _load(state: str) -> Table:
    """The enabled rules of `state` and the federal ones, whatever their dates, each with its
    recipients in order (one query). Callers filter by the day and the organisation."""
    recipients = RuleRecipient.objects.filter(rule__enabled=True, rule__state__in=[state, FEDERAL]).select_related(
        "rule"
    )
    found: dict[int, tuple[ReportingRule, list[RuleRecipient]]] = {}
    for recipient in recipients.order_by("rule__state", "rule__trigger", "rule__duration", "rule__key", "position"):
        if recipient.rule_id not in found:
            found[recipient.rule_id] = (recipient.rule, [])
        rule, people = found[recipient.rule_id]
        recipient.rule = rule  # one instance per rule, shared by its recipients
        people.append(recipient)
    return list(found.values())


def state_rules(state: str) -> Table:
    ttl = ttl_seconds()
    if ttl <= 0:
        return _load(state)
    now = time.monotonic()
    entry = _tables.get(state)
    if entry is not None and now - entry[0] < ttl:
        return entry[1]
    table = _load(state)
    with _lock:
        _tables[state] = (now, table)
    return table


def invalidate(*args: Any, **kwargs: Any) -> None:
    """Forget every state's table (a signal receiver: takes and ignores the signal's arguments)."""
    with _lock:
        _tables.clear()
