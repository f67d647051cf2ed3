"""The campaign map in a real browser, under the site's CSP: the counties are drawn from the atlas
with d3-geo, a sighting reported by someone else (in their own browser) colours its county and fills
the table without a reload; axe-core finds nothing on the map page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from commonguard.accounts.models import Role, User
from commonguard.sharing import services
from commonguard.sharing.campaign import NO_SIGHTINGS_COLOUR, SCALE
from commonguard.sharing.models import Alert, Sighting
from commonguard.sharing.reactions import sighting_report
from tests.browser.conftest import (
    TIMEOUT_MS,
    VIEWPORT,
    Hub,
    axe_violations,
    describe_violations,
    run_worker,
    screenshot,
    sign_in_by_cookie,
)
from tests.factories import MembershipFactory, UserFactory

MICHIGAN_COUNTIES = 83
WASHTENAW, INGHAM = "26161", "26065"
# A poll every 5 s: a change must show within two of them.
LIVE_MS = 12_000


@pytest.fixture
def washtenaw_reader(hub: Hub) -> User:
    user = UserFactory(email="wren.washtenaw@example.test", full_name="Wren Washtenaw")
    MembershipFactory(user=user, organization=hub.washtenaw, role=Role.MEMBER)
    return user


@pytest.fixture
def second_page(browser: Any, live_server: Any) -> Iterator[Any]:
    """Another person at another computer."""
    ctx = browser.new_context(base_url=live_server.url, viewport=VIEWPORT)
    ctx.set_default_timeout(TIMEOUT_MS)
    page = ctx.new_page()
    yield page
    ctx.close()


def _publish(hub: Hub) -> Alert:
    data = services.AlertInput(
        title="Spear-phishing posing as the county clerk",
        summary="Fake invoices from `clerk-invoices.example.net`.",
        category=Alert.Category.PHISHING,
        tlp="green",
        indicators=[(None, "clerk-invoices.example.net")],
    )
    draft = services.alert_save_draft(actor=hub.member, author_org=hub.ingham, data=data)
    return services.alert_publish(actor=hub.member, alert=draft)


def _rgb(colour: str) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def _county(page: Any, fips: str) -> Any:
    return page.locator(f"#campaign-map path.cg-county[data-fips='{fips}']")


@pytest.mark.browser
def test_the_map_draws_the_counties_and_updates_itself(
    page: Any, second_page: Any, live_server: Any, hub: Hub, washtenaw_reader: User
) -> None:
    alert = _publish(hub)
    sign_in_by_cookie(page.context, live_server, hub.member)
    page.goto(f"/alerts/{alert.uuid}/")
    page.get_by_role("link", name="Map of the sightings by county").click()
    page.wait_for_url(f"**/alerts/{alert.uuid}/map/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Where “{alert.title}” was seen")

    counties = page.locator("#campaign-map path.cg-county")
    expect(counties).to_have_count(MICHIGAN_COUNTIES)
    washtenaw = _county(page, WASHTENAW)
    expect(washtenaw).to_have_attribute("fill", NO_SIGHTINGS_COLOUR)
    expect(washtenaw.locator("title")).to_have_text("Washtenaw County: no sightings")
    assert washtenaw.get_attribute("d").startswith("M")
    svg = page.get_by_role("img", name=re.compile("Map of Michigan counties"))
    expect(svg).to_have_attribute("aria-label", re.compile("No county has reported a sighting yet"))
    expect(page.locator("#campaign-rows")).to_have_text("No county has reported a sighting yet.")
    page.evaluate("window.__notReloaded = true")

    # Someone in Washtenaw County reports it, in their own browser, through the alert's form.
    sign_in_by_cookie(second_page.context, live_server, washtenaw_reader)
    second_page.goto(f"/alerts/{alert.uuid}/")
    second_page.get_by_text("Report a sighting or a false positive").click()
    second_page.get_by_label("What did you find?").select_option(label="Seen in our environment")
    second_page.get_by_label("How many times").fill("4")
    second_page.get_by_role("button", name="Report").click()
    expect(second_page.locator(".cg-messages")).to_contain_text("your report is recorded")
    assert Sighting.objects.filter(alert=alert, organization=hub.washtenaw).count() == 1

    # The first page colours Washtenaw and lists it, without a reload.
    expect(washtenaw).to_have_attribute("fill", SCALE[0][1], timeout=LIVE_MS)
    expect(washtenaw.locator("title")).to_have_text(
        "Washtenaw County: 1 sighting from 1 organisation (Washtenaw County)"
    )
    # What the eye sees is the fill (no style sheet rule overrides it).
    assert washtenaw.evaluate("el => getComputedStyle(el).fill") == _rgb(SCALE[0][1])
    row = page.locator("#campaign-rows tr[data-fips='26161']")
    expect(row).to_contain_text("Washtenaw County")
    expect(row.locator("td").nth(2)).to_have_text("4")  # times seen
    expect(page.locator("#campaign-summary")).to_have_text(re.compile(r"^1 sighting from 1 organisation in 1 county\."))
    expect(svg).to_have_attribute("aria-label", re.compile("Washtenaw County 1"))

    # A second report, through the service, from the author's own county: two classes now.
    sighting_report(actor=hub.admin, alert=alert, organization=hub.ingham, kind="seen")
    sighting_report(actor=hub.admin, alert=alert, organization=hub.ingham, kind="seen")
    expect(_county(page, INGHAM)).to_have_attribute("fill", SCALE[1][1], timeout=LIVE_MS)
    expect(page.locator("#campaign-rows tr")).to_have_count(2)
    assert page.evaluate("window.__notReloaded") is True
    screenshot(page, "campaign-map-live")
    page.errors.assert_none()


@pytest.mark.browser
def test_campaign_pages_pass_axe(axe_page: Any, live_server: Any, hub: Hub, washtenaw_reader: User) -> None:
    alert = _publish(hub)
    sighting_report(actor=washtenaw_reader, alert=alert, organization=hub.washtenaw, kind="seen", count=3)
    sighting_report(actor=hub.admin, alert=alert, organization=hub.ingham, kind="false_positive")
    sign_in_by_cookie(axe_page.context, live_server, hub.member)
    for path, name, heading in [
        (f"/alerts/{alert.uuid}/map/", "campaign-map", f"Where “{alert.title}” was seen"),
        ("/alerts/map/", "campaign-statewide", "Sightings across Michigan"),
    ]:
        axe_page.goto(path)
        expect(axe_page.get_by_role("heading", level=1)).to_have_text(heading)
        expect(_county(axe_page, WASHTENAW)).to_have_attribute("fill", SCALE[0][1])
        violations = axe_violations(axe_page)
        screenshot(axe_page, name)
        if violations:
            pytest.fail(describe_violations(name, axe_page.url, violations), pytrace=False)
    axe_page.errors.assert_none()


@pytest.mark.browser
def test_a_sighting_reaches_an_open_map_through_the_live_feed(
    page: Any, live_server: Any, hub: Hub, washtenaw_reader: User, monkeypatch: Any
) -> None:
    """With the fallback poll an hour away, the map still changes within seconds: the sighting is a
    live-feed event for the alert's readers (the worker applies the read rule), and the map refreshes."""

    from commonguard.sharing import campaign_views

    monkeypatch.setattr(campaign_views, "POLL_SECONDS", 3600)
    alert = _publish(hub)
    run_worker()
    sign_in_by_cookie(page.context, live_server, hub.member)
    page.goto(f"/alerts/{alert.uuid}/map/")
    expect(page.locator("#cg-live")).to_have_attribute("data-connected", "1")
    washtenaw = _county(page, WASHTENAW)
    expect(washtenaw).to_have_attribute("fill", NO_SIGHTINGS_COLOUR)
    sighting_report(actor=washtenaw_reader, alert=alert, organization=hub.washtenaw, kind="seen", count=2)
    run_worker()
    expect(washtenaw).to_have_attribute("fill", SCALE[0][1], timeout=6_000)
    expect(page.locator("#cg-live .usa-alert")).to_have_count(0)  # a sighting is no banner
    page.errors.assert_none()
