"""STIX import pages in a real browser: upload a bundle, watch the job's progress turn complete by
htmx polling, search the intelligence it brought; axe-core finds no violation on any of them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Hub, assert_axe_clean, run_worker, sign_in_by_cookie
from tests.test_stix_feeds import bundle_21

pytestmark = pytest.mark.browser


def test_upload_progress_and_search(axe_page: Any, live_server: Any, hub: Hub, tmp_path: Path) -> None:
    page = axe_page
    sign_in_by_cookie(page.context, live_server, hub.member)
    page.goto(live_server.url + "/stix/imports/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Import a STIX bundle")
    page.get_by_role("button", name="Import").click()  # no file: the form says so
    expect(page.locator(".usa-error-message").first).to_be_visible()
    assert_axe_clean(page, "stix-import-errors")

    path = tmp_path / "report.json"
    path.write_text(json.dumps(bundle_21()))
    page.locator("input[type=file]").set_input_files(str(path))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("STIX import")
    expect(page.get_by_role("status")).to_contain_text("Queued")
    run_worker()
    # The page polls every 2 s: the job's outcome appears without a reload.
    expect(page.get_by_role("status")).to_contain_text("Complete", timeout=10_000)
    expect(page.get_by_role("status")).to_contain_text("12 objects: 12 stored")
    expect(page.get_by_role("link", name="Imported: STIX bundle report.json")).to_be_visible()
    assert_axe_clean(page, "stix-import-complete")

    page.goto(live_server.url + "/stix/intelligence/")
    page.get_by_label("Name, alias or external id (such as T1566)").fill("T1566")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("table")).to_contain_text("Phishing")
    assert_axe_clean(page, "stix-intelligence")
