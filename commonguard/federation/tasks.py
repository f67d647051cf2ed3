"""Push to peers on the worker, on the default queue (ADR 6)."""

from __future__ import annotations

from typing import Any

from django_tasks import task


@task(queue_name="default", priority=0)
def federation_push_task(peer_id: int) -> dict[str, Any]:
    from commonguard.core import context
    from commonguard.federation.models import Peer
    from commonguard.federation.services import push_pending

    peer = Peer.objects.filter(pk=peer_id, enabled=True, push=True).first()
    if peer is None:
        return {"peer": peer_id, "skipped": True}
    token = context.bind(context.RequestContext(channel="worker"))
    try:
        total: dict[str, int] = {}
        while True:
            counts = push_pending(peer)
            for key, value in counts.items():
                total[key] = total.get(key, 0) + value
            if not sum(counts.values()):
                return {"peer": peer_id, **total}
    finally:
        context.reset(token)
