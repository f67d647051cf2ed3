"""The campaign map: sightings by county for one alert and statewide; who may see which alert (page,
JSON, API answer like absent), who learns which organisations reported (never a non-insider), small
counties folded away, anonymity, and bad input."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from commonguard.accounts.models import Role, User
from commonguard.core.tlp import TLP
from commonguard.orgs.models import Organization
from commonguard.sharing import campaign as campaign_module
from commonguard.sharing.campaign import campaign_for_alert, campaign_statewide, colour_for
from commonguard.sharing.models import Alert
from commonguard.sharing.reactions import sighting_report
from tests.conftest import PERSONAS, World
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.sharing_helpers import make_alert

INGHAM, WASHTENAW = "26065", "26161"
# Reporting organisations whose names are not also the names of counties.
HIDDEN_NAMES = ["City of Lansing", "Meridian Charter Township", "State IT", "Guard Cyber Unit"]


@dataclass
class Campaign:
    world: World
    meridian: Organization  # a third answering organisation in Ingham County
    meridian_member: User


@pytest.fixture
def cw(world: World) -> Campaign:
    meridian = OrganizationFactory(
        name="Meridian Charter Township",
        kind="township",
        county=world.ingham,
        county_fips=INGHAM,
        region=world.region1,
    )
    member = UserFactory(email="mia.meridian@example.test", full_name="Mia Meridian")
    MembershipFactory(user=member, organization=meridian, role=Role.MEMBER)
    return Campaign(world, meridian, member)


def _seen(actor: User, alert: Alert, org: Organization, count: int = 1, kind: str = "seen", **kw: Any) -> None:
    sighting_report(actor=actor, alert=alert, organization=org, kind=kind, count=count, **kw)


def _report_everywhere(cw: Campaign, alert: Alert) -> None:
    """Lansing (Ingham) twice-seen, Meridian (Ingham), Washtenaw twice, State IT (no county) seen;
    the Guard unit: a false positive."""
    w = cw.world
    _seen(w["lansing_member"], alert, w.lansing, count=2)
    _seen(cw.meridian_member, alert, cw.meridian)
    _seen(w["washtenaw_member"], alert, w.washtenaw, count=5)
    _seen(w["washtenaw_admin"], alert, w.washtenaw)
    _seen(w["analyst"], alert, w.state_it)
    _seen(w["coordinator"], alert, w.guard, kind="false_positive")


def _by_fips(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["fips"]: c for c in data["counties"]}


# --- Aggregation ------------------------------------------------------------------------------


def test_sightings_are_counted_by_the_reporting_organisations_county(cw):
    w = cw.world
    alert = make_alert(w["ingham_member"], w.ingham, TLP.GREEN)
    _report_everywhere(cw, alert)
    data = campaign_for_alert(user=w["ingham_admin"], uuid=alert.uuid).as_json()  # the author's org: all
    counties = _by_fips(data)
    assert set(counties) == {INGHAM, WASHTENAW}
    assert counties[INGHAM] | {"last_seen": None} == {
        "fips": INGHAM,
        "name": "Ingham County",
        "sightings": 2,
        "times": 3,
        "organisations": 2,
        "last_seen": None,
        "reporters": ["City of Lansing", "Meridian Charter Township"],
    }
    assert (counties[WASHTENAW]["sightings"], counties[WASHTENAW]["times"]) == (2, 6)
    assert counties[WASHTENAW]["organisations"] == 1
    assert [c["fips"] for c in data["counties"]] == [INGHAM, WASHTENAW]  # most sightings first, then by name
    # State IT has no county: counted, not mapped. The Guard's false positive is not a sighting.
    assert data["not_mapped"] == {
        "sightings": 1,
        "times": 1,
        "organisations": 1,
        "last_seen": data["not_mapped"]["last_seen"],
        "reporters": ["State IT"],
    }
    assert data["totals"] == {"sightings": 5, "organisations": 4, "counties": 2, "false_positives": 1}
    assert data["state"] == {"fips": "26", "name": "Michigan"}


def test_colour_scale_is_sequential():
    assert colour_for(0) == campaign_module.NO_SIGHTINGS_COLOUR
    colours = [colour_for(n) for n in (1, 2, 5, 10, 20, 500)]
    assert colours[:5] == [c for _, c, _ in campaign_module.SCALE]
    assert colours[5] == colours[4]


def test_sightings_outside_the_state_are_not_mapped(cw):
    w = cw.world
    ohio = OrganizationFactory(name="Lucas County", state="OH", county_fips="39095")
    person = UserFactory(email="oscar.ohio@example.test")
    MembershipFactory(user=person, organization=ohio)
    alert = make_alert(w["ingham_member"], w.ingham, TLP.CLEAR)
    _seen(person, alert, ohio)
    data = campaign_for_alert(user=w["analyst"], uuid=alert.uuid).as_json()
    assert data["counties"] == []
    assert data["not_mapped"]["sightings"] == 1


# --- Who learns names, and small counties -----------------------------------------------------


def test_who_learns_which_organisations_reported(cw):
    w = cw.world
    alert = make_alert(w["ingham_member"], w.ingham, TLP.GREEN)
    _report_everywhere(cw, alert)

    def seen_by(user: User) -> dict[str, Any]:
        return campaign_for_alert(user=user, uuid=alert.uuid).as_json()

    # State staff and the author's organisation: every name, every county.
    for persona in ["analyst", "liaison2", "ingham_official"]:
        data = seen_by(w[persona])
        assert _by_fips(data)[INGHAM]["reporters"] == ["City of Lansing", "Meridian Charter Township"], persona
        assert _by_fips(data)[WASHTENAW]["reporters"] == ["Washtenaw County"], persona
    # A reporter: its own name only. Washtenaw has one answering organisation (fewer than
    # MIN_COUNTY_AUDIENCE): not placed on a county for those who may not see who reported.
    data = seen_by(w["lansing_member"])
    assert _by_fips(data)[INGHAM]["reporters"] == ["City of Lansing"]
    assert WASHTENAW not in _by_fips(data)
    assert data["not_mapped"]["sightings"] == 3  # Washtenaw's two, State IT's one
    assert data["not_mapped"]["reporters"] == []
    # Anyone else: counts only.
    for persona in ["coordinator", "responder"]:
        data = seen_by(w[persona])
        assert _by_fips(data)[INGHAM] | {"last_seen": None} == {
            "fips": INGHAM,
            "name": "Ingham County",
            "sightings": 2,
            "times": 3,
            "organisations": 2,
            "last_seen": None,
            "reporters": [],
        }, persona
        assert WASHTENAW not in _by_fips(data), persona
        assert data["totals"]["sightings"] == 5, persona


def test_a_small_county_appears_once_enough_organisations_could_have_reported(cw, monkeypatch):
    w = cw.world
    alert = make_alert(w["ingham_member"], w.ingham, TLP.GREEN)
    _seen(w["washtenaw_member"], alert, w.washtenaw)
    assert _by_fips(campaign_for_alert(user=w["coordinator"], uuid=alert.uuid).as_json()) == {}
    monkeypatch.setattr(campaign_module, "MIN_COUNTY_AUDIENCE", 1)
    assert set(_by_fips(campaign_for_alert(user=w["coordinator"], uuid=alert.uuid).as_json())) == {WASHTENAW}


def test_amber_audience_decides_whether_a_county_is_shown(cw):
    """Ingham has three answering organisations, but an AMBER alert named only two of them: a
    reader outside Ingham cannot be shown Ingham's count, it would narrow the reporter to two."""
    w = cw.world
    alert = make_alert(w["washtenaw_member"], w.washtenaw, TLP.AMBER, recipient_orgs=[w.lansing, w.guard])
    _seen(w["lansing_member"], alert, w.lansing)
    guard_view = campaign_for_alert(user=w["coordinator"], uuid=alert.uuid).as_json()
    assert guard_view["counties"] == [] and guard_view["not_mapped"]["sightings"] == 1
    author_view = campaign_for_alert(user=w["washtenaw_admin"], uuid=alert.uuid).as_json()
    assert _by_fips(author_view)[INGHAM]["reporters"] == ["City of Lansing"]


def test_an_anonymous_alerts_reporters_are_anonymous_too(cw):
    w = cw.world
    alert = make_alert(w["ingham_member"], w.ingham, TLP.GREEN, anonymous=True)
    _seen(w["ingham_admin"], alert, w.ingham)  # the author's own organisation
    _seen(w["lansing_member"], alert, w.lansing)
    _seen(cw.meridian_member, alert, cw.meridian)

    def seen_by(persona: str) -> dict[str, Any]:
        user = cw.meridian_member if persona == "meridian" else w[persona]
        return campaign_for_alert(user=user, uuid=alert.uuid).as_json()

    # The state knows who: every name, every sighting placed.
    data = seen_by("analyst")
    assert _by_fips(data)[INGHAM]["reporters"] == ["City of Lansing", "Ingham County", "Meridian Charter Township"]
    # The author's organisation knows itself, but not the reporters of its anonymous alert.
    data = seen_by("ingham_member")
    assert _by_fips(data)[INGHAM]["sightings"] == 3
    assert _by_fips(data)[INGHAM]["reporters"] == ["Ingham County"]
    # A peer: the author's own sighting would point at the author; it is not placed on the map.
    for persona, own in [("meridian", ["Meridian Charter Township"]), ("coordinator", [])]:
        data = seen_by(persona)
        assert _by_fips(data)[INGHAM]["sightings"] == 2, persona
        assert _by_fips(data)[INGHAM]["reporters"] == own, persona
        assert data["not_mapped"] == {
            "sightings": 1,
            "times": 1,
            "organisations": 1,
            "last_seen": data["not_mapped"]["last_seen"],
            "reporters": [],
        }, persona


# --- Channels: page, JSON, API ----------------------------------------------------------------


def _without_csrf(content: bytes) -> str:
    return re.sub(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+', r"\1", content.decode())


def test_hidden_alert_answers_like_absent_on_every_channel(cw, as_persona):
    w = cw.world
    alert = make_alert(w["ingham_member"], w.ingham, TLP.AMBER, recipient_orgs=[w.washtenaw])
    _seen(w["washtenaw_member"], alert, w.washtenaw)
    missing = uuid.uuid4()
    for persona in PERSONAS:
        user = None if persona == "anonymous" else w[persona]
        visible = Alert.objects.visible_to(user).filter(pk=alert.pk).exists()
        client = as_persona(persona)
        urls = [
            (f"/alerts/{alert.uuid}/map/", f"/alerts/{missing}/map/"),
            (f"/alerts/{alert.uuid}/map/data.json", f"/alerts/{missing}/map/data.json"),
            (f"/api/v1/alerts/{alert.uuid}/campaign/", f"/api/v1/alerts/{missing}/campaign/"),
        ]
        for url, absent_url in urls:
            got, absent = client.get(url), client.get(absent_url)
            where = f"{persona} {url}"
            if persona == "anonymous":
                assert got.status_code == absent.status_code and got.status_code in {302, 401}, where
            elif visible:
                assert got.status_code == 200, where
            else:  # 404, or for the unvetted the way home: exactly as for an alert that does not exist
                assert got.status_code == absent.status_code and got.status_code in {302, 404}, where
                assert _without_csrf(got.content) == _without_csrf(absent.content), where
                assert got.get("Location") == absent.get("Location"), where
    assert client.get("/api/v1/alerts/not-a-uuid/campaign/").status_code == 404


def test_non_insiders_never_get_names_on_any_channel(cw, as_persona):
    w = cw.world
    alert = make_alert(w["ingham_member"], w.ingham, TLP.GREEN)
    _report_everywhere(cw, alert)
    client = as_persona("responder")  # Guard unit: the Guard's false positive is its own, not a name to hide
    page = client.get(f"/alerts/{alert.uuid}/map/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'role="img"' in html and 'id="campaign-data"' in html
    json_body = client.get(f"/alerts/{alert.uuid}/map/data.json").content.decode()
    api_body = client.get(f"/api/v1/alerts/{alert.uuid}/campaign/").content.decode()
    statewide = client.get("/alerts/map/").content.decode() + client.get("/alerts/map/data.json").content.decode()
    statewide += client.get("/api/v1/alerts/campaign/").content.decode()
    for body, channel in [(html, "page"), (json_body, "json"), (api_body, "api"), (statewide, "statewide")]:
        for name in ["City of Lansing", "Meridian Charter Township", "State IT"]:
            assert name not in body, (channel, name)
        assert '"reporters": ["' not in body, channel
    # The same figures are there, as counts.
    assert _by_fips(client.get(f"/alerts/{alert.uuid}/map/data.json").json())[INGHAM]["sightings"] == 2
    # An insider gets the names on the page (and in the table it renders).
    insider_html = as_persona("ingham_member").get(f"/alerts/{alert.uuid}/map/").content.decode()
    assert "City of Lansing, Meridian Charter Township</td>" in insider_html


def test_the_page_renders_the_table_the_map_and_the_legend(cw, as_persona):
    w = cw.world
    alert = make_alert(w["ingham_member"], w.ingham, TLP.GREEN)
    _report_everywhere(cw, alert)
    response = as_persona("ingham_member").get(f"/alerts/{alert.uuid}/map/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "5 sightings from 4 organisations in 2 counties." in html
    assert "1 organisation found it a false positive" in html
    assert '<tr data-fips="26065"><th scope="row" data-label="County">Ingham County</th>' in html
    assert "Not shown by county: 1 sighting from 1 organisation (State IT)." in html
    assert "atlas/counties-10m.json" in html and "app/campaign.js" in html
    for _, colour, label in campaign_module.SCALE:
        assert f'fill="{colour}"' in html and label in html
    # The alert page links to the map.
    assert f"/alerts/{alert.uuid}/map/" in as_persona("ingham_member").get(f"/alerts/{alert.uuid}/").content.decode()
    # The JSON is not cached anywhere.
    data = as_persona("ingham_member").get(f"/alerts/{alert.uuid}/map/data.json")
    assert "no-store" in data["Cache-Control"]


def test_api_campaign_and_schema(cw, as_persona):
    w = cw.world
    alert = make_alert(w["ingham_member"], w.ingham, TLP.GREEN)
    _report_everywhere(cw, alert)
    client = as_persona("analyst")
    body = client.get(f"/api/v1/alerts/{alert.uuid}/campaign/").json()
    assert body == campaign_for_alert(user=w["analyst"], uuid=alert.uuid).as_json() | {"updated_at": body["updated_at"]}
    schema = client.get("/api/schema/").content.decode()
    assert "/api/v1/alerts/{uuid}/campaign/:" in schema and "/api/v1/alerts/campaign/:" in schema
    assert "Campaign" in schema


# --- Statewide --------------------------------------------------------------------------------


def test_statewide_counts_only_readable_alerts_of_the_period(cw, as_persona):
    w = cw.world
    green = make_alert(w["ingham_member"], w.ingham, TLP.GREEN)
    amber = make_alert(w["ingham_member"], w.ingham, TLP.AMBER, recipient_orgs=[w.lansing])
    _seen(w["lansing_member"], green, w.lansing)
    _seen(w["lansing_member"], amber, w.lansing)
    _seen(cw.meridian_member, green, cw.meridian, seen_at=timezone.now() - timedelta(days=40))
    # The Guard cannot read the AMBER alert: one sighting in 30 days, two in 90.
    assert campaign_statewide(user=w["coordinator"], days=30).as_json()["totals"]["sightings"] == 1
    assert campaign_statewide(user=w["coordinator"], days=90).as_json()["totals"]["sightings"] == 2
    # Lansing reads both.
    assert campaign_statewide(user=w["lansing_member"], days=30).as_json()["totals"]["sightings"] == 2
    client = as_persona("coordinator")
    assert client.get("/alerts/map/data.json", {"days": 90}).json()["totals"]["sightings"] == 2
    assert client.get("/api/v1/alerts/campaign/", {"days": 90}).json()["days"] == 90
    page = client.get("/alerts/map/", {"days": 90})
    assert page.status_code == 200 and "Sightings across Michigan" in page.content.decode()


def test_statewide_bad_period_is_a_clear_error(cw, as_persona):
    client = as_persona("coordinator")
    for bad in ["0", "abc", "9999", "-1"]:
        api = client.get("/api/v1/alerts/campaign/", {"days": bad})
        assert api.status_code == 400 and "days" in api.json()["error"]["fields"], bad
        data = client.get("/alerts/map/data.json", {"days": bad})
        assert data.status_code == 400 and "days" in data.json()["error"]["fields"], bad
        page = client.get("/alerts/map/", {"days": bad})
        assert page.status_code == 400 and "usa-error-message" in page.content.decode(), bad
