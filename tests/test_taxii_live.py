"""The real taxii2-client 2.3 against the server on loopback: discover, list collections, page
through every object with `as_pages`, add objects and poll their status. On SQLite through
pytest-django's live server; on PostgreSQL also under uvicorn, as production serves it."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest
from taxii2client.exceptions import AccessError
from taxii2client.v21 import Server, as_pages

from commonguard.interop.collections import organization_collection
from commonguard.interop.management.commands.stix_load_attack import load
from tests.servers import uvicorn_on_test_database
from tests.taxii_helpers import ATTACK_DIR, TAXII, indicator, token_for

pytestmark = pytest.mark.django_db(transaction=True)
REPO = Path(__file__).resolve().parents[1]


def _acceptance(base: str, world) -> None:
    load("attack-ics", ATTACK_DIR / "ics-attack-18.1.json")
    organization_collection(world.ingham)
    token = token_for(world["ingham_member"])
    server = Server(f"{base}/taxii2/", user="ingham", password=token)
    assert server.title and server.default is not None
    api_root = server.default
    assert api_root.versions == [TAXII] and api_root.max_content_length > 0
    by_alias = {c._raw["alias"]: c for c in api_root.collections}
    ics, mine = by_alias["attack-ics"], by_alias[f"org-{world.ingham.pk}"]
    assert f"org-{world.washtenaw.pk}" not in by_alias

    ids: list[str] = []
    pages = 0
    for envelope in as_pages(ics.get_objects, per_request=500):
        ids += [o["id"] for o in envelope.get("objects", [])]
        pages += 1
    assert len(ids) == len(set(ids)) == 1826 and pages == 4
    manifest = [r for page in as_pages(ics.get_manifest, per_request=700) for r in page.get("objects", [])]
    assert len(manifest) == 1826
    tactics = ics.get_objects(type=["x-mitre-tactic"])["objects"]
    assert tactics and all(o["type"] == "x-mitre-tactic" for o in tactics)

    with pytest.raises(AccessError):  # can_write is false for the caller: the client refuses itself
        ics.add_objects(json.dumps({"objects": [indicator()]}))

    objs = [indicator("91.92.251.31"), indicator("45.137.21.32")]
    status = mine.add_objects(json.dumps({"objects": objs}), wait_for_completion=True, poll_interval=0.2, timeout=10)
    assert status.status == "complete" and status.success_count == 2 and status.failure_count == 0
    assert api_root.get_status(status.id).status == "complete"
    again = mine.add_objects(json.dumps({"objects": objs}))
    assert again.success_count == 2 and again.failure_count == 0
    assert {o["id"] for o in mine.get_objects()["objects"]} == {o["id"] for o in objs}
    assert mine.get_object(objs[0]["id"])["objects"][0]["pattern"] == objs[0]["pattern"]
    assert len(mine.object_versions(objs[0]["id"])["versions"]) == 1

    # The headers taxii2-client 2.3 does not expose, with a plain HTTP client.
    r = httpx.get(
        f"{base}/taxii2/api/collections/{ics.id}/objects/",
        params={"limit": 10},
        headers={"Accept": TAXII, "Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200 and r.headers["content-type"] == TAXII
    assert r.headers["X-TAXII-Date-Added-First"] < r.headers["X-TAXII-Date-Added-Last"]
    # A body larger than max_content_length is refused from its Content-Length, before it is sent.
    with socket.create_connection((base.split("//")[1].split(":")[0], int(base.rsplit(":", 1)[1]))) as s:
        head = (
            f"POST /taxii2/api/collections/{mine.id}/objects/ HTTP/1.1\r\nHost: localhost\r\nAccept: {TAXII}\r\n"
            f"Content-Type: {TAXII}\r\nAuthorization: Bearer {token}\r\nContent-Length: {500 * 1024 * 1024}\r\n\r\n"
        )
        s.sendall(head.encode())
        s.settimeout(10)
        answer = s.recv(4096).decode("latin-1")
    assert answer.startswith("HTTP/1.1 413")


def test_taxii2_client_against_the_live_server(world, live_server):
    _acceptance(live_server.url, world)


@pytest.fixture
def uvicorn_server():
    with uvicorn_on_test_database() as base:
        yield base


@pytest.mark.postgres
def test_taxii2_client_against_uvicorn_on_postgres(world, uvicorn_server):
    _acceptance(uvicorn_server, world)
