"""“Have we seen this?” through the page and the API: the read rule across personas (an indicator a
person may not see never matches, and the answer is exactly the answer without it), bad input
(clear errors, nothing kept), sightings only when asked, CSV of every match, the OpenAPI schema."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from commonguard.core.tlp import TLP
from commonguard.sharing import lookup_services
from commonguard.sharing.models import Alert, Sighting
from tests.conftest import VETTED_PERSONAS, World
from tests.sharing_helpers import make_alert

GREEN_IP, AMBER_DOMAIN, RED_HASH = "91.92.251.7", "amber-drop.example", "b" * 64
DRAFT_IP, REVOKED_IP = "45.137.21.9", "45.137.21.10"
LOG = "\n".join(
    [
        "2024-05-01T12:00:00Z fw01 ACCEPT SRC=10.1.2.3 DST=91.92.251.7 DPT=443",
        "2024-05-01T12:00:01Z dns01 query: cdn.amber-drop.example IN A",
        f"2024-05-01T12:00:02Z edr01 file=report.pdf sha256={RED_HASH.upper()}",
        "2024-05-01T12:00:03Z fw01 ACCEPT SRC=10.1.2.3 DST=45.137.21.9 DPT=80",
        "2024-05-01T12:00:04Z fw01 ACCEPT SRC=10.1.2.3 DST=45.137.21.10 DPT=80",
        "2024-05-01T12:00:05Z nothing to see",
        "2024-05-01T12:00:06Z fw01 ACCEPT SRC=10.1.2.4 DST=91.92.251.7 DPT=22",
    ]
)


@pytest.fixture(autouse=True)
def _fresh_matchers() -> Any:
    lookup_services._cache.clear()
    yield
    lookup_services._cache.clear()


def _alerts(world: World) -> dict[str, Alert]:
    """GREEN from Ingham; AMBER from Ingham to Washtenaw; RED from Ingham to the analyst; a draft
    and a revoked alert (never matched, for anyone)."""
    author, org = world["ingham_member"], world.ingham
    green = make_alert(author, org, TLP.GREEN, indicators=[(None, GREEN_IP)])
    amber = make_alert(author, org, TLP.AMBER, recipient_orgs=[world.washtenaw], indicators=[(None, AMBER_DOMAIN)])
    red = make_alert(author, org, TLP.RED, recipient_people=[world["analyst"]], indicators=[(None, RED_HASH)])
    make_alert(author, org, TLP.GREEN, publish=False, indicators=[(None, DRAFT_IP)])
    from commonguard.sharing.services import alert_revoke

    revoked = make_alert(author, org, TLP.GREEN, indicators=[(None, REVOKED_IP)])
    alert_revoke(actor=author, alert=revoked, reason="False positive.")
    return {"green": green, "amber": amber, "red": red}


def _api(client: Client, payload: dict[str, Any]) -> Any:
    return client.post("/api/v1/lookup/", data=json.dumps(payload), content_type="application/json")


# Which of the three alerts each vetted persona may read (ADR 13): GREEN everyone; AMBER the author's
# organisation (Ingham) and the named one (Washtenaw); RED the author and the named analyst.
CAN_SEE = {
    "ingham_member": {"green", "amber", "red"},  # the author
    "ingham_admin": {"green", "amber"},
    "ingham_official": {"green", "amber"},
    "washtenaw_member": {"green", "amber"},
    "washtenaw_admin": {"green", "amber"},
    "analyst": {"green", "red"},
}
LINES_OF = {"green": [1, 7], "amber": [2], "red": [3]}


@pytest.mark.parametrize("persona", VETTED_PERSONAS)
def test_read_rule_api(persona: str, world: World, as_persona: Any) -> None:
    client = as_persona(persona)
    before = _api(client, {"text": LOG})  # no alert exists yet
    assert before.status_code == 200
    assert before.json()["lines_matched"] == 0
    alerts = _alerts(world)
    visible = CAN_SEE.get(persona, {"green"})
    body = _api(client, {"text": LOG}).json()
    assert sorted(m["line"] for m in body["matches"]) == sorted(n for name in visible for n in LINES_OF[name])
    assert {a["uuid"] for a in body["alerts"]} == {str(alerts[name].uuid) for name in visible}
    # What may not be seen answers exactly like what does not exist: hide the visible ones and the
    # answer is the one from before any alert existed.
    if visible == {"green"}:
        Alert.objects.filter(pk=alerts["green"].pk).update(status=Alert.Status.DRAFT)
        assert _api(client, {"text": LOG}).json() == before.json()


@pytest.mark.parametrize("persona", VETTED_PERSONAS)
def test_read_rule_page(persona: str, world: World, as_persona: Any) -> None:
    alerts = _alerts(world)
    client = as_persona(persona)
    response = client.post("/lookup/", {"text": LOG, "action": "show"})
    assert response.status_code == 200
    html = response.content.decode()
    visible = CAN_SEE.get(persona, {"green"})
    for name, alert in alerts.items():
        assert (str(alert.uuid) in html) == (name in visible), name
    results = html.split('id="results-heading"')[1]  # the form above still holds the pasted log
    assert ("cdn[.]amber-drop[.]example" in results) == ("amber" in visible)
    assert (RED_HASH.upper() in results) == ("red" in visible)
    shown_lines = {n for name in visible for n in LINES_OF[name]}
    assert f"{len(shown_lines)} of 7 lines matched" in results
    assert DRAFT_IP.replace(".", "[.]") not in results and REVOKED_IP.replace(".", "[.]") not in results


@pytest.mark.parametrize("persona", ["anonymous", "unvetted", "removed_member"])
def test_outsiders_get_nothing(persona: str, world: World, as_persona: Any) -> None:
    _alerts(world)
    client = as_persona(persona)
    page = client.post("/lookup/", {"text": LOG})
    assert page.status_code in (302, 403)
    assert GREEN_IP not in page.content.decode()
    api = _api(client, {"text": LOG})
    if persona == "anonymous":
        assert api.status_code in (401, 403)
    else:  # signed in but not vetted: sees nothing, like an empty hub
        assert api.status_code == 200 and api.json()["lines_matched"] == 0


def test_page_shows_line_indicator_and_alert(world: World, as_persona: Any) -> None:
    alerts = _alerts(world)
    client = as_persona("washtenaw_member")
    response = client.get("/lookup/")
    assert response.status_code == 200 and b"Have we seen this?" in response.content
    html = client.post("/lookup/", {"text": LOG, "action": "show"}).content.decode()
    assert "DST=91[.]92[.]251[.]7" in html  # the matched value is defanged in the line
    assert "cdn[.]amber-drop[.]example" in html
    assert f"/alerts/{alerts['amber'].uuid}/" in html
    assert "3 of 7 lines matched, from 2 alerts" in html


def test_upload_a_file_and_download_csv(world: World, as_persona: Any) -> None:
    alerts = _alerts(world)
    client = as_persona("analyst")
    upload = SimpleUploadedFile("fw.log", LOG.encode() + b"\n\xff\xfe broken bytes", content_type="text/plain")
    response = client.post("/lookup/", {"file": upload, "action": "show"})
    assert response.status_code == 200
    assert "3 of 8 lines matched" in response.content.decode()
    upload = SimpleUploadedFile("fw.csv", LOG.encode(), content_type="text/csv")
    response = client.post("/lookup/", {"file": upload, "action": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = response.content.decode().splitlines()
    assert rows[0].startswith("line,indicator_kind,indicator,alert")
    assert len(rows) == 1 + 3
    assert all(str(alerts["amber"].uuid) not in row for row in rows)
    assert any(str(alerts["red"].uuid) in row for row in rows)


def test_api_upload(world: World, as_persona: Any) -> None:
    _alerts(world)
    client = as_persona("washtenaw_member")
    upload = SimpleUploadedFile("fw.log", LOG.encode(), content_type="text/plain")
    response = client.post("/api/v1/lookup/", {"file": upload})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["lines_scanned"] == 7 and body["lines_matched"] == 3 and body["sightings"] == []
    first = body["matches"][0]
    assert first["line"] == 1 and first["indicators"][0]["value"] == "91[.]92[.]251[.]7"


# --- bad input: clear errors, nothing kept -----------------------------------------------------


def test_oversized_upload_is_refused(world: World, as_persona: Any, monkeypatch: Any) -> None:
    _alerts(world)
    monkeypatch.setattr(lookup_services, "MAX_LOG_BYTES", 2000)
    client = as_persona("ingham_member")
    big = (LOG + "\n") * 20  # over 2,000 bytes
    page = client.post(
        "/lookup/",
        {
            "file": SimpleUploadedFile("big.log", big.encode()),
            "record_sightings": "on",
            "organization": world.ingham.pk,
        },
    )
    assert page.status_code == 413
    assert "larger than" in page.content.decode() and "nothing was kept" in page.content.decode()
    api = client.post("/api/v1/lookup/", {"file": SimpleUploadedFile("big.log", big.encode())})
    assert api.status_code == 413
    assert api.json()["error"]["code"] == "too_large"
    assert not Sighting.objects.exists()
    ok = client.post("/api/v1/lookup/", {"file": SimpleUploadedFile("small.log", LOG.encode()[:1500])})
    assert ok.status_code == 200


def test_pasted_text_over_the_form_limit(world: World, as_persona: Any, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client = as_persona("ingham_member")
    response = client.post("/lookup/", {"text": "x" * 5000})
    assert response.status_code == 413
    assert "Choose the log as a file instead" in response.content.decode()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"text": ""}, "nothing to look up"),
        ({"text": "   \n  "}, "nothing to look up"),
        ({}, "nothing to look up"),
    ],
)
def test_empty_input(payload: dict[str, Any], message: str, world: World, as_persona: Any) -> None:
    client = as_persona("ingham_member")
    api = _api(client, payload)
    assert api.status_code == 400
    assert api.json()["error"]["code"] == "invalid"
    assert message in json.dumps(api.json()).lower()
    page = client.post("/lookup/", payload)
    assert page.status_code == 400 and message in page.content.decode().lower()


def test_text_and_file_together_and_bad_organization(world: World, as_persona: Any) -> None:
    _alerts(world)
    client = as_persona("ingham_member")
    page = client.post("/lookup/", {"text": LOG, "file": SimpleUploadedFile("a.log", LOG.encode())})
    assert page.status_code == 400 and "not both" in page.content.decode()
    api = _api(client, {"text": LOG, "record_sightings": True, "organization": world.washtenaw.pk})
    assert api.status_code == 400
    assert "organization" in api.json()["error"]["fields"]
    assert not Sighting.objects.exists()


# --- sightings, only when asked ----------------------------------------------------------------


def test_sightings_only_when_asked(world: World, as_persona: Any) -> None:
    alerts = _alerts(world)
    client = as_persona("washtenaw_member")
    client.post("/lookup/", {"text": LOG, "action": "show"})
    _api(client, {"text": LOG})
    assert not Sighting.objects.exists()

    response = client.post(
        "/lookup/", {"text": LOG, "action": "show", "record_sightings": "on", "organization": world.washtenaw.pk}
    )
    assert response.status_code == 200
    sightings = {s.alert_id: s for s in Sighting.objects.all()}
    assert set(sightings) == {alerts["green"].pk, alerts["amber"].pk}
    green = sightings[alerts["green"].pk]
    assert green.count == 2 and green.kind == Sighting.Kind.SEEN and green.organization == world.washtenaw
    assert green.seen_at.isoformat() == "2024-05-01T12:00:06+00:00"  # the latest matching line's time
    assert green.indicator is not None and green.indicator.value == GREEN_IP

    body = _api(client, {"text": LOG, "record_sightings": True}).json()  # one organisation: no need to say
    assert len(body["sightings"]) == 2
    assert Sighting.objects.count() == 4


def test_sighting_needs_an_organisation_when_asked(world: World, as_persona: Any) -> None:
    _alerts(world)
    client = as_persona("ingham_member")
    response = client.post("/lookup/", {"text": LOG, "action": "show", "record_sightings": "on"})
    assert response.status_code == 200  # the organisation defaults to the person's only one
    assert Sighting.objects.count() == 3


# --- the API's schema ----------------------------------------------------------------------------


def test_lookup_is_in_the_openapi_schema(world: World, as_persona: Any) -> None:
    client = as_persona("ingham_member")
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "/api/v1/lookup/" in schema and "LookupResult" in schema
