"""STIX bundles imported by upload (page) and API, in the background: progress, all or nothing,
idempotence, labels from every marking variant, bad input, the read rule of jobs and of the
intelligence search, and the round trip STIX → CommonGuard → STIX (ids, labels, patterns)."""

from __future__ import annotations

import html
import json
import uuid
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from stix2validator import ValidationOptions, validate_string

from commonguard.core.models import AuditEvent
from commonguard.core.tlp import STIX_TLP2_MARKING_IDS, TLP
from commonguard.interop.collections import organization_collection
from commonguard.interop.export import alert_bundle
from commonguard.interop.models import StixImport, StixObject
from commonguard.sharing.models import Alert, Indicator
from tests.conftest import sign_in
from tests.taxii_helpers import TAXII, TaxiiClient, token_for
from tests.test_stix_feeds import TLP1_AMBER, TLP1_GREEN, bundle_20, bundle_21, ind, sdo

pytestmark = pytest.mark.django_db
API = "/api/v1/stix/imports/"
OPENCTI_STRICT = "marking-definition--826578e1-40ad-459f-bc73-ede076f81f37"


def run_worker() -> None:
    """What the worker does with the queued import tasks: run each, from the task row it would
    take. (`db_worker` itself closes the test's connection on PostgreSQL outside transactional
    tests; the browser test runs the real worker.)"""
    from django_tasks_db.models import DBTaskResult

    for row in DBTaskResult.objects.filter(task_path__endswith="stix_import_task", finished_at__isnull=True):
        assert row.queue_name == "bulk"
        row.task.call(*row.args_kwargs["args"], **row.args_kwargs["kwargs"])
        row.delete()


def api(client: Any, user: Any) -> dict[str, str]:
    return {"authorization": f"Bearer {token_for(user)}"}


def post_bundle(client: Any, user: Any, org: Any, bundle: Any, tlp: str = "amber") -> Any:
    body = bundle if isinstance(bundle, bytes) else json.dumps(bundle).encode()
    with TestCase.captureOnCommitCallbacks(execute=True):  # the job is queued when the request commits
        return client.generic(
            "POST",
            f"{API}?organization={org.pk}&tlp={tlp}",
            body,
            content_type="application/json",
            headers=api(client, user),
        )


def job_of(response: Any) -> StixImport:
    assert response.status_code == 202, response.content
    return StixImport.objects.get(uuid=response.json()["id"])


def import_now(client: Any, user: Any, org: Any, bundle: Any, tlp: str = "amber") -> StixImport:
    job = job_of(post_bundle(client, user, org, bundle, tlp))
    run_worker()
    job.refresh_from_db()
    return job


def nothing_stored() -> None:
    assert StixObject.objects.filter(collection__kind="organization").count() == 0
    assert not Alert.objects.filter(source_key__startswith="stix:").exists()


# --- The happy path ---------------------------------------------------------------------------


def test_api_import_runs_in_the_background_and_reports_progress(world, client):
    me, org = world["ingham_member"], world.ingham
    bundle = bundle_21()
    response = post_bundle(client, me, org, bundle)
    job = job_of(response)
    body = response.json()
    assert body["state"] == "queued" and body["total"] == len(bundle["objects"]) and body["bundle_id"] == bundle["id"]
    assert StixObject.objects.filter(collection__kind="organization").count() == 0  # not yet: queued
    run_worker()
    status = client.get(f"{API}{job.uuid}/", headers=api(client, me)).json()
    assert status["state"] == "complete" and status["done"] == status["total"] == len(bundle["objects"])
    assert status["result"]["stored"] == len(bundle["objects"]) and status["result"]["unchanged"] == 0
    assert status["result"]["patterns_skipped"] == 2 and status["error"] == ""
    alert = Alert.objects.get(uuid=status["alert"])
    assert alert.author_org == org and alert.status == Alert.Status.PUBLISHED
    values = set(Indicator.objects.filter(alert=alert).values_list("kind", "value"))
    assert {("domain", "evil-login.example"), ("ipv4", "91.92.251.40"), ("cve", "CVE-2024-3400")} <= values
    assert ("ipv6", "2001:db8:1::5") in values and ("sha1", "ef" * 20) in values
    # The other objects are intelligence of the organisation's collection, added by the uploader.
    held = StixObject.objects.filter(collection=organization_collection(org), added_by__isnull=False)
    assert set(held.values_list("stix_id", flat=True)) == {o["id"] for o in bundle["objects"]}
    assert set(held.values_list("added_by", flat=True)) == {me.pk}
    assert bytes(StixImport.objects.get(pk=job.pk).raw) == b""  # the bundle is not kept once imported
    assert AuditEvent.objects.filter(action="stix.import").count() == 1


def test_stix_20_bundle_imports(world, client):
    job = import_now(client, world["ingham_member"], world.ingham, bundle_20(), "green")
    assert job.state == "complete", job.error
    values = set(Indicator.objects.filter(alert=job.alert).values_list("kind", "value"))
    assert values == {("domain", "stix20.example"), ("ipv4", "91.92.251.60")}
    assert StixObject.objects.filter(type="intrusion-set", spec_version="2.0").exists()


def test_the_same_bundle_twice_changes_nothing(world, client):
    me, bundle = world["ingham_member"], bundle_21()
    first = import_now(client, me, world.ingham, bundle)
    rows = list(StixObject.objects.order_by("pk").values_list("pk", "date_added"))
    indicators = list(Indicator.objects.order_by("pk").values_list("pk", "value"))
    stix_audits = AuditEvent.objects.filter(action__startswith="stix.")
    version, audits = Alert.objects.get(pk=first.alert_id).version, stix_audits.count()
    second = import_now(client, me, world.ingham, bundle)
    assert second.state == "complete" and second.result["stored"] == 0
    assert second.result["unchanged"] == len(bundle["objects"]) and second.alert_id == first.alert_id
    assert list(StixObject.objects.order_by("pk").values_list("pk", "date_added")) == rows
    assert list(Indicator.objects.order_by("pk").values_list("pk", "value")) == indicators
    assert Alert.objects.get(pk=first.alert_id).version == version
    assert stix_audits.count() == audits + 1  # the request of the second job only
    assert Alert.objects.filter(source_key__startswith="stix:").count() == 1


def test_upload_page_queues_a_job_and_shows_its_progress(world, client):
    me = world["ingham_member"]
    sign_in(client, me)
    page = client.get("/stix/imports/")
    assert page.status_code == 200 and b"Import a STIX bundle" in page.content
    upload = SimpleUploadedFile("report.json", json.dumps(bundle_21()).encode(), "application/json")
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post("/stix/imports/", {"file": upload, "organization": world.ingham.pk, "tlp": "amber"})
    job = StixImport.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/stix/imports/{job.uuid}/"
    queued = client.get(f"/stix/imports/{job.uuid}/", headers={"HX-Request": "true"})
    assert b'hx-trigger="every 2s"' in queued.content and b"Queued" in queued.content
    run_worker()
    done = client.get(f"/stix/imports/{job.uuid}/").content.decode()
    assert "Complete" in done and "hx-trigger" not in done and "12 objects: 12 stored" in done
    assert "report.json" in client.get("/stix/imports/").content.decode()


# --- Labels -----------------------------------------------------------------------------------

MISP_MARKING = {
    "type": "marking-definition",
    "spec_version": "2.1",
    "id": f"marking-definition--{uuid.uuid4()}",
    "created": "2026-01-01T00:00:00.000Z",
    "definition_type": "tlp",
    "name": "tlp:amber",
    "definition": {"tlp": "amber"},
}


MISP_STATEMENT = {
    "type": "marking-definition",
    "spec_version": "2.1",
    "id": f"marking-definition--{uuid.uuid4()}",
    "created": "2026-01-01T00:00:00.000Z",
    "definition_type": "statement",
    "definition": {"statement": "tlp:amber+strict"},
}


@pytest.mark.parametrize(
    ("refs", "extra", "default", "label"),
    [
        ([TLP1_GREEN], [], "amber", TLP.GREEN),  # TLP 1.0
        ([STIX_TLP2_MARKING_IDS[TLP.AMBER_STRICT]], [], "green", TLP.AMBER_STRICT),  # TLP 2.0 (OASIS)
        ([OPENCTI_STRICT], [], "green", TLP.AMBER_STRICT),  # OpenCTI
        ([MISP_MARKING["id"]], [MISP_MARKING], "green", TLP.AMBER),  # MISP (misp-stix: own id, sent along)
        ([MISP_STATEMENT["id"]], [MISP_STATEMENT], "green", TLP.AMBER_STRICT),  # MISP tag as a statement
        ([], [], "amber", TLP.AMBER),  # no marking: the job's default, never CLEAR by accident
        ([], [], "green", TLP.GREEN),
    ],
)
def test_labels_from_every_marking_variant(world, client, refs, extra, default, label):
    obj = ind("[domain-name:value = 'label-test.example']", **({"object_marking_refs": refs} if refs else {}))
    job = import_now(
        client, world["ingham_member"], world.ingham, {"type": "bundle", "objects": [*extra, obj]}, default
    )
    assert job.state == "complete", job.error
    assert StixObject.objects.get(stix_id=obj["id"]).tlp == label
    assert Alert.objects.get(pk=job.alert_id).tlp == label


def test_an_unknown_marking_fails_the_job_and_stores_nothing(world, client):
    bundle = bundle_21()
    bundle["objects"][3]["object_marking_refs"] = [f"marking-definition--{uuid.uuid4()}"]
    job = import_now(client, world["ingham_member"], world.ingham, bundle)
    assert job.state == "failed" and "Unknown marking" in job.error and "Nothing was imported" in job.error
    nothing_stored()


# --- Bad input: a clear error, nothing stored --------------------------------------------------


def _deep(levels: int) -> Any:
    node: Any = {}
    for _ in range(levels):
        node = {"x": node}
    return node


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"\xff\xfe", 400, "not valid JSON"),
        (json.dumps({"type": "indicator", "objects": []}).encode(), 400, "'indicator', not 'bundle'"),
        (json.dumps([bundle_21()]).encode(), 400, "not 'bundle'"),
        (json.dumps({"type": "bundle", "id": "bundle--nope", "objects": []}).encode(), 400, "bundle--<uuid>"),
        (json.dumps({"type": "bundle", "objects": [_deep(60)]}).encode(), 400, "nested too deeply"),
        (("[" * 100000 + "]" * 100000).encode(), 400, "nested too deeply"),
    ],
)
def test_bad_uploads_are_refused_at_once(world, client, body, status, words):
    response = post_bundle(client, world["ingham_member"], world.ingham, body)
    assert response.status_code == status and response["Content-Type"] == "application/json"
    assert words in response.json()["error"]["message"]
    assert not StixImport.objects.exists()
    nothing_stored()


def test_a_500_mb_body_is_refused_before_it_is_read(world, client):
    response = client.generic(
        "POST",
        f"{API}?organization={world.ingham.pk}",
        b"{}",
        content_type="application/json",
        headers=api(client, world["ingham_member"]),
        CONTENT_LENGTH=str(500 * 1024 * 1024),
    )
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"
    assert not StixImport.objects.exists()


def test_the_asgi_guard_refuses_a_large_upload_from_its_content_length():
    import asyncio

    from commonguard.interop.asgi import taxii_body_limit

    reached, sent = [], []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        raise AssertionError("the body must not be read")

    scope = {"type": "http", "method": "POST", "path": API, "headers": [(b"content-length", b"524288000")]}
    asyncio.run(taxii_body_limit(app)(scope, receive, send))
    assert not reached and sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"]["code"] == "too_large"


@pytest.mark.parametrize(
    ("spoil", "words"),
    [
        (lambda b: b["objects"][0].update(pattern="[domain-name:value = 'x.example'"), "pattern does not parse"),
        (lambda b: b["objects"][2].update(type="Indicator!"), "type"),
        (lambda b: b["objects"][9].update(created="yesterday"), "created"),
        (lambda b: b["objects"][10].update(spec_version="3.0"), "spec_version"),
    ],
)
def test_a_bad_object_fails_the_job_and_stores_nothing(world, client, spoil, words):
    bundle = bundle_21()
    spoil(bundle)
    job = import_now(client, world["ingham_member"], world.ingham, bundle)
    assert job.state == "failed" and words in job.error, job.error
    nothing_stored()


def test_api_needs_an_organisation_of_yours_and_a_known_label(world, client):
    me = world["ingham_member"]
    r = post_bundle(client, me, world.washtenaw, bundle_21())
    assert r.status_code == 400 and r.json()["error"]["fields"] == {"organization": ["Not yours."]}
    r = post_bundle(client, me, world.ingham, bundle_21(), tlp="purple")
    assert r.status_code == 400 and "tlp" in r.json()["error"]["fields"]
    assert not StixImport.objects.exists()


# --- The read rule ----------------------------------------------------------------------------


def test_a_job_is_read_by_its_organisation_only(world, client):
    job = import_now(client, world["ingham_member"], world.ingham, bundle_21())
    assert client.get(f"{API}{job.uuid}/", headers=api(client, world["ingham_admin"])).status_code == 200
    outsider = client.get(f"{API}{job.uuid}/", headers=api(client, world["washtenaw_member"]))
    absent = client.get(f"{API}{uuid.uuid4()}/", headers=api(client, world["washtenaw_member"]))
    assert outsider.status_code == absent.status_code == 404 and outsider.content == absent.content
    assert client.get(API, headers=api(client, world["washtenaw_member"])).json() == {"results": []}
    sign_in(client, world["washtenaw_member"])
    assert client.get(f"/stix/imports/{job.uuid}/").status_code == 404


def _search(client: Any, user: Any, **params: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/stix/intelligence/", params, headers=api(client, user))
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_intelligence_search_follows_the_read_rule(world, client):
    me = world["ingham_member"]
    red = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
    bundle = bundle_21()
    bundle["objects"].append(sdo("intrusion-set", name="Red Heron", object_marking_refs=[red]))
    assert import_now(client, me, world.ingham, bundle).state == "complete"
    found = _search(client, me, q="t1566")
    assert [(h["type"], h["name"], h["external_ids"]) for h in found] == [("attack-pattern", "Phishing", ["T1566"])]
    assert _search(client, me, q="TestLoader")[0]["type"] == "malware"
    assert {h["type"] for h in _search(client, me, type="malware")} == {"malware"}
    assert _search(client, me, q="Red Heron")[0]["tlp"] == TLP.RED  # RED: the person who added it
    assert _search(client, world["ingham_admin"], q="Red Heron") == []
    assert _search(client, world["ingham_admin"], q="T1566")[0]["name"] == "Phishing"  # AMBER: the organisation
    assert _search(client, world["washtenaw_member"], q="T1566") == []  # another organisation's collection
    assert client.get("/api/v1/stix/intelligence/?q=x").status_code == 401
    sign_in(client, world["washtenaw_member"])
    page = client.get("/stix/intelligence/", {"q": "T1566"}).content.decode()
    assert "Nothing you may read matches" in page and "Phishing" not in page
    sign_in(client, me)
    assert "Phishing" in client.get("/stix/intelligence/", {"q": "T1566"}).content.decode()


# --- Round trip: STIX → CommonGuard → STIX -----------------------------------------------------


def _valid(bundle: dict[str, Any]) -> None:
    results = validate_string(json.dumps(bundle), ValidationOptions(version="2.1", strict=False))
    assert results.is_valid, [str(e) for e in results.errors]


def test_round_trip_keeps_ids_labels_and_patterns(world, client):
    me = world["ingham_member"]
    sent = [
        ind("[domain-name:value = 'round-trip.example']", object_marking_refs=[TLP1_AMBER]),
        ind("[ipv4-addr:value = '45.137.21.60'] OR [url:value = 'http://45.137.21.60/x.sh']"),
        ind("[file:name = 'loader.dll' AND file:size > 1000]", object_marking_refs=[TLP1_AMBER]),
        sdo(
            "attack-pattern",
            name="Spearphishing Link",
            external_references=[{"source_name": "mitre-attack", "external_id": "T1566.002"}],
        ),
    ]
    job = import_now(client, me, world.ingham, {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": sent})
    assert job.state == "complete", job.error
    # Back out over TAXII: the same ids, markings and patterns, the labels read from the markings.
    taxii = TaxiiClient(client, token_for(me))
    collection = organization_collection(world.ingham)
    served = taxii.get(f"/taxii2/api/collections/{collection.uuid}/objects/")
    assert served.status_code == 200 and served["Content-Type"] == TAXII
    everything = {o["id"]: o for o in served.json()["objects"]}  # with the alert's own export
    back = {o["id"]: everything[o["id"]] for o in sent}
    for obj in sent:
        assert back[obj["id"]] == obj
    labels = dict(StixObject.objects.filter(collection=collection).values_list("stix_id", "tlp"))
    assert labels[sent[0]["id"]] == TLP.AMBER and labels[sent[1]["id"]] == TLP.AMBER  # unmarked: the default
    _valid({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(back.values())})
    # The alert's own export: valid, its label, and the patterns of the values it carries.
    alert = Alert.objects.get(pk=job.alert_id)
    exported = alert_bundle(alert)
    _valid(exported)
    patterns = {o["pattern"] for o in exported["objects"] if o["type"] == "indicator"}
    assert "[domain-name:value = 'round-trip.example']" in patterns
    assert "[ipv4-addr:value = '45.137.21.60']" in patterns
    marking = STIX_TLP2_MARKING_IDS[TLP.AMBER]
    assert all(
        marking in o.get("object_marking_refs", [marking])
        for o in exported["objects"]
        if o["type"] != "marking-definition"
    )
    # A re-export keeps its ids.
    assert {o["id"] for o in alert_bundle(alert)["objects"]} == {o["id"] for o in exported["objects"]}


def test_demo_bundle_imports_once(world):
    from commonguard.interop.demo import demo_bundle, seed_demo
    from commonguard.orgs.states import state_by_postal

    world["ingham_member"].email = "it.ingham@demo.test"
    world["ingham_member"].save()
    first = seed_demo(state_by_postal("MI"))
    assert "complete" in first, first
    assert "imported already" in seed_demo(state_by_postal("MI"))
    held = StixObject.objects.filter(stix_id__in=[o["id"] for o in demo_bundle()["objects"]], alert__isnull=True)
    assert held.count() == len(demo_bundle()["objects"])
    run_worker()  # the queued task finds the job done and leaves it
    assert StixImport.objects.get().state == "complete"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"{not json", "not valid JSON"),
        (json.dumps({"type": "report", "objects": []}).encode(), "not 'bundle'"),
        (json.dumps({"type": "bundle", "objects": [_deep(60)]}).encode(), "nested too deeply"),
    ],
)
def test_upload_page_says_what_is_wrong_and_stores_nothing(world, client, content, words):
    sign_in(client, world["ingham_member"])
    upload = SimpleUploadedFile("bad.json", content, "application/json")
    response = client.post("/stix/imports/", {"file": upload, "organization": world.ingham.pk, "tlp": "amber"})
    assert response.status_code == 400 and words in html.unescape(response.content.decode())
    assert not StixImport.objects.exists()
    nothing_stored()


def test_attack_reference_data_is_searchable_by_every_vetted_person(world, client):
    from commonguard.interop.management.commands.stix_load_attack import load
    from tests.taxii_helpers import ATTACK_DIR

    load("attack-ics", ATTACK_DIR / "ics-attack-18.1.json")
    for name in ("washtenaw_member", "coordinator"):
        found = _search(client, world[name], q="T0817")
        assert found and found[0]["external_ids"][0] == "T0817" and found[0]["collection"] == "MITRE ATT&CK for ICS"
    assert client.get("/api/v1/stix/intelligence/?q=T0817", headers=api(client, world["unvetted"])).json() == {
        "results": []
    }


def test_a_bundle_carrying_the_standard_tlp_marking_objects_imports(world, client):
    """OpenCTI and the hub's own exports send the OASIS TLP marking-definitions along; the hub
    holds the same objects for its alerts in the organisation's collection already."""
    from commonguard.interop.export import tlp_marking_definition
    from tests.sharing_helpers import make_alert

    make_alert(
        world["ingham_member"],
        world.ingham,
        TLP.AMBER,
        recipient_orgs=[world.ingham],
        indicators=[("domain", "held.example.net")],
    )
    marking = tlp_marking_definition(TLP.AMBER)
    obj = ind("[domain-name:value = 'with-marking.example']", object_marking_refs=[marking["id"]])
    job = import_now(client, world["ingham_member"], world.ingham, {"type": "bundle", "objects": [marking, obj]})
    assert job.state == "complete", job.error
    assert job.result["unchanged"] == 1 and StixObject.objects.get(stix_id=obj["id"]).tlp == TLP.AMBER


# --- The job list without N+1, and a job whose worker died --------------------------------------


def test_the_job_list_reads_jobs_and_their_alerts_in_fixed_queries(world, client):
    """The API list and the page cost the same number of queries for one job as for four (each job
    with an alert); the alert of a job is read through the alert's read rule."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.sharing_helpers import make_alert

    me, org = world["ingham_member"], world.ingham
    headers = api(client, me)

    def add_job(n: int) -> StixImport:
        alert = make_alert(me, org, TLP.GREEN, title=f"Imported {n}")
        return StixImport.objects.create(
            organization=org, created_by=me, bundle_id=f"bundle--{uuid.uuid4()}", state="complete", alert=alert
        )

    def count(url: str, **kwargs: Any) -> int:
        client.get(url, **kwargs)  # warm: sessions, the token's last use
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url, **kwargs).status_code == 200
        return len(queries)

    add_job(0)
    sign_in(client, me)
    one_api, one_page = count(API, headers=headers), count("/stix/imports/")
    for n in range(1, 4):
        add_job(n)
    body = client.get(API, headers=headers).json()
    assert len(body["results"]) == 4 and all(job["alert"] for job in body["results"])
    assert count(API, headers=headers) == one_api
    assert count("/stix/imports/") == one_page
    # An alert its reader may not read is not named (absent), the job still listed.
    outsider_alert = make_alert(
        world["washtenaw_member"], world.washtenaw, TLP.RED, recipient_people=[world["washtenaw_admin"]]
    )
    StixImport.objects.filter(bundle_id__isnull=False).update(alert=outsider_alert)
    assert [job["alert"] for job in client.get(API, headers=headers).json()["results"]] == [None] * 4


def test_a_job_whose_worker_died_is_queued_again_after_its_lease(world, client, settings):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from commonguard.interop.imports import MAX_ATTEMPTS, stix_imports_resume

    settings.COMMONGUARD_STIX_IMPORT_LEASE_SECONDS = 60
    me, org, bundle = world["ingham_member"], world.ingham, bundle_21()
    job = job_of(post_bundle(client, me, org, bundle))
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.all().delete()  # the worker took the task and died mid-import:
    StixImport.objects.filter(pk=job.pk).update(
        state="running", attempts=1, heartbeat_at=timezone.now() - timedelta(seconds=30)
    )
    assert stix_imports_resume() == 0  # still within its lease: the worker may be alive
    StixImport.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=61))
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("stix_imports_resume", stdout=__import__("io").StringIO())
    job.refresh_from_db()
    assert job.state == "queued"
    run_worker()  # a live worker takes it again: all of it is imported, once
    job.refresh_from_db()
    assert job.state == "complete" and job.attempts == 2 and job.result["stored"] == len(bundle["objects"])
    held = StixObject.objects.filter(collection=organization_collection(org), added_by=me)
    assert held.count() == len(bundle["objects"])
    # Interrupted MAX_ATTEMPTS times: failed with a clear message, not queued for ever.
    StixImport.objects.filter(pk=job.pk).update(
        state="running", attempts=MAX_ATTEMPTS, heartbeat_at=timezone.now() - timedelta(seconds=61)
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert stix_imports_resume() == 0
    job.refresh_from_db()
    assert job.state == "failed" and "interrupted 3 times" in job.error and bytes(job.raw) == b""
    assert not DBTaskResult.objects.filter(finished_at__isnull=True).exists()


def test_the_object_read_rule_is_one_query_of_fixed_size(world, client):
    """`StixObject.visible_to` does not grow with the collections its reader sees, and still reads
    exactly what TAXII reads in each of them (`readable_in`)."""
    from commonguard.interop.collections import sharing_group_collection
    from commonguard.interop.models import Collection
    from commonguard.sharing.models import SharingGroup

    me = world["ingham_member"]
    import_now(client, me, world.ingham, bundle_21())

    def sql() -> str:
        return str(StixObject.objects.visible_to(me).query)

    before = sql()
    for n in range(3):
        group = SharingGroup.objects.create(name=f"Group {n}", owner=world.ingham)
        group.organizations.add(world.ingham)
        sharing_group_collection(group)
    assert sql() == before
    for user in (me, world["washtenaw_member"], world["ingham_admin"]):
        seen = set(StixObject.objects.visible_to(user).values_list("pk", flat=True))
        by_collection = set()
        for collection in Collection.objects.visible_to(user):
            by_collection |= set(StixObject.objects.readable_in(collection, user).values_list("pk", flat=True))
        assert seen == by_collection
    assert StixObject.objects.filter(added_by=me).exists()
    assert not set(StixObject.objects.filter(added_by=me).values_list("pk", flat=True)) & set(
        StixObject.objects.visible_to(world["washtenaw_member"]).values_list("pk", flat=True)
    )
