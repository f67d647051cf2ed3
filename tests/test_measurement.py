"""Measurement: the CSF catalogue, the read rules (what a person may not read answers like absent),
bad input (clear error, nothing stored), and the happy paths of assessment, survey, dashboard."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from commonguard.core.models import AuditEvent
from commonguard.measurement import services, stats
from commonguard.measurement.csf import CsfCatalogueError, read_catalogue
from commonguard.measurement.models import (
    Assessment,
    AssessmentScore,
    CsfCategory,
    CsfFunction,
    CsfSubcategory,
    SurveyOwner,
    SurveyResponse,
)
from tests.conftest import PERSONAS
from tests.measurement_helpers import answer, cities, ensure_csf, open_survey, submitted, without_csrf

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _csf(db):
    ensure_csf()


YEAR = timezone.now().year


# --- The catalogue ----------------------------------------------------------------------------


def test_the_csf_core_is_loaded_as_data_by_the_migration():
    assert CsfFunction.objects.count() == 6
    assert CsfCategory.objects.count() == 22
    assert CsfSubcategory.objects.count() == 106
    assert CsfSubcategory.objects.get(code="GV.OC-01").category.function.code == "GV"
    assert list(CsfFunction.objects.values_list("code", flat=True)) == ["GV", "ID", "PR", "DE", "RS", "RC"]


def test_csf_load_is_idempotent(capsys):
    call_command("csf_load")
    assert "6 functions, 22 categories, 106 subcategories" in capsys.readouterr().out
    assert CsfSubcategory.objects.count() == 106


def test_a_malformed_catalogue_is_refused(tmp_path):
    bad = tmp_path / "csf.json"
    bad.write_text(json.dumps([{"id": "GV", "title": "GOVERN", "categories": [{"id": "ID.AM", "title": "x"}]}]))
    with pytest.raises(CsfCatalogueError, match="not under function GV"):
        read_catalogue(bad)


# --- The self-assessment: private to the organisation ----------------------------------------

READS_INGHAM_ASSESSMENT = {"ingham_member", "ingham_admin", "ingham_official"}


@pytest.mark.parametrize("persona", PERSONAS)
def test_an_assessment_is_read_only_by_its_organisation(world, as_persona, persona):
    assessment = submitted(world.ingham, YEAR, 3)
    client = as_persona(persona)
    visible = persona in READS_INGHAM_ASSESSMENT
    page = client.get(f"/measurement/assessments/{world.ingham.pk}/{YEAR}/results/")
    api = client.get(f"/api/v1/measurement/assessments/{assessment.pk}/results/")
    listing = client.get("/api/v1/measurement/assessments/")
    if persona == "anonymous":
        assert page.status_code == 302 and api.status_code in {401, 403}
        return
    if persona in {"unvetted", "removed_member"}:
        assert page.status_code == 302  # sent home: not vetted
    else:
        assert page.status_code == (200 if visible else 404)
    assert api.status_code == (200 if visible else 404) or (
        persona in {"unvetted", "removed_member"} and api.status_code == 403
    )
    if listing.status_code == 200:
        ids = [a["id"] for a in listing.json()["results"]]
        assert (assessment.pk in ids) == visible
    if not visible and page.status_code == 404:
        missing = client.get(f"/measurement/assessments/999999/{YEAR}/results/")
        assert without_csrf(page.content) == without_csrf(missing.content)  # hidden answers exactly like absent


def test_happy_path_score_submit_and_results(world, as_persona):
    client = as_persona("ingham_admin")
    url = f"/measurement/assessments/{world.ingham.pk}/{YEAR}/"
    page = client.get(url + "?function=GV")
    assert page.status_code == 200 and b"GV.OC-01" in page.content
    post = {
        f"score_{code}": "3"
        for code in CsfSubcategory.objects.filter(category__function="GV").values_list("code", flat=True)
    }
    post["evidence_GV.OC-01"] = "Mission statement approved by the board."
    response = client.post(url + "?function=GV", post)
    assert response.status_code == 302
    assessment = Assessment.objects.get(organization=world.ingham, year=YEAR)
    assert assessment.scores.count() == 31
    assert assessment.scores.get(subcategory_id="GV.OC-01").evidence == "Mission statement approved by the board."
    # Submitting before every subcategory is scored is refused.
    with pytest.raises(ValidationError, match="75 still have no score"):
        services.assessment_submit(actor=world["ingham_admin"], assessment=assessment)
    entries = {
        c: services.ScoreEntry(6)
        for c in CsfSubcategory.objects.exclude(category__function="GV").values_list("code", flat=True)
    }
    services.assessment_scores_save(actor=world["ingham_admin"], assessment=assessment, entries=entries)
    services.assessment_submit(actor=world["ingham_admin"], assessment=assessment)
    assessment.refresh_from_db()
    assert assessment.status == "submitted"
    assert assessment.means["GV"] == 3.0 and assessment.means["PR"] == 6.0
    results = client.get(url + "results/")
    assert results.status_code == 200
    text = results.content.decode()
    assert "Improvement plan" in text and "GV.OC Organizational Context" in text
    assert 'id="posture-radar"' in text and 'role="img"' in text  # the chart, with its table below
    assert AuditEvent.objects.filter(action="assessment.submit").exists()
    rows = list(csv.reader(io.StringIO(client.get(url + "results.csv").content.decode())))
    assert rows[0][:4] == ["level", "code", "title", "mean"] and any(r[1] == "GV" and r[3] == "3.0" for r in rows)


@pytest.mark.parametrize("bad", ["0", "8", "9", "-1", "4.5", "x"])
def test_a_score_outside_1_to_7_is_refused_on_the_page_and_nothing_is_stored(world, as_persona, bad):
    client = as_persona("ingham_admin")
    url = f"/measurement/assessments/{world.ingham.pk}/{YEAR}/?function=GV"
    response = client.post(url, {"score_GV.OC-01": "4", "score_GV.OC-02": bad, "evidence_GV.OC-02": "kept?"})
    assert response.status_code == 400
    assert "A score is a whole number from 1 to 7." in response.content.decode()
    assert "Nothing was saved" in response.content.decode()
    assert not AssessmentScore.objects.exists()


@pytest.mark.parametrize("bad", [0, 8, 100, -3])
def test_a_score_outside_1_to_7_is_refused_by_the_api_and_nothing_is_stored(world, as_persona, bad):
    assessment = services.assessment_start(actor=world["ingham_admin"], organization=world.ingham, year=YEAR)
    client = as_persona("ingham_admin")
    response = client.post(
        f"/api/v1/measurement/assessments/{assessment.pk}/scores/",
        [{"subcategory": "GV.OC-01", "score": 5}, {"subcategory": "GV.OC-02", "score": bad}],
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "from 1 to 7" in json.dumps(response.json()["error"]["fields"])
    assert not AssessmentScore.objects.exists()


def test_the_service_refuses_bad_scores_and_unknown_subcategories(world):
    assessment = services.assessment_start(actor=world["ingham_admin"], organization=world.ingham, year=YEAR)
    with pytest.raises(ValidationError) as info:
        services.assessment_scores_save(
            actor=world["ingham_admin"],
            assessment=assessment,
            entries={
                "GV.OC-01": services.ScoreEntry(5),
                "GV.OC-02": services.ScoreEntry(12),
                "XX.YY-01": services.ScoreEntry(3),
            },
        )
    assert set(info.value.message_dict) == {"GV.OC-02", "XX.YY-01"}
    assert not AssessmentScore.objects.exists()


def test_an_official_reads_but_cannot_change_the_assessment(world, as_persona):
    client = as_persona("ingham_official")
    response = client.post(f"/measurement/assessments/{world.ingham.pk}/{YEAR}/?function=GV", {"score_GV.OC-01": "4"})
    assert response.status_code == 403
    assert not Assessment.objects.exists()


def test_peer_benchmark_needs_five_other_organisations(world):
    own = submitted(world.ingham, YEAR, 3)
    peers = cities(4)
    for org in peers:
        submitted(org, YEAR, 5)
    results = stats.assessment_results(own)
    assert results.peers.suppressed and all(r.peer is None for r in results.categories)
    submitted(cities(1)[0], YEAR, 5)
    results = stats.assessment_results(own)
    assert not results.peers.suppressed and results.peers.n == 5
    assert results.functions[0].peer == 5.0


def test_year_over_year_and_the_improvement_plan_names_the_weakest_categories(world, monkeypatch):
    from commonguard.measurement import hooks

    submitted(world.ingham, YEAR - 1, 3)
    current = submitted(world.ingham, YEAR, {"GV.SC": 2, "DE.AE": 3, "PR.AA": 6})
    results = stats.assessment_results(current)
    assert results.previous is not None and results.previous.year == YEAR - 1
    assert results.categories[0].previous == 3.0
    plan = stats.improvement_plan(results, world["ingham_admin"])
    assert [item.category.code for item in plan][:2] == ["GV.SC", "DE.AE"]
    assert plan[0].resources == []  # the library (partnerships) is installed; nothing is tagged here
    # Swapped for this test only: monkeypatch puts the library's own provider back afterwards.
    monkeypatch.setitem(
        hooks._providers,
        "library",
        lambda codes, user: {c: [hooks.Resource(f"Playbook for {c}", f"/library/{c}/")] for c in codes},
    )
    plan = stats.improvement_plan(results, world["ingham_admin"])
    assert plan[0].resources == [hooks.Resource("Playbook for GV.SC", "/library/GV.SC/")]


# --- The relationship survey ------------------------------------------------------------------


def test_the_it_lead_answers_once_and_a_second_answer_is_a_clear_error(world, as_persona):
    open_survey(YEAR)
    client = as_persona("ingham_admin")
    url = f"/measurement/survey/{world.ingham.pk}/"
    assert client.get(url).status_code == 200
    first = {
        "information_sharing": "excellent",
        "resource_sharing": "fair",
        "education_training": "poor",
        "comments": "More training please.",
    }
    assert client.post(url, first).status_code == 302
    second = client.post(url, {**first, "information_sharing": "poor"})
    assert second.status_code == 409
    assert f"Ingham County has already answered the {YEAR} survey; one answer a year." in second.content.decode()
    answer_row = SurveyResponse.objects.get()
    assert answer_row.information_sharing == "excellent" and answer_row.comments == "More training please."
    api = client.post(
        "/api/v1/measurement/survey/answers/",
        {
            "organization": world.ingham.pk,
            "information_sharing": "poor",
            "resource_sharing": "poor",
            "education_training": "poor",
        },
        content_type="application/json",
    )
    assert api.status_code == 409 and api.json()["error"]["code"] == "already_answered"
    assert SurveyResponse.objects.count() == 1 and SurveyResponse.objects.get().information_sharing == "excellent"


def test_a_survey_answer_with_a_bad_rating_is_refused(world, as_persona):
    open_survey(YEAR)
    client = as_persona("ingham_admin")
    response = client.post(f"/measurement/survey/{world.ingham.pk}/", {"information_sharing": "superb"})
    assert response.status_code == 400
    assert not SurveyResponse.objects.exists()


@pytest.mark.parametrize(
    "persona", ["ingham_member", "ingham_official", "lansing_member", "liaison1", "analyst", "operator"]
)
def test_only_a_local_governments_admin_answers_the_survey(world, as_persona, persona):
    open_survey(YEAR)
    org = world.lansing if persona == "lansing_member" else world.ingham
    response = as_persona(persona).post(
        f"/measurement/survey/{org.pk}/",
        {"information_sharing": "fair", "resource_sharing": "fair", "education_training": "fair"},
    )
    assert response.status_code == 404
    assert not SurveyResponse.objects.exists()


@pytest.mark.parametrize("persona", PERSONAS)
def test_individual_answers_are_read_only_by_the_survey_owners(world, as_persona, persona):
    SurveyOwner.objects.create(state="MI", user=world["liaison1"])
    answer(world.ingham, YEAR, "poor")
    client = as_persona(persona)
    response = client.get(f"/measurement/survey/answers/?year={YEAR}")
    qs = (
        SurveyResponse.objects.visible_to(world.people.get(persona))
        if persona != "anonymous"
        else SurveyResponse.objects.none()
    )
    if persona == "liaison1":
        assert response.status_code == 200 and "Ingham County" in response.content.decode()
        assert qs.count() == 1
    else:
        assert response.status_code in {302, 404}
        assert qs.count() == 0


def test_survey_results_by_region_and_size_hide_cells_under_five(world, as_persona):
    big = cities(6, region=world.region1, population=120_000)
    small = cities(3, region=world.region2, population=5_000, county_fips="26161")
    for org in big:
        answer(org, YEAR, "excellent")
    for org in small:
        answer(org, YEAR, "poor")
    results = stats.survey_results("MI", YEAR)
    assert results.total.n == 9
    region1 = next(c for c in results.by_region if c.label == "Region 1")
    region2 = next(c for c in results.by_region if c.label == "Region 2")
    # Region 2 has 3 answers: hidden; and region 1 (6) would give it away as "total minus region 1".
    assert region2.suppressed and region1.suppressed
    page = as_persona("washtenaw_member").get(f"/measurement/survey/results/?year={YEAR}")
    text = page.content.decode()
    assert page.status_code == 200 and "fewer than 5 (not shown)" in text
    assert "CompTIA Public Technology Institute" in text and "Not verified" in text
    body = as_persona("washtenaw_member").get(f"/api/v1/measurement/survey/results/?year={YEAR}").json()
    assert body["total"]["n"] == 9 and body["baseline"][0]["pct"] == 39
    assert all(c["n"] is None for c in body["by_region"])


# --- The state dashboard ----------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_dashboard_is_for_the_states_staff(world, as_persona, persona):
    client = as_persona(persona)
    page = client.get("/measurement/dashboard/")
    api = client.get("/api/v1/measurement/dashboard/")
    csv_response = client.get("/measurement/dashboard/counties.csv")
    if persona in {"liaison1", "liaison2", "analyst"}:
        assert page.status_code == api.status_code == csv_response.status_code == 200
    elif persona in {"anonymous", "unvetted", "removed_member"}:
        assert page.status_code == 302
    else:
        assert page.status_code == api.status_code == csv_response.status_code == 404


@pytest.mark.parametrize("layer", ["alerts", "sightings", "participation", "survey", "posture", "incidents"])
def test_every_layer_renders_with_its_csv_and_api(world, as_persona, layer):
    orgs = cities(5, county_fips="26065")
    for org in orgs:
        answer(org, YEAR, "excellent")
        submitted(org, YEAR, 4)
    client = as_persona("analyst")
    page = client.get(f"/measurement/dashboard/?layer={layer}&year={YEAR}")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="dashboard-map"' in text and 'id="dashboard-rows"' in text
    api = client.get(f"/api/v1/measurement/dashboard/?layer={layer}&year={YEAR}").json()
    assert api["layer"]["key"] == layer and {t for t in api["trends"]} == {
        "alerts",
        "incidents",
        "sightings",
        "participation",
        "survey",
        "posture",
    }
    rows = list(
        csv.DictReader(
            io.StringIO(client.get(f"/measurement/dashboard/counties.csv?layer={layer}&year={YEAR}").content.decode())
        )
    )
    ingham = next(r for r in rows if r["county_fips"] == "26065")
    if layer == "survey":
        assert ingham["value"] == "100" and ingham["organisations"] == "5"
    if layer == "posture":
        assert ingham["value"] == "4.0"
    trends = client.get("/measurement/dashboard/trends.csv").content.decode()
    assert trends.startswith("state,layer,unit,year,value")


def test_an_unknown_layer_or_year_is_a_clear_api_error(world, as_persona):
    client = as_persona("analyst")
    assert client.get("/api/v1/measurement/dashboard/?layer=weather").status_code == 400
    assert client.get("/api/v1/measurement/dashboard/?year=1999").status_code == 400
    assert client.get("/measurement/dashboard/?layer=weather").status_code == 404


def test_a_layer_is_added_in_one_place(monkeypatch):
    """A new layer is one register_layer call (the incidents app registers its own this way)."""
    from commonguard.measurement.layers import LAYERS, CountyValue, Layer, register_layer

    assert "incidents" in LAYERS  # registered by IncidentsConfig.ready()
    monkeypatch.setattr("commonguard.measurement.layers.LAYERS", dict(LAYERS))  # restored afterwards
    from commonguard.measurement import layers

    register_layer(
        Layer(
            "floods",
            "Floods",
            "A layer added for this test.",
            "count",
            lambda ctx: {"26065": CountyValue("26065", 2.0)},
            lambda ctx: dict.fromkeys(ctx.years, 1.0),
        )
    )
    assert "floods" in layers.LAYERS and "floods" not in LAYERS
