"""Directory search: htmx swaps the results in place as the person types or filters."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Hub, sign_in_by_cookie

NAMES = "#results tbody th[data-label='Name'] a"


def _is_htmx_results(response: Any) -> bool:
    return urlparse(response.url).path == "/organizations/" and response.request.headers.get("hx-request") == "true"


@pytest.mark.browser
def test_directory_search_and_kind_filter_update_results_in_place(
    page: Any, context: Any, live_server: Any, hub: Hub
) -> None:
    sign_in_by_cookie(context, live_server, hub.member)
    page.goto("/organizations/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Directory")
    names = page.locator(NAMES)
    expect(names).to_have_count(5)
    expect(page.locator("#results .cg-count")).to_have_text("5 organisations")
    # A marker that a full page load would wipe out.
    page.evaluate("() => { window.cgNoReload = true; }")
    search = page.get_by_label("Name or FIPS code")

    with page.expect_response(_is_htmx_results) as typed:
        search.press_sequentially("washt", delay=30)
    assert typed.value.status == 200
    expect(names).to_have_text(["Washtenaw County"])
    expect(page.locator("#results .cg-count")).to_have_text("1 organisation")
    expect(page.locator("#results")).not_to_contain_text("Ingham County")
    expect(page).to_have_url(re.compile(r"/organizations/\?q=washt&"))  # hx-push-url: the search is linkable

    # Every word must match: no organisation is called "washtenaw lansing".
    search.press_sequentially(" lansing", delay=10)
    expect(page.locator("#results")).to_contain_text("No organisation matches")
    expect(names).to_have_count(0)

    # A FIPS code finds the county it belongs to.
    search.fill("26065")
    expect(names).to_have_text(["Ingham County"])

    # The Kind filter, alone and with a search.
    search.fill("")
    expect(names).to_have_count(5)
    with page.expect_response(_is_htmx_results):
        page.get_by_label("Kind").select_option(label="City")
    expect(names).to_have_text(["City of Lansing"])
    assert "Washtenaw County" not in page.locator("#results").inner_text()
    page.get_by_label("Kind").select_option(label="County")
    expect(names).to_have_count(2)
    expect(names).to_contain_text(["Ingham County", "Washtenaw County"])
    search.press_sequentially("ingham", delay=10)
    expect(names).to_have_text(["Ingham County"])
    expect(page).to_have_url(re.compile(r"/organizations/\?q=ingham&kind=county&"))

    assert page.evaluate("() => window.cgNoReload") is True, "the page was reloaded instead of updated in place"
    # The results link to the profiles.
    names.first.click()
    page.wait_for_url(f"**/organizations/{hub.ingham.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ingham County")
    page.errors.assert_none()
