"""Reads for federation pages: which peers had an alert (the delete page names them), and the
operator's view of the peers and their outboxes (docs/adr/0030-federation-operations.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from commonguard.federation.models import Change, Peer, Received


def peers_told(alert: Any) -> list[Peer]:
    """The enabled peers that were sent (or could pull) the alert: a deletion tells each of them."""
    had = Change.objects.filter(alert_uuid=alert.uuid).values("peer_id")
    return list(Peer.objects.filter(pk__in=had, enabled=True).order_by("name"))


def is_received(alert: Any) -> bool:
    """An alert that came from a peer hub: only its origin may delete it."""
    return Received.objects.filter(alert_id=alert.pk).exists()


@dataclass
class PeerStatus:
    peer: Peer
    pending: int
    retrying: int
    sending: int
    refused: int
    sent: int
    oldest_pending_at: datetime | None
    last_push_at: datetime | None
    last_outbox_error: str
    amber_organizations: list[str]

    @property
    def backlog(self) -> int:
        return self.pending + self.retrying + self.sending

    @property
    def oldest_pending_age(self) -> float | None:
        """Seconds the oldest row not yet delivered has waited (pending, retrying or in flight)."""
        if self.oldest_pending_at is None:
            return None
        return max((timezone.now() - self.oldest_pending_at).total_seconds(), 0.0)


def _waiting() -> Q:
    return Q(changes__status__in=[Change.Status.PENDING, Change.Status.RETRY, Change.Status.SENDING])


def peer_statuses(peers: Any = None) -> list[PeerStatus]:
    """Every peer (or those of `peers`) with its outbox figures, in one aggregate query and one
    query for the last errors. The caller checks that the reader is the hub's operator."""
    qs = Peer.objects.all() if peers is None else peers
    qs = qs.select_related("organization").prefetch_related("amber_organizations")
    rows = list(
        qs.annotate(
            n_pending=Count("changes", filter=Q(changes__status=Change.Status.PENDING)),
            n_retry=Count("changes", filter=Q(changes__status=Change.Status.RETRY)),
            n_sending=Count("changes", filter=Q(changes__status=Change.Status.SENDING)),
            n_refused=Count("changes", filter=Q(changes__status=Change.Status.REFUSED)),
            n_sent=Count("changes", filter=Q(changes__status=Change.Status.SENT)),
            oldest_waiting=Min("changes__created_at", filter=_waiting()),
            last_sent=Max("changes__sent_at"),
        ).order_by("name")
    )
    errors: dict[int, str] = {}
    failing = Change.objects.filter(peer__in=[p.pk for p in rows]).exclude(last_error="")
    failing = failing.filter(status__in=[Change.Status.RETRY, Change.Status.REFUSED])
    for peer_id, error in failing.order_by("peer_id", "-pk").values_list("peer_id", "last_error"):
        errors.setdefault(peer_id, error)
    return [
        PeerStatus(
            peer=p,
            pending=p.n_pending,  # type: ignore[attr-defined]
            retrying=p.n_retry,  # type: ignore[attr-defined]
            sending=p.n_sending,  # type: ignore[attr-defined]
            refused=p.n_refused,  # type: ignore[attr-defined]
            sent=p.n_sent,  # type: ignore[attr-defined]
            oldest_pending_at=p.oldest_waiting,  # type: ignore[attr-defined]
            last_push_at=p.last_sent,  # type: ignore[attr-defined]
            last_outbox_error=errors.get(p.pk, ""),
            amber_organizations=sorted(o.name for o in p.amber_organizations.all()),
        )
        for p in rows
    ]


def recent_changes(peer: Peer, limit: int = 50) -> list[Change]:
    """The peer's latest outbox rows, newest first (ids and states only: no alert content)."""
    return list(Change.objects.filter(peer=peer).order_by("-pk")[:limit])
