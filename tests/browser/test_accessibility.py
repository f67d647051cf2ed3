"""axe-core (WCAG 2.0/2.1 A and AA) on every page of the foundation, with a screenshot of each.

Each case opens the page as the person who would see it, in the state worth checking (forms
open, htmx results loaded, errors shown), then asserts that axe finds no violation."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import expect

from commonguard.accounts import services as account_services
from commonguard.orgs.models import Organization
from tests.browser.conftest import (
    Hub,
    axe_violations,
    describe_violations,
    screenshot,
    sign_in_by_cookie,
    totp_code,
)
from tests.factories import OrganizationFactory


@dataclass
class Visit:
    page: Any
    live_server: Any
    hub: Hub

    def as_user(self, user: Any, *, second_factor: bool = True) -> Visit:
        sign_in_by_cookie(self.page.context, self.live_server, user, second_factor=second_factor)
        return self

    def open(self, path: str, status: int = 200) -> Visit:
        response = self.page.goto(path)
        assert response is not None
        assert response.status == status, f"{path} answered {response.status}"
        return self


def _sign_in(v: Visit) -> None:
    v.open("/accounts/login/")


def _sign_in_error(v: Visit) -> None:
    v.open("/accounts/login/")
    v.page.get_by_label("E-mail address").fill(v.hub.member.email)
    v.page.get_by_label("Password").fill("not the password at all")
    v.page.get_by_role("button", name="Sign in").click()
    expect(v.page.get_by_role("alert")).to_contain_text("do not match an account")


def _register(v: Visit) -> None:
    v.open("/accounts/register/")


def _register_errors(v: Visit) -> None:
    v.open("/accounts/register/")
    v.page.get_by_label("Work e-mail address").fill("not an address")
    v.page.get_by_role("button", name="Create account").click()
    expect(v.page.locator(".usa-error-message").first).to_be_visible()


def _mfa_verify(v: Visit) -> None:
    v.as_user(v.hub.admin, second_factor=False).open("/")
    v.page.wait_for_url("**/accounts/mfa/verify/**")


def _mfa_verify_error(v: Visit) -> None:
    _mfa_verify(v)
    v.page.get_by_label("Code from your authenticator app").fill("not-a-code")
    v.page.get_by_role("button", name="Verify").click()
    expect(v.page.locator(".usa-error-message")).to_contain_text("That code is wrong or has expired")


def _mfa_setup(v: Visit) -> None:
    # The liaison's role needs a second factor and they have none yet: they are sent to enrol.
    v.as_user(v.hub.liaison, second_factor=False).open("/")
    v.page.wait_for_url("**/accounts/mfa/setup/**")


def _recovery_codes(v: Visit) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    _mfa_setup(v)
    device = TOTPDevice.objects.get(user=v.hub.liaison, confirmed=False)
    v.page.get_by_label("The 6-digit code your app shows now").fill(totp_code(device.key))
    v.page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(v.page.locator(".cg-codes li")).to_have_count(account_services.RECOVERY_CODE_COUNT)


def _home_vetted(v: Visit) -> None:
    v.as_user(v.hub.member).open("/")


def _home_unvetted(v: Visit) -> None:
    v.as_user(v.hub.unvetted).open("/")


def _join(v: Visit) -> None:
    v.as_user(v.hub.unvetted).open("/accounts/join/")
    v.page.get_by_label("Find your organisation").press_sequentially("county")
    candidates = v.page.locator("#candidates")
    expect(candidates.get_by_role("radio")).to_have_count(2)
    # The matches arrive without a page load: screen readers hear them through a live region.
    expect(candidates).to_have_attribute("aria-live", "polite")


def _request_organization(v: Visit) -> None:
    v.as_user(v.hub.unvetted).open("/accounts/join/new-organization/")


def _directory(v: Visit) -> None:
    v.as_user(v.hub.member).open("/organizations/")
    expect(v.page.locator("#results tbody tr")).to_have_count(5)


def _organization_profile(v: Visit) -> None:
    v.as_user(v.hub.admin).open(f"/organizations/{v.hub.ingham.pk}/")
    # Open the manage forms (they sit in <details>) so axe checks them too.
    for summary in v.page.locator("details > summary").all():
        summary.click()
    expect(v.page.get_by_label("Contact role")).to_be_visible()
    expect(v.page.get_by_label("Website")).to_be_visible()


def _account(v: Visit) -> None:
    account_services.token_create(actor=v.hub.admin, name="SIEM indicator pull")
    v.as_user(v.hub.admin).open("/accounts/")
    expect(v.page.get_by_role("row", name="SIEM indicator pull")).to_be_visible()


def _token_created(v: Visit) -> None:
    v.as_user(v.hub.admin).open("/accounts/")
    v.page.get_by_label("What is this token for?").fill("Firewall blocklist")
    v.page.get_by_role("button", name="Create token").click()
    expect(v.page.get_by_label("Token")).to_have_value(re.compile(r"^cg_[0-9a-f]{12}_\S{20,}$"))


def _approvals(v: Visit) -> None:
    v.as_user(v.hub.admin).open("/organizations/approvals/")
    expect(v.page.get_by_role("button", name=f"Approve {v.hub.unvetted.full_name}")).to_be_visible()


def _approvals_liaison(v: Visit) -> None:
    OrganizationFactory(
        name="Ingham Drain District",
        kind="special_district",
        status=Organization.Status.PENDING,
        county=v.hub.ingham,
        region=v.hub.region,
        requested_by=v.hub.unvetted,
    )
    v.as_user(v.hub.liaison).open("/organizations/approvals/")
    expect(v.page.get_by_role("button", name="Approve Ingham Drain District")).to_be_visible()


def _regions(v: Visit) -> None:
    v.as_user(v.hub.liaison).open("/organizations/regions/")
    for summary in v.page.locator("details > summary").all():
        summary.click()
    expect(v.page.get_by_role("button", name=f"Save {v.hub.region.name}")).to_be_visible()


def _profile_as_liaison(v: Visit) -> None:
    v.as_user(v.hub.liaison).open(f"/organizations/{v.hub.lansing.pk}/")
    for summary in v.page.locator("details > summary").all():
        summary.click()
    expect(v.page.get_by_role("button", name="Move")).to_be_visible()


def _audit(v: Visit) -> None:
    account_services.token_create(actor=v.hub.admin, name="SIEM indicator pull")
    v.as_user(v.hub.admin).open("/audit/")
    expect(v.page.locator("main tbody")).to_contain_text("created API token")


def _not_found(v: Visit) -> None:
    v.as_user(v.hub.member).open("/organizations/999999/", status=404)


def _preferences(v: Visit) -> None:
    v.as_user(v.hub.member).open("/alerts/preferences/")


def _webhooks(v: Visit) -> None:
    from commonguard.sharing import webhooks

    hook = webhooks.webhook_save(
        actor=v.hub.admin,
        organization=v.hub.ingham,
        webhook=None,
        data={"name": "SOC SIEM", "url": "http://127.0.0.1:9/hook", "preset": "generic", "max_tlp": "green"},
    )
    v.as_user(v.hub.admin).open(f"/alerts/webhooks/{v.hub.ingham.pk}/")
    v.page.get_by_label("Name").fill("SOC SIEM")  # taken: the form comes back with its error shown
    v.page.get_by_label("Address").fill("http://127.0.0.1:9/other")
    v.page.get_by_role("button", name="Add webhook").click()
    expect(v.page.locator(".usa-error-message").first).to_be_visible()
    assert hook.name in v.page.content()


def _webhook_detail(v: Visit) -> None:
    from commonguard.sharing import webhooks

    hook = webhooks.webhook_save(
        actor=v.hub.admin,
        organization=v.hub.ingham,
        webhook=None,
        data={"name": "Teams", "url": "http://127.0.0.1:9/hook", "preset": "teams", "max_tlp": "amber"},
    )
    v.as_user(v.hub.admin).open(f"/alerts/webhooks/{v.hub.ingham.pk}/{hook.pk}/")


def _unsubscribe(v: Visit) -> None:
    from commonguard.sharing.delivery import unsubscribe_token

    v.open(f"/alerts/unsubscribe/{unsubscribe_token(v.hub.member)}/")


def _feeds(v: Visit) -> None:
    v.as_user(v.hub.admin).open("/feeds/")
    v.page.get_by_role("button", name="Set up the feed").click()  # empty: the form comes back with errors
    expect(v.page.locator(".usa-error-message").first).to_be_visible()


def _feed_detail(v: Visit) -> None:
    import tempfile
    from pathlib import Path

    from commonguard.feeds.services import FeedInput, feed_pull, feed_save

    path = Path(tempfile.mkdtemp()) / "list.txt"
    path.write_text("91.92.251.10\nevil-login.example\nnot an indicator\n")
    feed = feed_save(
        actor=v.hub.admin,
        data=FeedInput(name="Blocklist", source=str(path), format="text", owner=v.hub.ingham, tlp="green"),
    )
    feed_pull(feed)
    v.as_user(v.hub.admin).open(f"/feeds/{feed.pk}/")


def _taxii_feed_detail(v: Visit) -> None:
    from commonguard.feeds.services import FeedInput, feed_save

    feed = feed_save(
        actor=v.hub.admin,
        data=FeedInput(
            name="Remote TAXII",
            source="https://taxii.example/api/collections/x/",
            format="taxii",
            owner=v.hub.ingham,
            tlp="green",
            credentials="a-token",
        ),
    )
    v.as_user(v.hub.admin).open(f"/feeds/{feed.pk}/")


def _feed_edit_errors(v: Visit) -> None:
    from commonguard.feeds.services import FeedInput, feed_save

    feed = feed_save(
        actor=v.hub.admin,
        data=FeedInput(
            name="Blocklist", source="https://lists.example/ips.txt", format="text", owner=v.hub.ingham, tlp="green"
        ),
    )
    v.as_user(v.hub.admin).open(f"/feeds/{feed.pk}/edit/")
    v.page.locator("#id_name").fill("")
    v.page.get_by_role("button", name="Save the changes").click()
    expect(v.page.locator(".usa-error-message").first).to_be_visible()


def _misp_upload(v: Visit) -> None:
    v.as_user(v.hub.member).open("/feeds/misp/upload/")
    v.page.get_by_role("button", name="Import").click()
    expect(v.page.locator(".usa-error-message").first).to_be_visible()


# name -> (how to get there, the page's <h1>)
PAGES: dict[str, tuple[Callable[[Visit], None], str]] = {
    "sign-in": (_sign_in, "Sign in"),
    "sign-in-error": (_sign_in_error, "Sign in"),
    "register": (_register, "Create an account"),
    "register-errors": (_register_errors, "Create an account"),
    "mfa-verify": (_mfa_verify, "Two-step sign-in"),
    "mfa-verify-error": (_mfa_verify_error, "Two-step sign-in"),
    "mfa-setup": (_mfa_setup, "Set up two-step sign-in"),
    "recovery-codes": (_recovery_codes, "Your recovery codes"),
    "home-vetted": (_home_vetted, "Welcome, Max"),
    "home-unvetted": (_home_unvetted, "Welcome, Una"),
    "join": (_join, "Ask to join an organisation"),
    "request-organization": (_request_organization, "Ask the state to add an organisation"),
    "directory": (_directory, "Directory"),
    "organization-profile": (_organization_profile, "Ingham County"),
    "account": (_account, "My account"),
    "token-created": (_token_created, "API token “Firewall blocklist”"),
    "approvals": (_approvals, "Approvals"),
    "approvals-liaison": (_approvals_liaison, "Approvals"),
    "regions": (_regions, "Regions of Michigan"),
    "organization-profile-liaison": (_profile_as_liaison, "City of Lansing"),
    "audit": (_audit, "Audit trail"),
    "not-found": (_not_found, "Page not found"),
    "alert-preferences": (_preferences, "How alerts reach you"),
    "webhooks": (_webhooks, "Webhooks of Ingham County"),
    "webhook-detail": (_webhook_detail, "Webhook: Teams"),
    "unsubscribe": (_unsubscribe, "Alert e-mails"),
    "feeds": (_feeds, "Feeds"),
    "feed-detail": (_feed_detail, "Blocklist"),
    "taxii-feed-detail": (_taxii_feed_detail, "Remote TAXII"),
    "feed-edit-errors": (_feed_edit_errors, "Change the feed “Blocklist”"),
    "misp-upload": (_misp_upload, "Upload a MISP event"),
}


@pytest.mark.browser
@pytest.mark.parametrize("name", PAGES)
def test_page_has_no_axe_violations(name: str, axe_page: Any, live_server: Any, hub: Hub) -> None:
    go, heading = PAGES[name]
    go(Visit(axe_page, live_server, hub))
    expect(axe_page.get_by_role("heading", level=1)).to_have_text(heading)
    violations = axe_violations(axe_page)
    screenshot(axe_page, name)
    if violations:
        pytest.fail(describe_violations(name, axe_page.url, violations), pytrace=False)
