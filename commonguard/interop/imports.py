"""STIX bundles a person uploads (page `/stix/imports/`, API `/api/v1/stix/imports/`), imported in
the background on the `bulk` queue (docs/adr/0023-stix-import-jobs.md).

The same pieces as TAXII POSTs and STIX feeds, no second copy of any of them:
- the request is checked at once for what is cheap to see (size, JSON, a bundle, nesting): a clear
  error and no job; everything else runs in the job;
- every object is checked (`interop.stix.check_object`: structure, timestamps, the STIX pattern),
  then labelled (`interop.services.check_objects`: markings in every id variant, an unknown one is
  an error; no marking → the job's default label, chosen by the person, never CLEAR by accident);
- ONE transaction stores the objects in the organisation's collection (`objects_add`: idempotent,
  `added_by` the person, so the TAXII read rule applies: RED only for them) and turns indicators and
  observables into the indicators of one alert of the organisation (`feeds.stix.indicator_rows`,
  `sharing.imports.parse_bulk` / `indicators_replace`), published without announcement like every
  import (ADR 21); its key is the bundle's id, so the same bundle twice changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from commonguard.accounts.viewer import viewer_for
from commonguard.core.audit import audit_record
from commonguard.core.tlp import NAMED_ORGANISATION_LABELS, TLP, parse_tlp
from commonguard.interop.models import StixImport
from commonguard.interop.stix import BundleError, StixInputError, bundle_load, check_object, most_restrictive
from commonguard.orgs.models import Organization

log = logging.getLogger(__name__)

PROGRESS_EVERY = 500


class ImportRefused(ValueError):
    """The upload itself is refused (nothing stored, no job): `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def max_bytes() -> int:
    return int(getattr(settings, "COMMONGUARD_STIX_IMPORT_MAX_BYTES", 100 * 1024 * 1024))


def bundle_read(raw: bytes) -> dict[str, Any]:
    """The bundle as a dict, or ImportRefused saying what is wrong with it (`stix.bundle_load`)."""
    try:
        return bundle_load(raw, max_bytes=max_bytes())
    except BundleError as exc:
        raise ImportRefused(str(exc), exc.status) from None


def bundle_key(data: dict[str, Any], raw: bytes) -> str:
    """What makes a re-import the same import: the bundle's id (else a digest of the file)."""
    return str(data.get("id") or "sha256:" + hashlib.sha256(raw).hexdigest())


def stix_import_request(
    *, actor: Any, organization: Organization, raw: bytes, default_tlp: str, filename: str = ""
) -> StixImport:
    """Check the upload, record the job and queue it (after the commit) on the bulk queue."""
    from commonguard.interop.tasks import stix_import_task

    viewer = viewer_for(actor)
    if not viewer.is_vetted or organization.pk not in viewer.org_ids:
        raise PermissionDenied("You can import only for an organisation you are an approved member of.")
    try:
        label = parse_tlp(default_tlp)
    except ValueError as exc:
        raise ValidationError({"tlp": str(exc)}) from exc
    data = bundle_read(raw)
    with transaction.atomic():
        job = StixImport.objects.create(
            organization=organization,
            created_by=actor,
            filename=filename[:200],
            default_tlp=label,
            bundle_id=bundle_key(data, raw)[:300],
            raw=raw,
            total=len(data.get("objects") or []),
            stage="Waiting for a worker",
        )
        audit_record(
            actor=actor,
            action="stix.import_request",
            summary=f"{actor.email} uploaded a STIX bundle ({job.total:,} objects) for {organization.name}",
            organization=organization,
            target=job,
            data={"job": str(job.uuid), "bundle": job.bundle_id, "objects": job.total, "default_tlp": label},
        )
        job_id = job.pk
        transaction.on_commit(lambda: stix_import_task.enqueue(job_id))
    return job


# A worker that died mid-import leaves its job `running`: after the lease it is queued again (the
# import is all or nothing, so nothing of the dead run was kept), and failed after MAX_ATTEMPTS.
MAX_ATTEMPTS = 3


def lease_seconds() -> int:
    return int(getattr(settings, "COMMONGUARD_STIX_IMPORT_LEASE_SECONDS", 600))


def stix_imports_resume() -> int:
    """Queue again the jobs whose worker stopped renewing its lease (a crash, a killed worker); fail
    those that were claimed MAX_ATTEMPTS times already. Returns how many were queued again."""
    from commonguard.interop.tasks import stix_import_task

    cutoff = timezone.now() - timedelta(seconds=lease_seconds())
    stale = StixImport.objects.filter(state=StixImport.State.RUNNING, heartbeat_at__lte=cutoff)
    queued = 0
    for job_id, attempts, heartbeat in stale.values_list("pk", "attempts", "heartbeat_at"):
        # Conditional on the lease seen: a worker that renews it meanwhile keeps its job.
        same = StixImport.objects.filter(pk=job_id, state=StixImport.State.RUNNING, heartbeat_at=heartbeat)
        if attempts >= MAX_ATTEMPTS:
            same.update(
                state=StixImport.State.FAILED,
                stage="",
                error=f"The import was interrupted {attempts} times; nothing was imported.",
                finished_at=timezone.now(),
                raw=b"",
            )
            continue
        with transaction.atomic():
            if same.update(state=StixImport.State.QUEUED, stage="Waiting for a worker (interrupted, again)"):
                queued += 1
                transaction.on_commit(partial(stix_import_task.enqueue, job_id))
    return queued


def _progress(job: StixImport, stage: str, done: int | None = None) -> None:
    changes: dict[str, Any] = {"stage": stage[:120], "heartbeat_at": timezone.now()}
    if done is not None:
        changes["done"] = done
    StixImport.objects.filter(pk=job.pk).update(**changes)


def _fail(job: StixImport, message: str) -> None:
    StixImport.objects.filter(pk=job.pk).update(
        state=StixImport.State.FAILED, stage="", error=message[:1000], finished_at=timezone.now(), raw=b""
    )


def stix_import_run(job: StixImport) -> StixImport:
    """Run one import job now (the worker's task): all or nothing. A refused bundle fails the job
    with a clear message and stores nothing."""
    now = timezone.now()
    claimed = StixImport.objects.filter(pk=job.pk, state=StixImport.State.QUEUED).update(
        state=StixImport.State.RUNNING,
        stage="Reading the bundle",
        done=0,
        started_at=now,
        heartbeat_at=now,
        attempts=F("attempts") + 1,
        error="",
    )
    if not claimed:  # run already (the task delivered twice, or the demo ran it in process)
        job.refresh_from_db()
        return job
    try:
        result = _run(job)
    except ImportRefused as exc:
        _fail(job, f"{exc} Nothing was imported.")
    except StixInputError as exc:
        where = f" (object {exc.object_id})" if exc.object_id else ""
        _fail(job, f"The bundle is refused{where}: {exc} Nothing was imported.")
    except (ValidationError, PermissionDenied) as exc:
        message = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        _fail(job, f"{message} Nothing was imported.")
    except BaseException:
        _fail(job, "Internal error; nothing was imported.")
        raise
    else:
        StixImport.objects.filter(pk=job.pk).update(
            state=StixImport.State.COMPLETE,
            stage="",
            done=job.total,
            result=result,
            alert=result.pop("_alert", None),
            finished_at=timezone.now(),
            raw=b"",
        )
    job.refresh_from_db()
    return job


def _run(job: StixImport) -> dict[str, Any]:
    from commonguard.feeds import stix as stix_feeds
    from commonguard.interop.collections import organization_collection
    from commonguard.interop.services import check_objects, objects_add, refuse_foreign_ids
    from commonguard.sharing.imports import parse_bulk

    actor = job.created_by
    if actor is None or job.organization.pk not in viewer_for(actor).org_ids:
        raise PermissionDenied("The person who uploaded the bundle is no longer a member of the organisation.")
    raw = bytes(job.raw)
    data = bundle_read(raw)
    objects: list[Any] = data.get("objects") or []
    collection = organization_collection(job.organization)
    for done, obj in enumerate(objects, start=1):
        check_object(obj)  # structure, timestamps, the STIX pattern: the first problem refuses the bundle
        if done % PROGRESS_EVERY == 0:
            _progress(job, "Checking objects", done)
    _progress(job, "Reading markings", len(objects))
    checked = check_objects(collection, objects, default_tlp=TLP(job.default_tlp), check_pattern=False)
    labels = {item.stix_id: item.tlp for item in checked}
    _progress(job, f"Writing {len(objects):,} objects", len(objects))
    with transaction.atomic():
        refuse_foreign_ids(collection, objects, actor)
        added = objects_add(collection, objects, actor=actor, labels=labels, check_pattern=False)
        extracted = stix_feeds.indicator_rows(objects)
        parsed = parse_bulk(extracted.rows)
        result: dict[str, Any] = {
            "objects": len(objects),
            "stored": len(added.added),
            "unchanged": len(added.unchanged),
            "indicators": len(parsed.wanted),
            "invalid_values": parsed.invalid,
            "patterns_skipped": extracted.skipped_patterns,
            "errors": parsed.errors,
        }
        alert = None
        if parsed.wanted:
            sources = {where for where, _, _, _ in extracted.rows}
            label = most_restrictive(labels[i] for i in sources if i in labels) or TLP(job.default_tlp)
            alert, changed = _alert_write(job, actor, objects, parsed.wanted, label)
            result["alert_changed"] = changed
        if added.added or result.get("alert_changed"):
            audit_record(
                actor=actor,
                action="stix.import",
                summary=f"STIX bundle {job.bundle_id}: {len(added.added):,} objects stored for {job.organization.name}"[
                    :300
                ],
                organization=job.organization,
                target=job,
                data={k: v for k, v in result.items() if k != "errors"} | {"job": str(job.uuid), "announced": False},
            )
        result["_alert"] = alert
    return result


def _alert_write(job: StixImport, actor: Any, objects: list[Any], wanted: dict[Any, str], label: TLP) -> Any:
    """The bundle's alert (key `stix:<organisation>:<bundle>`): created and published without
    announcement the first time; its indicators replaced in bulk; a new unannounced version only
    when its label or wording changes. Returns (alert, whether anything changed)."""
    from commonguard.core.text import markdown_escape
    from commonguard.sharing.imports import alert_differs, alert_for_source, indicators_replace
    from commonguard.sharing.models import MAX_MARKDOWN, MAX_TITLE, Alert
    from commonguard.sharing.services import AlertInput, alert_publish, alert_save_draft, alert_update

    reports = [o for o in objects if isinstance(o, dict) and o.get("type") == "report" and o.get("name")]
    name = str(reports[0]["name"]) if len(reports) == 1 else f"STIX bundle {job.filename or job.bundle_id}"
    summary = (
        f"Indicators of the STIX bundle `{markdown_escape(job.bundle_id)}`"
        + (f" ({markdown_escape(job.filename)})" if job.filename else "")
        + f", imported for {markdown_escape(job.organization.name)}. The bundle's other objects (attack "
        "patterns, malware, intrusion sets, reports, relationships) are kept as intelligence of the hub."
    )
    data = AlertInput(
        title=f"Imported: {name}"[:MAX_TITLE],
        summary=summary[:MAX_MARKDOWN],
        recommended_actions="Block or monitor these indicators in your firewall, proxy, DNS resolver or SIEM.",
        category=Alert.Category.OTHER,
        severity=Alert.Severity.MEDIUM,
        tlp=label,
        recipient_orgs=[job.organization] if label in NAMED_ORGANISATION_LABELS else [],
        recipient_people=[actor] if label == TLP.RED else [],
    )
    source_key = f"stix:{job.organization.pk}:{job.bundle_id}"
    alert = alert_for_source(source_key)
    if alert is None:
        draft = alert_save_draft(actor=actor, author_org=job.organization, data=data, source_key=source_key)
        indicators_replace(draft, wanted)
        return alert_publish(actor=actor, alert=draft, announce=False), True
    if alert.status == Alert.Status.REVOKED:
        raise ImportRefused("The alert of this bundle was revoked: it is not imported again.")
    changed = indicators_replace(alert, wanted).changed
    if alert_differs(alert, data):
        alert = alert_update(actor=actor, alert=alert, data=data, announce=False, keep_indicators=True)
        changed = True
    return alert, changed
