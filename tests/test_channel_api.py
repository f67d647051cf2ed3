"""The API of the delivery channels: alert preferences and organisation webhooks, with the same
rules as the pages (webhooks: their organisation's admins only, hidden = absent)."""

from __future__ import annotations

import json

import pytest

from commonguard.sharing.models import AlertPreference, Webhook
from tests.conftest import PERSONAS

pytestmark = pytest.mark.django_db


def _post(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


def test_preferences_round_trip_and_refuse_nonsense(world, as_persona):
    client = as_persona("washtenaw_member")
    assert client.get("/api/v1/me/alert-preferences/").json()["email_mode"] == "immediate"
    bad = client.put(
        "/api/v1/me/alert-preferences/", json.dumps({"email_mode": "hourly"}), content_type="application/json"
    )
    assert bad.status_code == 400 and "email_mode" in bad.json()["error"]["fields"]
    assert not AlertPreference.objects.exists()
    ok = client.patch(
        "/api/v1/me/alert-preferences/",
        json.dumps({"email_mode": "digest", "categories": ["malware"], "min_severity": "high"}),
        content_type="application/json",
    )
    assert ok.status_code == 200 and ok.json()["categories"] == ["malware"]
    assert AlertPreference.objects.get(user=world["washtenaw_member"]).email_mode == "digest"
    critical_floor = client.patch(
        "/api/v1/me/alert-preferences/", json.dumps({"min_severity": "critical"}), content_type="application/json"
    )
    assert critical_floor.status_code == 400  # critical alerts always come: not a filter


@pytest.mark.parametrize("name", ["anonymous", "unvetted", "removed_member"])
def test_preferences_need_a_vetted_caller(world, as_persona, name):
    assert as_persona(name).get("/api/v1/me/alert-preferences/").status_code in {401, 403}


def test_webhooks_by_api_for_the_organisations_admins_only(world, as_persona):
    admin = as_persona("ingham_admin")
    created = _post(
        admin,
        "/api/v1/webhooks/",
        {"organization": world.ingham.pk, "name": "SIEM", "url": "http://127.0.0.1:9/h", "max_tlp": "amber"},
    )
    assert created.status_code == 201, created.content
    hook = created.json()
    assert len(hook["secret"]) == 64
    url = f"/api/v1/webhooks/{hook['id']}/"
    for name in PERSONAS:
        if name == "ingham_admin":
            continue
        client = as_persona(name)
        listed = client.get("/api/v1/webhooks/")
        if name == "anonymous":
            assert listed.status_code in {401, 403}
            continue
        assert listed.json()["results"] == [], name
        mine, absent = client.get(url), client.get("/api/v1/webhooks/999999/")
        assert mine.status_code == absent.status_code == 404, name
        assert mine.json() == absent.json()
        refused = _post(
            client, "/api/v1/webhooks/", {"organization": world.ingham.pk, "name": "x", "url": "http://a.example/"}
        )
        assert refused.status_code == 400, name
    assert Webhook.objects.count() == 1
    rotated = _post(as_persona("ingham_admin"), f"{url}rotate-secret/", {})
    assert rotated.status_code == 200 and rotated.json()["secret"] != hook["secret"]


def test_webhook_api_refuses_red_and_private_targets(world, as_persona, settings):
    admin = as_persona("ingham_admin")
    red = _post(
        admin,
        "/api/v1/webhooks/",
        {"organization": world.ingham.pk, "name": "R", "url": "http://127.0.0.1:9/", "max_tlp": "red"},
    )
    assert red.status_code == 400 and "max_tlp" in red.json()["error"]["fields"]
    settings.COMMONGUARD_WEBHOOK_ALLOW_PRIVATE = False
    private = _post(
        admin, "/api/v1/webhooks/", {"organization": world.ingham.pk, "name": "P", "url": "https://192.168.1.10/"}
    )
    assert private.status_code == 400 and "url" in private.json()["error"]["fields"]
    assert not Webhook.objects.exists()


def test_the_schema_lists_the_channel_endpoints(world, as_persona):
    schema = as_persona("ingham_member").get("/api/schema/?format=json").json()
    assert "/api/v1/webhooks/{id}/redeliver/" in schema["paths"]
    assert "/api/v1/me/alert-preferences/" in schema["paths"]
