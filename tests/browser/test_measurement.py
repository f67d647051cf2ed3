"""Measurement in Chromium: the self-assessment (scores, a bad score, results with the radar chart),
the relationship survey (answered once; a second answer is refused), the dashboard map, and axe-core
on each page. Charts run under the site's CSP (no inline script or style)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from commonguard.measurement.layers import LAYERS
from commonguard.measurement.models import Assessment, SurveyResponse
from tests.browser.conftest import (
    TIMEOUT_MS,
    VIEWPORT,
    Hub,
    axe_violations,
    describe_violations,
    screenshot,
    sign_in_by_cookie,
)
from tests.measurement_helpers import answer, cities, ensure_csf, open_survey, submitted

YEAR = timezone.now().year


@pytest.fixture(autouse=True)
def _csf(browser_db: None) -> None:
    ensure_csf()


@pytest.fixture
def second_page(browser: Any, live_server: Any) -> Iterator[Any]:
    """The same person in a second tab of another browser."""
    ctx = browser.new_context(base_url=live_server.url, viewport=VIEWPORT)
    ctx.set_default_timeout(TIMEOUT_MS)
    page = ctx.new_page()
    yield page
    ctx.close()


def _population(hub: Hub) -> None:
    """Enough local governments for the k >= 5 figures to show."""
    for index, org in enumerate(cities(6, region=hub.region)):
        answer(org, YEAR, ["excellent", "fair", "poor"][index % 3])
        answer(org, YEAR - 1, "fair")
        submitted(org, YEAR, 3 + index % 3)
        submitted(org, YEAR - 1, 3)


@pytest.mark.browser
def test_score_a_function_refuse_a_bad_score_and_see_the_radar(page: Any, live_server: Any, hub: Hub) -> None:
    _population(hub)
    submitted(hub.ingham, YEAR - 1, 3)
    sign_in_by_cookie(page.context, live_server, hub.member)
    page.goto(f"/measurement/assessments/{hub.ingham.pk}/{YEAR}/?function=GV")
    expect(page.get_by_role("heading", level=2, name="Govern (GV)")).to_be_visible()
    selects = page.locator("select[name^='score_']")
    count = selects.count()
    assert count == 31
    for i in range(count):
        selects.nth(i).select_option("4")
    page.get_by_label("Evidence for GV.OC-01").fill("Board minutes, March.")
    # A score outside 1–7 (a tampered form) is refused with a clear message, nothing stored.
    page.evaluate("document.querySelector(\"select[name='score_GV.OC-02']\").add(new Option('9', '9', true, true))")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("alert").first).to_contain_text("Nothing was saved")
    expect(page.locator("main")).to_contain_text("A score is a whole number from 1 to 7.")
    assert not Assessment.objects.filter(organization=hub.ingham, year=YEAR).exists()
    page.errors.clear()  # the refused save is a 400, which Chromium logs
    page.locator("select[name='score_GV.OC-02']").select_option("4")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.locator(".cg-messages")).to_contain_text("Saved the Govern scores.")
    assessment = Assessment.objects.get(organization=hub.ingham, year=YEAR)
    assert assessment.scores.count() == 31
    page.goto(f"/measurement/assessments/{hub.ingham.pk}/{YEAR}/results/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{YEAR} cyber posture")
    page.wait_for_function("() => window.Chart && window.Chart.getChart(document.getElementById('posture-radar'))")
    datasets = page.evaluate(
        "() => window.Chart.getChart(document.getElementById('posture-radar')).data.datasets.map(d => d.label)"
    )
    assert datasets[0] == str(YEAR) and "Peers (mean)" in datasets and str(YEAR - 1) in datasets
    expect(page.locator("table").nth(1)).to_contain_text("GV.OC Organizational Context")
    page.errors.assert_none()


@pytest.mark.browser
def test_the_survey_is_answered_once(page: Any, second_page: Any, live_server: Any, hub: Hub) -> None:
    open_survey(YEAR)
    for p in (page, second_page):
        sign_in_by_cookie(p.context, live_server, hub.admin)
        p.goto(f"/measurement/survey/{hub.ingham.pk}/")
    # Both tabs show the form; the first answer counts, the second is refused.
    page.get_by_role("group", name="Information sharing").get_by_text("Excellent").click()
    page.get_by_role("group", name="Resource sharing").get_by_text("Fair").click()
    page.get_by_role("group", name="Education and training").get_by_text("Poor").click()
    page.get_by_label("Comments (optional)").fill("More regional training, please.")
    page.get_by_role("button", name="Send the answer").click()
    expect(page.locator(".cg-messages")).to_contain_text(f"answer to the {YEAR} survey is recorded")
    for group in ("Information sharing", "Resource sharing", "Education and training"):
        second_page.get_by_role("group", name=group).get_by_text("Poor").click()
    second_page.get_by_role("button", name="Send the answer").click()
    expect(second_page.get_by_role("alert").first).to_contain_text(
        f"Ingham County has already answered the {YEAR} survey; one answer a year."
    )
    second_page.errors.clear() if hasattr(second_page, "errors") else None  # the refusal is a 409
    answer_row = SurveyResponse.objects.get()
    assert (answer_row.information_sharing, answer_row.education_training) == ("excellent", "poor")
    page.errors.assert_none()


@pytest.mark.browser
def test_the_dashboard_map_draws_the_counties(page: Any, live_server: Any, hub: Hub) -> None:
    _population(hub)
    sign_in_by_cookie(page.context, live_server, hub.liaison)
    page.goto(f"/measurement/dashboard/?layer=posture&year={YEAR}")
    expect(page.locator("#dashboard-map.cg-map--drawn")).to_have_count(1)
    assert page.locator("#dashboard-map path.cg-county").count() == 83  # Michigan's counties
    fill = page.locator("#dashboard-map path[data-fips='26065']").get_attribute("fill")
    assert fill != "#f0f0f0"  # Ingham has 6 assessments: a value
    # One trend chart per registered layer (alerts, sightings, participation, survey, posture, incidents).
    layers = len(LAYERS)
    page.wait_for_function(
        f"() => document.querySelectorAll('.cg-trend__chart').length === {layers} && "
        "[...document.querySelectorAll('.cg-trend__chart')].every(c => window.Chart.getChart(c))"
    )
    page.get_by_label("Map layer").select_option("survey")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", level=2, name=f"Relationship survey by county, {YEAR}")).to_be_visible()
    page.errors.assert_none()


def _assessment(page: Any, live_server: Any, hub: Hub) -> str:
    sign_in_by_cookie(page.context, live_server, hub.member)
    page.goto(f"/measurement/assessments/{hub.ingham.pk}/{YEAR}/?function=PR")
    return f"Ingham County: {YEAR} cyber posture self-assessment"


def _assessment_errors(page: Any, live_server: Any, hub: Hub) -> str:
    heading = _assessment(page, live_server, hub)
    page.evaluate("document.querySelector(\"select[name='score_PR.AA-01']\").add(new Option('0', '0', true, true))")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("alert").first).to_contain_text("Nothing was saved")
    return heading


def _results(page: Any, live_server: Any, hub: Hub) -> str:
    _population(hub)
    submitted(hub.ingham, YEAR - 1, 3)
    submitted(hub.ingham, YEAR, {"GV.SC": 2, "PR.AA": 6})
    sign_in_by_cookie(page.context, live_server, hub.member)
    page.goto(f"/measurement/assessments/{hub.ingham.pk}/{YEAR}/results/")
    page.wait_for_function("() => window.Chart && window.Chart.getChart(document.getElementById('posture-radar'))")
    return f"Ingham County: {YEAR} cyber posture"


def _survey(page: Any, live_server: Any, hub: Hub) -> str:
    open_survey(YEAR)
    sign_in_by_cookie(page.context, live_server, hub.admin)
    page.goto(f"/measurement/survey/{hub.ingham.pk}/")
    return f"{YEAR} relationship survey: Ingham County"


def _survey_errors(page: Any, live_server: Any, hub: Hub) -> str:
    open_survey(YEAR)
    answer(hub.ingham, YEAR, "fair")
    sign_in_by_cookie(page.context, live_server, hub.admin)
    page.goto(f"/measurement/survey/{hub.ingham.pk}/")
    return f"{YEAR} relationship survey: Ingham County"


def _survey_results(page: Any, live_server: Any, hub: Hub) -> str:
    _population(hub)
    sign_in_by_cookie(page.context, live_server, hub.member)
    page.goto(f"/measurement/survey/results/?year={YEAR}")
    page.wait_for_function("() => window.Chart && window.Chart.getChart(document.getElementById('survey-trend'))")
    return f"How local governments rate the state: {YEAR}"


def _dashboard(page: Any, live_server: Any, hub: Hub) -> str:
    _population(hub)
    sign_in_by_cookie(page.context, live_server, hub.liaison)
    page.goto(f"/measurement/dashboard/?layer=survey&year={YEAR}")
    expect(page.locator("#dashboard-map.cg-map--drawn")).to_have_count(1)
    page.locator("details.cg-details summary").click()
    return "Michigan: state dashboard"


def _home(page: Any, live_server: Any, hub: Hub) -> str:
    sign_in_by_cookie(page.context, live_server, hub.admin)
    page.goto("/measurement/")
    return "Measurement"


def _survey_manage(page: Any, live_server: Any, hub: Hub) -> str:
    from commonguard.measurement import surveys
    from commonguard.measurement.models import SurveyOwner

    SurveyOwner.objects.create(state="MI", user=hub.liaison)
    surveys.survey_open(actor=hub.liaison, state="MI", year=YEAR)
    sign_in_by_cookie(page.context, live_server, hub.liaison)
    page.goto(f"/measurement/survey/manage/{YEAR}/")
    return f"{YEAR} relationship survey: open"


def _survey_manage_list(page: Any, live_server: Any, hub: Hub) -> str:
    from commonguard.measurement.models import SurveyOwner

    SurveyOwner.objects.create(state="MI", user=hub.liaison)
    sign_in_by_cookie(page.context, live_server, hub.liaison)
    page.goto("/measurement/survey/manage/")
    return "Run the relationship survey"


MEASUREMENT_PAGES: dict[str, Callable[[Any, Any, Hub], str]] = {
    "survey-manage": _survey_manage,
    "survey-manage-list": _survey_manage_list,
    "measurement-home": _home,
    "assessment-edit": _assessment,
    "assessment-edit-errors": _assessment_errors,
    "assessment-results": _results,
    "survey-form": _survey,
    "survey-form-answered": _survey_errors,
    "survey-results": _survey_results,
    "dashboard": _dashboard,
}


@pytest.mark.browser
@pytest.mark.parametrize("name", MEASUREMENT_PAGES)
def test_measurement_page_has_no_axe_violations(name: str, axe_page: Any, live_server: Any, hub: Hub) -> None:
    heading = MEASUREMENT_PAGES[name](axe_page, live_server, hub)
    expect(axe_page.get_by_role("heading", level=1)).to_have_text(heading)
    violations = axe_violations(axe_page)
    screenshot(axe_page, name)
    if violations:
        pytest.fail(describe_violations(name, axe_page.url, violations), pytrace=False)


@pytest.mark.browser
def test_the_owner_opens_the_survey_and_the_it_lead_answers_through_the_link(
    page: Any, second_page: Any, live_server: Any, hub: Hub
) -> None:
    from django.urls import reverse

    from commonguard.measurement import surveys
    from commonguard.measurement.models import SurveyInvitation, SurveyOwner

    SurveyOwner.objects.create(state="MI", user=hub.liaison)
    sign_in_by_cookie(page.context, live_server, hub.liaison)
    page.goto("/measurement/survey/manage/")
    page.get_by_label("Survey year").fill(str(YEAR))
    page.get_by_role("button", name="Open the survey and invite the IT leads").click()
    expect(page.locator(".cg-messages")).to_contain_text(f"The {YEAR} survey is open")
    expect(page.get_by_role("table", name="Response rate by region")).to_contain_text("Region 1")
    invitation = SurveyInvitation.objects.get(recipient=hub.admin)
    link = reverse("measurement:survey-link", kwargs={"token": surveys.answer_token(invitation)})
    sign_in_by_cookie(second_page.context, live_server, hub.admin)
    second_page.goto(link)
    for group in ("Information sharing", "Resource sharing", "Education and training"):
        second_page.get_by_role("group", name=group).get_by_text("Fair").click()
    second_page.get_by_role("button", name="Send the answer").click()
    expect(second_page.locator(".cg-messages")).to_contain_text(f"answer to the {YEAR} survey is recorded")
    second_page.goto(link)
    expect(second_page.locator(".cg-messages")).to_contain_text("This link has been used")
    page.reload()
    expect(page.get_by_role("table", name="Response rate by region")).to_contain_text("100 %")
    page.errors.assert_none()
