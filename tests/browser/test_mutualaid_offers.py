"""The whole mutual-aid path in a real browser (issue 6; ADRs 24, 32, 33): a county's incident report
asks for help, the Guard's coordinator sees the ranked matches and offers a responder with a cost
estimate, the county counters, the Guard accepts the counter, the responder accepts from the e-mailed
link, both sides sign (the county's admin and the Guard's coordinator, the roles the compact
authorises), the binding agreement and the printable mission order appear, the deployment starts,
the responder logs her hours, the coordinator releases her through the checklist, and the claim is
assembled and downloaded as a PDF. axe-core on every page."""

from __future__ import annotations

import importlib
import re
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
from commonguard.mutualaid.models import (
    Agreement,
    AgreementParty,
    AgreementRates,
    AidNotice,
    Deployment,
    ReimbursementClaim,
)
from tests.browser.conftest import Hub, sign_in_by_cookie
from tests.browser.test_mutualaid import _check, _switch, _World
from tests.browser.test_mutualaid_claims import _expected_400
from tests.factories import MembershipFactory, UserFactory
from tests.incident_helpers import make_report
from tests.mutualaid_helpers import make_responder

pytestmark = pytest.mark.browser


def _compact(hub: Hub) -> Agreement:
    today = timezone.localdate()
    agreement = Agreement.objects.create(
        name="Michigan Cyber Mutual Aid Compact",
        kind=Agreement.Kind.STATEWIDE_COMPACT,
        status=Agreement.Status.IN_FORCE,
        state=hub.ingham.state,
        administrator=hub.state_it,
        effective_from=today - timedelta(days=365),
        data_handling_terms="No copies leave the requester's systems.",
        request_roles=[Role.ORG_ADMIN],
        offer_roles=[Role.COORDINATOR],
    )
    AgreementRates.objects.create(agreement=agreement, personnel_hourly=Decimal("80"), per_diem_daily=Decimal("50"))
    for org in (hub.ingham, hub.guard):
        AgreementParty.objects.create(
            agreement=agreement, organization=org, signed_on=today - timedelta(days=300), signed_by_name="Director"
        )
    return agreement


def test_incident_request_match_offer_sign_deploy_hours_release_claim_pdf(
    axe_page: Any, live_server: Any, hub: Hub, tmp_path: Path
) -> None:
    importlib.import_module("commonguard.mutualaid.migrations.0002_skills_and_team_templates").load(apps, None)
    coordinator = UserFactory(email="cora.coordinator@example.test", full_name="Cora Coordinator")
    MembershipFactory(user=coordinator, organization=hub.guard, role=Role.COORDINATOR)
    person = UserFactory(email="rae.responder@example.test", full_name="Rae Responder")
    MembershipFactory(user=person, organization=hub.guard, role=Role.RESPONDER)
    make_responder(_World(hub, {"coordinator": coordinator}), name="Rae Responder", user=person)
    _compact(hub)
    report = make_report(hub.admin, hub.ingham, extra={"help_wanted": "File servers encrypted overnight."})
    page = axe_page
    page.set_default_timeout(45_000)
    start = timezone.localdate()

    # 1. The county's admin asks for help from the incident report.
    sign_in_by_cookie(page.context, live_server, hub.admin)
    page.goto(f"/incidents/{report.uuid}/")
    page.get_by_role("link", name="Ask for help").click()
    expect(page.get_by_label("The situation and the work")).to_have_value(
        re.compile("^File servers encrypted overnight.")
    )
    page.get_by_label("What you need, in a few words").fill("Ransomware on the county network")
    for skill in ("Digital forensics", "Active Directory rebuild"):
        box = page.get_by_label(skill, exact=True)
        if not box.is_checked():
            page.locator(f"label[for='{box.get_attribute('id')}']").click()
    page.get_by_label("From (YYYY-MM-DD)").fill(start.isoformat())
    page.get_by_role("button", name="Send the request").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ransomware on the county network")
    request_url = page.url

    # 2. The Guard's coordinator sees the match and offers Rae with a cost estimate.
    _switch(page, live_server, coordinator)
    page.goto(request_url)
    expect(page.get_by_role("table", name="Responders, best first, with the reasons for each rank")).to_contain_text(
        "Rae Responder"
    )
    _check(page, "mutualaid-offers-request")
    page.get_by_role("link", name="Offer Rae Responder under an agreement").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Offer help")
    expect(page.get_by_label("Rae Responder (Guard Cyber Unit)")).to_be_checked()
    _check(page, "mutualaid-offer-form")
    page.get_by_label("Personnel (US$)").fill("4800")
    page.get_by_label("Travel (US$)").fill("650")
    page.get_by_role("button", name="Send the offer").click()
    expect(page.locator("#offer-status")).to_contain_text("Offered")
    expect(page.locator("#offer-total")).to_have_text("5450.00")
    offer_url = page.url
    _check(page, "mutualaid-offer-submitted")

    # 3. The county counters: five days, less travel.
    _switch(page, live_server, hub.admin)
    page.goto(offer_url)
    page.get_by_label("To (YYYY-MM-DD)").fill((start + timedelta(days=4)).isoformat())
    page.get_by_label("Travel (US$)").fill("300")
    page.get_by_label("What you changed and why").fill("Five days will do; we provide lodging.")
    page.get_by_role("button", name="Send the counter-offer").click()
    expect(page.locator("#offer-status")).to_contain_text("Countered")
    expect(page.locator("#offer-history")).to_contain_text("Five days will do")
    _check(page, "mutualaid-offer-countered")

    # 4. The Guard accepts the counter and signs for the offering side.
    _switch(page, live_server, coordinator)
    page.goto(offer_url)
    page.get_by_role("button", name="Accept these terms").click()
    expect(page.locator("#offer-status")).to_contain_text("Terms agreed")
    _check(page, "mutualaid-offer-agreed")
    page.get_by_label("Type your full name to sign").fill("Cora Coordinator")
    page.get_by_label("Your title").fill("Guard cyber coordinator")
    page.get_by_role("button", name="Sign the agreement").click()
    expect(page.locator("#offer-signatures")).to_contain_text("Cora Coordinator")

    # 5. Rae accepts in writing from the link in her e-mail.
    body = AidNotice.objects.get(to_email="rae.responder@example.test", key__endswith=":responder").body
    link = re.search(r"(/mutualaid/respond/[^/\s]+/)", body)
    assert link is not None
    _switch(page, live_server, person)
    page.goto(link.group(1))
    expect(page.get_by_role("heading", level=1)).to_have_text("Answer a deployment request")
    _check(page, "mutualaid-respond")
    page.get_by_label("Type your full name to sign").fill("Rae Responder")
    page.get_by_role("button", name="Accept and sign").click()
    expect(page.locator("#deployment-status")).to_have_text("Accepted in writing")

    # 6. The county's admin signs: the agreement is binding; the mission order is issued.
    _switch(page, live_server, hub.admin)
    page.goto(offer_url)
    page.get_by_label("Type your full name to sign").fill("Ada Admin")
    page.get_by_label("Your title").fill("IT Director")
    page.get_by_role("button", name="Sign the agreement").click()
    expect(page.locator("#offer-status")).to_have_text("Binding")
    page.get_by_role("link", name=re.compile(r"^MA-")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Binding agreement MA-")
    expect(page.locator("#binding-signatures")).to_contain_text("Ada Admin")
    _check(page, "mutualaid-binding")
    page.locator("#mission-orders a").first.click()
    expect(page.locator("#mission-order")).to_contain_text("Ada Admin, IT Director, Ingham County")
    expect(page.locator("#mission-order")).to_contain_text((start + timedelta(days=4)).isoformat())
    _check(page, "mutualaid-mission-order")

    # 7. The coordinator starts the deployment the mission order authorised.
    deployment = Deployment.objects.get()
    _switch(page, live_server, coordinator)
    page.goto(f"/mutualaid/deployments/{deployment.pk}/")
    expect(page.locator("#deployment-status")).to_have_text("Authorised")
    expect(page.locator("#mission-order-link")).to_be_visible()
    page.get_by_role("button", name="Start the deployment").click()
    expect(page.locator("#deployment-status")).to_have_text("Active")
    _check(page, "mutualaid-offer-deployment-active")

    # 8. Rae logs a day's hours.
    _switch(page, live_server, person)
    page.goto(f"/mutualaid/deployments/{deployment.pk}/")
    page.get_by_role("link", name="Time and expenses").click()
    page.locator("#id_time-day").fill(start.isoformat())
    page.locator("#id_time-activity").select_option("forensics")
    page.locator("#id_time-hours").fill("10")
    page.get_by_role("button", name="Log hours").click()
    expect(page.locator("#time-rows")).to_contain_text("10.00")

    # 9. The coordinator releases her: the deployment page sends release through the checklist.
    _switch(page, live_server, coordinator)
    page.goto(f"/mutualaid/deployments/{deployment.pk}/")
    page.get_by_role("link", name="Release (checklist)").click()
    page.get_by_role("button", name="Release").click()
    expect(page.locator(".usa-error-message").first).to_be_visible()
    _expected_400(page)
    for label in ("accounts, VPN access and badges", "equipment and evidence media"):
        box = page.get_by_label(label, exact=False)
        page.locator(f"label[for='{box.get_attribute('id')}']").click()
    page.get_by_label("Handover notes").fill("Forensic images handed to the sheriff's office.")
    page.get_by_role("button", name="Release").click()
    expect(page.locator("#deployment-status")).to_have_text("Released")

    # 10. The claim, assembled from the logs at the compact's rates (10 h × 80 + 1 day × 50), as a PDF.
    page.get_by_role("link", name="Reimbursement claim").click()
    page.get_by_role("button", name="Assemble the claim from the logs").click()
    expect(page.locator("#claim-total")).to_have_text("$850.00")
    page.get_by_role("button", name="Submit the claim").click()
    expect(page.locator("#claim-status")).to_have_text("Submitted")
    _check(page, "mutualaid-whole-path-claim")
    with page.expect_download() as info:
        page.locator("#claim-pdf").click()
    pdf_path = tmp_path / "claim.pdf"
    info.value.save_as(pdf_path)
    pdf = pypdfium2.PdfDocument(pdf_path.read_bytes())
    assert "850.00" in pdf[0].get_textpage().get_text_range()
    assert ReimbursementClaim.objects.get(deployment=deployment).status == "submitted"
    assert Deployment.objects.get(pk=deployment.pk).request.incident_report_id == report.pk
    page.errors.assert_none()
