"""The statutory-clock pages in Chromium: axe-core finds no violations; the countdown runs under the
site's CSP (no console errors) and shows the time left."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from commonguard.statutes.models import Obligation, ReportingRule, RuleRecipient
from commonguard.statutes.shipped import load_shipped_rules
from tests.browser.conftest import Hub, axe_violations, describe_violations, screenshot, sign_in_by_cookie
from tests.statutes_helpers import submit_report

pytestmark = pytest.mark.browser


def _mi_rule() -> ReportingRule:
    load_shipped_rules(ReportingRule, RuleRecipient)
    rule = ReportingRule.objects.create(
        key="mi-demo", state="MI", name="Demo clock", citation="Demo §1", duration=24, unit="hours"
    )
    RuleRecipient.objects.create(rule=rule, name="Michigan Cyber Command Center", email="mc3@michigan-soc.example")
    return rule


def _open(page: Any, live_server: Any, user: Any, path: str) -> None:
    sign_in_by_cookie(page.context, live_server, user)
    response = page.goto(path)
    assert response is not None and response.status in {200, 400}, f"{path} answered {response and response.status}"


def _pages(hub: Hub) -> dict[str, tuple[Any, str, str]]:
    _mi_rule()
    report = submit_report(hub.ingham, hub.member, discovered_at=timezone.now() - timedelta(hours=3))
    late = submit_report(hub.ingham, hub.member, discovered_at=timezone.now() - timedelta(hours=30))
    obligation = Obligation.objects.get(report=report)
    assert Obligation.objects.get(report=late).status == "overdue"
    return {
        "rules": (hub.member, "/statutes/rules/", "Reporting rules"),
        "rule-new": (hub.liaison, "/statutes/rules/new/", "Add a reporting rule"),
        "report-obligations": (hub.member, f"/statutes/reports/{report.uuid}/", "Reporting obligations"),
        "obligation": (
            hub.member,
            f"/statutes/obligations/{obligation.pk}/",
            "Report to Michigan Cyber Command Center",
        ),
        "overdue": (hub.member, "/statutes/overdue/", "Reports still to send"),
        "health": (hub.liaison, "/statutes/health/mi/", "Reporting health: Michigan"),
    }


@pytest.mark.parametrize("name", ["rules", "rule-new", "report-obligations", "obligation", "overdue", "health"])
def test_statute_pages_have_no_axe_violations(name: str, axe_page: Any, live_server: Any, hub: Hub) -> None:
    user, path, heading = _pages(hub)[name]
    _open(axe_page, live_server, user, path)
    if name == "rule-new":  # with its errors shown
        axe_page.get_by_role("button", name="Save the rule").click()
        expect(axe_page.locator(".usa-error-message").first).to_be_visible()
    expect(axe_page.get_by_role("heading", level=1)).to_have_text(heading)
    violations = axe_violations(axe_page)
    screenshot(axe_page, f"statutes-{name}")
    if violations:
        pytest.fail(describe_violations(name, axe_page.url, violations), pytrace=False)


def test_the_countdown_runs_under_the_csp(page: Any, live_server: Any, hub: Hub) -> None:
    user, path, _ = _pages(hub)["report-obligations"]
    Obligation.objects.update(due_at=timezone.now() + timedelta(hours=5, minutes=30))
    page.clock.install()
    _open(page, live_server, user, path)
    countdown = page.locator("[data-cg-due]").first
    # 5 h 30 min less the page's load time, shown in whole minutes: 29 or (a fast load) 30.
    expect(countdown).to_have_text(re.compile(r"^5 h (29|30) min left$"))
    # An hour later, without reloading: only the script can have changed the text.
    page.clock.fast_forward("01:00:00")
    expect(countdown).to_have_text(re.compile(r"^4 h (29|30) min left$"))
    page.clock.fast_forward("05:00:00")
    expect(countdown).to_have_text(re.compile(r"^overdue by (29|30|31) min$"))
    page.errors.assert_none()
