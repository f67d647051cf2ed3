"""The demo shows the end of the chain (ADR 33): logs, a released deployment with a submitted claim,
an after-action report, and a deployment on the dashboard; seeding twice changes nothing."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.utils import timezone

from commonguard.accounts.models import User
from commonguard.mutualaid.dashboards import coordinator_dashboard
from commonguard.mutualaid.models import AfterActionReport, ExpenseLog, ReimbursementClaim, TimeLog


def test_demo_claims(db: Any, settings: Any, tmp_path: Any) -> None:
    settings.COMMONGUARD_SHARED_DATA = tmp_path / "absent"
    call_command("demo", "--state", "MI", verbosity=0)
    assert TimeLog.objects.count() == 11 and ExpenseLog.objects.count() == 3
    submitted = ReimbursementClaim.objects.get(status="submitted")
    assert submitted.total > 0 and submitted.hours > 0 and submitted.agreement is not None
    assert submitted.deployment.status == "released"
    assert ReimbursementClaim.objects.filter(status="collecting").count() == 1
    assert AfterActionReport.objects.count() == 1
    board = coordinator_dashboard(User.objects.get(email="coordinator@demo.test"), timezone.localdate())
    assert [c.deployed for c in board.counties] == [1] and board.expiring
    rita = User.objects.get(email="responder@demo.test")
    assert TimeLog.objects.filter(deployment__responder__user=rita).count() == 4

    def counts() -> tuple[int, ...]:
        return tuple(m.objects.count() for m in (TimeLog, ExpenseLog, ReimbursementClaim, AfterActionReport))

    before = counts()
    call_command("demo", "--state", "MI", verbosity=0)
    assert counts() == before
