"""TLP over TAXII: persona × object. Whatever a caller reaches through TAXII — the objects of every
collection listed to them, and every object asked for by id in every collection, listed or not — is
exactly what `Alert.objects.visible_to` (alerts) and the collection's audience and label (objects
added over TAXII) allow; everything else answers like something absent."""

from __future__ import annotations

import json
import uuid

import pytest

from commonguard.core.tlp import TLP
from commonguard.interop.collections import community_collection, organization_collection
from commonguard.interop.models import Collection, StixObject
from commonguard.sharing.models import Alert, SharingGroup
from tests.conftest import PERSONAS
from tests.sharing_helpers import make_alert
from tests.taxii_helpers import TaxiiClient, indicator, token_for

pytestmark = pytest.mark.django_db

TLP1 = {
    TLP.GREEN: "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    TLP.AMBER: "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    TLP.RED: "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
}


@pytest.fixture
def scene(world, client):
    author = world["ingham_member"]
    group = SharingGroup.objects.create(name="Guard and Washtenaw", owner=world.washtenaw)
    group.organizations.add(world.washtenaw, world.guard)
    alerts = {
        "clear": make_alert(author, world.ingham, TLP.CLEAR, indicators=[("domain", "clear.example.net")]),
        "green": make_alert(author, world.ingham, TLP.GREEN, indicators=[("domain", "green.example.net")]),
        "amber": make_alert(
            author,
            world.ingham,
            TLP.AMBER,
            recipient_orgs=[world.washtenaw],
            indicators=[("domain", "amber.example.net")],
        ),
        "strict": make_alert(
            author,
            world.ingham,
            TLP.AMBER_STRICT,
            sharing_groups=[group],
            indicators=[("domain", "strict.example.net")],
        ),
        "red": make_alert(
            author,
            world.ingham,
            TLP.RED,
            recipient_people=[world["coordinator"]],
            indicators=[("domain", "red.example.net")],
        ),
        "anon": make_alert(
            author, world.ingham, TLP.GREEN, anonymous=True, indicators=[("domain", "anon.example.net")]
        ),
    }
    make_alert(author, world.ingham, TLP.GREEN, publish=False, indicators=[("domain", "draft.example.net")])
    # Objects added over TAXII into Ingham's own collection, one per label.
    poster = TaxiiClient(client, token_for(author))
    posted = {}
    mine = organization_collection(world.ingham)
    for label, marking in TLP1.items():
        obj = indicator("91.92.251.40", object_marking_refs=[marking], name=f"posted-{label}")
        response = poster.post(f"/taxii2/api/collections/{mine.uuid}/objects/", json.dumps({"objects": [obj]}))
        assert response.status_code == 202
        posted[label] = obj["id"]
    return alerts, posted


def _reach(client, world, name: str) -> tuple[set[str], set[str]]:
    """(STIX ids received by listing, STIX ids received by asking for each id in every collection)."""
    c = TaxiiClient(client, None if name == "anonymous" else token_for(world[name]))
    listed: set[str] = set()
    r = c.get("/taxii2/api/collections/")
    if r.status_code != 200:
        assert r.status_code in (401, 403)
        return listed, set()
    for coll in r.json().get("collections", []):
        body = c.get(f"/taxii2/api/collections/{coll['id']}/objects/?match[version]=all").json()
        listed |= {o["id"] for o in body.get("objects", [])}
    absent = c.get(f"/taxii2/api/collections/{uuid.uuid4()}/objects/indicator--{uuid.uuid4()}/").content
    asked: set[str] = set()
    for coll in Collection.objects.all():
        for stix_id in set(StixObject.objects.filter(collection=coll).values_list("stix_id", flat=True)):
            response = c.get(f"/taxii2/api/collections/{coll.uuid}/objects/{stix_id}/")
            if response.status_code == 200:
                asked |= {o["id"] for o in response.json()["objects"]}
            else:
                assert response.status_code == 404 and response.content == absent
    return listed, asked


@pytest.mark.parametrize("name", PERSONAS)
def test_taxii_shows_exactly_what_the_read_rule_allows(world, client, scene, name):
    alerts, posted = scene
    listed, asked = _reach(client, world, name)
    assert listed == asked
    user = None if name == "anonymous" else world[name]
    readable = set(Alert.objects.visible_to(user).values_list("pk", flat=True)) if user else set()
    alert_ids = {
        key: set(StixObject.objects.filter(alert=a).values_list("stix_id", flat=True)) for key, a in alerts.items()
    }
    for key, ids in alert_ids.items():
        own_ids = {i for i in ids if not i.startswith(("identity--", "marking-definition--"))}
        if alerts[key].pk in readable:
            assert own_ids <= listed, (name, key)
        else:
            assert not own_ids & listed, (name, key)
    # Posted into Ingham's collection: GREEN and AMBER for Ingham's members, RED for its poster only.
    ingham = name in {"ingham_member", "ingham_admin", "ingham_official"}
    assert (posted[TLP.GREEN] in listed) == ingham
    assert (posted[TLP.AMBER] in listed) == ingham
    assert (posted[TLP.RED] in listed) == (name == "ingham_member")
    assert not any("draft.example.net" in i for i in listed)


def test_anonymous_alert_identity_never_names_the_author(world, client, scene):
    alerts, _ = scene
    text = "".join(StixObject.objects.filter(alert=alerts["anon"]).values_list("raw", flat=True))
    assert "Ingham" not in text
    assert community_collection().stix_objects.filter(alert=alerts["anon"]).exists()
