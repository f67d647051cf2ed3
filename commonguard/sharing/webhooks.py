"""Organisation webhooks: payloads (generic JSON, Slack, Microsoft Teams), signatures, the guard
against requests into private networks, sending, and the services that keep them.

Signature: header `X-CommonGuard-Signature: t=<unix seconds>,v1=<hex>` where the hex is
HMAC-SHA256(secret, "<t>.<raw body>"). `verify_signature` is what a receiver runs; it refuses a
forged or stale request. `X-CommonGuard-Delivery` is the delivery's idempotency key."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse

from commonguard.accounts.models import User
from commonguard.accounts.viewer import viewer_for
from commonguard.core.audit import audit_record
from commonguard.core.tlp import TLP
from commonguard.sharing.indicators import defang
from commonguard.sharing.models import Alert, Webhook

if TYPE_CHECKING:
    from commonguard.orgs.models import Organization
    from commonguard.sharing.models import Delivery

SIGNATURE_HEADER = "X-CommonGuard-Signature"
TOLERANCE_SECONDS = 300
TIMEOUT = httpx.Timeout(5.0, connect=3.0)
_EVENTS: dict[str, str] = {
    Alert.Status.PUBLISHED: "alert.published",
    Alert.Status.UPDATED: "alert.updated",
    Alert.Status.REVOKED: "alert.revoked",
}


# --- Signing ---------------------------------------------------------------------------------


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def verify_signature(secret: str, body: bytes, header: str, now: float | None = None) -> bool:
    """What a receiver checks: the signature matches the body and the secret, and is recent."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        stamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - stamp) > TOLERANCE_SECONDS:
        return False
    expected = sign(secret, body, stamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, given)


def new_secret() -> str:
    return secrets.token_hex(32)


# --- Where a webhook may point -----------------------------------------------------------------


def check_target(url: str) -> None:
    """Refuse URLs that would make the hub call into a private network (SSRF): anything but https,
    and any host that resolves to a loopback, private, link-local, multicast or reserved address.
    `COMMONGUARD_WEBHOOK_ALLOW_PRIVATE` lifts this for tests, benchmarks and the demo only."""
    parts = urlsplit(url)
    if settings.COMMONGUARD_WEBHOOK_ALLOW_PRIVATE:
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError("Give a full http(s) address.", code="scheme")
        return
    if parts.scheme != "https" or not parts.hostname:
        raise ValidationError("A webhook address must start with https://.", code="scheme")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise ValidationError(f"{parts.hostname} does not resolve.", code="dns") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            raise ValidationError(
                "That address points into a private or reserved network; webhooks go to public endpoints only.",
                code="private",
            )


# --- Payloads --------------------------------------------------------------------------------


def event_name(alert: Alert) -> str:
    return _EVENTS.get(alert.status, "alert")


def payload(alert: Alert, webhook: Webhook) -> dict[str, Any]:
    """The body for this endpoint's preset. Generic JSON carries indicator values as they are (for
    SIEMs); chat presets show them defanged so nobody clicks them."""
    from commonguard.accounts.viewer import organization_viewer
    from commonguard.sharing.services import author_label

    link = settings.COMMONGUARD_SITE_URL + reverse("sharing:alert", kwargs={"uuid": alert.uuid})
    tlp = TLP(alert.tlp).label
    author = author_label(alert, organization_viewer(webhook.organization))
    indicators = [(i.kind, i.value) for i in alert.indicators.all()]
    if webhook.preset == Webhook.Preset.GENERIC:
        return {
            "event": event_name(alert),
            "alert": {
                "id": str(alert.uuid),
                "version": alert.version,
                "status": alert.status,
                "title": alert.title,
                "summary": alert.summary,
                "recommended_actions": alert.recommended_actions,
                "category": alert.category,
                "severity": alert.severity,
                "tlp": tlp,
                "author": author,
                "attack_techniques": alert.attack_techniques,
                "published_at": alert.published_at.isoformat() if alert.published_at else None,
                "valid_until": alert.valid_until.isoformat() if alert.valid_until else None,
                "revocation_reason": alert.revocation_reason,
                "indicators": [{"type": kind, "value": value} for kind, value in indicators],
                "url": link,
            },
        }
    headline = f"[{tlp}] [{alert.get_severity_display()}] {alert.title}"
    if alert.status == Alert.Status.REVOKED:
        headline = f"Revoked: {headline}"
    shown = [f"{kind}: {defang(kind, value)}" for kind, value in indicators[:20]]
    more = f" (+{len(indicators) - 20} more)" if len(indicators) > 20 else ""
    if webhook.preset == Webhook.Preset.SLACK:
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": headline[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": alert.summary[:2900]}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"From {author} · {tlp}: share as it allows"}]},
        ]
        if shown:
            listing = "```" + "\n".join(shown) + more + "```"
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": listing}})
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"<{link}|Open in CommonGuard>"}})
        return {"text": headline, "blocks": blocks}
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": headline, "weight": "Bolder", "size": "Medium", "wrap": True},
            {"type": "TextBlock", "text": f"From {author} · {tlp}: share as it allows", "isSubtle": True, "wrap": True},
            {"type": "TextBlock", "text": alert.summary[:2900], "wrap": True},
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "Open in CommonGuard", "url": link}],
    }
    if shown:
        listing = "\n".join(shown) + more
        card["body"].append({"type": "TextBlock", "text": listing, "fontType": "Monospace", "wrap": True})
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
    }


# --- Sending ---------------------------------------------------------------------------------

_client: httpx.Client | None = None


def _http() -> httpx.Client:
    global _client  # one pooled client per worker process: keep-alive across deliveries
    if _client is None:
        _client = httpx.Client(timeout=TIMEOUT, follow_redirects=False, limits=httpx.Limits(max_connections=32))
    return _client


def post_one(alert: Alert, row: Delivery, body: bytes) -> tuple[int | None, str]:
    """POST one delivery (no database access: it runs in a thread of `post_all`). Returns (HTTP
    status or None, error text or "")."""
    webhook = row.webhook
    assert webhook is not None
    try:
        check_target(webhook.url)
    except ValidationError as exc:
        return None, f"refused: {exc.messages[0]}"
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "CommonGuard-Webhook/1",
        SIGNATURE_HEADER: sign(webhook.secret, body),
        "X-CommonGuard-Event": event_name(alert),
        "X-CommonGuard-Delivery": row.key,
    }
    try:
        response = _http().post(webhook.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if 200 <= response.status_code < 300:
        return response.status_code, ""
    return response.status_code, f"HTTP {response.status_code}"


_bodies: dict[tuple[Any, int, str, str], bytes] = {}


def _body(alert: Alert, webhook: Webhook) -> bytes:
    """The JSON body, built once per alert version, preset and way of naming the author."""
    from commonguard.accounts.viewer import organization_viewer
    from commonguard.sharing.services import author_label

    author = author_label(alert, organization_viewer(webhook.organization))
    key = (alert.uuid, alert.version, webhook.preset, author)
    if key not in _bodies:
        if len(_bodies) > 64:
            _bodies.clear()
        _bodies[key] = json.dumps(payload(alert, webhook), separators=(",", ":")).encode()
    return _bodies[key]


def post_all(alert: Alert, rows: list[Delivery]) -> list[tuple[int | None, str]]:
    """POST a batch concurrently (endpoints are independent; a slow one must not hold up the rest)."""
    if not rows:
        return []
    # Bodies first, here: building one reads the database, and a thread of the pool would open a
    # database connection of its own (and leave it open when the thread ends).
    bodies = []
    for row in rows:
        assert row.webhook is not None  # webhook rows always name their endpoint
        bodies.append(_body(alert, row.webhook))
    with ThreadPoolExecutor(max_workers=min(16, len(rows))) as pool:
        return list(pool.map(lambda row, body: post_one(alert, row, body), rows, bodies))


# --- Services --------------------------------------------------------------------------------


def administered(user: Any) -> QuerySet[Organization]:
    """The organisations `user` may read and administers: those whose webhooks they keep."""
    from commonguard.orgs.models import Organization

    return Organization.objects.visible_to(user).filter(pk__in=viewer_for(user).admin_org_ids)


def require_org_admin(actor: Any, organization: Organization) -> None:
    """Webhooks carry the organisation's alerts out of the hub: its admins alone keep them."""
    if organization.pk not in viewer_for(actor).admin_org_ids:
        raise PermissionDenied("Only an admin of this organisation can change its webhooks.")


WEBHOOK_FIELDS = ("name", "url", "preset", "max_tlp", "categories", "min_severity", "active")


@transaction.atomic
def webhook_save(*, actor: User, organization: Organization, webhook: Webhook | None, data: dict[str, Any]) -> Webhook:
    """Create or change an organisation's webhook (its admins only)."""
    require_org_admin(actor, organization)
    if data.get("max_tlp") == TLP.RED:
        raise ValidationError({"max_tlp": "TLP:RED is for named people; it never goes to a webhook."})
    check_target_field(data["url"])
    creating = webhook is None
    if webhook is None:
        webhook = Webhook(organization=organization, created_by=actor, secret=new_secret())
    for field in WEBHOOK_FIELDS:
        if field in data:
            setattr(webhook, field, data[field])
    if Webhook.objects.filter(organization=organization, name=webhook.name).exclude(pk=webhook.pk).exists():
        raise ValidationError({"name": "This organisation already has a webhook with that name."})
    webhook.full_clean()
    webhook.save()
    audit_record(
        actor=actor,
        action="webhook.created" if creating else "webhook.changed",
        target=webhook,
        organization=organization,
        summary=f"{'Added' if creating else 'Changed'} webhook {webhook.name} ({webhook.get_preset_display()})",
        data={k: getattr(webhook, k) for k in WEBHOOK_FIELDS},
    )
    return webhook


def check_target_field(url: str) -> None:
    try:
        check_target(url)
    except ValidationError as exc:
        raise ValidationError({"url": exc.messages}) from exc


@transaction.atomic
def webhook_rotate_secret(*, actor: User, webhook: Webhook) -> Webhook:
    require_org_admin(actor, webhook.organization)
    webhook.secret = new_secret()
    webhook.save(update_fields=["secret"])
    audit_record(
        actor=actor,
        action="webhook.secret_rotated",
        target=webhook,
        organization=webhook.organization,
        summary=f"New signing secret for webhook {webhook.name}",
    )
    return webhook


@transaction.atomic
def webhook_delete(*, actor: User, webhook: Webhook) -> None:
    require_org_admin(actor, webhook.organization)
    audit_record(
        actor=actor,
        action="webhook.deleted",
        target=webhook,
        organization=webhook.organization,
        summary=f"Removed webhook {webhook.name}",
    )
    webhook.delete()


def webhook_redeliver(*, actor: User, webhook: Webhook, delivery_ids: list[int] | None = None) -> int:
    """Send dead-lettered (or failing) deliveries of this webhook again, now."""
    from commonguard.sharing.delivery import redeliver
    from commonguard.sharing.models import Delivery

    require_org_admin(actor, webhook.organization)
    rows = Delivery.objects.filter(webhook=webhook)
    if delivery_ids is not None:
        rows = rows.filter(pk__in=delivery_ids)
    with transaction.atomic():
        count = redeliver(rows)
        audit_record(
            actor=actor,
            action="webhook.redelivered",
            target=webhook,
            organization=webhook.organization,
            summary=f"Redelivery of {count} delivery(ies) to webhook {webhook.name}",
        )
    return count
