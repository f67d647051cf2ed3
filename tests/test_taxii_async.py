"""Large TAXII POSTs run on the worker (ADR 30): more than COMMONGUARD_TAXII_ASYNC_OBJECTS objects
answer 202 with a `pending` status, nothing stored yet; the worker adds them all or none and the
status turns `complete` (with failures if refused). Small POSTs stay synchronous."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.test import Client, TestCase

from commonguard.interop.collections import organization_collection
from commonguard.interop.models import StixObject, TaxiiStatus
from tests.taxii_helpers import TaxiiClient, indicator, token_for

pytestmark = pytest.mark.django_db
API = "/taxii2/api/"


@pytest.fixture(autouse=True)
def _small_threshold(settings: Any) -> None:
    settings.COMMONGUARD_TAXII_ASYNC_OBJECTS = 2


def run_worker() -> None:
    """What the worker does with the queued tasks: run each from the task row it would take, on
    the bulk queue of STIX imports (as tests/test_stix_import.py; the real `db_worker` closes the
    test's connection on PostgreSQL outside transactional tests)."""
    from django_tasks_db.models import DBTaskResult

    for row in DBTaskResult.objects.filter(task_path__endswith="taxii_add_task", finished_at__isnull=True):
        assert row.queue_name == "bulk"
        row.task.call(*row.args_kwargs["args"], **row.args_kwargs["kwargs"])
        row.delete()


def post(client: TaxiiClient, collection: Any, objects: list[dict]) -> Any:
    with TestCase.captureOnCommitCallbacks(execute=True):  # the task is queued when the request commits
        return client.post(f"{API}collections/{collection.uuid}/objects/", json.dumps({"objects": objects}))


def test_a_large_post_is_pending_then_complete(world):
    mine = organization_collection(world.ingham)
    c = TaxiiClient(Client(), token_for(world["ingham_member"]))
    objects = [indicator(f"91.92.251.{n}") for n in range(30, 33)]
    answer = post(c, mine, objects)
    assert answer.status_code == 202
    status = answer.json()
    assert status["status"] == "pending" and status["total_count"] == 3 and status["pending_count"] == 3
    assert status["success_count"] == 0 and not StixObject.objects.filter(collection=mine).exists()
    url = f"{API}status/{status['id']}/"
    assert c.get(url).json()["status"] == "pending"
    run_worker()
    done = c.get(url).json()
    assert done["status"] == "complete" and done["success_count"] == 3 and done["pending_count"] == 0
    assert {s["id"] for s in done["successes"]} == {o["id"] for o in objects}
    assert StixObject.objects.filter(collection=mine).count() == 3
    assert bytes(TaxiiStatus.objects.get().raw) == b""  # the objects are dropped once added
    # The same objects again: success, nothing new (idempotent), also through the worker.
    again = post(c, mine, objects).json()
    run_worker()
    assert c.get(f"{API}status/{again['id']}/").json()["success_count"] == 3
    assert StixObject.objects.filter(collection=mine).count() == 3
    # Another person never reads the status: the 404 of an unknown one.
    other = TaxiiClient(Client(), token_for(world["ingham_admin"]))
    assert other.get(url).status_code == 404
    assert other.get(url).content == other.get(f"{API}status/{uuid.uuid4()}/").content


def test_a_refused_large_post_completes_with_every_object_failed_and_stores_nothing(world):
    mine = organization_collection(world.ingham)
    c = TaxiiClient(Client(), token_for(world["ingham_member"]))
    bad = indicator("91.92.251.40", object_marking_refs=[f"marking-definition--{uuid.uuid4()}"])
    objects = [indicator("91.92.251.41"), bad, indicator("91.92.251.42")]
    status = post(c, mine, objects).json()
    assert status["status"] == "pending"
    run_worker()
    done = c.get(f"{API}status/{status['id']}/").json()
    assert done["status"] == "complete" and done["failure_count"] == 3 and done["success_count"] == 0
    assert {f["id"] for f in done["failures"]} == {o["id"] for o in objects}
    assert all("Unknown marking" in f["message"] and "nothing was stored" in f["message"] for f in done["failures"])
    assert not StixObject.objects.filter(collection=mine).exists()


def test_a_small_post_stays_synchronous(world):
    mine = organization_collection(world.ingham)
    c = TaxiiClient(Client(), token_for(world["ingham_member"]))
    answer = post(c, mine, [indicator("91.92.251.43"), indicator("91.92.251.44")])
    assert answer.status_code == 202 and answer.json()["status"] == "complete"
    assert StixObject.objects.filter(collection=mine).count() == 2
    bad = post(c, mine, [indicator("91.92.251.45", pattern="[ipv4-addr:value = '1.2.3.4'")])
    assert bad.status_code == 422  # a small refused POST still answers at once


def test_a_job_runs_once_even_if_its_task_is_delivered_twice(world):
    from commonguard.interop.services import taxii_objects_run

    mine = organization_collection(world.ingham)
    c = TaxiiClient(Client(), token_for(world["ingham_member"]))
    status = post(c, mine, [indicator(f"91.92.251.{n}") for n in range(46, 49)]).json()
    row = TaxiiStatus.objects.get(uuid=status["id"])
    assert taxii_objects_run(row.pk).success_count == 3
    assert taxii_objects_run(row.pk).success_count == 3  # claimed already: nothing done twice
    run_worker()
    assert StixObject.objects.filter(collection=mine).count() == 3
