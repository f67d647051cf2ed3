"""On PostgreSQL: two logs for the same responder and day, on two deployments, written at the same
time, cannot add up to more than 24 hours (the responder's row is locked while a log is checked)."""

from __future__ import annotations

import importlib
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Sum

from commonguard.mutualaid import claims
from commonguard.mutualaid.models import Deployment, TimeLog
from tests.mutualaid_helpers import aid_request, make_responder, today

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_logs_do_not_exceed_a_day(world: Any) -> None:
    # A transactional test before this one may have flushed the skills the migration loads: load them again.
    importlib.import_module("commonguard.mutualaid.migrations.0002_skills_and_team_templates").load(apps, None)
    r = make_responder(world, name="Responder", user=world["responder"])
    first = Deployment.objects.create(
        request=aid_request(world),
        responder=r,
        status="released",
        starts_on=today() - timedelta(days=3),
        ends_on=today(),
    )
    second = Deployment.objects.create(
        request=aid_request(world), responder=r, status="active", starts_on=today(), ends_on=today() + timedelta(days=3)
    )
    written, release = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def log_and_hold() -> None:
        try:
            with transaction.atomic():
                claims.time_log(actor=world["responder"], deployment=first, day=today(), hours=14, activity="recovery")
                written.set()
                release.wait(30)
        except Exception as exc:  # pragma: no cover - reported below
            outcome["first"] = exc
            written.set()
        finally:
            connection.close()

    def log_second() -> None:
        try:
            claims.time_log(actor=world["responder"], deployment=second, day=today(), hours=14, activity="triage")
            outcome["second"] = "stored"
        except ValidationError as exc:
            outcome["second"] = exc
        finally:
            connection.close()

    holder = threading.Thread(target=log_and_hold)
    holder.start()
    assert written.wait(30) and "first" not in outcome
    other = threading.Thread(target=log_second)
    other.start()
    other.join(1.5)
    assert other.is_alive(), "the second log did not wait for the first one's transaction"
    release.set()
    holder.join(30)
    other.join(30)
    assert isinstance(outcome["second"], ValidationError)
    assert "A day has 24 hours" in " ".join(outcome["second"].messages)
    assert TimeLog.objects.filter(day=today()).aggregate(h=Sum("hours"))["h"] == 14
