"""The incident report announces submission and updates (incidents/signals.py); the clocks follow.

Both run inside the report's transaction, so a report is never stored without its obligations.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from commonguard.incidents.signals import report_submitted, report_updated
from commonguard.statutes.services import obligations_sync


@receiver(report_submitted, dispatch_uid="statutes-open-obligations")
def open_obligations(sender: Any, report: Any, by: Any = None, **kwargs: Any) -> None:
    obligations_sync(report=report, actor=by)


@receiver(report_updated, dispatch_uid="statutes-recompute-obligations")
def recompute_obligations(sender: Any, report: Any, by: Any = None, **kwargs: Any) -> None:
    obligations_sync(report=report, actor=by)
