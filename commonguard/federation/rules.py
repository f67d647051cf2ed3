"""What may leave this hub for a peer (docs/adr/0022-hub-federation.md). One function, asked when a
change is written to the outbox and again when it is sent or pulled.

- TLP:AMBER+STRICT and TLP:RED never leave the hub;
- TLP:AMBER leaves only to the peers the author named on the alert (`AlertPeer`);
- TLP:GREEN to the peers configured as part of the community;
- TLP:CLEAR to every peer;
- drafts never, nor imported alerts (KEV, feeds, MISP events: each hub imports those itself);
  an alert never goes back to the peer it came from, nor to a hub it already passed
  through (its provenance path).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from commonguard.core.tlp import TLP


def hub_id() -> str:
    return str(settings.COMMONGUARD_HUB_ID)


def provenance(alert: Any) -> tuple[str, list[str], Any]:
    """(origin hub, path so far, Received row or None) of an alert held here."""
    from commonguard.federation.models import Received

    received = Received.objects.filter(alert_id=alert.pk).first()
    if received is None:
        return hub_id(), [], None
    return received.origin_hub, list(received.path), received


def may_send(alert: Any, peer: Any, received: Any = None) -> bool:
    from commonguard.federation.models import AlertPeer, Received

    if not peer.enabled or alert.status not in alert.LIVE_STATUSES:
        return False
    if alert.source_key and not alert.source_key.startswith("fed:"):
        return False  # imports (KEV, feeds, MISP events): every hub imports public sources itself
    label = TLP(alert.tlp)
    if label == TLP.CLEAR:
        allowed = True
    elif label == TLP.GREEN:
        allowed = peer.community
    elif label == TLP.AMBER:
        allowed = AlertPeer.objects.filter(alert_id=alert.pk, peer_id=peer.pk).exists()
    else:  # AMBER+STRICT, RED
        allowed = False
    if not allowed:
        return False
    if received is None:
        received = Received.objects.filter(alert_id=alert.pk).first()
    if received is not None:
        if received.peer_id == peer.pk:
            return False
        if peer.hub_id and (peer.hub_id in received.path or peer.hub_id == received.origin_hub):
            return False
    return True
