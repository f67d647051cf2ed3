"""A newcomer registers, asks to join an organisation, its admin approves, the newcomer is vetted."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from commonguard.accounts.models import Membership
from tests.browser.conftest import ADMIN_TOTP_KEY, Hub, sign_in_with_password, sign_out, totp_code

NEWCOMER_EMAIL = "nia.newcomer@example.test"
NEWCOMER_PASSWORD = "lantern-harbour-quartz-58"


def _path(page: Any) -> str:
    return urlparse(page.url).path


@pytest.mark.browser
def test_newcomer_joins_and_is_approved_by_the_org_admin(page: Any, hub: Hub) -> None:
    nav = page.get_by_role("navigation", name="Primary navigation")

    # Step 1: an account.
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Create an account").click()
    page.wait_for_url("**/accounts/register/")
    page.get_by_label("Full name").fill("Nia Newcomer")
    page.get_by_label("Work e-mail address").fill(NEWCOMER_EMAIL)
    page.get_by_label("Job title").fill("Network engineer")
    page.get_by_label("Password").fill(NEWCOMER_PASSWORD)
    page.get_by_role("button", name="Create account").click()

    # Step 2: which organisation. Typing part of the name loads the matches as radio buttons.
    page.wait_for_url("**/accounts/join/")
    expect(page.locator(".cg-messages")).to_contain_text("Your account is ready")
    candidates = page.locator("#candidates")
    expect(candidates).to_be_empty()
    with page.expect_response(lambda r: urlparse(r.url).path == "/accounts/join/candidates/"):
        page.get_by_label("Find your organisation").press_sequentially("ingh", delay=30)
    radios = candidates.get_by_role("radio")
    expect(radios).to_have_count(1)
    # Enter in the search box searches; it must not send the join form (and lose what was typed).
    with page.expect_response(lambda r: urlparse(r.url).path == "/accounts/join/candidates/"):
        page.get_by_label("Find your organisation").press("Enter")
    expect(page.get_by_label("Find your organisation")).to_have_value("ingh")
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(radios).to_have_count(1)
    ingham = candidates.get_by_role("radio", name=re.compile(r"^Ingham County"))
    expect(ingham).not_to_be_checked()
    candidates.locator("label", has_text="Ingham County").click()
    expect(ingham).to_be_checked()
    page.get_by_label("Your role there").select_option(label="Member")
    page.get_by_label("Note for the person who approves you").fill("I look after the county's firewalls.")
    page.get_by_role("button", name="Send request").click()

    page.wait_for_url(lambda url: urlparse(url).path == "/")
    expect(page.locator(".cg-messages")).to_contain_text("Your request to join Ingham County is sent.")
    expect(page.get_by_role("heading", name="Your access is waiting for approval")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Ingham County: Member, awaiting approval")
    expect(nav.get_by_role("button", name="Hub")).to_have_count(0)
    expect(nav.get_by_role("link", name="Directory", include_hidden=True)).to_have_count(0)
    page.goto("/organizations/")  # not vetted yet: sent home
    assert _path(page) == "/"
    sign_out(page)
    expect(page.locator(".cg-messages")).to_contain_text("You are signed out.")

    # The organisation's admin signs in (password, then TOTP) and approves.
    sign_in_with_password(page, hub.admin.email)
    page.wait_for_url("**/accounts/mfa/verify/**")
    page.get_by_label("Code from your authenticator app").fill(totp_code(ADMIN_TOTP_KEY))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(lambda url: urlparse(url).path == "/")
    nav.get_by_role("button", name="Hub").click()
    nav.get_by_role("link", name="Approvals").click()
    page.wait_for_url("**/organizations/approvals/")
    row = page.get_by_role("row").filter(has_text=NEWCOMER_EMAIL)
    expect(row).to_contain_text("I look after the county's firewalls.")
    row.get_by_role("button", name="Approve Nia Newcomer").click()
    page.wait_for_url("**/organizations/approvals/")
    expect(page.locator(".cg-messages")).to_contain_text("Nia Newcomer is now a member of Ingham County.")
    expect(page.get_by_role("row").filter(has_text=NEWCOMER_EMAIL)).to_have_count(0)
    expect(page.get_by_role("row").filter(has_text=hub.unvetted.email)).to_have_count(1)  # still waiting
    sign_out(page)

    membership = Membership.objects.get(user__email=NEWCOMER_EMAIL, organization=hub.ingham)
    assert membership.status == Membership.Status.APPROVED
    assert membership.decided_by == hub.admin

    # The newcomer signs in again (a member needs no second factor) and is vetted now.
    sign_in_with_password(page, NEWCOMER_EMAIL, NEWCOMER_PASSWORD)
    page.wait_for_url(lambda url: urlparse(url).path == "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Nia")
    expect(page.get_by_role("link", name="Ingham County")).to_be_visible()
    nav.get_by_role("button", name="Hub").click()
    nav.get_by_role("link", name="Directory").click()
    page.wait_for_url("**/organizations/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Directory")
    expect(page.locator("#results")).to_contain_text("Washtenaw County")
    page.errors.assert_none()
