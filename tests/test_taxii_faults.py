"""Faults of the TAXII server, fixed: concurrent POSTs of the same objects, collections created on
a read, a RED alert's shared objects telling others it exists, statuses that never expire."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import Client

from commonguard.core.tlp import TLP
from commonguard.interop.collections import organization_collection
from commonguard.interop.models import Collection, StixObject, TaxiiStatus
from commonguard.sharing.models import SharingGroup
from tests.sharing_helpers import make_alert
from tests.taxii_helpers import TaxiiClient, indicator, token_for

API = "/taxii2/api/"


def _objects_url(collection: Collection) -> str:
    return f"{API}collections/{collection.uuid}/objects/"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_of_the_same_objects_both_succeed_and_store_once(world):
    """Two POSTs of the same objects that both start before either has written: each must find
    what the other wrote once it holds the collection's lock (before: IntegrityError, a 500)."""
    collection = organization_collection(world.ingham)
    secret = token_for(world["ingham_member"])
    objects = [indicator(f"91.92.251.{i}") for i in range(1, 41)]
    body = json.dumps({"objects": objects})
    locked, release, answers = threading.Event(), threading.Event(), []

    def holder() -> None:  # holds the collection's lock while both POSTs arrive
        try:
            with transaction.atomic():
                Collection.objects.select_for_update().get(pk=collection.pk)
                locked.set()
                release.wait(30)
        finally:
            connection.close()

    def poster() -> None:
        try:
            answers.append(TaxiiClient(Client(), secret).post(_objects_url(collection), body))
        finally:
            connection.close()

    hold = threading.Thread(target=holder)
    hold.start()
    assert locked.wait(30)
    posts = [threading.Thread(target=poster) for _ in range(2)]
    for thread in posts:
        thread.start()
    deadline = time.monotonic() + 30
    with connection.cursor() as cursor:  # wait until both POSTs wait for the lock
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchone()[0] >= 2:
                break
            time.sleep(0.05)
    release.set()
    hold.join()
    for thread in posts:
        thread.join()
    assert sorted(r.status_code for r in answers) == [202, 202], [r.content for r in answers]
    assert all(r.json()["success_count"] == 40 for r in answers)
    assert StixObject.objects.filter(collection=collection).count() == 40


@pytest.mark.django_db
def test_listing_collections_creates_none(world, client):
    Collection.objects.all().delete()
    c = TaxiiClient(client, token_for(world["ingham_member"]))
    assert c.get(API + "collections/").json() == {}
    assert Collection.objects.count() == 0


@pytest.mark.django_db
def test_collections_come_with_their_audience(world, client):
    assert Collection.objects.filter(kind="community").count() == 1
    assert Collection.objects.filter(organization=world.ingham).exists()
    group = SharingGroup.objects.create(name="Water utilities", owner=world.washtenaw)
    group.organizations.add(world.ingham)
    assert Collection.objects.filter(sharing_group=group).exists()
    listed = TaxiiClient(client, token_for(world["ingham_member"])).get(API + "collections/").json()["collections"]
    assert {c["alias"] for c in listed} >= {"community", f"org-{world.ingham.pk}", f"group-{group.pk}"}


@pytest.mark.django_db
def test_a_red_alert_leaves_no_trace_for_those_not_named(world, client):
    """A RED alert by Ingham naming a Washtenaw member: another Washtenaw member reading Washtenaw's
    collection must not see the author's identity or the RED marking appear."""
    named, other = world["washtenaw_member"], world["washtenaw_admin"]
    alert = make_alert(
        world["ingham_member"],
        world.ingham,
        TLP.RED,
        recipient_people=[named],
        indicators=[("domain", "red-trace.example.net")],
    )
    theirs = organization_collection(world.washtenaw)
    assert StixObject.objects.filter(collection=theirs, alert=alert).exists()
    assert TaxiiClient(client, token_for(other)).get(_objects_url(theirs)).json() == {}
    seen = TaxiiClient(client, token_for(named)).get(_objects_url(theirs)).json()["objects"]
    assert {o["type"] for o in seen} >= {"indicator", "report"}
    assert "Ingham" not in json.dumps(TaxiiClient(client, token_for(other)).get(_objects_url(theirs)).json())


@pytest.mark.django_db
def test_a_status_expires_into_a_taxii_404(world, client, settings):
    settings.COMMONGUARD_TAXII_STATUS_RETENTION_HOURS = 24
    c = TaxiiClient(client, token_for(world["ingham_member"]))
    posted = c.post(_objects_url(organization_collection(world.ingham)), json.dumps({"objects": [indicator()]}))
    status_url = f"{API}status/{posted.json()['id']}/"
    assert c.get(status_url).json()["status"] == "complete"
    TaxiiStatus.objects.update(created_at=TaxiiStatus.objects.get().created_at - timedelta(hours=25))
    expired = c.get(status_url)
    assert expired.status_code == 404 and expired.json() == {
        "title": "The requested resource does not exist.",
        "http_status": "404",
    }
    # The next POST purges expired statuses.
    c.post(_objects_url(organization_collection(world.ingham)), json.dumps({"objects": [indicator("91.92.251.9")]}))
    assert TaxiiStatus.objects.count() == 1


@pytest.mark.django_db
def test_a_fault_of_ours_is_still_a_taxii_error_resource(world, client, monkeypatch):
    from commonguard.interop import services

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "taxii_objects_add", broken)
    c = TaxiiClient(client, token_for(world["ingham_member"]))
    r = c.post(_objects_url(organization_collection(world.ingham)), json.dumps({"objects": [indicator()]}))
    assert r.status_code == 500 and r["Content-Type"] == "application/taxii+json;version=2.1"
    assert r.json()["http_status"] == "500" and not StixObject.objects.exists()
