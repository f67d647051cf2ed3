"""Fan-out of an alert version to its audience (the outbox) and its delivery by the workers.

`outbox_write` runs inside the publishing transaction: one `Delivery` row per recipient and
channel, keyed so that writing twice adds nothing. After commit a task works them off; the task
re-checks `Alert.objects.visible_to(recipient)` for every row at send time (a recipient removed in
between gets nothing), and `deliveries_resume` picks up whatever a crashed worker left behind.
Critical alerts use the `flash` queue, never behind bulk work."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_tasks import task

from commonguard.accounts.models import User
from commonguard.core.tlp import NAMED_ORGANISATION_LABELS, TLP
from commonguard.sharing.indicators import defang
from commonguard.sharing.models import Alert, Delivery

BATCH = 200
MAX_ATTEMPTS = 6


def audience(alert: Alert) -> QuerySet[User]:
    """Everyone the read rule lets read `alert` (ADR 13), except its author: the inverse of
    `Alert.objects.visible_to`, for fan-out. A property test checks the two agree."""
    vetted = Q(is_active=True, memberships__status="approved", memberships__organization__status="approved")
    people = User.objects.filter(vetted)
    if alert.tlp == TLP.RED:
        people = people.filter(pk__in=alert.recipient_people.values("pk"))
    elif alert.tlp in NAMED_ORGANISATION_LABELS:
        orgs = {alert.author_org_id, *alert.recipient_orgs.values_list("pk", flat=True)}
        for group in alert.sharing_groups.all():
            orgs.update(group.organizations.values_list("pk", flat=True))
        people = User.objects.filter(vetted & Q(memberships__organization_id__in=orgs))
    return people.exclude(pk=alert.author_id).distinct()


def queue_for(alert: Alert) -> str:
    return "flash" if alert.severity == Alert.Severity.CRITICAL else "default"


def outbox_write(alert: Alert) -> int:
    """Write this version's deliveries (call inside the publishing transaction)."""
    rows = [
        Delivery(
            alert=alert,
            version=alert.version,
            channel=Delivery.Channel.EMAIL,
            recipient_id=user_id,
            key=f"{alert.uuid}:{alert.version}:email:{user_id}",
        )
        for user_id in audience(alert).values_list("pk", flat=True)
    ]
    Delivery.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    alert_id, version, queue = alert.pk, alert.version, queue_for(alert)
    transaction.on_commit(lambda: deliver_alert.using(queue_name=queue).enqueue(alert_id, version))
    return len(rows)


def _subject(alert: Alert) -> str:
    prefixes: dict[str, str] = {Alert.Status.UPDATED: "Updated: ", Alert.Status.REVOKED: "Revoked: "}
    prefix = prefixes.get(alert.status, "")
    return f"[{TLP(alert.tlp).label}] [{alert.get_severity_display()}] {prefix}{alert.title}"[:250]


def _message(alert: Alert, user: User, connection: Any) -> EmailMultiAlternatives:
    from commonguard.core.text import render_markdown
    from commonguard.sharing.services import author_label

    context = {
        "alert": alert,
        "tlp_label": TLP(alert.tlp).label,
        "author": author_label(alert, user),
        "summary_html": render_markdown(alert.summary),
        "actions_html": render_markdown(alert.recommended_actions),
        "indicators": [(i.get_kind_display(), defang(i.kind, i.value)) for i in alert.indicators.all()],
        "link": settings.COMMONGUARD_SITE_URL + reverse("sharing:alert", kwargs={"uuid": alert.uuid}),
        "preferences": settings.COMMONGUARD_SITE_URL + reverse("accounts:account"),
        "recipient": user,
    }
    message = EmailMultiAlternatives(
        subject=_subject(alert),
        body=render_to_string("sharing/email/alert.txt", context),
        to=[user.email],
        connection=connection,
        headers={"List-Unsubscribe": f"<{context['preferences']}>", "X-CommonGuard-TLP": TLP(alert.tlp).label},
    )
    message.attach_alternative(render_to_string("sharing/email/alert.html", context), "text/html")
    return message


def _deliver_batch(alert: Alert, rows: list[Delivery]) -> int:
    """Send one batch over one SMTP connection; record each row's outcome (sent, skipped, failed)."""
    now = timezone.now()
    sent = 0
    to_send: list[Delivery] = []
    for row in rows:
        # The rule at send time, not at publish time.
        if Alert.objects.visible_to(row.recipient).filter(pk=alert.pk).exists():
            to_send.append(row)
        else:
            row.status, row.last_error = Delivery.Status.SKIPPED, "not entitled at send time"

    def failed(row: Delivery, exc: BaseException) -> None:
        row.status = Delivery.Status.DEAD if row.attempts >= MAX_ATTEMPTS else Delivery.Status.FAILED
        row.last_error = f"{type(exc).__name__}: {exc}"[:300]
        row.next_attempt_at = now + timedelta(seconds=30 * 2**row.attempts)

    connection = get_connection()
    try:
        connection.open()
    except Exception as exc:  # the mail server is unreachable: every row retries later
        for row in to_send:
            row.attempts += 1
            failed(row, exc)
        to_send = []
    try:
        for row in to_send:
            row.attempts += 1
            try:
                _message(alert, row.recipient, connection).send()
            except Exception as exc:  # any SMTP or network failure: retry later
                failed(row, exc)
                continue
            row.status, row.sent_at, row.last_error = Delivery.Status.SENT, timezone.now(), ""
            sent += 1
    finally:
        connection.close()
    Delivery.objects.bulk_update(rows, ["status", "attempts", "last_error", "next_attempt_at", "sent_at"])
    return sent


@task(queue_name="default")
def deliver_alert(alert_id: int, version: int) -> int:
    """Work off the due deliveries of one alert version, in batches."""
    alert = Alert.objects.select_related("author_org__region").filter(pk=alert_id).first()
    if alert is None or alert.version != version:
        version_rows = Delivery.objects.filter(alert_id=alert_id, version=version, status=Delivery.Status.PENDING)
        # A newer version superseded this one before it went out: its own fan-out tells everyone.
        version_rows.update(status=Delivery.Status.SKIPPED, last_error="superseded by a newer version")
        return 0
    total = 0
    while True:
        due = Q(status=Delivery.Status.PENDING) | Q(status=Delivery.Status.FAILED, next_attempt_at__lte=timezone.now())
        with transaction.atomic():
            rows = list(
                Delivery.objects.select_for_update(skip_locked=True)
                .select_related("recipient")
                .filter(due, alert_id=alert_id, version=version)
                .order_by("pk")[:BATCH]
            )
            if not rows:
                return total
            total += _deliver_batch(alert, rows)


def deliveries_resume(older_than: timedelta = timedelta(seconds=30)) -> int:
    """Re-enqueue the fan-out of every alert version with deliveries still due: what a killed
    worker left pending, and failures whose retry time has come. Returns how many were enqueued."""
    cutoff = timezone.now() - older_than
    due = Delivery.objects.filter(
        Q(status=Delivery.Status.PENDING, created_at__lte=cutoff)
        | Q(status=Delivery.Status.FAILED, next_attempt_at__lte=timezone.now())
    )
    pairs = set(due.values_list("alert_id", "version"))
    for alert_id, version in pairs:
        alert = Alert.objects.filter(pk=alert_id).first()
        queue = queue_for(alert) if alert else "default"
        deliver_alert.using(queue_name=queue).enqueue(alert_id, version)
    return len(pairs)


def delivery_receipts(alert: Alert) -> list[dict[str, Any]]:
    """Per version and channel, how many deliveries are delivered, pending, failed, skipped or dead.
    For the alert's editors only (callers check `can_edit_alert`)."""
    from django.db.models import Count

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
    """The alert's e-mail (`_message`) as a recipient forwards it (`sharing.forwarding`): to `to`,
    whose hub member `reader` it is rendered for (None outside the hub, for TLP:CLEAR: the author is
    then shown as to anyone who may not know it), with who forwarded it and their note on top."""
    from django.utils.html import escape, linebreaks

    outsider = User(email=to, is_active=False)  # an inactive person knows nothing of the hub
    message = _message(alert, reader or outsider, connection)
    intro = f"{forwarded_by} forwarded this alert to you." + (f"\n\nTheir note: {note}" if note else "")
    message.subject = f"Fwd: {message.subject}"[:250]
    message.body = f"{intro}\n\n{message.body}"
    if reader is None:
        message.extra_headers.pop("List-Unsubscribe", None)
    html = next((content for content, mimetype in message.alternatives if mimetype == "text/html"), "")
    message.alternatives = []
    if isinstance(html, str) and html:
        message.attach_alternative(html.replace("<body>", f"<body>\n{linebreaks(escape(intro))}", 1), "text/html")
    return message
