"""STIX and TAXII feeds: a bundle (2.0 or 2.1) or a remote TAXII 2.1 collection stored in the feed's
collection, its indicators and observables in the feed's alert; labels, all-or-nothing, idempotence."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from commonguard.core.models import AuditEvent
from commonguard.core.tlp import STIX_TLP2_MARKING_IDS, TLP
from commonguard.feeds.models import Feed
from commonguard.feeds.services import FeedError, FeedInput, feed_pull, feed_save
from commonguard.feeds.stix import pattern_values
from commonguard.interop.collections import organization_collection
from commonguard.interop.models import Collection, StixObject
from commonguard.interop.services import objects_add
from commonguard.sharing.models import Alert, Indicator
from tests.conftest import sign_in
from tests.taxii_helpers import ATTACK_DIR, token_for

TLP1_GREEN = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
TLP1_AMBER = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
TS = "2026-03-04T05:06:07.000Z"


def sdo(stix_type: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": stix_type,
        "spec_version": "2.1",
        "id": f"{stix_type}--{uuid.uuid4()}",
        "created": TS,
        "modified": TS,
        **extra,
    }


def ind(pattern: str, **extra: Any) -> dict[str, Any]:
    return sdo("indicator", name=f"test {pattern[:40]}", pattern=pattern, pattern_type="stix", valid_from=TS, **extra)


def sco(stix_type: str, **extra: Any) -> dict[str, Any]:
    return {"type": stix_type, "spec_version": "2.1", "id": f"{stix_type}--{uuid.uuid4()}", **extra}


def bundle_21() -> dict[str, Any]:
    return {
        "type": "bundle",
        "id": f"bundle--{uuid.uuid4()}",
        "objects": [
            ind("[domain-name:value = 'evil-login.example']", object_marking_refs=[TLP1_GREEN]),
            ind("[ipv4-addr:value = '91.92.251.40'] OR [url:value = 'http://bad-cdn.example/a.exe']"),
            ind("[file:hashes.'SHA-256' = '" + "ab" * 32 + "' OR file:hashes.MD5 = '" + "cd" * 16 + "']"),
            ind("[email-message:subject = 'Invoice overdue'] OR [email-addr:value = 'billing@evil-login.example']"),
            ind("[file:name = 'payload.exe' AND file:size > 1000]"),  # not simple equality: stored only
            ind("[ipv4-addr:value = '45.137.21.50'] FOLLOWEDBY [domain-name:value = 'x.example']"),
            sco("ipv4-addr", value="45.137.21.51"),
            sco("ipv6-addr", value="2001:db8:1::5"),
            sco("file", hashes={"SHA-1": "ef" * 20}),
            sdo(
                "vulnerability",
                name="CVE-2024-3400",
                external_references=[{"source_name": "cve", "external_id": "CVE-2024-3400"}],
            ),
            sdo(
                "attack-pattern",
                name="Phishing",
                external_references=[{"source_name": "mitre-attack", "external_id": "T1566"}],
            ),
            sdo("malware", name="TestLoader", is_family=True),
        ],
    }


def bundle_20() -> dict[str, Any]:
    return {
        "type": "bundle",
        "id": f"bundle--{uuid.uuid4()}",
        "spec_version": "2.0",
        "objects": [
            {
                "type": "indicator",
                "id": f"indicator--{uuid.uuid4()}",
                "created": TS,
                "modified": TS,
                "labels": ["malicious-activity"],
                "pattern": "[domain-name:value = 'stix20.example']",
                "valid_from": TS,
                "object_marking_refs": [TLP1_GREEN],
            },
            {
                "type": "observed-data",
                "id": f"observed-data--{uuid.uuid4()}",
                "created": TS,
                "modified": TS,
                "first_observed": TS,
                "last_observed": TS,
                "number_observed": 1,
                "objects": {"0": {"type": "ipv4-addr", "value": "91.92.251.60"}},
            },
            {
                "type": "intrusion-set",
                "id": f"intrusion-set--{uuid.uuid4()}",
                "created": TS,
                "modified": TS,
                "name": "APT Test",
            },
        ],
    }


def make_feed(world: Any, source: Path | str, fmt: str = Feed.Format.STIX, **extra: Any) -> Feed:
    data = FeedInput(
        name=extra.pop("name", "STIX test"),
        source=str(source),
        format=fmt,
        owner=extra.pop("owner", world.ingham),
        tlp=extra.pop("tlp", TLP.GREEN),
        **extra,
    )
    return feed_save(actor=world["ingham_admin"], data=data)


def write(tmp_path: Path, bundle: dict[str, Any], name: str = "bundle.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(bundle))
    return path


def held(feed: Feed) -> Any:
    return StixObject.objects.filter(collection__alias=feed.collection_alias)


def test_simple_patterns_are_read_and_others_are_not():
    assert pattern_values("[domain-name:value = 'a.example']") == [("domain", "a.example")]
    assert pattern_values("[ipv4-addr:value = '1.2.3.0/24' OR ipv6-addr:value = '::1']") == [
        ("cidr", "1.2.3.0/24"),
        ("ipv6", "::1"),
    ]
    assert pattern_values("[email-message:subject = 'it\\'s due']") == [("email_subject", "it's due")]
    assert pattern_values("[file:hashes.'SHA-1' = 'aa'] OR [file:name = 'x.exe']") == [
        ("sha1", "aa"),
        ("filename", "x.exe"),
    ]
    assert pattern_values("[domain-name:value = 'a.example' AND url:value = 'http://a.example/']") is None
    assert pattern_values("[domain-name:value != 'a.example']") is None
    assert pattern_values("[process:name = 'x.exe']") is None
    assert pattern_values("[domain-name:value = 'a.example'] WITHIN 10 SECONDS") is None


def test_a_stix_21_bundle_is_stored_and_its_indicators_become_the_feeds_alert(world, tmp_path):
    bundle = bundle_21()
    feed = make_feed(world, write(tmp_path, bundle))
    result = feed_pull(feed)
    assert result.stix == {"received": 12, "stored": 12, "held": 0, "patterns_skipped": 2}
    collection = Collection.objects.get(alias=feed.collection_alias)
    assert collection.kind == Collection.Kind.FEED
    assert set(held(feed).values_list("stix_id", flat=True)) == {o["id"] for o in bundle["objects"]}
    alert = Alert.objects.get(source_key=feed.source_key)
    assert alert.tlp == TLP.GREEN and alert.status == Alert.Status.PUBLISHED
    assert set(alert.indicators.values_list("kind", "value")) == {
        ("domain", "evil-login.example"),
        ("ipv4", "91.92.251.40"),
        ("url", "http://bad-cdn.example/a.exe"),
        ("sha256", "ab" * 32),
        ("md5", "cd" * 16),
        ("email_subject", "Invoice overdue"),
        ("email", "billing@evil-login.example"),
        ("ipv4", "45.137.21.51"),
        ("ipv6", "2001:db8:1::5"),
        ("sha1", "ef" * 20),
        ("cve", "CVE-2024-3400"),
    }
    # The other objects are intelligence the hub holds: in the feed's collection, over TAXII.
    assert held(feed).filter(type__in=["attack-pattern", "malware"]).count() == 2
    assert Alert.objects.visible_to(world["washtenaw_member"]).filter(pk=alert.pk).exists()
    assert not Alert.objects.visible_to(world["unvetted"]).filter(pk=alert.pk).exists()


def test_re_pulling_the_same_bundle_writes_nothing(world, tmp_path):
    feed = make_feed(world, write(tmp_path, bundle_21()))
    feed_pull(feed)
    objects, indicators = (
        list(held(feed).values_list("pk", flat=True)),
        list(Indicator.objects.values_list("pk", flat=True)),
    )
    audits = AuditEvent.objects.count()
    again = feed_pull(feed)
    assert again.stix["stored"] == 0 and again.stix["held"] == 12 and again.added == again.removed == 0
    assert list(held(feed).values_list("pk", flat=True)) == objects
    assert list(Indicator.objects.values_list("pk", flat=True)) == indicators
    assert AuditEvent.objects.count() == audits


def test_a_stix_20_bundle_imports_too(world, tmp_path):
    feed = make_feed(world, write(tmp_path, bundle_20()))
    feed_pull(feed)
    assert set(held(feed).values_list("spec_version", flat=True)) == {"2.0"}
    alert = Alert.objects.get(source_key=feed.source_key)
    assert set(alert.indicators.values_list("kind", "value")) == {
        ("domain", "stix20.example"),
        ("ipv4", "91.92.251.60"),
    }


def test_the_objects_markings_narrow_the_feed_never_widen_it(world, tmp_path):
    bundle = bundle_21()
    bundle["objects"][1]["object_marking_refs"] = [STIX_TLP2_MARKING_IDS[TLP.AMBER]]
    feed = make_feed(world, write(tmp_path, bundle), tlp=TLP.GREEN)
    feed_pull(feed)
    alert = Alert.objects.get(source_key=feed.source_key)
    assert alert.tlp == TLP.AMBER and list(alert.recipient_orgs.all()) == [world.ingham]
    assert Alert.objects.visible_to(world["ingham_member"]).filter(pk=alert.pk).exists()
    assert not Alert.objects.visible_to(world["washtenaw_member"]).filter(pk=alert.pk).exists()
    labels = dict(held(feed).values_list("stix_id", "tlp"))
    assert labels[bundle["objects"][1]["id"]] == TLP.AMBER and labels[bundle["objects"][0]["id"]] == TLP.GREEN

    # An AMBER feed: a GREEN-marked object is stored AMBER (never below the feed's label).
    amber = make_feed(world, write(tmp_path, bundle_21(), "b2.json"), name="Amber", tlp=TLP.AMBER)
    feed_pull(amber)
    assert set(held(amber).values_list("tlp", flat=True)) == {TLP.AMBER}
    alert = Alert.objects.get(source_key=amber.source_key)
    assert alert.tlp == TLP.AMBER
    assert not Alert.objects.visible_to(world["washtenaw_member"]).filter(pk=alert.pk).exists()


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda b: b["objects"].append({"type": "indicator", "id": "indicator--not-a-uuid", "created": TS}), "UUID"),
        (
            lambda b: b["objects"][0].update(object_marking_refs=[f"marking-definition--{uuid.uuid4()}"]),
            "Unknown marking",
        ),
        (lambda b: b["objects"].append(ind("[domain-name:value = 'a.example'")), "does not parse"),
        (lambda b: b["objects"][2].update(object_marking_refs=[STIX_TLP2_MARKING_IDS[TLP.RED]]), "TLP:RED"),
        (lambda b: b.update(type="report"), "not a STIX bundle"),
    ],
)
def test_a_bad_bundle_stores_nothing_and_says_why(world, tmp_path, spoil, message):
    bundle = bundle_21()
    spoil(bundle)
    feed = make_feed(world, write(tmp_path, bundle))
    with pytest.raises(FeedError, match=message):
        feed_pull(feed)
    assert not held(feed).exists() and not Alert.objects.filter(source_key=feed.source_key).exists()
    feed.refresh_from_db()
    assert feed.status == Feed.Status.FAILED and message in feed.last_error


def test_a_bad_object_in_a_later_bundle_leaves_the_earlier_pull_as_it_was(world, tmp_path):
    path = write(tmp_path, bundle_21())
    feed = make_feed(world, path)
    feed_pull(feed)
    before = (held(feed).count(), Indicator.objects.count())
    spoiled = bundle_21()
    spoiled["objects"].append({"type": "malware", "id": f"malware--{uuid.uuid4()}"})  # no `created`
    path.write_text(json.dumps(spoiled))
    with pytest.raises(FeedError, match="created"):
        feed_pull(feed)
    assert (held(feed).count(), Indicator.objects.count()) == before


def test_the_attack_ics_bundle_is_stored_without_an_alert(world):
    feed = make_feed(world, ATTACK_DIR / "ics-attack-18.1.json", name="ATT&CK ICS")
    result = feed_pull(feed)
    assert result.stix["stored"] == held(feed).count() > 1000
    assert not Alert.objects.filter(source_key=feed.source_key).exists()


def test_taxii_credentials_are_kept_and_never_shown(world, tmp_path):
    client = sign_in(Client(), world["ingham_admin"])
    body = {
        "name": "Remote",
        "source": "https://taxii.example/api/collections/x/",
        "format": "taxii",
        "tlp": "GREEN",
        "owner": world.ingham.pk,
        "taxii_user": "hub",
        "credentials": "s3cret-token-value",
    }
    r = client.post("/api/v1/feeds/", body, content_type="application/json")
    assert r.status_code == 201, r.content
    feed = Feed.objects.get(pk=r.json()["id"])
    assert feed.credentials == "s3cret-token-value" and feed.taxii_user == "hub"
    for url in ("/api/v1/feeds/", f"/api/v1/feeds/{feed.pk}/", "/feeds/", f"/feeds/{feed.pk}/"):
        page = client.get(url)
        assert page.status_code == 200 and b"s3cret-token-value" not in page.content
    r = client.post(
        "/api/v1/feeds/", {**body, "name": "File", "source": str(tmp_path / "x")}, content_type="application/json"
    )
    assert r.status_code == 400 and "TAXII" in r.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_taxii_feed_pulls_a_remote_collection_from_its_cursor(world, live_server, capsys):
    # The remote: CommonGuard's own TAXII server on loopback, an organisation's collection.
    remote = organization_collection(world.washtenaw)
    first = bundle_21()["objects"]
    objects_add(remote, first, actor=world["washtenaw_member"])
    token = token_for(world["washtenaw_member"])
    feed = make_feed(
        world,
        f"{live_server.url}/taxii2/api/collections/{remote.uuid}/",
        Feed.Format.TAXII,
        name="Washtenaw over TAXII",
        credentials=token,
    )
    result = feed_pull(feed)
    feed.refresh_from_db()
    assert result.stix["stored"] == 12 and feed.taxii_cursor
    alert = Alert.objects.get(source_key=feed.source_key)
    assert alert.indicators.filter(value="91.92.251.40").exists()

    cursor, audits = feed.taxii_cursor, AuditEvent.objects.count()
    again = feed_pull(feed)
    feed.refresh_from_db()
    assert again.stix == {"received": 0, "stored": 0, "held": 0, "patterns_skipped": 2}
    assert feed.taxii_cursor == cursor and AuditEvent.objects.count() == audits

    objects_add(remote, [ind("[ipv4-addr:value = '45.137.21.70']")], actor=world["washtenaw_member"])
    call_command("taxii_pull", str(feed.pk))
    assert "1 STIX objects (1 stored" in capsys.readouterr().out
    feed.refresh_from_db()
    assert feed.taxii_cursor > cursor
    assert alert.indicators.filter(value="45.137.21.70").exists()
    assert alert.indicators.filter(value="91.92.251.40").exists()  # kept: the collection still holds it

    # A wrong token: a clear error, the cursor does not move.
    Feed.objects.filter(pk=feed.pk).update(credentials="wrong")
    feed.refresh_from_db()
    with pytest.raises(FeedError, match="could not be read"):
        feed_pull(feed)
    feed.refresh_from_db()
    assert feed.taxii_cursor > cursor and feed.status == Feed.Status.FAILED


def test_narrowing_a_feeds_label_narrows_the_objects_it_already_holds(world, tmp_path):
    feed = make_feed(world, write(tmp_path, bundle_21()), tlp=TLP.GREEN)
    feed_pull(feed)
    assert set(held(feed).values_list("tlp", flat=True)) == {TLP.GREEN}
    data = FeedInput(name=feed.name, source=feed.source, format=feed.format, owner=world.ingham, tlp=TLP.AMBER)
    feed = feed_save(actor=world["ingham_admin"], data=data, feed=feed)
    assert set(held(feed).values_list("tlp", flat=True)) == {TLP.AMBER}
    feed_pull(feed)
    alert = Alert.objects.get(source_key=feed.source_key)
    assert alert.tlp == TLP.AMBER
    assert not Alert.objects.visible_to(world["washtenaw_member"]).filter(pk=alert.pk).exists()
    assert Alert.objects.visible_to(world["ingham_member"]).filter(pk=alert.pk).exists()
