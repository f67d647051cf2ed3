"""The live feed: server-sent events to every signed-in browser, in the web process (ASGI).

The workers decide who gets an alert (the read rule at send time, `delivery._deliver_app`) and
write one `LiveEvent` per batch. Each web process runs one `LiveBroker`: a single poll of that
table every `COMMONGUARD_LIVE_POLL_SECONDS`, whatever the number of connections, and hands each
event to the open streams of the people it names. The stream carries only what the alert list
shows (title, labels, link); the browser fetches anything more through the normal pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.handlers.asgi import ASGIRequest
from django.db import close_old_connections, connection
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from commonguard.accounts.viewer import viewer_for
from commonguard.core.tlp import TLP

log = logging.getLogger(__name__)
KEEPALIVE_SECONDS = 15.0
QUEUE_LIMIT = 100


# (event id, the people it is for, the SSE event name, its data)
Event = tuple[int, list[int], str, dict[str, Any]]


def _events_after(cursor: int, user_id: int | None = None) -> tuple[int, list[Event]]:
    """New live events since `cursor` (for one person, or for everyone), and the new cursor. An
    alert version is an `alert` event; a sighting on an alert is a `sighting` event (open campaign
    maps refresh). Runs in a thread."""
    from commonguard.sharing.models import Alert, LiveEvent

    rows = list(
        LiveEvent.objects.filter(pk__gt=cursor).order_by("pk").values_list("pk", "alert_id", "user_ids", "kind")[:500]
    )
    if not rows:
        return cursor, []
    mine = rows if user_id is None else [row for row in rows if user_id in row[2]]
    fields = ("uuid", "title", "tlp", "severity", "category", "status", "version")
    alerts = {a.pk: a for a in Alert.objects.filter(pk__in={row[1] for row in mine}).only(*fields)}
    out = [
        (
            pk,
            user_ids,
            kind,
            sighting_message_for(alerts[alert_id]) if kind == "sighting" else message_for(alerts[alert_id]),
        )
        for pk, alert_id, user_ids, kind in mine
        if alert_id in alerts
    ]
    return rows[-1][0], out


def message_for(alert: Any) -> dict[str, Any]:
    return {
        "id": str(alert.uuid),
        "title": alert.title,
        "tlp": TLP(alert.tlp).label,
        "severity": alert.get_severity_display(),
        "category": alert.get_category_display(),
        "status": alert.status,
        "version": alert.version,
        "url": reverse("sharing:alert", kwargs={"uuid": alert.uuid}),
    }


def sighting_message_for(alert: Any) -> dict[str, Any]:
    """Only which alert's map changed: the map itself is fetched through its read rule."""
    return {"id": str(alert.uuid), "map": reverse("sharing:map-data", kwargs={"uuid": alert.uuid})}


def _latest_event_id() -> int:
    from commonguard.sharing.models import LiveEvent

    return LiveEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


class LiveBroker:
    """Connections by person, and the one poller that feeds them."""

    def __init__(self) -> None:
        self.streams: dict[int, set[asyncio.Queue[tuple[int, str, dict[str, Any]]]]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def subscribe(self, user_id: int) -> asyncio.Queue[tuple[int, str, dict[str, Any]]]:
        queue: asyncio.Queue[tuple[int, str, dict[str, Any]]] = asyncio.Queue(maxsize=QUEUE_LIMIT)
        self.streams[user_id].add(queue)
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._loop is not loop:
            self._loop = loop
            self._task = loop.create_task(self._poll())
        return queue

    def unsubscribe(self, user_id: int, queue: asyncio.Queue[tuple[int, str, dict[str, Any]]]) -> None:
        streams = self.streams.get(user_id)
        if streams is not None:
            streams.discard(queue)
            if not streams:
                del self.streams[user_id]

    @property
    def connections(self) -> int:
        return sum(len(s) for s in self.streams.values())

    def dispatch(self, event_id: int, user_ids: list[int], message: dict[str, Any], event: str = "alert") -> int:
        sent = 0
        for user_id in user_ids:
            for queue in self.streams.get(user_id, ()):
                # A stuck browser misses live pushes, not alerts: it catches up by Last-Event-ID.
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait((event_id, event, message))
                    sent += 1
        return sent

    async def _poll(self) -> None:
        cursor = await sync_to_async(_latest_event_id, thread_sensitive=False)()
        while self.streams:
            try:
                cursor, events = await sync_to_async(_events_after, thread_sensitive=False)(cursor)
            except Exception:  # the database hiccuped: keep the streams, try again
                log.exception("live feed poll failed")
                events = []
            for event_id, user_ids, event, message in events:
                self.dispatch(event_id, user_ids, message, event)
            await asyncio.sleep(settings.COMMONGUARD_LIVE_POLL_SECONDS)
        self._task = None


broker = LiveBroker()


def _frame(event: str, data: dict[str, Any], event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _last_event_id(request: HttpRequest) -> int | None:
    value = request.headers.get("Last-Event-ID", "")
    return int(value) if value.isdigit() else None


def live_stream(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """GET /alerts/live/: the person's live feed as server-sent events (vetted people only).

    Under ASGI (production, `make run`) the stream stays open and the broker pushes to it. Under a
    WSGI server (the test suite's live server) each request answers at once with what is new and
    the browser's EventSource asks again after a second: the same events, by polling. Either way
    every event carries its id, so a browser that reconnects gets what it missed (Last-Event-ID).
    (A plain view: the checks run as any other; only the stream itself is asynchronous.)"""
    viewer = viewer_for(request.user)
    if not viewer.is_vetted or viewer.user_id is None:
        raise PermissionDenied  # no stream for anonymous or unvetted callers
    user_id = viewer.user_id
    last = _last_event_id(request)
    if not isinstance(request, ASGIRequest):
        return _poll_once(user_id, last)
    # The stream may stay open for hours: it must not hold this request's database connection
    # (a thousand streams would be a thousand connections). Its few queries run in a shared pool.
    close_old_connections()
    connection.close()
    response = StreamingHttpResponse(_stream(user_id, last), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache, no-store"
    response["X-Accel-Buffering"] = "no"
    return response


async def _stream(user_id: int, last: int | None) -> AsyncIterator[str]:
    """Subscribe first, then catch up from `last`: nothing published in between is lost."""
    queue = broker.subscribe(user_id)
    try:
        in_thread = sync_to_async(_latest_event_id, thread_sensitive=False)
        sent = last if last is not None else await in_thread()
        yield "retry: 3000\n" + _frame("hello", {"at": timezone.now().isoformat()}, sent)
        if last is not None:
            _, missed = await sync_to_async(_events_after, thread_sensitive=False)(last, user_id)
            for event_id, _, event, message in missed:
                sent = event_id
                yield _frame(event, message, event_id)
        while True:
            try:
                event_id, event, message = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if event_id > sent:
                sent = event_id
                yield _frame(event, message, event_id)
    finally:
        broker.unsubscribe(user_id, queue)


def _poll_once(user_id: int, last: int | None) -> HttpResponse:
    """The WSGI answer: what is new since `last`, and the id to ask from next time."""
    body = "retry: 1000\n"
    if last is None:
        body += _frame("hello", {"at": timezone.now().isoformat()}, _latest_event_id())
    else:
        cursor, events = _events_after(last, user_id)
        body += "".join(_frame(event, message, event_id) for event_id, _, event, message in events)
        if cursor != (events[-1][0] if events else last):
            body += f"id: {cursor}\n\n"  # past other people's events too
    response = HttpResponse(body, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache, no-store"
    return response
