"""Writes of STIX objects into collections: all or nothing per bundle, idempotent, `date_added`
strictly increasing per collection (docs/adr/0020-stix-storage-and-taxii-paging.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from commonguard.core.audit import audit_record
from commonguard.core.bulk import insert_rows
from commonguard.core.tlp import TLP
from commonguard.interop.models import Collection, StixObject, TaxiiStatus
from commonguard.interop.stix import (
    TLP_MARKING_IDS,
    UTC_STAMP,
    StixInputError,
    check_object,
    dumps,
    label_of,
    taxii_timestamp,
    tlp_of_marking_definition,
)

ONE_MICROSECOND = timedelta(microseconds=1)
# Above this many objects, the existing versions of the whole collection are read at once
# instead of by chunks of ids.
_WHOLE_COLLECTION_AT = 2000


@dataclass
class AddResult:
    added: list[tuple[str, datetime]] = field(default_factory=list)
    # Already held, identical id and version: a success that wrote nothing (TAXII 2.1 §5.5).
    unchanged: list[tuple[str, datetime]] = field(default_factory=list)

    @property
    def all(self) -> list[tuple[str, datetime]]:
        return self.added + self.unchanged


@dataclass
class _Checked:
    obj: dict[str, Any]
    stix_id: str
    stix_type: str
    spec_version: str
    created: datetime | None
    version: datetime | None
    tlp: TLP


def _stored_markings(collection: Collection, refs: set[str]) -> dict[str, TLP | None]:
    """Marking definitions already held in `collection` (their latest version), by id."""
    import json

    found: dict[str, TLP | None] = {}
    rows = StixObject.objects.filter(collection=collection, stix_id__in=refs, is_latest=True).values_list(
        "stix_id", "raw"
    )
    for stix_id, raw in rows:
        found[stix_id] = tlp_of_marking_definition(json.loads(raw))
    return found


def check_objects(
    collection: Collection, objects: list[Any], *, default_tlp: TLP | None = None, check_pattern: bool = True
) -> list[_Checked]:
    """Check every object before anything is written: the first problem is a StixInputError."""
    default = TLP(default_tlp or collection.default_tlp)
    heads = [check_object(obj, check_pattern=check_pattern) for obj in objects]
    markings: dict[str, TLP | None] = {
        obj["id"]: tlp_of_marking_definition(obj) for obj in objects if obj["type"] == "marking-definition"
    }
    wanted: set[str] = set()
    for obj in objects:
        for key in ("object_marking_refs",):
            wanted.update(ref for ref in obj.get(key) or [] if isinstance(ref, str))
        wanted.update(str(g.get("marking_ref")) for g in obj.get("granular_markings") or [] if isinstance(g, dict))
    missing = {ref for ref in wanted if isinstance(ref, str)} - markings.keys()
    if missing:
        markings.update(_stored_markings(collection, missing))
    checked = []
    for obj, (stix_id, stix_type, spec_version, created, modified) in zip(objects, heads, strict=True):
        tlp = label_of(obj, markings, default)
        checked.append(_Checked(obj, stix_id, stix_type, spec_version, created, modified or created, tlp))
    return checked


def _existing_versions(collection: Collection, ids: set[str]) -> dict[str, list[datetime]]:
    rows = StixObject.objects.filter(collection=collection)
    found: dict[str, list[datetime]] = {}
    if len(ids) >= _WHOLE_COLLECTION_AT:
        chunks: list[Any] = [None]
    else:
        ordered = sorted(ids)
        chunks = [ordered[i : i + 500] for i in range(0, len(ordered), 500)]
    for chunk in chunks:
        query = rows if chunk is None else rows.filter(stix_id__in=chunk)
        for stix_id, version in query.values_list("stix_id", "version"):
            found.setdefault(stix_id, []).append(version)
    return found


STIX_OBJECT_FIELDS = (
    "collection_id",
    "stix_id",
    "type",
    "spec_version",
    "version",
    "created",
    "date_added",
    "revoked",
    "is_latest",
    "tlp",
    "raw",
    "alert_id",
    "added_by_id",
)
_STIX_ID, _VERSION, _IS_LATEST = (STIX_OBJECT_FIELDS.index(name) for name in ("stix_id", "version", "is_latest"))


def _canonical_stamp(value: Any) -> str | None:
    """`value` as 'YYYY-MM-DDTHH:MM:SS.ffffffZ' (what `taxii_timestamp` writes) when it is a UTC
    timestamp of that shape; None for anything else (an offset, nanoseconds, not a string)."""
    if not isinstance(value, str):
        return None
    m = UTC_STAMP.fullmatch(value)
    if m is None:
        return None
    fraction = m.group(1)
    if fraction is None:
        return value[:-1] + ".000000Z"
    return value[:-1] + "0" * (6 - len(fraction)) + "Z" if len(fraction) < 6 else value


def _versions_named(objects: list[Any]) -> list[tuple[str, str]] | None:
    """(id, canonical version text) of every object when each names both in the usual UTC form (SDOs,
    SROs, marking definitions); None when one does not (an SCO, an offset, something malformed):
    such a bundle takes the full check. No date is parsed: the held versions are compared as text."""
    keys = []
    for obj in objects:
        if not isinstance(obj, dict):
            return None
        stix_id = obj.get("id")
        stamp = _canonical_stamp(obj.get("modified") or obj.get("created"))
        if not isinstance(stix_id, str) or stamp is None:
            return None
        keys.append((stix_id, stamp))
    return keys


def _held_keys(collection: Collection, ids: set[str]) -> set[tuple[str, str]]:
    """(id, canonical version text) of the versions `collection` holds among `ids`, written by the
    database in `_canonical_stamp`'s form: one query (or one per 500 ids), no per-row conversion."""
    if connection.vendor == "postgresql":
        text = "to_char(version AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    else:  # Django stores 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC) on SQLite
        text = "replace(version, ' ', 'T') || CASE WHEN length(version) = 19 THEN '.000000' ELSE '' END || 'Z'"
    table = connection.ops.quote_name(StixObject._meta.db_table)
    found: set[tuple[str, str]] = set()
    ordered = sorted(ids)
    chunks: list[list[str] | None] = (
        [None] if len(ids) >= _WHOLE_COLLECTION_AT else [ordered[i : i + 500] for i in range(0, len(ordered), 500)]
    )
    with connection.cursor() as cursor:
        for chunk in chunks:
            sql = f"SELECT stix_id, {text} FROM {table} WHERE collection_id = %s"  # noqa: S608 - constants and placeholders only
            params: list[Any] = [collection.pk]
            if chunk is not None:
                sql += f" AND stix_id IN ({', '.join(['%s'] * len(chunk))})"
                params += chunk
            cursor.execute(sql, params)
            found.update(cursor.fetchall())
    return found


@transaction.atomic
def objects_add(
    collection: Collection,
    objects: list[Any],
    *,
    actor: Any = None,
    alert: Any = None,
    default_tlp: TLP | None = None,
    labels: dict[str, TLP] | None = None,
    check_pattern: bool = True,
) -> AddResult:
    """Add `objects` (STIX dicts) to `collection`: all of them or none (StixInputError).

    An object whose id and version the collection already holds is reported unchanged and not
    written again, so re-adding the same bundle writes nothing. `labels` overrides the label of
    given ids (alert exports: the alert's label). Authorization is the caller's business.

    A bundle whose every object the collection already holds (same id and version) changes nothing
    and is answered before the full check (a re-import of ATT&CK: 0.58 s → ~0.2 s)."""
    result = AddResult()
    keys = _versions_named(objects)
    if keys is not None and _held_keys(collection, {stix_id for stix_id, _ in keys}).issuperset(keys):
        # The canonical text is what fromisoformat reads fastest; the dates only for the result.
        result.unchanged = [(stix_id, datetime.fromisoformat(stamp)) for stix_id, stamp in keys]
        return result
    checked = check_objects(collection, objects, default_tlp=default_tlp, check_pattern=check_pattern)
    if labels:
        for item in checked:
            if item.stix_id in labels:
                item.tlp = labels[item.stix_id]
    # Lock the collection before reading what it holds: date_added is handed out in order, one
    # writer at a time, and two concurrent adds of the same objects must not both find them absent
    # (the second would fail on the unique constraint). The read above only served the fast path.
    locked = Collection.objects.select_for_update().get(pk=collection.pk)
    existing = _existing_versions(locked, {c.stix_id for c in checked})
    fresh: list[_Checked] = []
    seen: set[tuple[str, datetime | None]] = set()
    for item in checked:
        key = (item.stix_id, item.version)
        versions = existing.get(item.stix_id, [])
        if (
            key in seen
            or (item.version is not None and item.version in versions)
            or (item.version is None and versions)
        ):
            result.unchanged.append((item.stix_id, item.version or versions[0]))
            continue
        seen.add(key)
        fresh.append(item)
    if not fresh:
        return result
    now = timezone.now()
    clock = max(now, locked.last_date_added + ONE_MICROSECOND) if locked.last_date_added else now
    # One list of values per new row, in STIX_OBJECT_FIELDS order (no model instances: a bundle can
    # hold tens of thousands of objects).
    rows: list[list[Any]] = []
    newest: dict[str, datetime] = {}
    added_by = actor.pk if getattr(actor, "is_authenticated", False) else None
    alert_id = alert.pk if alert is not None else None
    for item in fresh:
        version = item.version or clock  # an SCO: its first date_added is its version
        revoked = bool(item.obj.get("revoked", False))
        rows.append(
            [
                locked.pk,
                item.stix_id,
                item.stix_type,
                item.spec_version,
                version,
                item.created,
                clock,
                revoked,
                False,  # is_latest, below
                item.tlp,
                dumps(item.obj),
                alert_id,
                added_by,
            ]
        )
        result.added.append((item.stix_id, version))
        if version > newest.get(item.stix_id, datetime.min.replace(tzinfo=version.tzinfo)):
            newest[item.stix_id] = version
        clock += ONE_MICROSECOND
    # is_latest: a new row is the latest when nothing held is newer; it then demotes the old latest.
    demote: list[str] = []
    for row in rows:
        stix_id, version = row[_STIX_ID], row[_VERSION]
        held = existing.get(stix_id, [])
        if version == newest[stix_id] and all(version > v for v in held):
            row[_IS_LATEST] = True
            if held:
                demote.append(stix_id)
    for start in range(0, len(demote), 500):
        StixObject.objects.filter(collection=locked, stix_id__in=demote[start : start + 500], is_latest=True).update(
            is_latest=False
        )
    insert_rows(StixObject, STIX_OBJECT_FIELDS, rows)
    locked.last_date_added = clock - ONE_MICROSECOND
    locked.save(update_fields=["last_date_added"])
    return result


@transaction.atomic
def objects_delete(collection: Collection, stix_id: str, versions: list[datetime] | None = None) -> int:
    """Remove an object (all versions, or the listed ones); the newest remaining becomes the latest."""
    query = StixObject.objects.filter(collection=collection, stix_id=stix_id)
    if versions is not None:
        query = query.filter(version__in=versions)
    deleted, _ = query.delete()
    remaining = StixObject.objects.filter(collection=collection, stix_id=stix_id).order_by("-version").first()
    if remaining is not None and not remaining.is_latest:
        StixObject.objects.filter(pk=remaining.pk).update(is_latest=True)
    return deleted


def status_retention() -> timedelta:
    """How long a POST's status resource is kept (TAXII 2.1 §4.3.1 leaves it to the server):
    `COMMONGUARD_TAXII_STATUS_RETENTION_HOURS`, 72 hours unless set. Afterwards it is a 404."""
    return timedelta(hours=int(getattr(settings, "COMMONGUARD_TAXII_STATUS_RETENTION_HOURS", 72)))


def taxii_statuses_live() -> Any:
    return TaxiiStatus.objects.filter(created_at__gt=timezone.now() - status_retention())


def taxii_statuses_purge() -> int:
    deleted, _ = TaxiiStatus.objects.filter(created_at__lte=timezone.now() - status_retention()).delete()
    return deleted


def taxii_async_threshold() -> int:
    return int(getattr(settings, "COMMONGUARD_TAXII_ASYNC_OBJECTS", 1000))


def taxii_objects_add(*, actor: Any, collection: Collection, objects: list[Any]) -> TaxiiStatus:
    """A TAXII POST: the write rule, the objects (all or none), the status resource, the audit row.
    More than COMMONGUARD_TAXII_ASYNC_OBJECTS objects: the status is `pending` and the worker adds
    them (`taxii_objects_run`, the bulk queue of STIX imports); fewer: done now, `complete`."""
    from commonguard.interop.querysets import writable_by

    if not writable_by(collection, actor):
        raise PermissionDenied("You cannot add objects to this collection.")
    requested = timezone.now()
    taxii_statuses_purge()
    if len(objects) > taxii_async_threshold():
        from commonguard.interop.tasks import taxii_add_task

        with transaction.atomic():
            status = TaxiiStatus.objects.create(
                collection=collection,
                user=actor,
                request_timestamp=requested,
                total_count=len(objects),
                state="pending",
                raw=json.dumps(objects, separators=(",", ":")).encode(),
            )
            status_id = status.pk
            transaction.on_commit(lambda: taxii_add_task.enqueue(status_id))
        return status
    with transaction.atomic():
        status = TaxiiStatus(collection=collection, user=actor, request_timestamp=requested, total_count=len(objects))
        _taxii_write(status, objects)
    return status


def _taxii_write(status: TaxiiStatus, objects: list[Any]) -> None:
    """Add the objects of one POST (in the caller's transaction) and complete its status."""
    actor, collection = status.user, status.collection
    refuse_foreign_ids(collection, objects, actor)
    result = objects_add(collection, objects, actor=actor)
    status.successes = [{"id": stix_id, "version": taxii_timestamp(version)} for stix_id, version in result.all]
    status.success_count, status.state, status.raw = len(status.successes), "complete", b""
    status.save()
    audit_record(
        actor=actor,
        action="stix.add",
        summary=f"{actor.email} added {len(result.added)} STIX objects to “{collection.title}”",
        organization=collection.organization,
        target=collection,
        data={"added": len(result.added), "unchanged": len(result.unchanged), "status": str(status.uuid)},
    )


def taxii_objects_run(status_id: int) -> TaxiiStatus | None:
    """The worker's half of a large POST: claimed once (pending → running), all or nothing as a
    small POST; a refused bundle completes the status with every object failed and the reason."""
    from commonguard.interop.querysets import writable_by

    if not TaxiiStatus.objects.filter(pk=status_id, state="pending").update(state="running"):
        return TaxiiStatus.objects.filter(pk=status_id).first()  # run already, or purged
    status = TaxiiStatus.objects.select_related("collection__organization", "user").get(pk=status_id)
    objects = json.loads(bytes(status.raw))
    try:
        if not writable_by(status.collection, status.user):
            raise StixInputError("You can no longer add objects to this collection.")
        with transaction.atomic():
            _taxii_write(status, objects)
    except StixInputError as exc:
        where = f" (object {exc.object_id})" if exc.object_id else ""
        message = f"The bundle was refused; nothing was stored: {exc}{where}"[:500]
        status.failures = [_failure(obj, message) for obj in objects]
        status.failure_count, status.state, status.raw = len(objects), "complete", b""
        status.save(update_fields=["failures", "failure_count", "state", "raw"])
    except BaseException:
        failed = [_failure(obj, "Internal error; nothing was stored.") for obj in objects]
        TaxiiStatus.objects.filter(pk=status_id).update(
            state="complete", raw=b"", failures=failed, failure_count=len(objects)
        )
        raise
    return status


def _failure(obj: Any, message: str) -> dict[str, Any]:
    found = obj if isinstance(obj, dict) else {}
    detail: dict[str, Any] = {"id": str(found.get("id", "")), "message": message}
    version = found.get("modified") or found.get("created")
    if isinstance(version, str):
        detail["version"] = version
    return detail


def refuse_foreign_ids(collection: Collection, objects: list[Any], actor: Any) -> None:
    """A TAXII POST may not add versions to objects it does not own: those exported from an alert
    or written by the hub (they follow the alert: a newer, stricter version would hide it from the
    collection) and another person's RED objects. Refused whole, like any other bad object."""
    ids = {obj["id"] for obj in objects if isinstance(obj, dict) and isinstance(obj.get("id"), str)}
    # The well-known TLP marking definitions are everybody's: bundles from OpenCTI, MISP and the
    # hub's own exports carry them, and the hub holds the same objects for its alerts.
    ids -= TLP_MARKING_IDS.keys()
    foreign = (
        StixObject.objects.filter(collection=collection, stix_id__in=ids)
        .filter(
            Q(alert__isnull=False)  # exported from an alert
            | Q(added_by__isnull=True)  # written by the hub itself (the identities and markings of exports)
            | (Q(tlp=TLP.RED) & ~Q(added_by_id=getattr(actor, "pk", None)))
        )
        .values_list("stix_id", flat=True)
        .first()
    )
    if foreign is not None:
        raise StixInputError("This id belongs to an object the hub or another member holds.", foreign)


@transaction.atomic
def taxii_object_delete(*, actor: Any, collection: Collection, stix_id: str, versions: list[datetime]) -> int:
    from commonguard.interop.querysets import writable_by

    if not writable_by(collection, actor):
        raise PermissionDenied("You cannot delete objects from this collection.")
    deleted = objects_delete(collection, stix_id, versions)
    audit_record(
        actor=actor,
        action="stix.delete",
        summary=f"{actor.email} deleted {stix_id} ({deleted} versions) from “{collection.title}”",
        organization=collection.organization,
        target=collection,
        data={"stix_id": stix_id, "versions": deleted},
    )
    return deleted


__all__ = ["AddResult", "StixInputError", "check_objects", "objects_add", "objects_delete", "refuse_foreign_ids"]
