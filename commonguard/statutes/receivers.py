"""The incident report announces submission and updates (incidents/signals.py); the clocks follow.

Both run inside the report's transaction, so a report is never stored without its obligations.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from commonguard.incidents.signals import report_submitted, report_updated
from commonguard.statutes import cache
from commonguard.statutes.models import ReportingRule, RuleRecipient
from commonguard.statutes.services import obligations_sync


@receiver(report_submitted, dispatch_uid="statutes-open-obligations")
def open_obligations(sender: Any, report: Any, by: Any = None, created: bool = False, **kwargs: Any) -> None:
    obligations_sync(report=report, actor=by, created=created)


@receiver(report_updated, dispatch_uid="statutes-recompute-obligations")
def recompute_obligations(sender: Any, report: Any, by: Any = None, **kwargs: Any) -> None:
    obligations_sync(report=report, actor=by)


def _rules_changed(sender: Any, **kwargs: Any) -> None:
    """A rule or a recipient changed: forget the rule tables now and once the change is committed (a
    table read meanwhile by another request may still hold the rows as they were)."""
    cache.invalidate()
    transaction.on_commit(cache.invalidate)


for _model in (ReportingRule, RuleRecipient):
    post_save.connect(_rules_changed, sender=_model, dispatch_uid=f"statutes-cache-save-{_model.__name__}")
    post_delete.connect(_rules_changed, sender=_model, dispatch_uid=f"statutes-cache-delete-{_model.__name__}")
