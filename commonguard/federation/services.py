"""Federation between hubs: the outbox, push, pull, receiving and deleting (docs/adr/0022-hub-federation.md).

What crosses is a STIX 2.1 bundle per alert (`interop.export.alert_bundle`) whose report carries the
provenance (`x_commonguard_federation`: origin hub, path, the origin's version stamp) and the alert's
fields (`x_commonguard_alert`), or a tombstone: the report alone, `revoked: true`, with
`x_commonguard_federation.deleted`. Receiving is idempotent by the alert's uuid (the report id is
uuid5 of it, the same on every hub) and ordered by the origin's version stamp.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from commonguard.accounts.models import hash_token_secret
from commonguard.core.audit import audit_record
from commonguard.core.outbox import Outbox
from commonguard.core.tlp import STIX_TLP2_MARKING_IDS, TLP
from commonguard.federation.models import AlertPeer, Change, Peer, Received, Tombstone
from commonguard.federation.rules import hub_id, may_send, provenance
from commonguard.interop.export import ANONYMOUS_IDENTITY_ID, _sid, alert_bundle, ts
from commonguard.interop.stix import BundleError, StixInputError, check_object, depth_ok, json_load, parse_timestamp
from commonguard.orgs.models import Organization
from commonguard.sharing.models import Alert

log = logging.getLogger(__name__)

FED = "x_commonguard_federation"
FIELDS = "x_commonguard_alert"
LEASE = timedelta(seconds=60)
MAX_BACKOFF = 300.0
MAX_PATH = 32
TIMEOUT = httpx.Timeout(30.0, connect=5.0)  # a busy hub answers slowly: better than a retry
PAGE = 100
MAX_ANSWER = 200 * 1024 * 1024  # a page of PAGE changes, each at most the inbox's 20 MB bundle


class FederationError(Exception):
    """A peer's answer or bundle this hub will not take: `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def peer_for_token(token: str) -> Peer | None:
    if not token:
        return None
    return Peer.objects.filter(token_digest=hash_token_secret(token), enabled=True).first()


# --- Configuration ------------------------------------------------------------------------------


@transaction.atomic
def peer_save(
    *,
    actor: Any,
    name: str,
    url: str,
    token: str = "",
    community: bool = False,
    enabled: bool = True,
    push: bool = True,
    pull: bool = True,
    pull_interval: float = 60,
    amber_organizations: list[Organization] | None = None,
    state: str = "",
) -> tuple[Peer, str]:
    """Create or change the peer called `name`. A new peer without `token` gets a fresh secret
    (returned: give it to the other hub's operator, who configures the same one). The organisation
    that stands for the peer here is created with it (kind ISAC, approved)."""
    from django.conf import settings

    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValidationError({"url": "The peer's URL must start with http:// or https://."})
    if pull_interval < 0.5:
        raise ValidationError({"pull_interval": "Pull at most twice a second."})
    peer = Peer.objects.select_for_update().filter(name=name).first()
    created = peer is None
    if peer is None:
        org = Organization.objects.create(
            name=f"Hub: {name}",
            kind=Organization.Kind.ISAC,
            status=Organization.Status.APPROVED,
            state=state or settings.COMMONGUARD_STATE,
            source_key=f"federation:{name}",
            decided_at=timezone.now(),
            decision_note="The organisation standing for a federated peer hub.",
        )
        peer = Peer(name=name, organization=org)
        token = token or secrets.token_urlsafe(32)
    if token:
        peer.token, peer.token_digest = token, hash_token_secret(token)
    peer.url, peer.community, peer.enabled, peer.push, peer.pull = url, community, enabled, push, pull
    peer.pull_interval = pull_interval
    peer.save()
    if amber_organizations is not None:
        peer.amber_organizations.set(amber_organizations)
    queued = backfill(peer) if created else 0
    audit_record(
        actor=actor,
        action="federation.peer_save",
        summary=f"{'Added' if created else 'Changed'} the federated peer {name} ({url})",
        target=peer,
        data={
            "community": community,
            "enabled": enabled,
            "push": push,
            "pull": pull,
            "interval": pull_interval,
            "backfilled": queued,
        },
    )
    return peer, token


def backfill(peer: Peer, *, since: datetime | None = None) -> int:
    """Queue for `peer` the already-published alerts it may receive (`may_send`) and has no row
    for yet, so a peer added later does not only see what is published after it; with `since`, only
    those first published at or after it (a hub with years of alerts need not send them all).
    Idempotent: an alert with any row for the peer (sent, pending, refused, a withdrawal) is left
    alone. Revoked and expired alerts are not sent (the peer would only refuse an expired one). Rows
    are written under the peer's row lock, oldest publication first; returns how many were queued."""
    if not peer.enabled:
        return 0
    labels = [TLP.CLEAR, TLP.AMBER] + ([TLP.GREEN] if peer.community else [])
    now = timezone.now()
    published = Alert.objects.filter(published_at__gte=since) if since is not None else Alert.objects.all()
    candidates = (
        published.filter(status__in=[Alert.Status.PUBLISHED, Alert.Status.UPDATED], tlp__in=labels)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .filter(Q(source_key="") | Q(source_key__startswith="fed:"))
        .exclude(alert_uuid_in_outbox(peer))
        .order_by("published_at", "pk")
    )
    with transaction.atomic():
        locked = Peer.objects.select_for_update().get(pk=peer.pk)
        received = {r.alert_id: r for r in Received.objects.filter(alert__in=candidates)}
        alerts = [a for a in candidates if may_send(a, locked, received.get(a.pk))]
        status = Change.Status.PENDING if locked.push else Change.Status.SKIPPED
        Change.objects.bulk_create(
            [Change(peer=locked, alert=a, alert_uuid=a.uuid, status=status) for a in alerts], batch_size=500
        )
        if alerts and locked.push:
            transaction.on_commit(lambda: _enqueue_push([locked.pk]))
    if alerts:
        audit_record(
            actor=None,
            action="federation.backfill",
            summary=f"Queued {len(alerts)} published alert(s) for the peer {peer.name}"
            + (f" (published since {since:%Y-%m-%d %H:%M} UTC)" if since is not None else ""),
            target=peer,
            data={"queued": len(alerts), "since": since.isoformat() if since is not None else None},
        )
    return len(alerts)


def alert_uuid_in_outbox(peer: Peer) -> Q:
    return Q(uuid__in=Change.objects.filter(peer=peer).values("alert_uuid"))


def outbox_prune(days: float | None = None, *, now: Any = None) -> int:
    """Delete delivered outbox rows older than `days` (COMMONGUARD_FEDERATION_OUTBOX_RETENTION_DAYS,
    30): rows `sent` by push, and rows `skipped` (pull-only peers) a newer row of the same alert
    has superseded. Refused and waiting rows are kept (an operator reads them). The newest row of
    each alert for each peer is always kept: it is the hub's memory that the peer had the alert,
    which a later deletion or narrowed label needs to send its tombstone (ADR 30)."""
    from django.conf import settings
    from django.db.models import Exists, OuterRef

    if days is None:
        days = float(getattr(settings, "COMMONGUARD_FEDERATION_OUTBOX_RETENTION_DAYS", 30))
    cutoff = (now or timezone.now()) - timedelta(days=days)
    newer = Change.objects.filter(peer_id=OuterRef("peer_id"), alert_uuid=OuterRef("alert_uuid"), pk__gt=OuterRef("pk"))
    old = Q(status=Change.Status.SENT, sent_at__lt=cutoff) | Q(status=Change.Status.SKIPPED, created_at__lt=cutoff)
    ids = list(Change.objects.filter(old).filter(Exists(newer)).values_list("pk", flat=True)[:10000])
    total = 0
    while ids:
        total += Change.objects.filter(pk__in=ids).delete()[0]
        ids = list(Change.objects.filter(old).filter(Exists(newer)).values_list("pk", flat=True)[:10000])
    return total


def alert_peers_set(*, actor: Any, alert: Alert, peers: list[Peer], tlp: str | None = None) -> None:
    """The peers an AMBER alert may go to (the author names them); dropped for other labels.
    `tlp`: the label the alert is about to get (an update may change it)."""
    from commonguard.sharing.services import can_edit_alert

    if not can_edit_alert(actor, alert):
        raise PermissionDenied("Only the author or an admin of the author's organisation can change this alert.")
    wanted = {p.pk for p in peers if p.enabled} if (tlp or alert.tlp) == TLP.AMBER else set()
    AlertPeer.objects.filter(alert=alert).exclude(peer_id__in=wanted).delete()
    have = set(AlertPeer.objects.filter(alert=alert).values_list("peer_id", flat=True))
    AlertPeer.objects.bulk_create([AlertPeer(alert=alert, peer_id=pk) for pk in sorted(wanted - have)])


# --- The outbox ---------------------------------------------------------------------------------


def outbox_write(alert: Alert) -> int:
    """In the transaction of a publish/update/revocation: one row per peer that may receive the
    alert now or received it before (it will learn of the withdrawal). Rows of a peer are written
    under its row lock, so their ids (the pull cursor) are in commit order."""
    peers = list(Peer.objects.filter(enabled=True))
    if not peers:  # a hub without peers (and every import's versions there) pays one small query
        return 0
    had = set(Change.objects.filter(alert_uuid=alert.uuid).values_list("peer_id", flat=True))
    _, _, received = provenance(alert)
    targets = [p for p in peers if p.pk in had or may_send(alert, p, received)]
    return _write_rows(targets, alert, alert.uuid)


def _write_rows(peers: list[Peer], alert: Alert | None, alert_uuid: uuid.UUID) -> int:
    if not peers:
        return 0
    locked = list(Peer.objects.select_for_update().filter(pk__in=[p.pk for p in peers]).order_by("pk"))
    Change.objects.bulk_create(
        [
            Change(
                peer=p,
                alert=alert,
                alert_uuid=alert_uuid,
                status=Change.Status.PENDING if p.push else Change.Status.SKIPPED,
            )
            for p in locked
        ]
    )
    pushing = [p.pk for p in locked if p.push]
    if pushing:
        transaction.on_commit(lambda: _enqueue_push(pushing))
    return len(locked)


def _enqueue_push(peer_ids: list[int]) -> None:
    from commonguard.federation.tasks import federation_push_task

    for pk in peer_ids:
        try:
            federation_push_task.enqueue(pk)
        except Exception:  # the rows stay pending: `federation_run` sends them
            log.exception("Could not queue the push to peer %s", pk)


@transaction.atomic
def alert_delete(*, actor: Any, alert: Alert, reason: str = "") -> None:
    """Delete an alert this hub authored (a mistake, something that should never have been shared):
    gone here, and a tombstone to every peer that was sent it."""
    from commonguard.sharing.services import can_edit_alert

    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if not can_edit_alert(actor, alert) or Received.objects.filter(alert=alert).exists():
        raise PermissionDenied("Only the author or an admin of the author's organisation can delete this alert.")
    origin, path, _ = provenance(alert)
    _delete(alert, origin=origin, path=path, reason=reason.strip()[:500], actor=actor)


def _delete(alert: Alert, *, origin: str, path: list[str], reason: str, actor: Any) -> None:
    Tombstone.objects.get_or_create(
        alert_uuid=alert.uuid,
        defaults={"origin_hub": origin, "path": path, "modified": ts(timezone.now()), "reason": reason},
    )
    had = set(Change.objects.filter(alert_uuid=alert.uuid).values_list("peer_id", flat=True))
    _write_rows(list(Peer.objects.filter(pk__in=had, enabled=True)), alert, alert.uuid)
    audit_record(
        actor=actor,
        action="federation.alert_delete",
        summary=f"Deleted the alert “{alert.title}”" + (f": {reason}" if reason else ""),
        organization=alert.author_org,
        data={"alert": str(alert.uuid), "tlp": alert.tlp, "peers_told": len(had)},
    )
    alert.delete()


# --- What crosses -------------------------------------------------------------------------------


def report_id(alert_uuid: uuid.UUID | str) -> str:
    return _sid("report", alert_uuid)


def tombstone_bundle(alert_uuid: uuid.UUID, *, origin: str, path: list[str], modified: str, withdrawn: bool) -> dict:
    report = {
        "type": "report",
        "spec_version": "2.1",
        "id": report_id(alert_uuid),
        "created": modified,
        "modified": modified,
        "name": "Withdrawn" if withdrawn else "Deleted",
        "published": modified,
        "report_types": ["threat-report"],
        "object_refs": [ANONYMOUS_IDENTITY_ID],
        "revoked": True,
        FED: {
            "origin": origin,
            "path": [*path, hub_id()],
            "origin_modified": modified,
            "deleted": True,
            "withdrawn": withdrawn,
        },
        FIELDS: {"uuid": str(alert_uuid)},
    }
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [report]}


def alert_payload(alert: Alert) -> dict:
    bundle = alert_bundle(alert)
    origin, path, received = provenance(alert)
    report = next(o for o in bundle["objects"] if o["type"] == "report")
    report[FED] = {
        "origin": origin,
        "path": [*path, hub_id()],
        "origin_modified": received.origin_modified if received else report["modified"],
        "deleted": False,
    }
    report[FIELDS] = {
        "uuid": str(alert.uuid),
        "status": alert.status,
        "title": alert.title,
        "summary": alert.summary,
        "recommended_actions": alert.recommended_actions,
        "category": alert.category,
        "severity": alert.severity,
        "tlp": alert.tlp,
        "attack_techniques": list(alert.attack_techniques or []),
        "valid_until": ts(alert.valid_until) if alert.valid_until else None,
        "known_ransomware_use": alert.known_ransomware_use,
        "revocation_reason": alert.revocation_reason,
        "indicators": [[i.kind, i.value] for i in alert.indicators.order_by("kind", "value")],
    }
    return bundle


def bundle_for(peer: Peer, alert_uuid: uuid.UUID, alert: Alert | None) -> dict:
    """What `peer` is sent for this alert now: the alert, or a tombstone if it was deleted or may
    no longer go there (its label narrowed, the peer was un-named)."""
    tomb = Tombstone.objects.filter(alert_uuid=alert_uuid).first()
    if tomb is not None:
        return tombstone_bundle(
            alert_uuid, origin=tomb.origin_hub, path=tomb.path, modified=tomb.modified, withdrawn=False
        )
    if alert is None or not may_send(alert, peer):
        origin, path, _ = provenance(alert) if alert is not None else (hub_id(), [], None)
        return tombstone_bundle(alert_uuid, origin=origin, path=path, modified=ts(timezone.now()), withdrawn=True)
    return alert_payload(alert)


def changes_page(peer: Peer, after: int, limit: int = PAGE) -> dict:
    """The changes for `peer` after its cursor, newest state of each alert (the pull endpoint)."""
    rows = list(
        Change.objects.filter(peer=peer, pk__gt=after)
        .order_by("pk")
        .values_list("pk", "alert_uuid", "alert_id")[: limit + 1]
    )
    more = len(rows) > limit
    rows = rows[:limit]
    last: dict[uuid.UUID, tuple[int, int | None]] = {}
    for pk, alert_uuid, alert_id in rows:
        last[alert_uuid] = (pk, alert_id)
    alerts = Alert.objects.in_bulk([a for _, a in last.values() if a is not None])
    changes = [
        {"seq": pk, "bundle": bundle_for(peer, alert_uuid, alerts.get(alert_id) if alert_id else None)}
        for alert_uuid, (pk, alert_id) in sorted(last.items(), key=lambda kv: kv[1][0])
    ]
    return {"hub": hub_id(), "changes": changes, "more": more, "next": rows[-1][0] if rows else after}


# --- Receiving ----------------------------------------------------------------------------------


@dataclass
class Incoming:
    uuid: uuid.UUID
    origin: str
    path: list[str]
    origin_modified: str
    deleted: bool
    withdrawn: bool
    fields: dict[str, Any]


def parse_bundle(bundle: Any) -> Incoming:
    """Check a peer's bundle before anything is written; FederationError (400) says what is wrong."""
    if not isinstance(bundle, dict) or bundle.get("type") != "bundle" or not isinstance(bundle.get("objects"), list):
        raise FederationError("Not a STIX bundle.")
    if not depth_ok(bundle):
        raise FederationError("The bundle is nested too deeply.")
    reports = []
    try:
        for obj in bundle["objects"]:
            check_object(obj, check_pattern=False)
            if obj["type"] == "report" and FED in obj:
                reports.append(obj)
    except StixInputError as exc:
        raise FederationError(f"Invalid STIX: {exc}") from None
    if len(reports) != 1:
        raise FederationError("The bundle must hold exactly one report with x_commonguard_federation.")
    report = reports[0]
    fed, fields = report.get(FED), report.get(FIELDS)
    if not isinstance(fed, dict) or not isinstance(fields, dict):
        raise FederationError("x_commonguard_federation and x_commonguard_alert must be objects.")
    try:
        alert_uuid = uuid.UUID(str(fields.get("uuid")))
    except ValueError:
        raise FederationError("x_commonguard_alert.uuid is not a UUID.") from None
    if report["id"] != report_id(alert_uuid):
        raise FederationError("The report id does not match the alert's uuid.")
    origin, path, stamp = fed.get("origin"), fed.get("path"), fed.get("origin_modified")
    if not isinstance(origin, str) or not origin or len(origin) > 200:
        raise FederationError("x_commonguard_federation.origin must name the origin hub.")
    if (
        not isinstance(path, list)
        or not path
        or len(path) > MAX_PATH
        or not all(isinstance(h, str) and h and len(h) <= 200 for h in path)
        or path[0] != origin
    ):
        raise FederationError("x_commonguard_federation.path must list the hubs passed, the origin first.")
    try:
        parse_timestamp(stamp)
    except ValueError:
        raise FederationError("x_commonguard_federation.origin_modified is not a timestamp.") from None
    deleted = fed.get("deleted") is True
    if not deleted:
        try:
            label = TLP(str(fields.get("tlp")))
        except ValueError:
            raise FederationError("x_commonguard_alert.tlp is not a TLP 2.0 label.") from None
        if STIX_TLP2_MARKING_IDS[label] not in report.get("object_marking_refs", []):
            raise FederationError("The report's TLP marking does not match the alert's label.")
        if not isinstance(fields.get("indicators", []), list) or not all(
            isinstance(i, list) and len(i) == 2 and all(isinstance(v, str) for v in i) for i in fields["indicators"]
        ):
            raise FederationError("x_commonguard_alert.indicators must be [kind, value] pairs.")
    return Incoming(
        uuid=alert_uuid,
        origin=origin,
        path=list(path),
        origin_modified=str(stamp),
        deleted=deleted,
        withdrawn=fed.get("withdrawn") is True,
        fields=fields,
    )


def _service_user(peer: Peer) -> Any:
    from commonguard.sharing.imports import service_account, service_membership

    user = service_account(
        f"peer-{peer.pk}@federation.commonguard.invalid", f"Federation: {peer.name}", "Federated hub"
    )
    service_membership(user, peer.organization, action="federation.service_member", why="alerts from a peer hub")
    return user


def _input(peer: Peer, fields: dict[str, Any]) -> Any:
    from commonguard.sharing.services import AlertInput

    label = TLP(fields["tlp"])
    if label in (TLP.AMBER_STRICT, TLP.RED):
        raise FederationError(f"{label.label} never leaves its hub: refused.", 422)
    amber = list(peer.amber_organizations.filter(status=Organization.Status.APPROVED)) if label == TLP.AMBER else []
    if label == TLP.AMBER and not amber:
        raise FederationError("This hub names no organisation to read TLP:AMBER alerts from this peer: refused.", 422)
    valid_until = fields.get("valid_until")
    try:
        return AlertInput(
            title=str(fields.get("title", "")),
            summary=str(fields.get("summary", "")),
            recommended_actions=str(fields.get("recommended_actions") or ""),
            category=str(fields.get("category", "")),
            severity=str(fields.get("severity", "")),
            tlp=label,
            attack_techniques=[str(t) for t in fields.get("attack_techniques") or []],
            valid_until=parse_timestamp(valid_until) if valid_until else None,
            known_ransomware_use=bool(fields.get("known_ransomware_use")),
            recipient_orgs=amber,
            indicators=[(kind, value) for kind, value in fields.get("indicators") or []],
            confirm_benign=True,  # the author confirmed on the origin hub
        )
    except ValueError as exc:
        raise FederationError(f"Invalid alert fields: {exc}") from None


def _refused(exc: ValidationError) -> FederationError:
    return FederationError("Refused: " + "; ".join(exc.messages)[:450], 422)


@transaction.atomic
def receive(peer: Peer, bundle: Any) -> str:
    """Apply one bundle from `peer`, all or nothing. Returns what happened: created, updated,
    revoked, deleted, unchanged or ignored (a loop, or an alert this hub holds as its own)."""
    from commonguard.sharing.services import alert_publish, alert_revoke, alert_save_draft, alert_update

    incoming = parse_bundle(bundle)
    me = hub_id()
    sender = incoming.path[-1]
    if peer.hub_id and sender != peer.hub_id:
        raise FederationError(f"The bundle says it comes from {sender!r}, but this peer is {peer.hub_id!r}.", 403)
    if not peer.hub_id:
        Peer.objects.filter(pk=peer.pk).update(hub_id=sender)
        peer.hub_id = sender
    if me in incoming.path:
        return "ignored"
    existing = Alert.objects.select_for_update().filter(uuid=incoming.uuid).first()
    received = Received.objects.filter(alert=existing).first() if existing else None
    if existing is not None and received is None:
        return "ignored"  # this hub's own alert (or a uuid clash): a peer never changes it
    if received is not None and incoming.origin != received.origin_hub:
        raise FederationError("This alert came from another origin hub: refused.", 403)
    if Tombstone.objects.filter(alert_uuid=incoming.uuid).exists():
        return "ignored"  # deleted here: never revived by a late copy
    if incoming.deleted:
        if not incoming.withdrawn:
            Tombstone.objects.create(
                alert_uuid=incoming.uuid,
                origin_hub=incoming.origin,
                path=incoming.path,
                modified=incoming.origin_modified,
            )
        if existing is None:
            return "unchanged"
        if received is not None and received.peer_id not in (None, peer.pk) and incoming.withdrawn:
            return "unchanged"  # withdrawn from one route only: another peer still sends it
        existing_title = existing.title
        had = set(Change.objects.filter(alert_uuid=existing.uuid).values_list("peer_id", flat=True))
        _write_rows(list(Peer.objects.filter(pk__in=had, enabled=True)), existing, existing.uuid)
        audit_record(
            actor=None,
            action="federation.receive_delete",
            summary=f"{peer.name} {'withdrew' if incoming.withdrawn else 'deleted'} the alert “{existing_title}”",
            organization=peer.organization,
            data={"alert": str(existing.uuid), "origin": incoming.origin},
        )
        existing.delete()
        return "deleted"
    service = _service_user(peer)
    data = _input(peer, incoming.fields)
    revoked = incoming.fields.get("status") == Alert.Status.REVOKED
    reason = str(incoming.fields.get("revocation_reason") or "Revoked by the hub it came from.")
    try:
        if existing is None:
            alert = alert_save_draft(
                actor=service, author_org=peer.organization, data=data, source_key=f"fed:{incoming.uuid}"
            )
            Alert.objects.filter(pk=alert.pk).update(uuid=incoming.uuid)
            alert.uuid = incoming.uuid
            Received.objects.create(
                alert=alert,
                peer=peer,
                origin_hub=incoming.origin,
                path=incoming.path,
                origin_modified=incoming.origin_modified,
            )
            alert_publish(actor=service, alert=alert)
            if revoked:
                alert_revoke(actor=service, alert=alert, reason=reason)
            return "created"
        assert received is not None
        if parse_timestamp(incoming.origin_modified) <= parse_timestamp(received.origin_modified):
            return "unchanged"
        Received.objects.filter(pk=received.pk).update(path=incoming.path, origin_modified=incoming.origin_modified)
        if existing.status == Alert.Status.REVOKED:
            return "unchanged"  # revocation is final
        if revoked:
            alert_revoke(actor=existing.author, alert=existing, reason=reason)
            return "revoked"
        alert_update(actor=existing.author, alert=existing, data=data)
        return "updated"
    except ValidationError as exc:
        raise _refused(exc) from None
    except PermissionDenied as exc:
        raise FederationError(f"Refused: {exc}", 422) from None


# --- Push ---------------------------------------------------------------------------------------


def _headers(peer: Peer) -> dict[str, str]:
    return {"authorization": f"Bearer {peer.token}", "content-type": "application/json"}


OUTBOX = Outbox(pending=Change.Status.PENDING, retry=Change.Status.RETRY, sending=Change.Status.SENDING)


def _claim(peer: Peer, limit: int) -> list[Change]:
    """The peer's due rows, claimed for this worker by the rule the deliveries use (`core.outbox`)."""
    token = OUTBOX.claim(Change.objects.filter(peer=peer), limit=limit, lease=LEASE)
    if token is None:
        return []
    return list(Change.objects.filter(claim=token).select_related("alert").order_by("pk"))


def push_pending(peer: Peer, limit: int = PAGE, client: httpx.Client | None = None) -> dict[str, int]:
    """Send the peer's due rows (one request per alert, its current state); retries with back-off
    on failure, `refused` when the peer says the bundle is wrong (4xx). A worker that dies mid-way
    leaves rows `sending`: their claim expires and the next run sends them again (receiving is
    idempotent)."""
    counts = {"sent": 0, "retry": 0, "refused": 0}
    rows = _claim(peer, limit)
    if not rows:
        return counts
    by_alert: dict[uuid.UUID, list[Change]] = {}
    for row in rows:
        by_alert.setdefault(row.alert_uuid, []).append(row)
    own = client is None
    http = client or httpx.Client(timeout=TIMEOUT)
    try:
        for alert_uuid, group in by_alert.items():
            alert = group[-1].alert  # joined by the claim
            outcome, error = _post(http, peer, bundle_for(peer, alert_uuid, alert))
            now = timezone.now()
            ids = [r.pk for r in group]
            if outcome == "sent":
                Change.objects.filter(pk__in=ids).update(status=Change.Status.SENT, sent_at=now, last_error="")
            elif outcome == "refused":
                Change.objects.filter(pk__in=ids).update(status=Change.Status.REFUSED, last_error=error[:500])
            else:
                attempts = max(r.attempts for r in group) + 1
                wait = min(2.0**attempts, MAX_BACKOFF)
                Change.objects.filter(pk__in=ids).update(
                    status=Change.Status.RETRY,
                    attempts=attempts,
                    next_attempt_at=now + timedelta(seconds=wait),
                    last_error=error[:500],
                )
            counts[outcome] += len(group)
    finally:
        if own:
            http.close()
    return counts


def _post(http: httpx.Client, peer: Peer, bundle: dict) -> tuple[str, str]:
    try:
        answer = http.post(f"{peer.url}/federation/v1/inbox/", json=bundle, headers=_headers(peer))
    except httpx.HTTPError as exc:
        return "retry", f"{type(exc).__name__}: {exc}"
    if answer.status_code == 200:
        return "sent", ""
    if answer.status_code in (400, 403, 413, 422):
        return "refused", f"{answer.status_code}: {answer.text[:400]}"
    return "retry", f"{answer.status_code}: {answer.text[:400]}"


# --- Pull ---------------------------------------------------------------------------------------


def peers_due() -> list[Peer]:
    now = timezone.now()
    return list(
        Peer.objects.filter(enabled=True, pull=True).filter(Q(next_pull_at__isnull=True) | Q(next_pull_at__lte=now))
    )


def pull(peer: Peer, client: httpx.Client | None = None, max_pages: int = 50) -> dict[str, Any]:
    """Pull the peer's changes after our cursor. Each bundle is applied with the cursor move in one
    transaction: a bad answer or a refused bundle stops the pull there, nothing half-applied, the
    cursor on the last bundle taken."""
    results: dict[str, Any] = {"peer": peer.name, "applied": 0, "error": ""}
    started = timezone.now()  # the next pull is due `interval` after this one started (fixed rate)
    own = client is None
    http = client or httpx.Client(timeout=TIMEOUT)
    try:
        for _ in range(max_pages):
            page = _fetch(http, peer)
            for change in page["changes"]:
                with transaction.atomic():
                    outcome = receive(peer, change["bundle"])
                    Peer.objects.filter(pk=peer.pk).update(cursor=change["seq"])
                    peer.cursor = change["seq"]
                results[outcome] = results.get(outcome, 0) + 1
                results["applied"] += 1
            if page["next"] > peer.cursor:  # everything on the page applied
                Peer.objects.filter(pk=peer.pk).update(cursor=page["next"])
                peer.cursor = page["next"]
            if not page["more"]:
                break
    except (FederationError, IntegrityError) as exc:
        results["error"] = str(exc)
    finally:
        if own:
            http.close()
    now = timezone.now()
    Peer.objects.filter(pk=peer.pk).update(
        last_pull_at=now,
        next_pull_at=started + timedelta(seconds=peer.pull_interval),
        last_error=results["error"][:2000],
        **({} if results["error"] else {"last_pull_ok_at": now}),
    )
    return results


def _fetch(http: httpx.Client, peer: Peer) -> dict[str, Any]:
    try:
        answer = http.get(
            f"{peer.url}/federation/v1/changes/",
            params={"added_after": peer.cursor, "limit": PAGE},
            headers=_headers(peer),
        )
    except httpx.HTTPError as exc:
        raise FederationError(f"The peer did not answer: {type(exc).__name__}: {exc}", 502) from None
    if answer.status_code != 200:
        raise FederationError(f"The peer answered {answer.status_code}: {answer.text[:300]}", 502)
    try:
        page = json_load(answer.content, what="The peer's answer", max_bytes=MAX_ANSWER)
    except BundleError as exc:
        raise FederationError(str(exc), 502) from None
    if (
        not isinstance(page, dict)
        or not isinstance(page.get("changes"), list)
        or not isinstance(page.get("next"), int)
        or not all(
            isinstance(c, dict) and isinstance(c.get("seq"), int) and c["seq"] > peer.cursor for c in page["changes"]
        )
    ):
        raise FederationError("The peer's answer is not a page of changes.", 502)
    hub = page.get("hub")
    if isinstance(hub, str) and hub:
        if peer.hub_id and hub != peer.hub_id:
            raise FederationError(f"The peer says it is {hub!r}, configured as {peer.hub_id!r}.", 502)
        if not peer.hub_id:
            Peer.objects.filter(pk=peer.pk).update(hub_id=hub)
            peer.hub_id = hub
    page["more"] = page.get("more") is True
    return page
