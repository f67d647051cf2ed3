"""Feeds: configuring them, and pulling them into imported alerts (docs/adr/0021-feed-and-misp-imports.md).

A text or CSV feed becomes ONE alert (`source_key = feed:<id>`), published by the hub's import
service account for the feed's owner organisation, without announcement. Each pull:

1. reads the source and validates every value in one pass, outside any transaction (progress is
   written to the feed row as it goes, so pages and the API can show it);
2. in ONE transaction: creates/publishes the alert the first time, records a new (unannounced)
   version if the feed's label, audience or wording changed, and replaces the indicators in bulk
   (`sharing.imports.indicators_replace`): all or nothing, and a re-pull of identical data writes
   no indicator, alert or audit row.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from commonguard.accounts.models import User
from commonguard.accounts.viewer import viewer_for
from commonguard.core.audit import audit_record
from commonguard.core.text import markdown_escape
from commonguard.core.tlp import NAMED_ORGANISATION_LABELS, TLP, parse_tlp
from commonguard.feeds import sources
from commonguard.feeds.models import Feed
from commonguard.feeds.sources import FeedError
from commonguard.orgs.models import Organization
from commonguard.sharing.imports import (
    Parsed,
    alert_differs,
    alert_for_source,
    indicators_replace,
    parse_bulk,
    service_account,
    service_membership,
)
from commonguard.sharing.models import MAX_MARKDOWN, Alert, Indicator, SharingGroup
from commonguard.sharing.services import AlertInput, alert_publish, alert_save_draft, alert_update

log = logging.getLogger(__name__)

SERVICE_EMAIL = "feed-import@commonguard.invalid"
SERVICE_NAME = "Feed and MISP import (service account)"
PROGRESS_EVERY = 10_000


@dataclass
class PullResult:
    feed: int
    read: int = 0
    valid: int = 0
    invalid: int = 0
    duplicates: int = 0
    added: int = 0
    removed: int = 0
    unchanged: int = 0
    warned: int = 0
    new_version: bool = False
    created: bool = False
    events: dict[str, int] = field(default_factory=dict)  # MISP feeds: created / updated / unchanged / failed
    # STIX and TAXII feeds: objects received, stored, already held; patterns not simple equality.
    stix: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        if self.events:
            return ", ".join(f"{n} {what}" for what, n in self.events.items()) + " MISP events"
        stix = ""
        if self.stix:
            stix = (
                f"{self.stix['received']:,} STIX objects ({self.stix['stored']:,} stored, "
                f"{self.stix['held']:,} already held, {self.stix['patterns_skipped']:,} patterns not simple equality); "
            )
        return stix + (
            f"{self.valid:,} indicators ({self.added:,} added, {self.removed:,} removed, {self.unchanged:,} unchanged"
            f", {self.warned:,} on warning lists), {self.invalid:,} invalid lines skipped"
        )


# --- Configuring feeds -----------------------------------------------------------------------


@dataclass
class FeedInput:
    name: str
    source: str
    format: str
    owner: Organization
    tlp: str
    kind: str = ""
    category: str = Alert.Category.MALWARE
    severity: str = Alert.Severity.MEDIUM
    taxii_user: str = ""
    credentials: str | None = None  # None: keep the stored secret
    recipient_orgs: list[Organization] = field(default_factory=list)
    sharing_groups: list[SharingGroup] = field(default_factory=list)
    csv_value_column: str = "1"
    csv_kind_column: str = ""
    csv_comment_column: str = ""
    csv_delimiter: str = ","
    csv_header: bool = False
    interval_minutes: int = 0
    enabled: bool = True


def can_manage(actor: Any, org: Organization) -> bool:
    """Admins of the owning organisation keep its feeds."""
    return org.pk in viewer_for(actor).admin_org_ids


def _clean(data: FeedInput) -> FeedInput:
    errors: dict[str, list[str]] = {}

    def err(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    data.name = " ".join(data.name.split())
    if not data.name or len(data.name) > 120:
        err("name", "Give the feed a name (at most 120 characters).")
    data.source = data.source.strip()
    try:
        if not data.source:
            raise FeedError("Give the feed's source: an http(s) URL or a file path on the hub's server.")
        sources.resolve(data.source)
        if data.format == Feed.Format.TAXII and not data.source.startswith(("http://", "https://")):
            raise FeedError("A TAXII feed's source is the http(s) URL of a TAXII 2.1 collection.")
    except FeedError as exc:
        err("source", str(exc))
    data.taxii_user = data.taxii_user.strip()
    if len(data.taxii_user) > 200:
        err("taxii_user", "At most 200 characters.")
    if data.credentials is not None and len(data.credentials) > 500:
        err("credentials", "At most 500 characters.")
    if data.format not in Feed.Format.values:
        err("format", "Choose a format from the list.")
    try:
        data.tlp = parse_tlp(data.tlp)
    except ValueError as exc:
        err("tlp", str(exc))
    if data.tlp == TLP.RED:
        err("tlp", "TLP:RED goes to named people only; a feed cannot be RED.")
    if data.tlp in NAMED_ORGANISATION_LABELS and not (data.recipient_orgs or data.sharing_groups):
        data.recipient_orgs = [data.owner]  # AMBER with nobody named: the owning organisation itself
    if data.tlp not in NAMED_ORGANISATION_LABELS:
        data.recipient_orgs, data.sharing_groups = [], []
    if data.kind and data.kind not in Indicator.Kind.values:
        err("kind", "Choose a kind of indicator from the list, or leave it empty to guess each value's kind.")
    if data.category not in Alert.Category.values:
        err("category", "Choose a category from the list.")
    if data.severity not in Alert.Severity.values or data.severity == Alert.Severity.CRITICAL:
        err("severity", "Choose low, medium or high: imported lists are never flash alerts.")
    if len(data.csv_delimiter) != 1:
        err("csv_delimiter", "The delimiter is one character.")
    if data.owner.status != Organization.Status.APPROVED:
        err("owner", "The organisation is not approved.")
    if errors:
        raise ValidationError(errors)
    return data


_CONFIG_FIELDS = (
    "name",
    "source",
    "format",
    "tlp",
    "kind",
    "category",
    "severity",
    "csv_value_column",
    "csv_kind_column",
    "csv_comment_column",
    "csv_delimiter",
    "csv_header",
    "interval_minutes",
    "enabled",
    "taxii_user",
)


@transaction.atomic
def feed_save(*, actor: User, data: FeedInput, feed: Feed | None = None) -> Feed:
    """Create or change a feed (admins of the owning organisation)."""
    if not can_manage(actor, data.owner) or (feed is not None and not can_manage(actor, feed.owner)):
        raise PermissionDenied("Only an admin of the owning organisation can set up or change its feeds.")
    data = _clean(data)
    if Feed.objects.filter(owner=data.owner, name=data.name).exclude(pk=feed.pk if feed else None).exists():
        raise ValidationError({"name": "Your organisation already has a feed with this name."})
    created = feed is None
    old_source = feed.source if feed is not None else None
    feed = feed or Feed(created_by=actor)
    feed.owner = data.owner
    for name in _CONFIG_FIELDS:
        setattr(feed, name, getattr(data, name))
    if data.credentials is not None:
        feed.credentials = data.credentials
    if old_source is not None and old_source != feed.source:
        feed.taxii_cursor = ""  # another collection: start from its beginning
    feed.save()
    if feed.format in (Feed.Format.STIX, Feed.Format.TAXII):
        from commonguard.feeds.stix import narrow_held

        narrow_held(feed)
    feed.recipient_orgs.set(data.recipient_orgs)
    feed.sharing_groups.set(data.sharing_groups)
    audit_record(
        actor=actor,
        action="feed.create" if created else "feed.change",
        summary=f"{actor.email} {'set up' if created else 'changed'} the feed “{feed.name}”",
        organization=feed.owner,
        target=feed,
        data={"format": feed.format, "tlp": feed.tlp, "interval_minutes": feed.interval_minutes},
    )
    return feed


# --- Running a pull --------------------------------------------------------------------------


def feed_author(org: Organization) -> User:
    """The hub's import service account, an approved member of `org` (the feed's owner)."""
    if org.status != Organization.Status.APPROVED:
        raise FeedError(f"{org.name} is not an approved organisation: its feeds cannot publish.")
    service = service_account(SERVICE_EMAIL, SERVICE_NAME, "Publishes imported feeds and MISP events")
    service_membership(service, org, action="feed.service_account", why="The hub's feed and MISP import")
    return service


def _progress(feed: Feed, stage: str, done: int | None = None, total: int | None = None) -> None:
    """Write progress to the feed row at once (outside the import's transaction: readers see it)."""
    changes: dict[str, Any] = {"stage": stage[:120]}
    if done is not None:
        changes["progress_done"] = done
    if total is not None:
        changes["progress_total"] = total
    Feed.objects.filter(pk=feed.pk).update(**changes)


def feed_alert_input(feed: Feed, count: int, tlp: str | None = None) -> AlertInput:
    source = feed.source if feed.source.startswith(("http://", "https://")) else f"a file on the hub ({feed.source})"
    summary = (
        f"Indicators from the feed **{markdown_escape(feed.name)}** ({feed.get_format_display().lower()}), "
        f"pulled by CommonGuard from {markdown_escape(source)} for {markdown_escape(feed.owner.name)}. "
        "The list is replaced at every pull; values on known-benign warning lists are flagged, not removed."
    )
    tlp = tlp or feed.tlp
    recipient_orgs, sharing_groups = list(feed.recipient_orgs.all()), list(feed.sharing_groups.all())
    if tlp in NAMED_ORGANISATION_LABELS and not (recipient_orgs or sharing_groups):
        recipient_orgs = [feed.owner]  # the objects' marking narrowed a wider feed: its owner only
    return AlertInput(
        title=f"Feed: {feed.name}",
        summary=summary[:MAX_MARKDOWN],
        recommended_actions="Block or monitor these indicators in your firewall, proxy, DNS resolver or SIEM.",
        category=feed.category,
        severity=feed.severity,
        tlp=tlp,
        recipient_orgs=recipient_orgs,
        sharing_groups=sharing_groups,
    )


def feed_rows(feed: Feed, raw: bytes) -> tuple[Any, int]:
    text = sources.decode(raw, feed.source)
    kind = feed.kind or None
    if feed.format == Feed.Format.CSV:
        rows = sources.csv_rows(
            text,
            kind=kind,
            value=feed.csv_value_column,
            kind_column=feed.csv_kind_column,
            comment=feed.csv_comment_column,
            delimiter=feed.csv_delimiter,
            header=feed.csv_header,
        )
    else:
        rows = sources.text_rows(text, kind)
    return rows, sources.count_lines(text)


def parse_feed(feed: Feed, raw: bytes) -> Parsed:
    """Step 1: validate every value (no transaction, no write but progress)."""
    rows, total = feed_rows(feed, raw)
    _progress(feed, "Checking values", 0, total)
    parsed = parse_bulk(rows, progress=lambda n: _progress(feed, "Checking values", n), every=PROGRESS_EVERY)
    if not parsed.wanted:
        raise FeedError(
            f"The source has no valid indicators ({parsed.invalid:,} invalid lines); the feed's alert is left as it "
            "was." + (f" First problem: {parsed.errors[0]}" if parsed.errors else "")
        )
    return parsed


@transaction.atomic
def write_feed(feed: Feed, parsed: Parsed, result: PullResult, tlp: str | None = None) -> Alert:
    """Step 2, all or nothing: the alert (created, or a new unannounced version when the feed's
    settings changed) and its indicators replaced in bulk."""
    service = feed_author(feed.owner)
    data = feed_alert_input(feed, len(parsed.wanted), tlp)
    alert = alert_for_source(feed.source_key)
    if alert is None:
        draft = alert_save_draft(actor=service, author_org=feed.owner, data=data, source_key=feed.source_key)
        alert = alert_publish(actor=service, alert=draft, announce=False)
        result.created = True
    elif alert.status == Alert.Status.REVOKED:
        raise FeedError(
            "The feed's alert was revoked: the feed is not pulled again. Delete the feed or set it up anew."
        )
    elif alert_differs(alert, data):
        alert = alert_update(actor=service, alert=alert, data=data, announce=False, keep_indicators=True)
        result.new_version = True
    replaced = indicators_replace(alert, parsed.wanted)
    result.added, result.removed, result.unchanged, result.warned = (
        replaced.added,
        replaced.removed,
        replaced.unchanged,
        replaced.warned,
    )
    if replaced.changed or result.created or result.new_version:
        Alert.objects.filter(pk=alert.pk).update(modified_at=timezone.now())
        audit_record(
            actor=service,
            action="feed.pull",
            summary=f"Feed “{feed.name}”: {result.summary()}",
            organization=feed.owner,
            target=alert,
            data={"feed": feed.pk, **replaced.as_dict(), "invalid": parsed.invalid, "announced": False},
        )
    return alert


def feed_pull(feed: Feed, *, raw: bytes | None = None) -> PullResult:
    """Pull `feed` now (in this process). Records the outcome on the feed row; raises FeedError
    (nothing imported) when the source cannot be read or has nothing valid."""
    import time

    from commonguard.feeds import misp

    started = time.perf_counter()
    Feed.objects.filter(pk=feed.pk).update(
        status=Feed.Status.RUNNING,
        stage="Reading the source",
        progress_done=0,
        progress_total=0,
        last_started_at=timezone.now(),
        last_error="",
    )
    result = PullResult(feed=feed.pk)
    try:
        if feed.format == Feed.Format.MISP:
            misp.pull_misp_feed(feed, result, progress=lambda stage, done, total: _progress(feed, stage, done, total))
        elif feed.format in (Feed.Format.STIX, Feed.Format.TAXII):
            pull_stix_feed(feed, result, raw=raw)
        else:
            raw = raw if raw is not None else sources.read(feed.source)
            parsed = parse_feed(feed, raw)
            result.read, result.valid, result.invalid = parsed.read, len(parsed.wanted), parsed.invalid
            result.duplicates, result.errors = parsed.duplicates, parsed.errors
            _progress(feed, f"Writing {len(parsed.wanted):,} indicators", parsed.read, parsed.read)
            write_feed(feed, parsed, result)
    except (FeedError, ValidationError, PermissionDenied) as exc:
        message = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        result.seconds = round(time.perf_counter() - started, 3)
        Feed.objects.filter(pk=feed.pk).update(
            status=Feed.Status.FAILED,
            stage="",
            last_finished_at=timezone.now(),
            last_error=message[:1000],
            last_result=result.as_dict(),
        )
        raise FeedError(message) from exc
    except BaseException:
        Feed.objects.filter(pk=feed.pk).update(
            status=Feed.Status.FAILED, stage="", last_finished_at=timezone.now(), last_error="Internal error."
        )
        raise
    result.seconds = round(time.perf_counter() - started, 3)
    Feed.objects.filter(pk=feed.pk).update(
        status=Feed.Status.OK, stage="", last_finished_at=timezone.now(), last_result=result.as_dict()
    )
    log.info("Feed %s: %s in %.2f s", feed.pk, result.summary(), result.seconds)
    return result


def pull_stix_feed(feed: Feed, result: PullResult, *, raw: bytes | None = None) -> None:
    """A STIX bundle or a remote TAXII collection: check every object (outside any transaction),
    then in ONE transaction store them in the feed's collection, derive the alert's indicators from
    what the collection holds, and move the TAXII cursor (docs/adr/0021-feed-and-misp-imports.md)."""
    from commonguard.feeds import stix
    from commonguard.interop.services import AddResult, objects_add
    from commonguard.interop.stix import StixInputError

    cursor = ""
    if feed.format == Feed.Format.TAXII:
        fetched = stix.taxii_fetch(feed, progress=lambda n: _progress(feed, "Reading the TAXII collection", n))
        objects, cursor = fetched.objects, fetched.cursor
    else:
        objects = stix.read_bundle(raw if raw is not None else sources.read(feed.source), feed.source)
    collection = stix.feed_collection_for(feed)
    _progress(feed, f"Checking {len(objects):,} STIX objects", 0, len(objects))
    labels = stix.checked_labels(feed, collection, objects)
    _progress(feed, f"Writing {len(objects):,} STIX objects", len(objects), len(objects))
    with transaction.atomic():
        try:
            added = objects_add(collection, objects, labels=labels, check_pattern=False) if objects else AddResult()
        except StixInputError as exc:
            raise FeedError(f"The bundle is refused: {exc}. Nothing was imported.") from exc
        extracted = stix.indicator_rows(stix.held_objects(collection))
        parsed = parse_bulk(extracted.rows)
        result.read, result.valid, result.invalid = parsed.read, len(parsed.wanted), parsed.invalid
        result.duplicates, result.errors = parsed.duplicates, parsed.errors
        result.stix = {
            "received": len(objects),
            "stored": len(added.added),
            "held": len(added.unchanged),
            "patterns_skipped": extracted.skipped_patterns,
        }
        if added.added:
            audit_record(
                actor=feed_author(feed.owner),
                action="feed.stix_store",
                summary=f"Feed “{feed.name}”: {len(added.added):,} STIX objects stored",
                organization=feed.owner,
                target=feed,
                data={"feed": feed.pk, "collection": str(collection.uuid), **result.stix},
            )
        if parsed.wanted or Alert.objects.filter(source_key=feed.source_key).exists():
            write_feed(feed, parsed, result, tlp=stix.held_label(collection, feed))
        if cursor and cursor != feed.taxii_cursor:
            Feed.objects.filter(pk=feed.pk).update(taxii_cursor=cursor)
            feed.taxii_cursor = cursor


def feed_request_pull(*, actor: User | None, feed: Feed) -> Feed:
    """Queue a pull on the bulk queue (people: admins of the owning organisation)."""
    from commonguard.feeds.tasks import feed_pull_task

    if actor is not None and not can_manage(actor, feed.owner):
        raise PermissionDenied("Only an admin of the owning organisation can pull its feeds.")
    with transaction.atomic():
        feed = Feed.objects.select_for_update().get(pk=feed.pk)
        if feed.status in (Feed.Status.QUEUED, Feed.Status.RUNNING):
            return feed  # already on its way
        feed.status, feed.stage = Feed.Status.QUEUED, "Waiting for a worker"
        feed.save(update_fields=["status", "stage"])
        if actor is not None:
            audit_record(
                actor=actor,
                action="feed.pull_request",
                summary=f"{actor.email} asked for a pull of the feed “{feed.name}”",
                organization=feed.owner,
                target=feed,
            )
        feed_id = feed.pk
        transaction.on_commit(lambda: feed_pull_task.enqueue(feed_id))
    return feed


STALE_AFTER_MINUTES = 60


def feeds_due(now: Any = None) -> list[Feed]:
    """Enabled feeds with a schedule whose last pull started at least one interval ago. A pull
    queued or running for over an hour is taken for lost (a worker stopped) and counts as due."""
    from datetime import timedelta

    now = now or timezone.now()
    stale = now - timedelta(minutes=STALE_AFTER_MINUTES)
    due = []
    for feed in Feed.objects.filter(enabled=True, interval_minutes__gt=0):
        busy = feed.status in (Feed.Status.QUEUED, Feed.Status.RUNNING)
        if busy and feed.last_started_at is not None and feed.last_started_at > stale:
            continue
        if (
            busy
            or feed.last_started_at is None
            or feed.last_started_at + timedelta(minutes=feed.interval_minutes) <= now
        ):
            if busy:  # lost: let feed_request_pull queue it again
                Feed.objects.filter(pk=feed.pk).update(status=Feed.Status.FAILED, last_error="The pull was lost.")
                feed.status = Feed.Status.FAILED
            due.append(feed)
    return due
