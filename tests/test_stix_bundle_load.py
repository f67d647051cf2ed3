"""One reader for STIX bundles from outside (interop.stix.bundle_load, ADR 30): uploads, feeds, TAXII
POSTs and peer hubs refuse the same bad input with the same limits and words — too large, not JSON,
nested too deeply (json.loads's own RecursionError included), not a bundle, a malformed id."""

from __future__ import annotations

import json
from typing import Any

import pytest

from commonguard.federation.models import Peer
from commonguard.federation.services import peer_save, pull
from commonguard.feeds.sources import FeedError
from commonguard.feeds.stix import read_bundle
from commonguard.interop.imports import ImportRefused, bundle_read
from commonguard.interop.stix import BundleError, bundle_load, json_load
from tests.test_federation import FakePeer

DEEP = ("[" * 100000 + "]" * 100000).encode()  # json.loads raises RecursionError on this


def _deep(levels: int) -> Any:
    node: Any = {}
    for _ in range(levels):
        node = {"x": node}
    return node


BAD = [
    (b"{not json", 400, "is not valid JSON"),
    (b"\xff\xfe", 400, "is not valid JSON"),
    (DEEP, 400, "is nested too deeply"),
    (json.dumps({"type": "bundle", "objects": [_deep(60)]}).encode(), 400, "is nested too deeply"),
    (json.dumps({"type": "report", "objects": []}).encode(), 400, "its `type` is 'report', not 'bundle'"),
    (json.dumps([{"type": "bundle"}]).encode(), 400, "its `type` is 'list', not 'bundle'"),
    (json.dumps({"type": "bundle", "objects": {}}).encode(), 400, "`objects` must be a list"),
    (json.dumps({"type": "bundle", "id": "bundle--nope", "objects": []}).encode(), 400, "bundle--<uuid>"),
]


@pytest.mark.parametrize(("raw", "status", "words"), BAD)
def test_uploads_and_feeds_refuse_the_same_input_with_the_same_words(raw, status, words):
    with pytest.raises(ImportRefused) as upload:
        bundle_read(raw)
    assert upload.value.status == status and words in str(upload.value)
    with pytest.raises(FeedError) as feed:
        read_bundle(raw, "feed.json")
    assert words in str(feed.value) and str(feed.value).startswith("feed.json ")
    assert "Nothing was imported" in str(feed.value)


def test_the_same_size_limit_applies_to_a_feed_s_bytes(settings):
    settings.COMMONGUARD_FEED_MAX_BYTES = 1000
    raw = json.dumps({"type": "bundle", "objects": [{"pad": "x" * 2000}]}).encode()
    with pytest.raises(FeedError, match="over 1,000 bytes"):
        read_bundle(raw, "feed.json")
    settings.COMMONGUARD_STIX_IMPORT_MAX_BYTES = 1000
    with pytest.raises(ImportRefused) as upload:
        bundle_read(raw)
    assert upload.value.status == 413 and "over 1,000 bytes" in str(upload.value)


def test_an_envelope_is_a_bundle_only_where_it_is_allowed():
    envelope = json.dumps({"objects": []}).encode()
    assert bundle_load(envelope, envelope=True) == {"objects": []}
    assert read_bundle(envelope, "feed.json") == []
    with pytest.raises(BundleError) as refused:
        bundle_load(envelope)
    assert refused.value.reason == "type"


@pytest.mark.django_db
def test_a_peer_hub_s_deep_bundle_or_answer_is_a_clear_error_not_a_crash(world, client, settings):
    settings.COMMONGUARD_HUB_ID = "hub-a"
    peer, token = peer_save(actor=None, name="Ohio", url="http://127.0.0.1:9/ohio", community=True)
    auth = {"authorization": f"Bearer {token}"}
    answer = client.post("/federation/v1/inbox/", DEEP, "application/json", headers=auth)
    assert answer.status_code == 400 and "nested too deeply" in answer.json()["error"]["message"]
    fake = FakePeer()
    try:
        Peer.objects.filter(pk=peer.pk).update(url=fake.url)
        peer.refresh_from_db()
        fake.changes = (200, DEEP)
        result = pull(peer)
        assert "The peer's answer is nested too deeply" in result["error"]
        peer.refresh_from_db()
        assert peer.cursor == 0 and "nested too deeply" in peer.last_error and peer.last_pull_ok_at is None
    finally:
        fake.close()


def test_json_load_says_what_it_read():
    with pytest.raises(BundleError, match=r"^The peer's answer is not valid JSON"):
        json_load(b"<html>", what="The peer's answer")
