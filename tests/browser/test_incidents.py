"""Incident reports in a real browser: a reporter completes the minimal report in at most 3 screens,
with axe-core on every screen (and on the sent report and the state's triage console); the htmx
autosave under the site's CSP."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from commonguard.incidents.models import IncidentReport
from tests.browser.conftest import (
    VIEWPORT,
    Hub,
    axe_violations,
    describe_violations,
    screenshot,
    sign_in_by_cookie,
)

STEP = re.compile(r"/incidents/[0-9a-f-]{36}/step/(\d)/$")
PHONE = {"width": 390, "height": 844}
DETAIL = re.compile(r"/incidents/[0-9a-f-]{36}/$")


def _axe(page: Any, name: str) -> None:
    violations = axe_violations(page)
    assert not violations, describe_violations(name, page.url, violations)


def _local(minutes_ago: int) -> str:
    when = timezone.now() - timedelta(minutes=minutes_ago)
    return when.astimezone(ZoneInfo("America/Detroit")).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.browser
def test_minimal_report_in_three_screens_with_zero_axe_violations(axe_page: Any, live_server: Any, hub: Hub) -> None:
    page = axe_page
    sign_in_by_cookie(page.context, live_server, hub.member)
    page.goto("/incidents/")
    _axe(page, "incident list")
    page.get_by_role("button", name="Report an incident").click()
    screens: list[str] = []

    page.wait_for_url(STEP)
    screens.append(urlparse(page.url).path)
    expect(page.get_by_role("heading", level=1)).to_contain_text("What happened")
    _axe(page, "report screen 1")
    # On a phone: nothing wider than the screen, and still no violations.
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    _axe(page, "report screen 1 on a phone")
    screenshot(page, "incident-step-1-phone")
    page.set_viewport_size(VIEWPORT)
    page.get_by_label("A short title").fill("Ransomware on the county file servers")
    page.get_by_label("What happened", exact=True).select_option(label="Ransomware")
    page.get_by_label("What happened, in a few words").fill("Every share shows .lock files and a ransom note.")
    page.get_by_label("When did you discover it?").fill(_local(90))
    page.get_by_role("button", name="Save and continue").click()

    page.wait_for_url(re.compile(r"/step/2/$"))
    screens.append(urlparse(page.url).path)
    _axe(page, "report screen 2")
    screenshot(page, "incident-step-2")
    page.get_by_role("button", name="Save and continue").click()

    page.wait_for_url(re.compile(r"/step/3/$"))
    screens.append(urlparse(page.url).path)
    _axe(page, "report screen 3")
    expect(page.locator("main")).to_contain_text("Ransomware on the county file servers")
    page.get_by_role("button", name="Send the report to the state").click()

    page.wait_for_url(DETAIL)
    assert len(screens) <= 3, screens
    expect(page.locator(".cg-messages")).to_contain_text("Your report was sent to the state")
    _axe(page, "the sent report")
    report = IncidentReport.objects.get()
    assert report.status == "submitted" and report.created_by == hub.member
    assert report.title == "Ransomware on the county file servers" and report.category == "ransomware"

    # The state's liaison sees it in the triage console.
    page.context.clear_cookies()
    sign_in_by_cookie(page.context, live_server, hub.liaison)
    page.goto("/incidents/triage/")
    expect(page.locator("main table")).to_contain_text("Ransomware on the county file servers")
    _axe(page, "triage console")
    page.get_by_role("link", name="Ransomware on the county file servers").click()
    page.wait_for_url(DETAIL)
    _axe(page, "the report, state side")


@pytest.mark.browser
def test_autosave_on_change_under_the_csp(page: Any, live_server: Any, hub: Hub) -> None:
    sign_in_by_cookie(page.context, live_server, hub.member)
    page.goto("/incidents/")
    page.get_by_role("button", name="Report an incident").click()
    page.wait_for_url(STEP)
    with page.expect_response(lambda r: r.url.endswith("/autosave/")):
        page.get_by_label("A short title").fill("Phishing wave")
        page.get_by_label("A short title").blur()
    expect(page.locator("#autosave-status")).to_contain_text("Draft saved")
    report = IncidentReport.objects.get()
    assert report.title == "Phishing wave" and report.is_draft
    revision = report.revision
    # The next save carries the new revision (not refused as stale).
    with page.expect_response(lambda r: r.url.endswith("/autosave/")):
        page.get_by_label("What happened", exact=True).select_option(label="Business e-mail compromise")
    expect(page.locator("#autosave-status")).to_contain_text("Draft saved")
    report.refresh_from_db()
    assert report.category == "bec" and report.revision == revision + 1
    page.errors.assert_none()
