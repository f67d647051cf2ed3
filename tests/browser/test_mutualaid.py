"""Mutual aid in a real browser: a county asks for help, the Guard's coordinator sees the ranked,
explained matches and proposes a responder, the responder accepts in writing (typed name), the
coordinator authorises, starts, releases and debriefs; the county sees the responder's phone only
while deployed. axe-core on every page of the path."""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.utils import timezone
from playwright.sync_api import expect

from commonguard.accounts.models import Role
from commonguard.mutualaid.models import Deployment
from tests.browser.conftest import Hub, axe_violations, describe_violations, screenshot, sign_in_by_cookie
from tests.factories import MembershipFactory, UserFactory
from tests.mutualaid_helpers import make_responder

pytestmark = pytest.mark.browser


def _check(page: Any, name: str) -> None:
    violations = axe_violations(page)
    screenshot(page, name)
    if violations:
        pytest.fail(describe_violations(name, page.url, violations), pytrace=False)


def _switch(page: Any, live_server: Any, user: Any) -> None:
    """Sign in as someone else. The page is left first, so that no request (the live feed's stream)
    holds the in-memory SQLite database while the test writes the new session."""
    page.goto("about:blank")
    page.context.clear_cookies()
    sign_in_by_cookie(page.context, live_server, user)


class _World:
    """Just what make_responder needs from the tests' world."""

    def __init__(self, hub: Hub, people: dict[str, Any]) -> None:
        self.guard = hub.guard
        self.people = people

    def __getitem__(self, name: str) -> Any:
        return self.people[name]


def test_request_match_propose_accept_deploy_release(axe_page: Any, live_server: Any, hub: Hub) -> None:
    # The skills taxonomy is data loaded by a migration; a transactional test's flush removed it.
    importlib.import_module("commonguard.mutualaid.migrations.0002_skills_and_team_templates").load(apps, None)
    coordinator = UserFactory(email="cora.coordinator@example.test", full_name="Cora Coordinator")
    MembershipFactory(user=coordinator, organization=hub.guard, role=Role.COORDINATOR)
    person = UserFactory(email="rae.responder@example.test", full_name="Rae Responder")
    MembershipFactory(user=person, organization=hub.guard, role=Role.RESPONDER)
    responder = make_responder(_World(hub, {"coordinator": coordinator}), name="Rae Responder", user=person)
    page = axe_page
    # A long path of real pages: on the shared development machine a page can take seconds to load.
    page.set_default_timeout(45_000)
    start = timezone.localdate() + timedelta(days=1)

    # 1. The county's admin asks for help.
    sign_in_by_cookie(page.context, live_server, hub.admin)
    page.goto("/mutualaid/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mutual aid")
    _check(page, "mutualaid-overview")
    page.get_by_role("link", name="Requests").first.click()
    _check(page, "mutualaid-request-form")
    page.get_by_label("What you need, in a few words").fill("Ransomware on the county network")
    page.get_by_label("The situation and the work").fill("File servers encrypted overnight.")
    for skill in ("Digital forensics", "Active Directory rebuild"):  # USWDS hides the input behind its label
        box = page.get_by_label(skill, exact=True)
        page.locator(f"label[for='{box.get_attribute('id')}']").click()
        expect(box).to_be_checked()
    page.get_by_label("From (YYYY-MM-DD)").fill(start.isoformat())
    page.get_by_role("button", name="Send the request").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ransomware on the county network")
    request_url = page.url
    matches = page.get_by_role("table", name="Responders, best first, with the reasons for each rank")
    expect(matches).to_contain_text("Rae Responder")
    expect(matches).to_contain_text("Skills: 2 of 2")
    expect(page.get_by_role("button", name="Propose Rae Responder")).to_have_count(0)
    _check(page, "mutualaid-request-matches")

    # 2. The Guard's coordinator proposes Rae.
    _switch(page, live_server, coordinator)
    page.goto(request_url)
    page.get_by_role("button", name="Propose Rae Responder").click()
    expect(page.locator(".usa-alert--success")).to_contain_text("Rae Responder is proposed")
    deployment = Deployment.objects.get(responder=responder)

    # 3. Rae accepts in writing; a wrong name is refused.
    _switch(page, live_server, person)
    page.goto(f"/mutualaid/deployments/{deployment.pk}/")
    _check(page, "mutualaid-deployment-accept")
    page.get_by_label("Type your full name to sign").fill("R. R.")
    page.get_by_role("button", name="Accept and sign").click()
    expect(page.locator(".usa-alert--error")).to_contain_text("Type your full name exactly")
    page.get_by_label("Type your full name to sign").fill("Rae Responder")
    page.get_by_role("button", name="Accept and sign").click()
    expect(page.locator("#deployment-status")).to_have_text("Accepted in writing")

    # 4. The coordinator authorises and starts the deployment.
    _switch(page, live_server, coordinator)
    page.goto(f"/mutualaid/deployments/{deployment.pk}/")
    page.get_by_role("button", name="Authorise in writing").click()
    expect(page.locator("#deployment-status")).to_have_text("Authorised")
    page.get_by_role("button", name="Start the deployment").click()
    expect(page.locator("#deployment-status")).to_have_text("Active")
    _check(page, "mutualaid-deployment-active")

    # 5. While Rae is deployed there, the county sees her phone; after release, no longer.
    _switch(page, live_server, hub.admin)
    page.goto(f"/mutualaid/responders/{responder.pk}/")
    expect(page.locator("#personal-details")).to_contain_text("+1 517 555 0142")
    _check(page, "mutualaid-responder-deployed")
    _switch(page, live_server, coordinator)
    page.goto(f"/mutualaid/deployments/{deployment.pk}/")
    page.get_by_role("link", name="Release (checklist)").click()
    for label in ("accounts, VPN access and badges", "equipment and evidence media"):
        box = page.get_by_label(label, exact=False)
        page.locator(f"label[for='{box.get_attribute('id')}']").click()
    page.get_by_label("Handover notes").fill("Handed over to the county's IT lead.")
    page.get_by_role("button", name="Release").click()
    expect(page.locator("#deployment-status")).to_have_text("Released")
    page.get_by_label("What the responder reported at the debrief").fill("Smooth; VPN access came late.")
    page.get_by_role("button", name="Record the debrief").click()
    expect(page.locator("#deployment-status")).to_have_text("Debriefed")
    _switch(page, live_server, hub.admin)
    page.goto(f"/mutualaid/responders/{responder.pk}/")
    expect(page.locator("#personal-details")).to_have_count(0)
    expect(page.get_by_text("+1 517 555 0142")).to_have_count(0)
    for name in ("agreements", "responders", "teams"):
        page.goto(f"/mutualaid/{name}/")
        _check(page, f"mutualaid-{name}")
    page.errors.assert_none()
