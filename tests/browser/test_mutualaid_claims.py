"""The end of a deployment in a real browser (ADR 33): on a seeded active deployment the responder
logs hours and an expense with a receipt, the coordinator releases (checklist), assembles the claim
and downloads its PDF; the coordinator's dashboard with its county map. axe-core on every page."""

from __future__ import annotations

import importlib
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pypdfium2
import pytest
from django.apps import apps
from django.utils import timezone
from playwright.sync_api import expect

from commonguard.accounts.models import Role
from commonguard.mutualaid import services
from commonguard.mutualaid.models import AgreementRates, Deployment, ReimbursementClaim, TeamPackage
from tests.browser.conftest import Hub, axe_violations, describe_violations, screenshot, sign_in_by_cookie
from tests.factories import MembershipFactory, UserFactory
from tests.mutualaid_helpers import compact, make_responder

pytestmark = pytest.mark.browser


def _check(page: Any, name: str) -> None:
    violations = axe_violations(page)
    screenshot(page, name)
    if violations:
        pytest.fail(describe_violations(name, page.url, violations), pytrace=False)


def _switch(page: Any, live_server: Any, user: Any) -> None:
    page.goto("about:blank")
    page.context.clear_cookies()
    sign_in_by_cookie(page.context, live_server, user)


def _expected_400(page: Any) -> None:
    """A refused form answers 400, which the browser reports; exactly that one report is expected."""
    assert [e for e in page.errors if "400 (Bad Request)" not in e] == []
    assert len(page.errors) == 1
    page.errors.clear()


class _World:
    def __init__(self, hub: Hub, people: dict[str, Any]) -> None:
        self.guard = hub.guard
        self.state_it = hub.state_it
        self.people = people

    def __getitem__(self, name: str) -> Any:
        return self.people[name]


def _seed(hub: Hub) -> tuple[Any, Any, Deployment]:
    importlib.import_module("commonguard.mutualaid.migrations.0002_skills_and_team_templates").load(apps, None)
    coordinator = UserFactory(email="cora.coordinator@example.test", full_name="Cora Coordinator")
    MembershipFactory(user=coordinator, organization=hub.guard, role=Role.COORDINATOR)
    person = UserFactory(email="rae.responder@example.test", full_name="Rae Responder")
    MembershipFactory(user=person, organization=hub.guard, role=Role.RESPONDER)
    world = _World(hub, {"coordinator": coordinator, "liaison1": hub.liaison})
    responder = make_responder(world, name="Rae Responder", user=person)
    agreement = compact(world, [hub.ingham, hub.guard])
    AgreementRates.objects.create(agreement=agreement, personnel_hourly=Decimal("80"), per_diem_daily=Decimal("50"))
    today = timezone.localdate()
    aid = services.request_create(
        actor=hub.admin,
        data=services.RequestInput(
            requesting_org=hub.ingham,
            title="Ransomware on the county network",
            description="File servers encrypted overnight.",
            skills=["forensics"],
            starts_on=today,
            duration_days=5,
        ),
    )
    deployment = Deployment.objects.create(
        request=aid,
        responder=responder,
        status=Deployment.Status.ACTIVE,
        starts_on=today - timedelta(days=2),
        ends_on=today + timedelta(days=2),
    )
    return coordinator, person, deployment


def test_log_release_claim_pdf(axe_page: Any, live_server: Any, hub: Hub, tmp_path: Path) -> None:
    coordinator, person, deployment = _seed(hub)
    page = axe_page
    page.set_default_timeout(45_000)
    today = timezone.localdate()

    # 1. Rae logs her hours and an expense with its receipt.
    sign_in_by_cookie(page.context, live_server, person)
    page.goto(f"/mutualaid/deployments/{deployment.pk}/")
    page.get_by_role("link", name="Time and expenses").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Time and expenses")
    _check(page, "mutualaid-logs-empty")
    page.locator("#id_time-day").fill((today - timedelta(days=1)).isoformat())
    page.locator("#id_time-activity").select_option("forensics")
    page.locator("#id_time-hours").fill("25")
    page.get_by_role("button", name="Log hours").click()
    expect(page.locator(".usa-error-message").first).to_contain_text("A day has 24 hours")
    _check(page, "mutualaid-logs-error")
    _expected_400(page)
    page.locator("#id_time-hours").fill("9.5")
    page.get_by_role("button", name="Log hours").click()
    expect(page.locator("#time-rows")).to_contain_text("9.50")
    page.locator("#id_expense-day").fill(today.isoformat())
    page.locator("#id_expense-category").select_option("travel")
    page.locator("#id_expense-amount").fill("118.20")
    page.locator("#id_expense-description").fill("Hotel, one night")
    receipt = tmp_path / "hotel.pdf"
    receipt.write_bytes(b"%PDF-1.4 hotel receipt\n")
    page.locator("#id_expense-receipt").set_input_files(str(receipt))
    page.get_by_role("button", name="Log the expense").click()
    expect(page.locator("#expense-rows")).to_contain_text("118.20")
    expect(page.locator("#expense-rows")).to_contain_text("hotel.pdf")
    _check(page, "mutualaid-logs")

    # 2. The coordinator releases Rae (the checklist is required).
    _switch(page, live_server, coordinator)
    page.goto(f"/mutualaid/deployments/{deployment.pk}/release/")
    _check(page, "mutualaid-release-form")
    page.get_by_role("button", name="Release").click()
    expect(page.locator(".usa-error-message").first).to_be_visible()
    _expected_400(page)
    for label in ("accounts, VPN access and badges", "equipment and evidence media"):
        box = page.get_by_label(label, exact=False)
        page.locator(f"label[for='{box.get_attribute('id')}']").click()
        expect(box).to_be_checked()
    page.get_by_label("Handover notes").fill("AD rebuilt; two workstations left to reimage (county IT has the list).")
    page.get_by_role("button", name="Release").click()
    expect(page.locator("#deployment-status")).to_have_text("Released")
    _check(page, "mutualaid-released")

    # 3. The claim: assembled from the logs at the compact's rates, downloaded as a PDF.
    page.get_by_role("link", name="Reimbursement claim").click()
    _check(page, "mutualaid-claim-empty")
    page.get_by_role("button", name="Assemble the claim from the logs").click()
    # 9.5 h × 80 + 1 day × 50 per diem + 118.20 hotel
    expect(page.locator("#claim-total")).to_have_text("$928.20")
    expect(page.locator("#claim-status")).to_have_text("Collecting")
    _check(page, "mutualaid-claim")
    page.get_by_role("button", name="Submit the claim").click()
    expect(page.locator("#claim-status")).to_have_text("Submitted")
    with page.expect_download() as info:
        page.locator("#claim-pdf").click()
    pdf_path = tmp_path / "claim.pdf"
    info.value.save_as(pdf_path)
    pdf = pypdfium2.PdfDocument(pdf_path.read_bytes())
    assert "928.20" in pdf[0].get_textpage().get_text_range()
    image = pdf[0].render(scale=1).to_pil().convert("L")
    assert sum(image.histogram()[:128]) > 2000, "the claim PDF is blank"
    assert ReimbursementClaim.objects.get(deployment=deployment).status == "submitted"

    # 4. The county's admin reviews the claim.
    _switch(page, live_server, hub.admin)
    page.goto(f"/mutualaid/deployments/{deployment.pk}/claim/")
    page.get_by_role("button", name="Mark reviewed").click()
    expect(page.locator("#claim-status")).to_have_text("Reviewed")
    _check(page, "mutualaid-claim-reviewed")
    page.errors.assert_none()


def test_dashboard(axe_page: Any, live_server: Any, hub: Hub) -> None:
    coordinator, _, _ = _seed(hub)
    page = axe_page
    page.set_default_timeout(45_000)
    sign_in_by_cookie(page.context, live_server, coordinator)
    page.goto("/mutualaid/dashboard/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mutual aid dashboard")
    table = page.locator("#county-table")
    expect(table).to_contain_text("Ingham County")
    expect(table).to_contain_text("Rae Responder")
    # The county map is drawn from the bundled us-atlas data (no CDN).
    expect(page.locator("#aid-map.cg-map--drawn")).to_have_count(1)
    expect(page.locator("#aid-map path[data-fips='26065']")).to_have_count(1)
    _check(page, "mutualaid-dashboard")
    page.errors.assert_none()


def test_create_and_edit_pages_are_axe_clean(axe_page: Any, live_server: Any, hub: Hub) -> None:
    coordinator, _, deployment = _seed(hub)
    page = axe_page
    page.set_default_timeout(45_000)
    template = TeamPackage.objects.filter(is_template=True).first()
    assert template is not None
    team = services.team_from_template(actor=coordinator, template=template, provider=hub.guard, name="Guard CIRT")
    sign_in_by_cookie(page.context, live_server, coordinator)
    for url, name in (
        ("/mutualaid/responders/new/", "mutualaid-responder-new"),
        ("/mutualaid/teams/new/", "mutualaid-team-new"),
        (f"/mutualaid/teams/{team.pk}/", "mutualaid-team"),
        (f"/mutualaid/requests/{deployment.request_id}/after-action/", "mutualaid-aar-new"),
    ):
        page.goto(url)
        expect(page.locator("h1")).to_have_count(1)
        _check(page, name)
    expect(page.locator("#id_timeline")).to_contain_text("Rae Responder")
    _switch(page, live_server, hub.liaison)
    agreement = deployment.request.requesting_org.agreements.first()
    for url, name in (
        ("/mutualaid/agreements/new/", "mutualaid-agreement-new"),
        (f"/mutualaid/agreements/{agreement.pk}/edit/", "mutualaid-agreement-edit"),
    ):
        page.goto(url)
        expect(page.locator("h1")).to_have_count(1)
        _check(page, name)
    page.errors.assert_none()
