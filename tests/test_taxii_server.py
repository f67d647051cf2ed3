"""The TAXII 2.1 server through Django's test client: every endpoint, paging, filters, the read
rule (hidden answers like absent), and bad input (a TAXII error, nothing stored)."""

from __future__ import annotations

import itertools
import json
import uuid

import pytest

from commonguard.core.tlp import STIX_TLP2_MARKING_IDS, TLP
from commonguard.interop.collections import community_collection, organization_collection, reference_collection
from commonguard.interop.management.commands.stix_load_attack import load
from commonguard.interop.models import Collection, StixObject
from tests.taxii_helpers import ATTACK_DIR, TAXII, TaxiiClient, indicator, token_for

pytestmark = pytest.mark.django_db
API = "/taxii2/api/"


@pytest.fixture
def ics(db):
    load("attack-ics", ATTACK_DIR / "ics-attack-18.1.json")
    return reference_collection("attack-ics")


@pytest.fixture
def taxii(world, client):
    def _as(name: str) -> TaxiiClient:
        return TaxiiClient(client, None if name == "anonymous" else token_for(world[name]))

    return _as


def _coll_url(collection: Collection) -> str:
    return f"{API}collections/{collection.uuid}/"


def test_discovery_api_root_and_collections(taxii, ics, world):
    c = taxii("ingham_member")
    r = c.get("/taxii2/")
    assert r.status_code == 200 and r["Content-Type"] == TAXII
    assert r.json()["default"] == API
    root = c.get(API).json()
    assert root["versions"] == [TAXII] and root["max_content_length"] > 0
    listed = {x["alias"]: x for x in c.get(API + "collections/").json()["collections"]}
    assert {"community", "attack-ics", f"org-{world.ingham.pk}"} <= listed.keys()
    assert f"org-{world.washtenaw.pk}" not in listed
    assert listed[f"org-{world.ingham.pk}"]["can_write"] is True
    assert listed["attack-ics"]["can_write"] is False and listed["attack-ics"]["can_read"] is True
    one = c.get(_coll_url(ics)).json()
    assert one["id"] == str(ics.uuid) and one["media_types"] == ["application/stix+json;version=2.1"]


def test_page_through_every_object_with_next(taxii, ics):
    c = taxii("washtenaw_member")
    url, seen, pages, params = _coll_url(ics) + "objects/", [], 0, {"limit": "250"}
    last_header = ""
    while True:
        r = c.get(url + "?" + "&".join(f"{k}={v}" for k, v in params.items()))
        assert r.status_code == 200
        body = r.json()
        seen += [o["id"] for o in body["objects"]]
        pages += 1
        assert r["X-TAXII-Date-Added-First"] > last_header
        last_header = r["X-TAXII-Date-Added-Last"]
        assert len(last_header) == 27 and last_header.endswith("Z")
        if not body["more"]:
            assert "next" not in body
            break
        params["next"] = body["next"]
    assert len(seen) == len(set(seen)) == 1826 and pages == 8


def test_added_after_resumes_strictly_after(taxii, ics):
    c = taxii("ingham_member")
    first = c.get(_coll_url(ics) + "objects/?limit=10")
    last = first["X-TAXII-Date-Added-Last"]
    rest = c.get(_coll_url(ics) + f"objects/?limit=10&added_after={last}").json()["objects"]
    ids = [o["id"] for o in first.json()["objects"]]
    assert rest[0]["id"] not in ids and len(rest) == 10
    # A timestamp without fractions and with an offset is accepted too.
    assert c.get(_coll_url(ics) + "objects/?limit=1&added_after=2000-01-01T00:00:00%2B00:00").status_code == 200


def test_filters_manifest_object_versions(taxii, ics):
    c = taxii("ingham_member")
    base = _coll_url(ics)
    tactics = c.get(base + "objects/?match[type]=x-mitre-tactic").json()["objects"]
    assert tactics and {o["type"] for o in tactics} == {"x-mitre-tactic"}
    some = tactics[0]
    by_id = c.get(base + f"objects/?match[id]={some['id']}").json()["objects"]
    assert [o["id"] for o in by_id] == [some["id"]]
    assert c.get(base + "objects/?match[spec_version]=2.0").content == b"{}"
    assert c.get(base + "objects/?match[type]=no-such-type").content == b"{}"
    man = c.get(base + "manifest/?limit=5")
    assert man.status_code == 200 and man["X-TAXII-Date-Added-First"]
    record = man.json()["objects"][0]
    assert set(record) == {"id", "date_added", "version", "media_type"} and man.json()["more"] is True
    assert "next" in man.json()
    one = c.get(base + f"objects/{some['id']}/")
    assert one.status_code == 200 and one.json()["objects"][0] == some
    versions = c.get(base + f"objects/{some['id']}/versions/").json()
    assert versions["more"] is False and len(versions["versions"]) == 1
    exact = c.get(base + f"objects/?match[version]={versions['versions'][0]}&match[id]={some['id']}").json()
    assert len(exact["objects"]) == 1
    assert len(c.get(base + f"objects/{some['id']}/?match[version]=first").json()["objects"]) == 1
    assert c.get(base + "objects/indicator--00000000-0000-4000-8000-000000000000/").status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "added_after=yesterday",
        "added_after=2026-13-01T00:00:00Z",
        "limit=0",
        "limit=-3",
        "limit=ten",
        "match[version]=all,last",
        "match[version]=soon",
        "match[type]=a,,b",
        "limit=1&limit=2",
        "next=garbage",
    ],
)
def test_malformed_query_is_a_taxii_400(taxii, ics, query):
    r = taxii("ingham_member").get(_coll_url(ics) + "objects/?" + query)
    assert r.status_code == 400 and r["Content-Type"] == TAXII
    assert r.json()["http_status"] == "400" and r.json()["title"]


def test_next_from_another_query_is_refused(taxii, ics, world):
    c = taxii("ingham_member")
    base = _coll_url(ics)
    token = c.get(base + "objects/?limit=5&match[type]=relationship").json()["next"]
    assert c.get(base + f"objects/?limit=5&match[type]=relationship&next={token}").status_code == 200
    assert c.get(base + f"objects/?limit=5&match[type]=attack-pattern&next={token}").status_code == 400
    assert c.get(base + f"manifest/?limit=5&match[type]=relationship&next={token}").status_code == 400
    # Someone else cannot replay it either.
    other = taxii("washtenaw_member")
    assert other.get(base + f"objects/?limit=5&match[type]=relationship&next={token}").status_code == 400


def test_media_types_and_authentication(taxii, ics, client, world):
    c = taxii("ingham_member")
    assert c.get(API, accept="application/json").status_code == 406
    assert c.get(API, accept="application/taxii+json;version=2.0").status_code == 406
    assert c.get(API, accept="application/taxii+json").status_code == 200  # no version: the latest
    assert c.get(API, accept="application/xml, application/taxii+json ; version=2.1").status_code == 200
    objs = _coll_url(ics) + "objects/?limit=1"
    assert c.get(objs, accept="application/stix+json;version=2.1").status_code == 200
    anonymous = taxii("anonymous").get(API)
    assert anonymous.status_code == 401 and "Basic" in anonymous["WWW-Authenticate"]
    assert anonymous["Content-Type"] == TAXII and anonymous.json()["http_status"] == "401"
    wrong = TaxiiClient(client, "cg_nope_nope").get(API)
    assert wrong.status_code == 401
    bearer = client.get(API, headers={"accept": TAXII, "authorization": "Bearer " + token_for(world["analyst"])})
    assert bearer.status_code == 200
    for name in ("unvetted", "removed_member"):
        assert taxii(name).get(API).status_code == 403
    assert c.get("/taxii2/nothing/here/").status_code == 404
    assert c.get("/taxii2/nothing/here/")["Content-Type"] == TAXII


def test_hidden_collection_answers_like_absent(taxii, world):
    washtenaw = organization_collection(world.washtenaw)
    c = taxii("ingham_member")
    hidden = c.get(_coll_url(washtenaw))
    absent = c.get(f"{API}collections/{uuid.uuid4()}/")
    assert hidden.status_code == absent.status_code == 404
    assert hidden.content == absent.content
    for suffix in ("objects/", "manifest/", f"objects/indicator--{uuid.uuid4()}/"):
        assert c.get(_coll_url(washtenaw) + suffix).content == absent.content
    post = c.post(_coll_url(washtenaw) + "objects/", json.dumps({"objects": [indicator()]}))
    assert post.status_code == 404 and StixObject.objects.count() == 0
    # The operator is not a member of Washtenaw: TLP binds whoever runs the hub too.
    assert taxii("operator").get(_coll_url(washtenaw)).status_code == 404


def _post(c, collection, objects, **kw):
    return c.post(_coll_url(collection) + "objects/", json.dumps({"objects": objects}), **kw)


def test_post_status_and_identical_repost(taxii, world):
    mine = organization_collection(world.ingham)
    c = taxii("ingham_member")
    objs = [indicator("91.92.251.11"), indicator("91.92.251.12")]
    r = _post(c, mine, objs)
    assert r.status_code == 202 and r["Content-Type"] == TAXII
    status = r.json()
    assert status["status"] == "complete" and status["success_count"] == 2 and status["failure_count"] == 0
    assert c.get(f"{API}status/{status['id']}/").json() == status
    # Another person cannot read that status.
    assert taxii("ingham_admin").get(f"{API}status/{status['id']}/").status_code == 404
    again = _post(c, mine, objs).json()
    assert again["success_count"] == 2 and again["failure_count"] == 0
    assert StixObject.objects.filter(collection=mine).count() == 2
    listed = c.get(_coll_url(mine) + "objects/").json()["objects"]
    assert {o["id"] for o in listed} == {o["id"] for o in objs}
    # A new version: the default read shows the latest only; match[version]=all shows both.
    newer = {**objs[0], "modified": "2026-02-02T00:00:00.000Z", "name": "C2 renamed"}
    _post(c, mine, [newer])
    latest = c.get(_coll_url(mine) + f"objects/{newer['id']}/").json()["objects"]
    assert [o["name"] for o in latest] == ["C2 renamed"]
    every = c.get(_coll_url(mine) + f"objects/{newer['id']}/?match[version]=all").json()["objects"]
    assert len(every) == 2
    assert len(c.get(_coll_url(mine) + f"objects/{newer['id']}/versions/").json()["versions"]) == 2
    # A colleague reads them; Washtenaw does not see the collection at all.
    assert len(taxii("ingham_admin").get(_coll_url(mine) + "objects/").json()["objects"]) == 2
    assert taxii("washtenaw_member").get(_coll_url(mine) + "objects/").status_code == 404


def test_post_where_not_writable(taxii, world, ics):
    c = taxii("ingham_member")
    for collection in (community_collection(), ics):
        r = _post(c, collection, [indicator()])
        assert r.status_code == 403 and r.json()["http_status"] == "403"
    assert StixObject.objects.exclude(collection=ics).count() == 0


def _deep(levels: int) -> dict:
    node: dict = {}
    for _ in range(levels):
        node = {"x": node}
    return node


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"\xff\xfe", 400, "not valid JSON"),
        (json.dumps([indicator()]).encode(), 400, "envelope"),
        (json.dumps({"objects": [{**indicator(), "type": "Indicator!"}]}).encode(), 422, "type"),
        (json.dumps({"objects": [{**indicator(), "id": "malware--" + str(uuid.uuid4())}]}).encode(), 422, "id"),
        (json.dumps({"objects": [indicator(), _deep(60)]}).encode(), 400, "nested"),
        (("[" * 100000 + "]" * 100000).encode(), 400, "nested"),
        (json.dumps({"objects": [indicator(pattern="[ipv4-addr:value = '1.2.3.4'")]}).encode(), 422, "pattern"),
        (
            json.dumps(
                {"objects": [indicator(object_marking_refs=["marking-definition--" + str(uuid.uuid4())])]}
            ).encode(),
            422,
            "Unknown marking",
        ),
        (json.dumps({"objects": [{**indicator(), "created": "yesterday"}]}).encode(), 422, "created"),
        (json.dumps({"objects": [{**indicator(), "spec_version": "3.0"}]}).encode(), 422, "spec_version"),
    ],
)
def test_bad_bundles_store_nothing(taxii, world, body, status, words):
    mine = organization_collection(world.ingham)
    good = indicator("91.92.251.20")
    c = taxii("ingham_member")
    if body.startswith(b'{"objects": ['):
        body = body.replace(b'{"objects": [', b'{"objects": [' + json.dumps(good).encode() + b", ", 1)
    r = c.post(_coll_url(mine) + "objects/", body)
    assert r.status_code == status, r.content
    assert r["Content-Type"] == TAXII and words in json.dumps(r.json())
    assert StixObject.objects.filter(collection=mine).count() == 0


def test_size_and_content_type_are_checked_first(taxii, world):
    mine = organization_collection(world.ingham)
    c = taxii("ingham_member")
    huge = c.post(_coll_url(mine) + "objects/", b"{}", CONTENT_LENGTH=str(500 * 1024 * 1024))
    assert huge.status_code == 413 and huge.json()["http_status"] == "413"
    wrong = c.post(_coll_url(mine) + "objects/", json.dumps({"objects": [indicator()]}), content_type="text/plain")
    assert wrong.status_code == 415
    assert StixObject.objects.count() == 0


LABEL_CASES = [
    ("marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", TLP.AMBER),  # TLP 1.0
    ("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", TLP.CLEAR),  # TLP 1.0 WHITE
    ("marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", TLP.AMBER_STRICT),  # TLP 2.0
    ("marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", TLP.CLEAR),  # TLP 2.0
    ("marking-definition--826578e1-40ad-459f-bc73-ede076f81f37", TLP.AMBER_STRICT),  # OpenCTI
    (None, TLP.AMBER),  # no marking: the organisation collection's default, never CLEAR
]


@pytest.mark.parametrize(("marking", "label"), LABEL_CASES)
def test_labels_from_every_marking_variant(taxii, world, marking, label):
    mine = organization_collection(world.ingham)
    obj = indicator(**({"object_marking_refs": [marking]} if marking else {}))
    assert _post(taxii("ingham_member"), mine, [obj]).status_code == 202
    assert StixObject.objects.get(stix_id=obj["id"]).tlp == label


def test_marking_definition_sent_alongside(taxii, world):
    """A MISP-style TLP marking-definition with its own id, sent in the same envelope."""
    mine = organization_collection(world.ingham)
    marking = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": f"marking-definition--{uuid.uuid4()}",
        "created": "2026-01-01T00:00:00.000Z",
        "name": "tlp:red",
        "definition_type": "statement",
        "definition": {"statement": "tlp:red"},
    }
    obj = indicator(object_marking_refs=[marking["id"]])
    c = taxii("ingham_member")
    assert _post(c, mine, [marking, obj]).status_code == 202
    assert StixObject.objects.get(stix_id=obj["id"]).tlp == TLP.RED
    # RED names no one but the person who added it.
    assert obj["id"] in c.get(_coll_url(mine) + "objects/").content.decode()
    colleague = taxii("ingham_admin")
    assert obj["id"] not in colleague.get(_coll_url(mine) + "objects/").content.decode()
    assert colleague.get(_coll_url(mine) + f"objects/{obj['id']}/").status_code == 404
    # The stored marking is known to later posts.
    later = indicator(object_marking_refs=[marking["id"]])
    assert _post(c, mine, [later]).status_code == 202


def test_delete(taxii, world, ics):
    mine = organization_collection(world.ingham)
    c = taxii("ingham_member")
    obj = indicator()
    _post(c, mine, [obj])
    url = _coll_url(mine) + f"objects/{obj['id']}/"
    assert taxii("washtenaw_member").delete(url).status_code == 404
    assert c.delete(url).status_code == 200
    assert c.get(url).status_code == 404
    ref = c.get(_coll_url(ics) + "objects/?limit=1").json()["objects"][0]
    assert c.delete(_coll_url(ics) + f"objects/{ref['id']}/").status_code == 403
    assert StixObject.objects.filter(stix_id=ref["id"]).exists()


def test_loader_is_idempotent(db):
    load("attack-ics", ATTACK_DIR / "ics-attack-18.1.json")
    collection = reference_collection("attack-ics")
    rows = list(StixObject.objects.filter(collection=collection).values_list("pk", "date_added"))
    assert len(rows) == 1826
    added, unchanged, _ = load("attack-ics", ATTACK_DIR / "ics-attack-18.1.json")
    assert (added, unchanged) == (0, 1826)
    assert list(StixObject.objects.filter(collection=collection).values_list("pk", "date_added")) == rows
    dates = [d for _, d in sorted(rows, key=lambda r: r[1])]
    assert all(a < b for a, b in itertools.pairwise(dates))
    # No TLP marking in ATT&CK: the reference collection's default, CLEAR (deliberately).
    assert set(StixObject.objects.filter(collection=collection).values_list("tlp", flat=True)) == {TLP.CLEAR}


def test_a_bundle_held_already_is_answered_unchanged_and_a_new_object_in_it_is_still_checked(db):
    from commonguard.interop.services import objects_add
    from commonguard.interop.stix import StixInputError

    collection = community_collection()
    held = [indicator("91.92.251.21"), indicator("91.92.251.22")]
    assert len(objects_add(collection, held).added) == 2
    again = objects_add(collection, held)
    assert (again.added, len(again.unchanged)) == ([], 2)
    # One held object and one new, malformed one: the whole bundle is checked and refused.
    broken = indicator("91.92.251.23", pattern="[ipv4-addr:value = ")
    with pytest.raises(StixInputError):
        objects_add(collection, [held[0], broken])
    assert not StixObject.objects.filter(stix_id=broken["id"]).exists()
    assert StixObject.objects.filter(collection=collection).count() == 2


def test_a_member_cannot_overwrite_or_delete_what_an_alert_exported(taxii, world):
    """An alert's objects in an organisation's collection follow the alert: a member's newer (RED)
    version would hide them from everyone else, a DELETE would remove them."""
    from tests.sharing_helpers import make_alert

    make_alert(world["washtenaw_member"], world.washtenaw, TLP.AMBER, recipient_orgs=[world.ingham])
    mine = organization_collection(world.ingham)
    exported = StixObject.objects.filter(collection=mine, alert__isnull=False, type="report").get()
    obj = json.loads(exported.raw)
    newer = {**obj, "modified": "2099-01-01T00:00:00.000Z", "object_marking_refs": [STIX_TLP2_MARKING_IDS[TLP.RED]]}
    c = taxii("ingham_member")
    before = StixObject.objects.filter(collection=mine).count()
    r = _post(c, mine, [newer, indicator("91.92.251.31")])
    assert r.status_code == 422 and exported.stix_id in r.json()["description"]
    assert StixObject.objects.filter(collection=mine).count() == before
    assert c.get(_coll_url(mine) + f"objects/{exported.stix_id}/").status_code == 200
    deleted = c.delete(_coll_url(mine) + f"objects/{exported.stix_id}/")
    assert deleted.status_code == 403
    assert StixObject.objects.filter(pk=exported.pk).exists()


def test_text_beyond_ascii_comes_back_as_it_was_posted(taxii, world):
    """Pages are spliced from the stored JSON as the database's UTF-8 bytes (never decoded and
    re-encoded): what was posted, accents, typographic quotes, emoji and escapes, comes back equal."""
    mine = organization_collection(world.ingham)
    c = taxii("ingham_member")
    description = 'Ingham’s “Zürich” lure — naïve café ☕ 🛡️ 東京, a \\ backslash, a " quote, \u2028 and \t'
    posted = indicator("91.92.251.40", description=description)
    assert _post(c, mine, [posted]).json()["success_count"] == 1
    page = c.get(_coll_url(mine) + "objects/")
    assert page["Content-Type"] == TAXII
    (listed,) = json.loads(page.content.decode("utf-8"))["objects"]
    assert listed["description"] == description
    (single,) = c.get(_coll_url(mine) + f"objects/{posted['id']}/").json()["objects"]
    assert single == listed
    assert page["X-TAXII-Date-Added-First"] == page["X-TAXII-Date-Added-Last"]
