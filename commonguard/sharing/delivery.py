"""Fan-out of an alert version to its audience (the outbox) and its delivery by the workers.

`outbox_write` runs inside the publishing transaction: one `Delivery` row per recipient and
channel (live feed and e-mail per person, as their preferences say; one per entitled webhook),
keyed so that writing twice adds nothing. After commit, one task per channel works them off.

A worker *claims* a batch of due rows with a conditional UPDATE before sending (status `sending`,
a claim token, a time), so two workers never send the same row, on SQLite or PostgreSQL. Before
sending, each batch is re-checked against the read rule *at send time* (a recipient removed in
between gets nothing). A worker killed mid-batch leaves rows `sending`; after the lease
(`COMMONGUARD_DELIVERY_LEASE_SECONDS`) `deliveries_resume` hands them out again. A message whose
SMTP or HTTP exchange finished just before the kill may then go out twice: it carries the same
Message-ID / X-CommonGuard-Delivery id both times, so the receiver can recognise it (ADR 18).

Critical alerts use the `flash` queue, never behind bulk work; imported alerts use `bulk`."""

from __future__ import annotations

import contextlib
import html
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_tasks import task

from commonguard.accounts.models import Membership, User
from commonguard.accounts.viewer import Viewer
from commonguard.core.outbox import Outbox, retry_at
from commonguard.core.tlp import NAMED_ORGANISATION_LABELS, TLP
from commonguard.sharing.indicators import defang
from commonguard.sharing.models import Alert, AlertPreference, Delivery, LiveEvent, Webhook

BATCH = 200
EMAIL_BATCH = 100  # at most this many e-mails sent but not yet recorded when a worker dies
MAX_ATTEMPTS = 6
SEVERITY_RANK = {severity: rank for rank, severity in enumerate(Alert.Severity.values)}
UNSUBSCRIBE_SALT = "commonguard.sharing.unsubscribe"
_RECIPIENT_MARK = "\x1frecipient\x1f"
_UNSUBSCRIBE_MARK = "\x1funsubscribe\x1f"


# --- Who -------------------------------------------------------------------------------------


def audience(alert: Alert) -> QuerySet[User]:
    """Everyone the read rule lets read `alert` (ADR 13), except its author: the inverse of
    `Alert.objects.visible_to`, for fan-out. A property test checks the two agree."""
    return User.objects.filter(pk__in=_audience_memberships(alert).values("user_id"))


def _audience_memberships(alert: Alert) -> QuerySet[Membership]:
    """The approved memberships, in approved organisations, of active people (not service
    accounts) through which the alert reaches someone other than its author."""
    rows = (
        Membership.objects.filter(
            status=Membership.Status.APPROVED,
            organization__status="approved",
            user__is_active=True,
            user__is_service=False,  # the hub's own service accounts read nothing
        )
        .exclude(user_id=alert.author_id)
        .order_by()  # not the model's ordering: a sort by names of every row, for sets of ids
    )
    if alert.tlp == TLP.RED:
        return rows.filter(user_id__in=alert.recipient_people.values("pk"))
    if alert.tlp in NAMED_ORGANISATION_LABELS:
        return rows.filter(organization_id__in=audience_org_ids(alert))
    return rows


def audience_org_ids(alert: Alert) -> set[int]:
    """The organisations an AMBER or AMBER+STRICT alert is addressed to, its author's included."""
    orgs = {alert.author_org_id, *alert.recipient_orgs.values_list("pk", flat=True)}
    for group in alert.sharing_groups.all():
        orgs.update(group.organizations.values_list("pk", flat=True))
    return orgs


def entitled_people(alert: Alert, user_ids: Iterable[int]) -> set[int]:
    """Of `user_ids`, those who may read `alert` now: the read rule for a whole batch in one query."""
    ids = list(user_ids)
    if alert.status not in Alert.LIVE_STATUSES:
        return set()
    return set(_audience_memberships(alert).filter(user_id__in=ids).values_list("user_id", flat=True))


def webhook_entitled(alert: Alert, webhook: Webhook) -> bool:
    """The read rule for an organisation as a whole, and the endpoint's own ceiling and filters."""
    from commonguard.accounts.viewer import organization_viewer
    from commonguard.core.tlp import TLP_ORDER

    if not webhook.active or alert.tlp == TLP.RED:
        return False
    if TLP_ORDER.index(TLP(alert.tlp)) > TLP_ORDER.index(TLP(webhook.max_tlp)):
        return False
    viewer: Viewer = organization_viewer(webhook.organization)
    return Alert.objects.visible_to(viewer).filter(pk=alert.pk).exists()


def entitled_webhooks(alert: Alert, webhooks: list[Webhook]) -> set[int]:
    """Of `webhooks`, those that may receive `alert` now: `webhook_entitled` for a whole batch in
    two queries (the organisations' approval now, and an AMBER alert's audience). A test checks the
    two agree."""
    from commonguard.core.tlp import TLP_ORDER
    from commonguard.orgs.models import Organization

    if alert.tlp == TLP.RED or alert.status not in Alert.LIVE_STATUSES:
        return set()
    rank = TLP_ORDER.index(TLP(alert.tlp))
    candidates = [w for w in webhooks if w.active and rank <= TLP_ORDER.index(TLP(w.max_tlp))]
    org_ids = {w.organization_id for w in candidates}
    approved = set(Organization.objects.filter(pk__in=org_ids, status="approved").values_list("pk", flat=True))
    if alert.tlp in NAMED_ORGANISATION_LABELS:
        approved &= audience_org_ids(alert)
    return {w.pk for w in candidates if w.organization_id in approved}


def wants(alert: Alert, categories: list[str], min_severity: str) -> bool:
    """A person's or endpoint's filters. Critical (flash) alerts pass every filter."""
    if alert.severity == Alert.Severity.CRITICAL:
        return True
    if categories and alert.category not in categories:
        return False
    return SEVERITY_RANK[alert.severity] >= SEVERITY_RANK.get(min_severity, 0)


def queue_for(alert: Alert) -> str:
    """Critical alerts people write go ahead of everything; imported alerts (the KEV catalogue)
    fan out with the bulk work, so a burst of them never delays a county's flash alert (ADR 16)."""
    if alert.source_key:
        return "bulk"
    return "flash" if alert.severity == Alert.Severity.CRITICAL else "default"


# A worker takes the highest priority first (django-tasks orders by priority, then age), so a flash
# alert enqueued behind a thousand bulk tasks still runs next; within one fan-out the live feed goes
# first, then e-mail, then webhooks: a few endpoints that take their full timeout must not hold up
# the e-mail of every person (ADR 6). The bulk queue also has workers of its own in
# production, and `make run` keeps one worker off it, so a running import never holds up a flash alert.
QUEUE_PRIORITY = {"flash": 90, "default": 0, "bulk": -90}
CHANNEL_PRIORITY = {Delivery.Channel.APP: 9, Delivery.Channel.EMAIL: 5, Delivery.Channel.WEBHOOK: 0}


def _enqueue(alert_id: int, version: int, channel: str, queue: str) -> None:
    priority = QUEUE_PRIORITY.get(queue, 0) + CHANNEL_PRIORITY[Delivery.Channel(channel)]
    deliver_alert.using(queue_name=queue, priority=priority).enqueue(alert_id, version, channel)


# --- The outbox ------------------------------------------------------------------------------


def outbox_write(alert: Alert) -> int:
    """Write this version's deliveries (call inside the publishing transaction)."""
    prefix = f"{alert.uuid}:{alert.version}"
    people = sorted(set(_audience_memberships(alert).values_list("user_id", flat=True)))
    preferences = {p.user_id: p for p in AlertPreference.objects.filter(user_id__in=people)}
    # (channel, key, status, person, webhook) per delivery
    rows: list[tuple[str, str, str, int | None, int | None]] = []
    pending, held = Delivery.Status.PENDING.value, Delivery.Status.HELD.value
    app, email = Delivery.Channel.APP.value, Delivery.Channel.EMAIL.value
    for user_id in people:
        rows.append((app, f"{prefix}:app:{user_id}", pending, user_id, None))
        preference = preferences.get(user_id)
        if preference is None:
            rows.append((email, f"{prefix}:email:{user_id}", pending, user_id, None))
            continue
        if not (preference.email and wants(alert, preference.categories, preference.min_severity)):
            continue
        digest = preference.email_mode == AlertPreference.Mode.DIGEST and alert.severity != Alert.Severity.CRITICAL
        rows.append((email, f"{prefix}:email:{user_id}", held if digest else pending, user_id, None))
    for webhook in _candidate_webhooks(alert):
        if wants(alert, webhook.categories, webhook.min_severity):
            rows.append((Delivery.Channel.WEBHOOK.value, f"{prefix}:webhook:{webhook.pk}", pending, None, webhook.pk))
    _insert_deliveries(alert, rows)
    alert_id, version, queue = alert.pk, alert.version, queue_for(alert)
    transaction.on_commit(lambda: enqueue_fanout(alert_id, version, queue))
    return len(rows)


def _insert_deliveries(alert: Alert, rows: list[tuple[str, str, str, int | None, int | None]]) -> None:
    """Insert outbox rows, skipping keys already written. On PostgreSQL one INSERT … SELECT over
    arrays (a national fan-out writes ~190,000 rows inside the publishing transaction: building that
    many model instances took most of the publish); elsewhere `bulk_create`."""
    if not rows:
        return
    if db_connection.vendor != "postgresql":
        Delivery.objects.bulk_create(
            [
                Delivery(
                    alert=alert,
                    version=alert.version,
                    channel=channel,
                    key=key,
                    status=status,
                    recipient_id=person,
                    webhook_id=webhook,
                )
                for channel, key, status, person, webhook in rows
            ],
            batch_size=2000,
            ignore_conflicts=True,
        )
        return
    channels, keys, statuses, people, webhooks = (list(column) for column in zip(*rows, strict=True))
    with db_connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO sharing_delivery
                (alert_id, version, channel, key, status, recipient_id, webhook_id,
                 attempts, claim, last_error, created_at)
            SELECT %s, %s, r.channel, r.key, r.status, r.person, r.webhook, 0, '', '', %s
            FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[], %s::bigint[])
                AS r(channel, key, status, person, webhook)
            ON CONFLICT (key) DO NOTHING
            """,
            [alert.pk, alert.version, timezone.now(), channels, keys, statuses, people, webhooks],
        )


def _candidate_webhooks(alert: Alert) -> QuerySet[Webhook]:
    from commonguard.core.tlp import TLP_ORDER

    if alert.tlp == TLP.RED:
        return Webhook.objects.none()
    allowed = [t for t in TLP_ORDER[TLP_ORDER.index(TLP(alert.tlp)) :] if t != TLP.RED]
    hooks = Webhook.objects.filter(active=True, max_tlp__in=allowed, organization__status="approved")
    if alert.tlp in NAMED_ORGANISATION_LABELS:
        hooks = hooks.filter(organization_id__in=audience_org_ids(alert))
    return hooks.select_related("organization")


def enqueue_fanout(alert_id: int, version: int, queue: str) -> None:
    """One task per channel, the live feed first; e-mail gets `COMMONGUARD_FANOUT_PARALLEL` tasks so
    that several workers share a large audience (claims keep them apart)."""
    _enqueue(alert_id, version, Delivery.Channel.APP, queue)
    _enqueue(alert_id, version, Delivery.Channel.WEBHOOK, queue)
    for _ in range(max(1, settings.COMMONGUARD_FANOUT_PARALLEL)):
        _enqueue(alert_id, version, Delivery.Channel.EMAIL, queue)


# --- The workers -----------------------------------------------------------------------------


OUTBOX = Outbox(pending=Delivery.Status.PENDING, retry=Delivery.Status.FAILED, sending=Delivery.Status.SENDING)


def _lease() -> timedelta:
    return timedelta(seconds=settings.COMMONGUARD_DELIVERY_LEASE_SECONDS)


def _due(now: Any) -> Q:
    return OUTBOX.due(now, _lease())


def claim(
    alert_id: int, version: int, channel: str, limit: int = BATCH, *, holding: Iterable[Delivery] = ()
) -> list[Delivery]:
    """Take up to `limit` due rows for this worker (`core.outbox`: a conditional UPDATE, so a row
    another worker took in between is not taken again). `holding`: rows this worker is still
    sending (never due again to itself, however short the lease)."""
    fanout = Delivery.objects.filter(alert_id=alert_id, version=version, channel=channel).exclude(
        pk__in=[row.pk for row in holding]
    )
    token = OUTBOX.claim(fanout, limit=limit, lease=_lease())
    if token is None:
        return []
    claimed = Delivery.objects.filter(claim=token)
    if channel == Delivery.Channel.EMAIL:
        claimed = claimed.select_related("recipient")
    elif channel == Delivery.Channel.WEBHOOK:
        claimed = claimed.select_related("webhook__organization")
    return list(claimed)


def _failed(row: Delivery, error: str, now: Any) -> None:
    row.status = Delivery.Status.DEAD if row.attempts >= MAX_ATTEMPTS else Delivery.Status.FAILED
    row.last_error = error[:300]
    row.next_attempt_at = retry_at(now, row.attempts)


def _save(rows: list[Delivery]) -> None:
    """Record outcomes: one UPDATE per HTTP status among the rows sent (one in the common case: every
    e-mail and live-feed row, webhooks that all answered 204), one `bulk_update` for the rest."""
    by_code: dict[int | None, list[int]] = {}
    for row in rows:
        if row.status == Delivery.Status.SENT:
            by_code.setdefault(row.response_code, []).append(row.pk)
    now = timezone.now()
    for code, pks in by_code.items():
        Delivery.objects.filter(pk__in=pks).update(
            status=Delivery.Status.SENT,
            sent_at=now,
            claim="",
            last_error="",
            attempts=F("attempts") + 1,
            response_code=code,
        )
    rest = [row for row in rows if row.status != Delivery.Status.SENT]
    if rest:
        Delivery.objects.bulk_update(
            rest, ["status", "attempts", "last_error", "next_attempt_at", "sent_at", "claim", "response_code"]
        )


def _skip(rows: list[Delivery], reason: str = "not entitled at send time") -> None:
    for row in rows:
        row.status, row.last_error, row.claim = Delivery.Status.SKIPPED, reason, ""


def _deliver_app(alert: Alert, rows: list[Delivery]) -> int:
    entitled = entitled_people(alert, [row.recipient_id for row in rows if row.recipient_id])
    now = timezone.now()
    to = [row for row in rows if row.recipient_id in entitled]
    _skip([row for row in rows if row.recipient_id not in entitled])
    for row in to:
        row.status, row.sent_at, row.claim, row.attempts = Delivery.Status.SENT, now, "", row.attempts + 1
    with transaction.atomic():
        _save(rows)
        if to:
            LiveEvent.objects.create(alert=alert, version=alert.version, user_ids=[row.recipient_id for row in to])
    return len(to)


def _entitled_rows(alert: Alert, rows: list[Delivery]) -> list[Delivery]:
    """The send-time re-check of one claimed batch: the rows whose person may still read the alert;
    the others are marked skipped."""
    entitled = entitled_people(alert, [row.recipient_id for row in rows if row.recipient_id])
    _skip([row for row in rows if row.recipient_id not in entitled])
    return [row for row in rows if row.recipient_id in entitled]


def _deliver_email(alert: Alert, rows: list[Delivery]) -> int:
    """Send one claimed batch and record each row's outcome (for callers holding a batch)."""
    with SmtpLanes() as lanes:
        sent = lanes.send(renderer_for(alert), _entitled_rows(alert, rows))
    _save(rows)
    return sent


def _deliver_emails(alert: Alert, batch: int) -> int:
    """Work off an alert version's e-mail: while one batch is on the wire, the next is claimed and
    re-checked. A batch is recorded before the next is sent, so a killed worker leaves at most one
    batch sent-but-unrecorded (`EMAIL_BATCH`, ADR 18)."""
    renderer = renderer_for(alert)
    total = 0
    with SmtpLanes() as lanes:
        rows = claim(alert.pk, alert.version, Delivery.Channel.EMAIL, batch)
        to_send = _entitled_rows(alert, rows)
        while rows:
            sending = lanes.start(renderer, to_send)
            following = claim(alert.pk, alert.version, Delivery.Channel.EMAIL, batch, holding=rows)
            following_to_send = _entitled_rows(alert, following)
            total += sending.result()
            _save(rows)
            rows, to_send = following, following_to_send
    return total


class SmtpLanes:
    """`COMMONGUARD_SMTP_CONNECTIONS` SMTP connections, each used by one thread, kept open for one
    task's batches (opening one costs a connect and an EHLO). A connection the server dropped is
    opened again for the next message."""

    def __init__(self, lanes: int | None = None) -> None:
        self.lanes = max(1, lanes or settings.COMMONGUARD_SMTP_CONNECTIONS)
        self._pool = ThreadPoolExecutor(max_workers=self.lanes, thread_name_prefix="smtp")
        self._local = threading.local()
        self._open: list[Any] = []
        self._lock = threading.Lock()

    def __enter__(self) -> SmtpLanes:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True)
        for connection in self._open:
            _close_quietly(connection)

    def start(self, renderer: EmailRenderer, rows: list[Delivery]) -> _Sending:
        chunks = [rows[i :: self.lanes] for i in range(self.lanes)]
        return _Sending([self._pool.submit(self._send_chunk, renderer, chunk) for chunk in chunks if chunk])

    def send(self, renderer: EmailRenderer, rows: list[Delivery]) -> int:
        return self.start(renderer, rows).result()

    def _connection(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = get_connection()
            connection.open()
            self._local.connection = connection
            with self._lock:
                self._open.append(connection)
        return connection

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            _close_quietly(connection)

    def _send_chunk(self, renderer: EmailRenderer, rows: list[Delivery]) -> int:
        """Send rows over this thread's connection, marking each row sent or failed (in memory)."""
        now = timezone.now()
        sent = 0
        for index, row in enumerate(rows):
            try:
                connection = self._connection()
            except Exception as exc:  # the mail server is unreachable: the rest of the chunk retries later
                for rest in rows[index:]:
                    rest.attempts += 1
                    _failed(rest, f"{type(exc).__name__}: {exc}", now)
                return sent
            row.attempts += 1
            try:
                assert row.recipient is not None  # e-mail rows always name a person
                renderer.send(row.recipient, connection)
            except Exception as exc:  # any SMTP or network failure: this row retries later
                _failed(row, f"{type(exc).__name__}: {exc}", now)
                self._drop()  # the next message starts on a fresh connection
                continue
            row.status, row.sent_at, row.last_error, row.claim = Delivery.Status.SENT, timezone.now(), "", ""
            sent += 1
        return sent


def _close_quietly(connection: Any) -> None:
    with contextlib.suppress(Exception):  # a connection that broke may fail to close, too
        connection.close()


class _Sending:
    def __init__(self, futures: list[Any]) -> None:
        self._futures = futures

    def result(self) -> int:
        return sum(future.result() for future in self._futures)


_renderer_cache: dict[tuple[Any, int], EmailRenderer] = {}


def renderer_for(alert: Alert) -> EmailRenderer:
    """One renderer per alert version per worker process (the batches of a fan-out share it)."""
    key = (alert.uuid, alert.version)
    if key not in _renderer_cache:
        _renderer_cache.clear()
        _renderer_cache[key] = EmailRenderer(alert)
    return _renderer_cache[key]


def _deliver_webhooks(alert: Alert, rows: list[Delivery]) -> int:
    from commonguard.sharing.webhooks import post_all

    hooks = [row.webhook for row in rows if row.webhook is not None]
    allowed = entitled_webhooks(alert, hooks)
    entitled = [row for row in rows if row.webhook_id in allowed]
    _skip([row for row in rows if row.webhook_id not in allowed])
    now = timezone.now()
    sent = 0
    for row, (code, error) in zip(entitled, post_all(alert, entitled), strict=True):
        row.attempts += 1
        row.response_code = code
        if error:
            _failed(row, error, now)
        else:
            row.status, row.sent_at, row.last_error, row.claim = Delivery.Status.SENT, timezone.now(), "", ""
            sent += 1
    _save(rows)
    return sent


# E-mail has a loop of its own (`_deliver_emails`: claim-ahead over open SMTP connections).
SENDERS = {Delivery.Channel.APP: _deliver_app, Delivery.Channel.WEBHOOK: _deliver_webhooks}
BATCHES = {Delivery.Channel.APP: 1000, Delivery.Channel.WEBHOOK: 50}


@task(queue_name="default")
def deliver_alert(alert_id: int, version: int, channel: str = Delivery.Channel.EMAIL) -> int:
    """Work off the due deliveries of one alert version on one channel, a claimed batch at a time."""
    alert = Alert.objects.select_related("author_org__region").filter(pk=alert_id).first()
    if alert is None or alert.version != version:
        # A newer version superseded this one before it went out: its own fan-out tells everyone.
        Delivery.objects.filter(_due(timezone.now()), alert_id=alert_id, version=version).update(
            status=Delivery.Status.SKIPPED, last_error="superseded by a newer version", claim=""
        )
        return 0
    if channel == Delivery.Channel.EMAIL:
        return _deliver_emails(alert, EMAIL_BATCH)
    send, batch = SENDERS[Delivery.Channel(channel)], BATCHES[Delivery.Channel(channel)]
    total = 0
    while rows := claim(alert_id, version, channel, batch):
        total += send(alert, rows)
    return total


@task(queue_name="default")
def sighting_announce(alert_id: int) -> int:
    """Tell the live feeds of everyone who may read the alert now (its author included) that a
    sighting was reported on it, so that open campaign maps refresh at once. The read rule is
    applied here, at send time, as for the alert itself; the event names only the alert, never who
    reported (every reader may know the counts, ADR 15). Returns how many people were told."""
    alert = Alert.objects.filter(pk=alert_id, status__in=Alert.LIVE_STATUSES).first()
    if alert is None:
        return 0
    people = set(_audience_memberships(alert).values_list("user_id", flat=True))
    author_is_member = Membership.objects.filter(
        user_id=alert.author_id, status=Membership.Status.APPROVED, organization__status="approved"
    ).exists()
    if author_is_member and Alert.objects.visible_to(alert.author).filter(pk=alert.pk).exists():
        people.add(alert.author_id)
    ordered = sorted(people)
    LiveEvent.objects.bulk_create(
        [
            LiveEvent(alert=alert, version=alert.version, kind=LiveEvent.Kind.SIGHTING, user_ids=ordered[i : i + 1000])
            for i in range(0, len(ordered), 1000)
        ]
    )
    return len(ordered)


def deliveries_resume(older_than: timedelta = timedelta(seconds=30)) -> int:
    """Re-enqueue the fan-out of every alert version with deliveries still due: what a killed
    worker left pending or claimed past its lease, and failures whose retry time has come.
    Returns how many (alert, version, channel) fan-outs were enqueued."""
    now = timezone.now()
    LiveEvent.objects.filter(created_at__lt=now - timedelta(days=1)).delete()
    due = Delivery.objects.filter(_due(now)).exclude(status=Delivery.Status.PENDING, created_at__gt=now - older_than)
    triples = set(due.values_list("alert_id", "version", "channel"))
    alerts = Alert.objects.only("severity", "source_key").in_bulk({a for a, _, _ in triples})
    for alert_id, version, channel in triples:
        _enqueue(alert_id, version, channel, queue_for(alerts[alert_id]) if alert_id in alerts else "default")
    return len(triples)


def redeliver(rows: QuerySet[Delivery]) -> int:
    """Give dead or failed deliveries a fresh start (the dead-letter view's button)."""
    rows = rows.filter(status__in=[Delivery.Status.DEAD, Delivery.Status.FAILED])
    triples = set(rows.values_list("alert_id", "version", "channel"))
    count = rows.update(status=Delivery.Status.PENDING, attempts=0, next_attempt_at=None, last_error="", claim="")
    for alert_id, version, channel in triples:
        _enqueue(alert_id, version, channel, "default")
    return count


# --- E-mail ----------------------------------------------------------------------------------


def unsubscribe_token(user: Any) -> str:
    if isinstance(user, _StandIn):
        return _PH_TOKEN.decode()
    return signing.dumps(user.pk, salt=UNSUBSCRIBE_SALT)


def unsubscribe_user_id(token: str) -> int | None:
    try:
        value = signing.loads(token, salt=UNSUBSCRIBE_SALT, max_age=timedelta(days=365))
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) else None


def _subject(alert: Alert) -> str:
    prefixes: dict[str, str] = {Alert.Status.UPDATED: "Updated: ", Alert.Status.REVOKED: "Revoked: "}
    prefix = prefixes.get(alert.status, "")
    return f"[{TLP(alert.tlp).label}] [{alert.get_severity_display()}] {prefix}{alert.title}"[:250]


def _who_knows_the_author(alert: Alert) -> set[int]:
    """The people `author_label` names an anonymous alert's author to: approved members of the
    author's organisation, the staff of its state (approved state-agency roles), the operator."""
    from commonguard.accounts.models import STATE_STAFF_ROLES

    org = alert.author_org
    members = Membership.objects.filter(status=Membership.Status.APPROVED, organization__status="approved")
    ids = set(members.filter(organization=org).values_list("user_id", flat=True))
    ids |= set(
        members.filter(
            role__in=STATE_STAFF_ROLES, organization__kind="state_agency", organization__state=org.state
        ).values_list("user_id", flat=True)
    )
    ids |= set(User.objects.filter(is_superuser=True, is_active=True).values_list("pk", flat=True))
    return ids


_PH_EMAIL = b"cgxrcptx@cgx.invalid"
_PH_TOKEN = b"CGxTOKENx"
_PH_ID = b"9990999099909"


class _StandIn:
    """Who a template message is built for: the real person's read-rule facts (so the author is
    named as they may know it), stand-in values where each person's own go."""

    def __init__(self, user: User) -> None:
        self._user = user
        self.email = _PH_EMAIL.decode()
        self.pk = int(_PH_ID)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._user, name)


class EmailRenderer:
    """Renders an alert's e-mail once per way of naming its author, then fills in each recipient:
    a national fan-out must not run the template engine 90,000 times."""

    def __init__(self, alert: Alert) -> None:
        self.alert = alert
        self.site = settings.COMMONGUARD_SITE_URL
        self._bodies: dict[str, tuple[str, str]] = {}
        self._templates: dict[str, bytes | None] = {}
        self._insiders: set[int] | None = None
        self._indicators = [(i.get_kind_display(), defang(i.kind, i.value)) for i in alert.indicators.all()]

    def _author(self, user: Any) -> str:
        """`author_label` for this recipient, without a query per person: for an anonymous alert
        the people who may know the author are looked up once."""
        from commonguard.accounts.viewer import NO_PERSON, Viewer
        from commonguard.sharing.services import author_label

        if not self.alert.anonymous:
            return self.alert.author_org.name
        if isinstance(user, _StandIn):  # a template is built for the person it stands in for
            user = user._user
        if self._insiders is None:
            self._insiders = _who_knows_the_author(self.alert)
        if getattr(user, "pk", None) in self._insiders:
            return self.alert.author_org.name
        return author_label(self.alert, Viewer(user_id=NO_PERSON))

    def _body(self, user: User) -> tuple[str, str]:
        from commonguard.core.text import render_markdown

        author = self._author(user)
        if author not in self._bodies:
            context = {
                "alert": self.alert,
                "tlp_label": TLP(self.alert.tlp).label,
                "author": author,
                "summary_html": render_markdown(self.alert.summary),
                "actions_html": render_markdown(self.alert.recommended_actions),
                "indicators": self._indicators,
                "link": self.site + reverse("sharing:alert", kwargs={"uuid": self.alert.uuid}),
                "preferences": self.site + reverse("sharing:preferences"),
                "recipient": _RECIPIENT_MARK,
                "unsubscribe": _UNSUBSCRIBE_MARK,
            }
            self._bodies[author] = (
                render_to_string("sharing/email/alert.txt", context),
                render_to_string("sharing/email/alert.html", context),
            )
        return self._bodies[author]

    def message(self, user: User, connection: Any) -> EmailMultiAlternatives:
        text, html_body = self._body(user)
        unsubscribe = self.site + reverse("sharing:unsubscribe", kwargs={"token": unsubscribe_token(user)})
        text = text.replace(_RECIPIENT_MARK, user.email).replace(_UNSUBSCRIBE_MARK, unsubscribe)
        html_body = html_body.replace(_RECIPIENT_MARK, html.escape(user.email)).replace(
            _UNSUBSCRIBE_MARK, html.escape(unsubscribe)
        )
        domain = self.site.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "commonguard.invalid"
        message = EmailMultiAlternatives(
            subject=_subject(self.alert),
            body=text,
            to=[user.email],
            connection=connection,
            headers={
                # The same id however often it is sent: a receiver can drop a re-send after a crash.
                "Message-ID": f"<{self.alert.uuid}.{self.alert.version}.{user.pk}@{domain}>",
                "List-Unsubscribe": f"<{unsubscribe}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "X-CommonGuard-TLP": TLP(self.alert.tlp).label,
            },
        )
        message.attach_alternative(html_body, "text/html")
        return message

    def send(self, user: User, connection: Any) -> None:
        """Send the message for `user`. Over an open SMTP connection, the MIME bytes are built once
        per way of naming the author and only the person's address, id and unsubscribe token are
        put in; anything else (another mail backend, an address that is not ASCII) builds it whole."""
        smtp = getattr(connection, "connection", None)
        if smtp is None or not user.email.isascii():
            self.message(user, connection).send()
            return
        template = self._template(user)
        if template is None:
            self.message(user, connection).send()
            return
        data = (
            template.replace(_PH_EMAIL, user.email.encode())
            .replace(_PH_TOKEN, unsubscribe_token(user).encode())
            .replace(_PH_ID, str(user.pk).encode())
        )
        smtp.sendmail(settings.DEFAULT_FROM_EMAIL, [user.email], data)

    def _template(self, user: User) -> bytes | None:
        author = self._author(user)
        if author not in self._templates:
            stand_in = _StandIn(user)
            raw = self.message(stand_in, None).message().as_bytes(linesep="\r\n")  # type: ignore[arg-type]
            whole = all(marker in raw for marker in (_PH_EMAIL, _PH_TOKEN, _PH_ID))
            self._templates[author] = raw if whole else None
        return self._templates[author]


# --- The daily digest ------------------------------------------------------------------------


def digest_send(now: Any = None) -> int:
    """Send each person their held alerts in one e-mail, once a day after `COMMONGUARD_DIGEST_HOUR`
    (local time); the `DigestRun` row makes it once per day whichever process runs it. Returns
    how many digests went out."""
    from commonguard.sharing.models import DigestRun

    now = now or timezone.now()
    local = timezone.localtime(now)
    if local.hour < settings.COMMONGUARD_DIGEST_HOUR:
        return 0
    run, created = DigestRun.objects.get_or_create(day=local.date())
    if not created:
        return 0
    sent = 0
    people = set(
        Delivery.objects.filter(status=Delivery.Status.HELD, channel=Delivery.Channel.EMAIL).values_list(
            "recipient_id", flat=True
        )
    )
    connection = get_connection()
    for user in User.objects.filter(pk__in=people):
        if _send_digest(user, connection, now):
            sent += 1
    DigestRun.objects.filter(pk=run.pk).update(sent=sent)
    return sent


def _send_digest(user: User, connection: Any, now: Any) -> bool:
    held = Delivery.objects.filter(recipient=user, channel=Delivery.Channel.EMAIL, status=Delivery.Status.HELD)
    readable = set(Alert.objects.visible_to(user).values_list("pk", flat=True))
    rows = list(held.select_related("alert"))
    latest: dict[int, Alert] = {}
    for row in rows:
        if row.alert_id in readable:
            latest[row.alert_id] = row.alert
    with transaction.atomic():
        gone = held.exclude(alert_id__in=readable)
        gone.update(status=Delivery.Status.SKIPPED, last_error="not entitled at send time")
        if not latest:
            return False
        alerts = sorted(latest.values(), key=lambda a: (SEVERITY_RANK[a.severity], a.published_at), reverse=True)
        context = {
            "alerts": alerts,
            "site": settings.COMMONGUARD_SITE_URL,
            "preferences": settings.COMMONGUARD_SITE_URL + reverse("sharing:preferences"),
            "unsubscribe": settings.COMMONGUARD_SITE_URL
            + reverse("sharing:unsubscribe", kwargs={"token": unsubscribe_token(user)}),
        }
        worst = max((TLP(a.tlp) for a in alerts), key=lambda t: list(TLP).index(t))
        message = EmailMultiAlternatives(
            subject=f"[{worst.label}] CommonGuard daily digest: {len(alerts)} alert(s)",
            body=render_to_string("sharing/email/digest.txt", context),
            to=[user.email],
            connection=connection,
            headers={"List-Unsubscribe": f"<{context['unsubscribe']}>", "X-CommonGuard-TLP": worst.label},
        )
        message.attach_alternative(render_to_string("sharing/email/digest.html", context), "text/html")
        message.send()
        held.filter(alert_id__in=readable).update(status=Delivery.Status.SENT, sent_at=now, attempts=1)
    return True


# --- Receipts --------------------------------------------------------------------------------


def delivery_receipts(alert: Alert) -> list[dict[str, Any]]:
    """Per version and channel, how many deliveries are delivered, pending, failed, skipped or dead.
    For the alert's editors only (callers check `can_edit_alert`)."""
    rows = (
        Delivery.objects.filter(alert=alert)
        .values("version", "channel", "status")
        .annotate(n=Count("pk"))
        .order_by("-version", "channel", "status")
    )
    table: dict[tuple[int, str], dict[str, Any]] = {}
    for row in rows:
        entry = table.setdefault(
            (row["version"], row["channel"]),
            {"version": row["version"], "channel": Delivery.Channel(row["channel"]).label, "counts": {}},
        )
        entry["counts"][Delivery.Status(row["status"]).label] = row["n"]
    return list(table.values())


def forward_message(
    alert: Alert, *, to: str, reader: User | None, forwarded_by: str, note: str, connection: Any
) -> EmailMultiAlternatives:
    """The alert's e-mail (`EmailRenderer`) as a recipient forwards it (`sharing.forwarding`): to `to`,
    whose hub member `reader` it is rendered for (None outside the hub, for TLP:CLEAR: the author is
    then shown as to anyone who may not know it), with who forwarded it and their note on top."""
    from django.core.mail import make_msgid
    from django.utils.html import escape, linebreaks

    outsider = User(email=to, is_active=False)  # an inactive person knows nothing of the hub
    message = EmailRenderer(alert).message(reader or outsider, connection)
    message.extra_headers["Message-ID"] = make_msgid(domain="commonguard.invalid")
    intro = f"{forwarded_by} forwarded this alert to you." + (f"\n\nTheir note: {note}" if note else "")
    message.subject = f"Fwd: {message.subject}"[:250]
    message.body = f"{intro}\n\n{message.body}"
    if reader is None:
        message.extra_headers.pop("List-Unsubscribe", None)
        message.extra_headers.pop("List-Unsubscribe-Post", None)
    html = next((content for content, mimetype in message.alternatives if mimetype == "text/html"), "")
    message.alternatives = []
    if isinstance(html, str) and html:
        message.attach_alternative(html.replace("<body>", f"<body>\n{linebreaks(escape(intro))}", 1), "text/html")
    return message
