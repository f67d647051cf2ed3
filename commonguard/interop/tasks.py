"""STIX import jobs on the `bulk` queue: never ahead of alerts people write (ADR 6, ADR 21)."""

from __future__ import annotations

from typing import Any

from django_tasks import task


@task(queue_name="bulk", priority=-90)  # QUEUE_PRIORITY["bulk"] (sharing/delivery.py)
def stix_import_task(job_id: int) -> dict[str, Any]:
    from commonguard.core import context
    from commonguard.interop.imports import stix_import_run
    from commonguard.interop.models import StixImport

    job = StixImport.objects.select_related("organization", "created_by").filter(pk=job_id).first()
    if job is None:
        return {"job": job_id, "error": "deleted"}
    token = context.bind(context.RequestContext(channel="worker"))
    try:
        job = stix_import_run(job)
    finally:
        context.reset(token)
    return {"job": str(job.uuid), "state": job.state, "error": job.error}


@task(queue_name="bulk", priority=-90)
def taxii_add_task(status_id: int) -> dict[str, Any]:
    """A TAXII POST of more than COMMONGUARD_TAXII_ASYNC_OBJECTS objects (ADR 30)."""
    from commonguard.core import context
    from commonguard.interop.services import taxii_objects_run

    token = context.bind(context.RequestContext(channel="worker"))
    try:
        status = taxii_objects_run(status_id)
    finally:
        context.reset(token)
    if status is None:
        return {"status": status_id, "error": "purged"}
    return {"status": str(status.uuid), "success": status.success_count, "failure": status.failure_count}
