"""Alerts in a real browser: composing and publishing through the form (htmx preview and
organisation picker included, under the site's CSP), another person reading it in their own
browser, and axe-core on the feed, an alert and the compose page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from commonguard.accounts.models import Role, User
from commonguard.sharing import services
from commonguard.sharing.models import Alert
from tests.browser.conftest import (
    TIMEOUT_MS,
    VIEWPORT,
    Hub,
    axe_violations,
    describe_violations,
    screenshot,
    sign_in_by_cookie,
)
from tests.factories import MembershipFactory, UserFactory

ALERT_PATH = re.compile(r"/alerts/[0-9a-f-]{36}/$")


@dataclass
class Readers:
    washtenaw: User  # a member of Washtenaw County
    lansing: User  # a member of the City of Lansing


@pytest.fixture
def readers(hub: Hub) -> Readers:
    washtenaw = UserFactory(email="wren.washtenaw@example.test", full_name="Wren Washtenaw")
    MembershipFactory(user=washtenaw, organization=hub.washtenaw, role=Role.MEMBER)
    lansing = UserFactory(email="lou.lansing@example.test", full_name="Lou Lansing")
    MembershipFactory(user=lansing, organization=hub.lansing, role=Role.MEMBER)
    return Readers(washtenaw, lansing)


@pytest.fixture
def second_page(browser: Any, live_server: Any) -> Iterator[Any]:
    """A page in a browser context of its own: another person at another computer."""
    ctx = browser.new_context(base_url=live_server.url, viewport=VIEWPORT)
    ctx.set_default_timeout(TIMEOUT_MS)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.errors = errors
    yield page
    ctx.close()


def _choose_tlp(page: Any, label: str) -> None:
    radio = page.get_by_role("radio", name=re.compile(rf"^{re.escape(label)}(?!\+)"))
    page.locator(f"label[for='{radio.get_attribute('id')}']").click()
    expect(radio).to_be_checked()


@pytest.mark.browser
def test_compose_publish_green_and_another_person_reads_it(
    page: Any, second_page: Any, live_server: Any, hub: Hub, readers: Readers
) -> None:
    sign_in_by_cookie(page.context, live_server, hub.member)
    page.goto("/")
    nav = page.get_by_role("navigation", name="Primary navigation")
    nav.get_by_role("button", name="Threats").click()
    nav.get_by_role("link", name="Alerts").click()
    page.wait_for_url("**/alerts/")
    page.get_by_role("link", name="Write an alert").click()
    page.wait_for_url("**/alerts/new/")

    page.get_by_label("Title").fill("Credential phishing posing as the state payroll portal")
    page.get_by_label("What happened").fill("Three townships received **fake payroll** e-mails.\n\n- one\n- two")
    page.get_by_label("What to do").fill("Block `payroll-portal.example.net` at the mail gateway.")
    # The preview comes back through htmx, sanitised, without a page load.
    with page.expect_response(lambda r: urlparse(r.url).path == "/alerts/preview/"):
        page.get_by_role("button", name="Preview the text").click()
    preview = page.locator("#preview")
    expect(preview.locator("strong")).to_have_text("fake payroll")
    expect(preview.locator("code")).to_have_text("payroll-portal.example.net")
    assert urlparse(page.url).path == "/alerts/new/"

    page.get_by_label("Category").select_option(label="Phishing / spear-phishing")
    page.get_by_label("Severity").select_option(label="High")
    _choose_tlp(page, "TLP:GREEN")
    page.get_by_label("Indicators", exact=True).fill("payroll-portal[.]example[.]net\n45.137.21.77")
    page.get_by_role("button", name="Save and publish").click()

    page.wait_for_url(ALERT_PATH)
    expect(page.get_by_role("heading", level=1)).to_have_text("Credential phishing posing as the state payroll portal")
    expect(page.locator(".cg-messages")).to_contain_text("Published as TLP:GREEN.")
    expect(page.locator(".cg-tlp")).to_have_text("TLP:GREEN")
    expect(page.locator("main table")).to_contain_text("payroll-portal[.]example[.]net")
    expect(page.locator("main table")).to_contain_text("45[.]137[.]21[.]77")
    page.errors.assert_none()
    alert = Alert.objects.get()
    assert (alert.status, alert.tlp, alert.author, alert.author_org) == ("published", "green", hub.member, hub.ingham)

    # Someone from another county, in a browser of their own, finds it in the feed.
    sign_in_by_cookie(second_page.context, live_server, readers.washtenaw)
    second_page.goto("/alerts/")
    row = second_page.get_by_role("row").filter(has_text="Credential phishing posing as the state payroll portal")
    expect(row).to_contain_text("TLP:GREEN")
    expect(row).to_contain_text("Ingham County")
    row.get_by_role("link").click()
    second_page.wait_for_url(ALERT_PATH)
    expect(second_page.locator(".cg-markdown strong")).to_have_text("fake payroll")
    expect(second_page.get_by_role("button", name="Revoke the alert")).to_have_count(0)
    assert not second_page.errors, second_page.errors


@pytest.mark.browser
def test_amber_audience_is_picked_with_the_organisation_search(
    page: Any, live_server: Any, hub: Hub, readers: Readers
) -> None:
    sign_in_by_cookie(page.context, live_server, hub.member)
    page.goto("/alerts/new/")
    page.get_by_label("Title").fill("Ransomware precursor on a county VPN")
    page.get_by_label("What happened").fill("Cobalt Strike beacons after VPN sign-ins.")
    page.get_by_label("Category").select_option(label="Ransomware precursor")
    _choose_tlp(page, "TLP:AMBER")

    choices = page.locator("#org-choices")
    search = page.get_by_label("Find an organisation")
    with page.expect_response(lambda r: urlparse(r.url).path == "/alerts/organizations/"):
        search.press_sequentially("washt", delay=30)
    washtenaw = choices.get_by_role("checkbox", name=re.compile(r"^Washtenaw County"))
    expect(washtenaw).not_to_be_checked()
    choices.locator("label", has_text="Washtenaw County").click()
    expect(washtenaw).to_be_checked()
    # A new search keeps what is ticked, and lists the new matches below it.
    search.fill("")
    with page.expect_response(lambda r: urlparse(r.url).path == "/alerts/organizations/"):
        search.press_sequentially("lans", delay=30)
    expect(choices.get_by_role("checkbox", name=re.compile(r"^City of Lansing"))).not_to_be_checked()
    expect(washtenaw).to_be_checked()
    page.get_by_role("button", name="Save and publish").click()

    page.wait_for_url(ALERT_PATH)
    expect(page.locator(".cg-tlp")).to_have_text("TLP:AMBER")
    expect(page.get_by_role("region", name="Manage this alert")).to_contain_text("Washtenaw County")
    page.errors.assert_none()
    alert = Alert.objects.get()
    assert list(alert.recipient_orgs.all()) == [hub.washtenaw]

    # Washtenaw's member reads it; Lansing's member finds nothing, as if it did not exist.
    url = urlparse(page.url).path
    sign_in_by_cookie(page.context, live_server, readers.washtenaw)
    page.goto("/alerts/")
    expect(page.get_by_role("link", name="Ransomware precursor on a county VPN")).to_be_visible()
    page.context.clear_cookies()
    sign_in_by_cookie(page.context, live_server, readers.lansing)
    page.goto("/alerts/")
    expect(page.get_by_role("link", name="Ransomware precursor on a county VPN")).to_have_count(0)
    response = page.goto(url)
    assert response is not None and response.status == 404


# --- axe-core ---------------------------------------------------------------------------------


def _publish(hub: Hub, **fields: Any) -> Alert:
    data = services.AlertInput(
        **{
            "title": "Exploited VPN appliance vulnerability",
            "summary": "Attackers exploit **CVE-2024-3400** on edge devices.\n\n1. Patch\n2. Hunt\n\n"
            "| Host | Seen |\n|---|---|\n| vpn1 | 03:14 |",
            "recommended_actions": "Apply the vendor fix; see [the advisory](https://www.cisa.gov/).",
            "category": Alert.Category.EXPLOITED_VULNERABILITY,
            "severity": Alert.Severity.CRITICAL,
            "tlp": "amber",
            "attack_techniques": ["T1190", "T1133"],
            "recipient_orgs": [hub.washtenaw],
            "indicators": [
                (None, "45.137.21.9"),
                (None, "hxxps://vpn-update[.]example.net/p"),
                (None, "CVE-2024-3400"),
            ],
            **fields,
        }
    )
    draft = services.alert_save_draft(actor=hub.member, author_org=hub.ingham, data=data)
    return services.alert_publish(actor=hub.member, alert=draft)


def _axe_check(page: Any, name: str, heading: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    violations = axe_violations(page)
    screenshot(page, name)
    if violations:
        pytest.fail(describe_violations(name, page.url, violations), pytrace=False)


def _feed(page: Any, live_server: Any, hub: Hub) -> str:
    for tlp in ("clear", "green", "amber+strict", "red"):
        fields: dict[str, Any] = {"title": f"A {tlp} alert", "tlp": tlp, "severity": "high"}
        fields["known_ransomware_use"] = tlp == "clear"
        if tlp == "red":
            fields["recipient_people"] = [hub.admin]
        _publish(hub, **fields)
    revoked = _publish(hub, title="Withdrawn: false positive", tlp="green", severity="low")
    services.alert_revoke(actor=hub.member, alert=revoked, reason="The address belongs to our own scanner.")
    _publish(hub, anonymous=True, title="Anonymous report")
    services.alert_save_draft(
        actor=hub.member,
        author_org=hub.ingham,
        data=services.AlertInput(title="Unfinished draft", summary="…", category="other", tlp="green"),
    )
    sign_in_by_cookie(page.context, live_server, hub.member)
    page.goto("/alerts/")
    expect(page.locator("#results tbody tr")).to_have_count(6)
    return "Alerts"


def _detail(page: Any, live_server: Any, hub: Hub) -> str:
    alert = _publish(hub, known_ransomware_use=True)
    sign_in_by_cookie(page.context, live_server, hub.member)
    page.goto(f"/alerts/{alert.uuid}/")
    page.locator("details > summary").first.click()
    expect(page.get_by_label("Why is it revoked?")).to_be_visible()
    return alert.title


def _detail_revoked(page: Any, live_server: Any, hub: Hub) -> str:
    alert = _publish(hub, tlp="red", recipient_people=[hub.admin])
    services.alert_revoke(actor=hub.member, alert=alert, reason="Sent to the wrong person.")
    sign_in_by_cookie(page.context, live_server, hub.admin)
    page.goto(f"/alerts/{alert.uuid}/")
    expect(page.get_by_role("region", name=re.compile("Revoked"))).to_be_visible()
    return alert.title


def _compose(page: Any, live_server: Any, hub: Hub) -> str:
    sign_in_by_cookie(page.context, live_server, hub.member)
    page.goto("/alerts/new/")
    page.get_by_label("What happened").fill("Some **Markdown** with a [link](https://example.net/).")
    with page.expect_response(lambda r: urlparse(r.url).path == "/alerts/preview/"):
        page.get_by_role("button", name="Preview the text").click()
    with page.expect_response(lambda r: urlparse(r.url).path == "/alerts/organizations/"):
        page.get_by_label("Find an organisation").press_sequentially("county", delay=20)
    expect(page.locator("#org-choices").get_by_role("checkbox")).to_have_count(2)
    return "Write an alert"


def _compose_errors(page: Any, live_server: Any, hub: Hub) -> str:
    sign_in_by_cookie(page.context, live_server, hub.member)
    page.goto("/alerts/new/")
    page.get_by_label("Indicators", exact=True).fill("999.1.1.1\nsha256: 1234")
    page.get_by_label("People (TLP:RED)").fill("nobody@example.test")
    page.get_by_role("button", name="Save and publish").click()
    expect(page.get_by_role("heading", name="Nothing was saved")).to_be_visible()
    return "Write an alert"


def _edit_published(page: Any, live_server: Any, hub: Hub) -> str:
    alert = _publish(hub)
    sign_in_by_cookie(page.context, live_server, hub.member)
    page.goto(f"/alerts/{alert.uuid}/edit/")
    expect(page.get_by_role("button", name="Publish version 2")).to_be_visible()
    return "Update an alert"


def _detail_recipient(page: Any, live_server: Any, hub: Hub) -> str:
    """A recipient's view: the answers table and both answer forms opened."""
    from commonguard.sharing.reactions import alert_acknowledge

    alert = _publish(hub, tlp="green")
    alert_acknowledge(actor=hub.liaison, alert=alert, organization=hub.state_it, note="Checking our VPNs")
    sign_in_by_cookie(page.context, live_server, hub.liaison)
    page.goto(f"/alerts/{alert.uuid}/")
    for summary in page.locator("details > summary").all():
        summary.click()
    expect(page.get_by_role("button", name="Report")).to_be_visible()
    expect(page.locator("main")).to_contain_text("1 organisation acknowledged")
    return alert.title


def _feed_kev_state_staff(page: Any, live_server: Any, hub: Hub) -> str:
    """State staff's feed after a KEV import: the imported alerts, their ransomware tags, the status line."""
    import json
    import tempfile
    from datetime import date
    from pathlib import Path

    from commonguard.sharing.kev import kev_import_run

    entries = [
        {
            "cveID": f"CVE-2099-100{n}",
            "vendorProject": "Acme",
            "product": "Gateway",
            "vulnerabilityName": f"Acme Gateway Flaw {n}",
            "dateAdded": date.today().isoformat(),
            "shortDescription": "Acme Gateway contains a flaw.",
            "requiredAction": "Apply the vendor's update.",
            "dueDate": date.today().isoformat(),
            "knownRansomwareCampaignUse": "Known" if n % 2 else "Unknown",
            "notes": "https://acme.example/advisory",
        }
        for n in range(3)
    ]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "kev.json"
        path.write_text(json.dumps({"catalogVersion": "2099.01.01", "vulnerabilities": entries}))
        kev_import_run(str(path))
    sign_in_by_cookie(page.context, live_server, hub.liaison)
    page.goto("/alerts/")
    expect(page.locator("main")).to_contain_text("CISA KEV import, last run")
    expect(page.locator("#results .cg-ransomware")).to_have_count(1)
    return "Alerts"


ALERT_PAGES = {
    "alert-feed": _feed,
    "alert-feed-kev-state-staff": _feed_kev_state_staff,
    "alert-detail": _detail,
    "alert-detail-revoked": _detail_revoked,
    "alert-detail-recipient": _detail_recipient,
    "alert-compose": _compose,
    "alert-compose-errors": _compose_errors,
    "alert-edit-published": _edit_published,
}


@pytest.mark.browser
@pytest.mark.parametrize("name", ALERT_PAGES)
def test_alert_page_has_no_axe_violations(name: str, axe_page: Any, live_server: Any, hub: Hub) -> None:
    heading = ALERT_PAGES[name](axe_page, live_server, hub)
    _axe_check(axe_page, name, heading)
