"""The EMAC middle in a real browser (ADR 32): a county asks for help, the Guard's coordinator sees
the ranked matches and offers a responder with a cost estimate, the county counters, the Guard
accepts the counter, the responder accepts from the e-mailed link, both sides sign (the county's
admin and the Guard's coordinator, the roles the compact authorises), the binding agreement and
the printable mission order appear, and the deployment starts. axe-core on every page."""

from __future__ import annotations

import importlib
import re
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.utils import timezone
from playwright.sync_api import expect

from commonguard.accounts.models import Role
from commonguard.mutualaid.models import Agreement, AgreementParty, AidNotice, Deployment
from tests.browser.conftest import Hub, sign_in_by_cookie
from tests.browser.test_mutualaid import _check, _switch, _World
from tests.factories import MembershipFactory, UserFactory
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
    for org in (hub.ingham, hub.guard):
        AgreementParty.objects.create(
            agreement=agreement, organization=org, signed_on=today - timedelta(days=300), signed_by_name="Director"
        )
    return agreement


def test_request_match_offer_counter_sign_mission_order_deploy(axe_page: Any, live_server: Any, hub: Hub) -> None:
    importlib.import_module("commonguard.mutualaid.migrations.0002_skills_and_team_templates").load(apps, None)
    coordinator = UserFactory(email="cora.coordinator@example.test", full_name="Cora Coordinator")
    MembershipFactory(user=coordinator, organization=hub.guard, role=Role.COORDINATOR)
    person = UserFactory(email="rae.responder@example.test", full_name="Rae Responder")
    MembershipFactory(user=person, organization=hub.guard, role=Role.RESPONDER)
    make_responder(_World(hub, {"coordinator": coordinator}), name="Rae Responder", user=person)
    _compact(hub)
    page = axe_page
    page.set_default_timeout(45_000)
    start = timezone.localdate() + timedelta(days=1)

    # 1. The county's admin asks for help.
    sign_in_by_cookie(page.context, live_server, hub.admin)
    page.goto("/mutualaid/requests/")
    page.get_by_label("What you need, in a few words").fill("Ransomware on the county network")
    page.get_by_label("The situation and the work").fill("File servers encrypted overnight.")
    for skill in ("Digital forensics", "Active Directory rebuild"):
        box = page.get_by_label(skill, exact=True)
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
    page.errors.assert_none()
