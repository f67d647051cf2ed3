"""Writing the audit trail. Every service that changes something calls `audit_record`."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.db import models
from django.utils import timezone

from commonguard.core import context
from commonguard.core.compiled import CompiledInsert
from commonguard.core.models import AuditEvent


def audit_record(
    *,
    actor: Any,
    action: str,
    summary: str,
    kind: str = AuditEvent.Kind.WRITE,
    organization: Any = None,
    target: models.Model | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. Runs inside the caller's transaction, so a rolled-back change leaves no trace.
    Inside `audit_batch()` the event is written with the batch's others in one INSERT when it ends."""
    ctx = context.current()
    is_person = actor is not None and getattr(actor, "is_authenticated", False)
    event = AuditEvent(
        kind=kind,
        action=action,
        actor=actor if is_person else None,
        actor_label=(actor.email if is_person else ctx.channel),
        organization=organization,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        summary=summary[:300],
        data={"channel": ctx.channel, **(data or {})},
        ip_address=ctx.ip_address,
        request_id=ctx.request_id,
    )
    batch = getattr(_batches, "events", None)
    if batch is not None:
        batch.append(event)
    else:
        event.save()
    return event


_batches = threading.local()
_INSERT = CompiledInsert(AuditEvent)


@contextmanager
def audit_batch() -> Iterator[None]:
    """Collect the `audit_record` calls made inside the block and write them in one INSERT at its end
    (a hot write path, e.g. a report's submission: its audit rows cost one round trip, not five). Use
    it inside the transaction of the change: if the block raises, nothing is written, like the change."""
    if getattr(_batches, "events", None) is not None:  # nested: the outer batch writes
        yield
        return
    _batches.events = []
    try:
        yield
        events = _batches.events
    finally:
        _batches.events = None
    if events:
        _INSERT.insert(events)


def stamp_decision(obj: Any, *, actor: Any, status: str, note: str, at: datetime | None = None) -> None:
    """Record a vetting decision on a row that carries status, decided_by, decided_at, decision_note."""
    obj.status = status
    obj.decided_by = actor
    obj.decided_at = at or timezone.now()
    obj.decision_note = note
    fields = ["status", "decided_by", "decided_at", "decision_note"]
    if hasattr(obj, "updated_at"):
        fields.append("updated_at")
    obj.save(update_fields=fields)
