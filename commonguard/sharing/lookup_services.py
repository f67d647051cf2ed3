"""“Have we seen this?” for people: the matcher of the indicators a person may see, reading an
uploaded log without keeping it, and recording sightings for what matched.

The engine (`lookup.py`) is pure; the read rule is applied here and only here: a matcher is built
from `Indicator.objects.visible_to(user)` and nothing else, so an indicator the person may not see
can never match, and the answer is exactly what it would be without it."""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import InMemoryUploadedFile, UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from commonguard.accounts.models import User
from commonguard.orgs.models import Organization
from commonguard.sharing import lookup
from commonguard.sharing.models import Alert, Indicator, Sighting
from commonguard.sharing.reactions import MAX_COUNT, sighting_report

MAX_LOG_BYTES = 50 * 1024 * 1024
SHOWN_MATCHES = 1_000
# Drafts are not shared yet and a revoked alert was withdrawn: only live alerts' indicators match.
LOOKUP_STATUSES = (Alert.Status.PUBLISHED, Alert.Status.UPDATED)
UPLOAD_FIELD = "file"


class LogUploadHandler(FileUploadHandler):
    """Keeps an uploaded log in memory, never on disk, up to `limit` bytes in all; past that it
    stops keeping it and says so (`too_big`), so the view answers with a clear error and nothing of
    the log is stored anywhere. Files in any other field are skipped."""

    chunk_size = 256 * 1024

    def __init__(self, request: Any = None, limit: int | None = None) -> None:
        super().__init__(request)
        self.limit = MAX_LOG_BYTES if limit is None else limit
        self.received = 0
        self.too_big = False
        self.buffer: io.BytesIO | None = None

    def new_file(self, field_name: str, *args: Any, **kwargs: Any) -> None:
        super().new_file(field_name, *args, **kwargs)
        if field_name != UPLOAD_FIELD or self.too_big:
            raise SkipFile
        self.buffer = io.BytesIO()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_big = True
            self.buffer = None
            raise SkipFile
        assert self.buffer is not None
        self.buffer.write(raw_data)

    def file_complete(self, file_size: int) -> UploadedFile | None:
        if self.buffer is None:
            return None
        self.buffer.seek(0)
        upload = InMemoryUploadedFile(
            self.buffer, self.field_name, self.file_name, self.content_type, file_size, self.charset
        )
        self.buffer = None
        return upload


def too_big_message() -> str:
    return f"The log is larger than {filesizeformat(MAX_LOG_BYTES)}; nothing was kept. Split it and look up each part."


def log_from(*, text: str = "", upload: UploadedFile | None = None) -> bytes:
    """The bytes to scan from pasted text or an uploaded file (exactly one), or ValidationError."""
    if upload is not None and text.strip():
        raise ValidationError("Paste log lines or choose a file, not both.")
    if upload is not None:
        if upload.size and upload.size > MAX_LOG_BYTES:
            raise ValidationError(too_big_message())
        data = lookup.log_bytes(upload.read())
    else:
        data = text.encode("utf-8", "replace")
    if not data.strip():
        raise ValidationError("There is nothing to look up: paste log lines or choose a non-empty file.")
    return data


# --- the matcher of what a person may see ------------------------------------------------------

_cache: OrderedDict[str, lookup.Matcher] = OrderedDict()
_cache_lock = threading.Lock()


def matcher_for(user: User) -> lookup.Matcher:
    """The matcher of the indicators `user` may see on live (published or updated) alerts.

    Matchers are kept (a few, per process) by the exact set of alerts they were built from —
    uuid, version and last change — so people who see the same alerts share one, and any change to
    an alert or to what the person may see gives a new one. Rows are kept only when their alert is
    in that set, so a matcher never holds an indicator of an alert outside its key."""
    alerts = Alert.objects.visible_to(user).filter(status__in=LOOKUP_STATUSES)
    seen = list(alerts.order_by("pk").values_list("pk", "uuid", "version", "modified_at"))
    key = hashlib.sha256(repr([row[1:] for row in seen]).encode()).hexdigest()
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    alert_ids = {row[0] for row in seen}
    rows = [
        row
        for row in Indicator.objects.visible_to(user)
        .filter(alert__status__in=LOOKUP_STATUSES)
        .values_list("pk", "kind", "value", "alert_id")
        .iterator(chunk_size=20_000)
        if row[3] in alert_ids
    ]
    matcher = lookup.Matcher(rows)
    with _cache_lock:
        _cache[key] = matcher
        while len(_cache) > getattr(settings, "LOOKUP_MATCHERS_KEPT", 2):
            _cache.popitem(last=False)
    return matcher


@dataclass
class Lookup:
    """A finished lookup: what matched, and the matched alerts the person may read, by id."""

    result: lookup.ScanResult
    alerts: dict[int, Alert]

    def alert_rows(self) -> list[tuple[Alert, int]]:
        """Matched alerts with their matching lines, most lines first."""
        return [(self.alerts[pk], n) for pk, n in self.result.lines_by_alert.most_common() if pk in self.alerts]


def lookup_log(*, user: User, data: bytes, keep: int | None = SHOWN_MATCHES) -> Lookup:
    """Scan `data` against what `user` may see. Reads only; the log is not kept."""
    result = matcher_for(user).scan(data, keep=keep)
    alerts = Alert.objects.visible_to(user).filter(pk__in=list(result.lines_by_alert)).select_related("author_org")
    return Lookup(result, {a.pk: a for a in alerts})


@transaction.atomic
def lookup_sightings_record(*, actor: User, organization: Organization, found: Lookup) -> list[Sighting]:
    """One “seen” sighting for each matched alert, for `organization`: the count is the number of
    matching lines, the time the latest time stamp among them (now when they have none). Follows
    the rules of `sighting_report`; if any is refused, none is recorded."""
    now = timezone.now()
    sightings = []
    for alert, lines in found.alert_rows():
        matched = [i for i, a in found.result.alert_of_indicator.items() if a == alert.pk]
        seen_at = found.result.last_seen_by_alert.get(alert.pk)
        indicator = None
        if len(matched) == 1:
            indicator = Indicator.objects.visible_to(actor).filter(pk=matched[0], alert=alert).first()
        sightings.append(
            sighting_report(
                actor=actor,
                alert=alert,
                organization=organization,
                kind=Sighting.Kind.SEEN,
                seen_at=seen_at if seen_at is not None and seen_at <= now else now,
                count=min(lines, MAX_COUNT),
                indicator=indicator,
                note=f"Found by a log lookup: {lines:,} matching line{'s' if lines != 1 else ''}.",
            )
        )
    return sightings
