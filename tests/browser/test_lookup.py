"""“Have we seen this?” in a real browser: paste a log, read the results, and axe-core on the page
before and after a lookup."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from commonguard.sharing import lookup_services, services
from commonguard.sharing.models import Alert
from tests.browser.conftest import Hub, axe_violations, describe_violations, screenshot, sign_in_by_cookie

LOG = (
    "2024-05-01T12:00:00Z fw01 ACCEPT SRC=10.1.2.3 DST=45.137.21.9 DPT=443\n"
    "2024-05-01T12:00:01Z dns01 query: www.vpn-update.example.net IN A\n"
    "2024-05-01T12:00:02Z nothing to see\n"
)


def _publish(hub: Hub) -> Alert:
    data = services.AlertInput(
        title="Exploited VPN appliance",
        summary="Attackers exploit edge devices.",
        category=Alert.Category.EXPLOITED_VULNERABILITY,
        tlp="green",
        indicators=[(None, "45.137.21.9"), (None, "vpn-update.example.net")],
    )
    draft = services.alert_save_draft(actor=hub.member, author_org=hub.ingham, data=data)
    return services.alert_publish(actor=hub.member, alert=draft)


def _check(page: Any, name: str) -> None:
    violations = axe_violations(page)
    screenshot(page, name)
    if violations:
        pytest.fail(describe_violations(name, page.url, violations), pytrace=False)


pytestmark = pytest.mark.browser


def test_paste_a_log_and_see_the_matches(axe_page: Any, live_server: Any, hub: Hub) -> None:
    lookup_services._cache.clear()
    alert = _publish(hub)
    page = axe_page
    sign_in_by_cookie(page.context, live_server, hub.liaison)
    page.goto("/alerts/")
    page.get_by_role("button", name="Threats").click()
    page.get_by_role("link", name="Log lookup").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Have we seen this?")
    _check(page, "lookup-form")
    page.get_by_label("Paste log lines").fill(LOG)
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("status")).to_contain_text("2 of 3 lines matched, from 1 alert")
    table = page.get_by_role("table", name="Matching lines (matched values defanged)")
    expect(table).to_contain_text("DST=45[.]137[.]21[.]9")
    expect(table).to_contain_text("www[.]vpn-update[.]example[.]net")
    expect(page.get_by_role("table", name="Matched alerts").get_by_role("link")).to_have_attribute(
        "href", f"/alerts/{alert.uuid}/"
    )
    _check(page, "lookup-results")
