"""Alerts as STIX 2.1: every export passes stix2-validator 3.2.0 with no errors; ids are stable
across re-exports; updates are new versions; revocation says so; published alerts appear in the
TAXII collections of their audience and nowhere else."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from stix2validator import ValidationOptions, validate_instance

from commonguard.core.tlp import STIX_TLP2_MARKING_IDS, TLP
from commonguard.interop.collections import community_collection, organization_collection
from commonguard.interop.export import alert_bundle
from commonguard.interop.management.commands.stix_load_attack import load
from commonguard.interop.models import StixObject
from commonguard.sharing.models import Alert, SharingGroup
from commonguard.sharing.reactions import sighting_report
from commonguard.sharing.services import AlertInput, alert_revoke, alert_update
from tests.sharing_helpers import make_alert
from tests.taxii_helpers import ATTACK_DIR, TaxiiClient, token_for

pytestmark = pytest.mark.django_db
OPTIONS = ValidationOptions(version="2.1")

EVERY_KIND = [
    ("domain", "login-portal.example.net"),
    ("url", "https://login-portal.example.net/o'reilly"),
    ("ipv4", "91.92.251.14"),
    ("ipv6", "2a0e:97c0:3e3::15"),
    ("cidr", "45.137.21.0/24"),
    ("email", "billing@login-portal.example.net"),
    ("email_subject", "Invoice 4471 overdue \\ urgent"),
    ("filename", "invoice_4471.pdf.exe"),
    ("md5", "5f2b7c1d9e0a4b3c8d6e1f2a3b4c5d6e"),
    ("sha1", "3b1f0c9a7d2e4f6a8b0c1d2e3f4a5b6c7d8e9f01"),
    ("sha256", "9c4f1e2d3b5a6978c0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7"),
    ("cve", "CVE-2024-3400"),
]


def valid(bundle: dict) -> None:
    result = validate_instance(bundle, OPTIONS)
    assert result.is_valid, [str(e) for e in result.errors]


def _full_alert(world, tlp=TLP.GREEN, **extra):
    return make_alert(
        world["ingham_member"],
        world.ingham,
        tlp,
        indicators=EVERY_KIND,
        attack_techniques=["T1566.001", "T1204"],
        valid_until=timezone.now() + timedelta(days=30),
        recommended_actions="Block the domain.",
        **extra,
    )


def _by_type(bundle: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for obj in bundle["objects"]:
        found.setdefault(obj["type"], []).append(obj)
    return found


def test_alert_bundle_is_valid_and_complete(world):
    load("attack-ics", ATTACK_DIR / "ics-attack-18.1.json")  # reference data present, as in production
    alert = _full_alert(world)
    bundle = alert_bundle(alert)
    valid(bundle)
    types = _by_type(bundle)
    assert types["identity"][0]["name"] == "Ingham County"
    assert types["marking-definition"][0]["id"] == STIX_TLP2_MARKING_IDS[TLP.GREEN]
    assert len(types["indicator"]) == 11 and len(types["vulnerability"]) == 1
    assert {"domain-name", "url", "ipv4-addr", "ipv6-addr", "email-addr", "email-message", "file"} <= types.keys()
    assert {p["external_references"][0]["external_id"] for p in types["attack-pattern"]} == {"T1566.001", "T1204"}
    report = types["report"][0]
    assert report["name"] == alert.title and set(report["object_refs"]) <= {o["id"] for o in bundle["objects"]}
    patterns = {i["pattern"] for i in types["indicator"]}
    assert "[url:value = 'https://login-portal.example.net/o\\'reilly']" in patterns
    assert "[email-message:subject = 'invoice 4471 overdue \\\\ urgent']" in {p.lower() for p in patterns}
    assert "[file:hashes.'SHA-256' = '9c4f1e2d3b5a6978c0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7']" in patterns
    for obj in bundle["objects"]:
        if obj["type"] not in ("marking-definition", "identity"):  # shared, labelled by the collection
            assert obj.get("object_marking_refs") == [STIX_TLP2_MARKING_IDS[TLP.GREEN]], obj["type"]


def test_reexport_same_ids_update_new_version_revoke(world):
    alert = _full_alert(world)
    first = alert_bundle(alert)
    assert alert_bundle(Alert.objects.get(pk=alert.pk)) == first
    ids = {o["id"] for o in first["objects"]}
    data = AlertInput(
        title="Phishing wave, corrected",
        summary=alert.summary,
        category=alert.category,
        tlp=alert.tlp,
        indicators=EVERY_KIND,
        attack_techniques=["T1566.001", "T1204"],
    )
    updated = alert_update(actor=world["ingham_member"], alert=alert, data=data)
    second = alert_bundle(updated)
    valid(second)
    assert {o["id"] for o in second["objects"]} == ids
    report1 = _by_type(first)["report"][0]
    report2 = _by_type(second)["report"][0]
    assert report2["modified"] > report1["modified"] and report2["created"] == report1["created"]
    revoked = alert_revoke(actor=world["ingham_member"], alert=updated, reason="Benign after all.")
    third = alert_bundle(revoked)
    valid(third)
    assert all(o.get("revoked") is True for o in _by_type(third)["indicator"] + _by_type(third)["report"])
    # In the community collection: three versions of the report, the latest revoked.
    community = community_collection()
    rows = StixObject.objects.filter(collection=community, stix_id=report1["id"])
    assert rows.count() == 3 and rows.get(is_latest=True).revoked


def test_anonymous_alert_names_no_one(world):
    alert = make_alert(world["ingham_member"], world.ingham, TLP.CLEAR, anonymous=True, indicators=EVERY_KIND[:2])
    bundle = alert_bundle(alert)
    valid(bundle)
    text = json.dumps(bundle)
    assert "Ingham" not in text
    assert _by_type(bundle)["identity"][0]["name"].startswith("A member of the CommonGuard hub")


@pytest.mark.parametrize("tlp", [TLP.CLEAR, TLP.GREEN, TLP.AMBER, TLP.AMBER_STRICT, TLP.RED])
def test_every_label_exports_valid(world, tlp):
    extra = {"recipient_orgs": [world.washtenaw]} if tlp in (TLP.AMBER, TLP.AMBER_STRICT) else {}
    if tlp == TLP.RED:
        extra = {"recipient_people": [world["washtenaw_member"]]}
    alert = _full_alert(world, tlp, **extra)
    valid(alert_bundle(alert))


def test_sightings_are_counts_only(world):
    alert = make_alert(world["ingham_member"], world.ingham, TLP.GREEN, indicators=EVERY_KIND[:3])
    ind = alert.indicators.first()
    sighting_report(actor=world["washtenaw_member"], alert=alert, organization=world.washtenaw, kind="seen", count=3)
    sighting_report(actor=world["lansing_member"], alert=alert, organization=world.lansing, kind="seen", indicator=ind)
    bundle = alert_bundle(alert)
    valid(bundle)
    sightings = _by_type(bundle)["sighting"]
    assert sorted(s["count"] for s in sightings) == [1, 3]
    text = json.dumps(sightings)
    assert "Washtenaw" not in text and "Lansing" not in text and "where_sighted_refs" not in text
    # The sighting counts reached the collection too.
    assert StixObject.objects.filter(collection=community_collection(), type="sighting").count() == 2


def test_published_alerts_land_in_their_audience_collections(world, client):
    group = SharingGroup.objects.create(name="Region 2 counties", owner=world.washtenaw)
    group.organizations.add(world.washtenaw)
    green = make_alert(world["ingham_member"], world.ingham, TLP.GREEN, indicators=EVERY_KIND[:1])
    amber = make_alert(
        world["ingham_member"],
        world.ingham,
        TLP.AMBER,
        sharing_groups=[group],
        indicators=[("domain", "amber-only.example.net")],
    )
    red = make_alert(
        world["ingham_member"],
        world.ingham,
        TLP.RED,
        recipient_people=[world["washtenaw_admin"]],
        indicators=[("domain", "red-only.example.net")],
    )
    draft = make_alert(
        world["ingham_member"], world.ingham, TLP.GREEN, publish=False, indicators=[("domain", "draft.example.net")]
    )

    def seen_by(name: str) -> str:
        c = TaxiiClient(client, token_for(world[name]))
        collections = c.get("/taxii2/api/collections/").json()["collections"]
        text = ""
        for coll in collections:
            text += c.get(f"/taxii2/api/collections/{coll['id']}/objects/").content.decode()
        return text

    assert StixObject.objects.filter(alert=draft).count() == 0
    expectations = {
        # persona: (green, amber, red)
        "ingham_member": (True, True, True),
        "ingham_admin": (True, True, False),
        "washtenaw_member": (True, True, False),
        "washtenaw_admin": (True, True, True),
        "lansing_member": (True, False, False),
        "analyst": (True, False, False),
        "operator": (True, False, False),
    }
    for persona, (g, a, r) in expectations.items():
        text = seen_by(persona)
        assert ("login-portal.example.net" in text) == g, persona
        assert ("amber-only.example.net" in text) == a, persona
        assert ("red-only.example.net" in text) == r, persona
        assert "draft.example.net" not in text
    # Narrowing the label takes it out of the community collection.
    data = AlertInput(
        title=green.title,
        summary=green.summary,
        category=green.category,
        tlp=TLP.AMBER,
        recipient_orgs=[world.washtenaw],
        indicators=EVERY_KIND[:1],
    )
    alert_update(actor=world["ingham_member"], alert=green, data=data)
    assert not StixObject.objects.filter(alert=green, collection=community_collection()).exists()
    assert StixObject.objects.filter(alert=green, collection=organization_collection(world.washtenaw)).exists()
    assert "login-portal.example.net" not in seen_by("lansing_member")
    assert "login-portal.example.net" in seen_by("washtenaw_member")
    assert amber.pk and red.pk


def test_download_endpoint_follows_the_read_rule(world, as_persona):
    amber = make_alert(
        world["ingham_member"], world.ingham, TLP.AMBER, recipient_orgs=[world.washtenaw], indicators=EVERY_KIND[:2]
    )
    url = f"/api/v1/alerts/{amber.uuid}/stix/"
    r = as_persona("washtenaw_member").get(url)
    assert r.status_code == 200 and r["Content-Type"] == "application/stix+json;version=2.1"
    assert "attachment" in r["Content-Disposition"]
    valid(json.loads(r.content))
    hidden = as_persona("lansing_member").get(url)
    absent = as_persona("lansing_member").get("/api/v1/alerts/00000000-0000-4000-8000-000000000001/stix/")
    assert hidden.status_code == absent.status_code == 404 and hidden.content == absent.content
    assert as_persona("anonymous").get(url).status_code in (401, 403)
    # The alert page links the download, and a signed-in reader's session is enough for it.
    page = as_persona("washtenaw_member").get(f"/alerts/{amber.uuid}/")
    assert f'href="{url}"' in page.content.decode()
