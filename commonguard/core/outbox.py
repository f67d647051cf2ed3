"""Claiming due rows of an outbox (ADR 6, 22, 30): the one rule the e-mail/app/webhook deliveries
(`sharing.Delivery`), the federation outbox (`federation.Change`), the mutual-aid notices
(`mutualaid.AidNotice`) and the survey e-mail (`measurement.SurveyMail`) share, and when a failed
row is tried again (`retry_at`).

A row is *due* when it is pending, when its retry time has come, or when the worker that claimed
it has held it longer than the lease (it died). A worker takes a batch with a conditional UPDATE
(status `sending`, a fresh claim token, the time), so two workers never take the same row, on
SQLite or PostgreSQL; if another worker took every row it picked between the SELECT and the
UPDATE, it picks again instead of stopping with work left. Pending rows come first, in id order;
retries and expired claims (few) only fill what is left of the batch.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import get_connection
from django.db.models import Q, QuerySet
from django.utils import timezone


def retry_at(now: datetime, attempts: int) -> datetime:
    """When a row that failed its `attempts`-th try is due again: COMMONGUARD_RETRY_BASE_SECONDS
    (30 s) doubled per attempt: 30 s, 1, 2, 4, 8 minutes."""
    return now + timedelta(seconds=settings.COMMONGUARD_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))


@contextlib.contextmanager
def mail_connection() -> Iterator[Any]:
    """One SMTP connection for a claimed batch of an e-mail outbox. A mail server that is away does
    not end the run: each message then tries to connect itself, fails, and is recorded as a retry."""
    connection = get_connection()
    with contextlib.suppress(OSError):
        connection.open()
    try:
        yield connection
    finally:
        connection.close()


@dataclass(frozen=True)
class Outbox:
    """The statuses of one outbox table: `pending` (new), `retry` (failed, due again at
    `next_attempt_at`), `sending` (claimed at `claimed_at` with `claim`). The model has the fields
    status, next_attempt_at, claim (32 characters) and claimed_at."""

    pending: str
    retry: str
    sending: str

    def due(self, now: datetime, lease: timedelta) -> Q:
        return (
            Q(status=self.pending)
            | Q(status=self.retry, next_attempt_at__lte=now)
            | Q(status=self.sending, claimed_at__lte=now - lease)
        )

    def failure(self, attempts: int, *, max_attempts: int, failed: str) -> dict[str, Any]:
        """The fields of a row whose `attempts`-th try has just failed: due again at `retry_at`, or
        `failed` for good once it has had `max_attempts` tries."""
        last = attempts >= max_attempts
        return {
            "status": failed if last else self.retry,
            "attempts": attempts,
            "next_attempt_at": None if last else retry_at(timezone.now(), attempts),
        }

    def claim(self, scope: QuerySet[Any], *, limit: int, lease: timedelta) -> str | None:
        """Claim up to `limit` due rows of `scope` for this worker; the claim token (read the rows
        with `.filter(claim=token)`), or None when nothing is due."""
        token = uuid.uuid4().hex
        model = scope.model
        while True:
            now = timezone.now()
            due = self.due(now, lease)
            candidates = list(scope.filter(status=self.pending).order_by("pk").values_list("pk", flat=True)[:limit])
            if len(candidates) < limit:
                rest = scope.filter(due).exclude(status=self.pending).order_by("pk")
                candidates += rest.values_list("pk", flat=True)[: limit - len(candidates)]
            if not candidates:
                return None
            if model._default_manager.filter(due, pk__in=candidates).update(
                status=self.sending, claim=token, claimed_at=now
            ):
                return token
            # Another worker claimed every one of these between the two statements: more may be due.
