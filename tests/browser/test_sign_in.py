"""Signing in with a password and a code from an authenticator app (TOTP)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ADMIN_TOTP_KEY, Hub, sign_in_with_password, totp_code

CODE_LABEL = "Code from your authenticator app"


def _password_step(page: Any, hub: Hub) -> None:
    sign_in_with_password(page, hub.admin.email)
    page.wait_for_url("**/accounts/mfa/verify/?next=%2F")
    expect(page.get_by_role("heading", level=1)).to_have_text("Two-step sign-in")


@pytest.mark.browser
def test_org_admin_signs_in_with_password_then_totp(page: Any, hub: Hub) -> None:
    _password_step(page, hub)

    page.get_by_label(CODE_LABEL).fill(totp_code(ADMIN_TOTP_KEY))
    page.get_by_role("button", name="Verify").click()

    page.wait_for_url(lambda url: urlparse(url).path == "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Ada")
    expect(page.locator(".cg-whoami")).to_have_text("Ada Admin")
    expect(page.get_by_role("link", name="Ingham County")).to_be_visible()
    # Verified for the rest of the session: other pages open without asking again.
    nav = page.get_by_role("navigation", name="Primary navigation")
    nav.get_by_role("button", name="Hub").click()
    nav.get_by_role("link", name="Approvals").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Approvals")
    assert urlparse(page.url).path == "/organizations/approvals/"
    page.errors.assert_none()


@pytest.mark.browser
def test_expired_totp_code_is_refused(page: Any, hub: Hub) -> None:
    _password_step(page, hub)
    valid_now = {totp_code(ADMIN_TOTP_KEY, drift=d) for d in (-1, 0, 1)}
    # The code the app showed ten minutes ago (20 time steps back), or earlier should it
    # happen to equal a code that is valid now.
    stale = next(c for c in (totp_code(ADMIN_TOTP_KEY, drift=-d) for d in range(20, 40)) if c not in valid_now)

    page.get_by_label(CODE_LABEL).fill(stale)
    page.get_by_role("button", name="Verify").click()

    expect(page.locator(".usa-error-message")).to_contain_text("That code is wrong or has expired")
    expect(page.get_by_role("heading", level=1)).to_have_text("Two-step sign-in")
    assert urlparse(page.url).path == "/accounts/mfa/verify/"
    # The password alone opens nothing: the home page sends the person back to the code step.
    page.goto("/")
    page.wait_for_url("**/accounts/mfa/verify/?next=%2F")
    expect(page.locator(".cg-whoami")).to_have_text("Ada Admin")
    page.errors.assert_none()
