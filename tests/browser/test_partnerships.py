"""Partnerships in a real browser (CSP enforced): a liaison starts an initiative, adds a milestone and
records progress; two people register for an event with one place (the second joins the waiting
list); axe-core on every partnerships page in the state worth checking."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from playwright.sync_api import expect

from commonguard.core.tlp import TLP
from commonguard.partnerships import services
from commonguard.partnerships.models import Event, Initiative, Registration, Resource
from tests.browser.conftest import (
    TIMEOUT_MS,
    VIEWPORT,
    BrowserErrors,
    Hub,
    axe_violations,
    describe_violations,
    screenshot,
    sign_in_by_cookie,
)

INITIATIVE_PATH = re.compile(r"/partnerships/initiatives/\d+/$")


@pytest.fixture
def second_page(browser: Any, live_server: Any) -> Iterator[Any]:
    """Another person at another computer: a browser context of its own."""
    ctx = browser.new_context(base_url=live_server.url, viewport=VIEWPORT)
    ctx.set_default_timeout(TIMEOUT_MS)
    other = ctx.new_page()
    other.errors = BrowserErrors()
    other.on("pageerror", lambda exc: other.errors.append(f"page error: {exc}"))
    yield other
    ctx.close()


def _no_axe_violations(page: Any, name: str) -> None:
    violations = axe_violations(page)
    screenshot(page, f"partnerships-{name}")
    assert not violations, describe_violations(name, page.url, violations)


@pytest.mark.browser
def test_a_liaison_starts_an_initiative_and_tracks_it(page: Any, live_server: Any, hub: Hub) -> None:
    sign_in_by_cookie(page.context, live_server, hub.liaison)
    page.goto("/")
    page.get_by_role("navigation", name="Primary navigation").get_by_role("link", name="Partnerships").click()
    page.wait_for_url("**/partnerships/initiatives/")
    page.get_by_role("link", name="Start an initiative").click()
    page.get_by_label("Title").fill("Regional SOC cooperative")
    page.get_by_label("Description").fill("Counties share **24/7 monitoring**.")
    page.get_by_label("Lead organisation").select_option(label="State IT")
    page.get_by_label("Status").select_option(label="On track")
    page.get_by_label("Partner organisations").select_option(label="Ingham County")
    page.get_by_label("Goals (one a line)").fill("Every partner's logs reach the SOC\nTriage under 30 minutes")
    page.get_by_role("button", name="Start the initiative").click()
    page.wait_for_url(INITIATIVE_PATH)
    expect(page.get_by_role("heading", level=1)).to_have_text("Regional SOC cooperative")
    expect(page.locator(".cg-markdown strong")).to_have_text("24/7 monitoring")
    expect(page.locator("main")).to_contain_text("Triage under 30 minutes")

    # A milestone owned by the partner, due next month.
    page.get_by_label("Milestone title").fill("Firewall logs forwarded")
    page.get_by_label("Owning organisation").select_option(label="Ingham County")
    due = (timezone.localdate() + timedelta(days=30)).isoformat()
    page.get_by_label("Due on").fill(due)
    page.get_by_role("button", name="Add the milestone").click()
    expect(page.locator(".cg-messages")).to_contain_text("Milestone added.")
    expect(page.get_by_role("row").filter(has_text="Firewall logs forwarded")).to_contain_text("Open")

    page.get_by_label("Progress note").fill("The vendor slipped a week.")
    page.get_by_label("Status now").select_option(label="At risk")
    page.get_by_role("button", name="Record progress").click()
    expect(page.locator("#initiative-status")).to_have_text("At risk")
    page.errors.assert_none()

    initiative = Initiative.objects.get()
    assert (initiative.status, initiative.lead_org, initiative.partners.get().organization) == (
        "at_risk",
        hub.state_it,
        hub.ingham,
    )
    # The at-a-glance page puts it under "needs attention"; the partner county sees it too.
    sign_in_by_cookie(page.context, live_server, hub.member)
    page.goto("/partnerships/initiatives/")
    row = page.get_by_role("row").filter(has_text="Regional SOC cooperative")
    expect(row).to_contain_text("Needs attention")
    expect(row).to_contain_text("0 of 1")


@pytest.mark.browser
def test_registering_for_a_full_event_joins_the_waiting_list(
    page: Any, second_page: Any, live_server: Any, hub: Hub
) -> None:
    start = timezone.now() + timedelta(days=3)
    event = services.event_create(
        actor=hub.liaison,
        title="Ransomware tabletop exercise",
        kind=Event.Kind.EXERCISE,
        description="Half a day.",
        starts_at=start,
        ends_at=start + timedelta(hours=4),
        location="State EOC",
        capacity=1,
        organizer_org=hub.state_it,
    )
    sign_in_by_cookie(page.context, live_server, hub.member)
    page.goto("/partnerships/events/")
    page.get_by_role("link", name="Ransomware tabletop exercise").click()
    expect(page.locator("#places")).to_have_text("1 of 1 left")
    page.get_by_role("button", name="Register").click()
    expect(page.locator(".cg-messages")).to_contain_text("You are registered.")
    expect(page.locator("#my-registration")).to_contain_text("Registered")
    expect(page.locator("#places")).to_have_text("0 of 1 left")
    page.errors.assert_none()

    sign_in_by_cookie(second_page.context, live_server, hub.admin)
    second_page.goto(f"/partnerships/events/{event.pk}/")
    second_page.get_by_role("button", name="Join the waiting list").click()
    expect(second_page.locator(".cg-messages")).to_contain_text("you are on the waiting list")
    expect(second_page.locator("#my-registration")).to_contain_text("On the waiting list")

    # The first person cancels; the place goes to the one waiting.
    page.get_by_role("button", name="Cancel my registration").click()
    expect(page.locator(".cg-messages")).to_contain_text("The registration is cancelled.")
    second_page.reload()
    expect(second_page.locator("#my-registration")).to_contain_text("Registered")
    assert Registration.objects.get(user=hub.admin).status == "registered"


@pytest.fixture
def content(hub: Hub, settings: Any, tmp_path: Any) -> dict[str, Any]:
    settings.MEDIA_ROOT = tmp_path
    resource = services.resource_create(
        actor=hub.member,
        data=services.ResourceInput(
            title="Ransomware first-hour playbook",
            kind=Resource.Kind.PLAYBOOK,
            summary="The **first hour**.",
            author_org=hub.ingham,
            tlp=TLP.GREEN,
            tags=["ransomware"],
            csf_categories=["RS.MA"],
        ),
        upload=SimpleUploadedFile("playbook.md", b"# Isolate first\n"),
    )
    services.resource_comment_add(actor=hub.member, resource=resource, organization=hub.ingham, body="*Useful*")
    initiative = services.initiative_create(
        actor=hub.liaison,
        title="Shared MFA procurement",
        description="Keys.",
        lead_org=hub.state_it,
        partners=[(hub.ingham, "Count accounts.")],
        goals=["MFA everywhere"],
    )
    services.milestone_add(
        actor=hub.liaison,
        initiative=initiative,
        title="Counts collected",
        owner_org=hub.ingham,
        due_on=timezone.localdate() - timedelta(days=2),
    )
    services.engagement_log(
        actor=hub.liaison,
        organization=hub.ingham,
        kind="visit",
        occurred_on=timezone.localdate(),
        summary="Walked through the plan.",
        follow_up="Send the template",
    )
    start = timezone.now() + timedelta(days=2)
    event = services.event_create(
        actor=hub.liaison,
        title="Grant briefing",
        kind=Event.Kind.BRIEFING,
        description="How to apply.",
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        location="Online",
        capacity=5,
        organizer_org=hub.state_it,
    )
    services.event_register(actor=hub.member, event=event, organization=hub.ingham)
    program = services.grant_program_create(
        actor=hub.liaison,
        name="SLCGP",
        fiscal_year=2024,
        federal_award=Decimal(1_000_000),
        cost_share_rate=Decimal(30),
        administrator=hub.state_it,
    )
    award = services.sub_award_save(
        actor=hub.liaison,
        program=program,
        organization=hub.ingham,
        amount=Decimal(500_000),
        match_amount=Decimal(150_000),
        objective="Objective 1",
        project="MFA",
        status="active",
        self_assessment_done=True,
    )
    services.local_need_create(
        actor=hub.member, organization=hub.ingham, title="Outside scan", description="", skills="vulnerability scanning"
    )
    services.volunteer_offer_create(
        actor=hub.liaison,
        organization=hub.state_it,
        kind="expertise",
        title="Scanning help",
        skills="vulnerability scanning",
        hours_per_month=4,
    )
    return {
        "resource": resource,
        "initiative": initiative,
        "event": event,
        "program": program,
        "resource-edit": resource,
        "event-edit": event,
        "sub-award-edit": award,
    }


@pytest.mark.browser
@pytest.mark.parametrize(
    ("name", "who", "path"),
    [
        ("library", "member", "/partnerships/library/?q=ransomware"),
        ("library-new", "member", "/partnerships/library/new/"),
        ("resource", "member", "resource"),
        ("initiatives", "liaison", "/partnerships/initiatives/"),
        ("initiative-new", "liaison", "/partnerships/initiatives/new/"),
        ("initiative", "liaison", "initiative"),
        ("engagements", "liaison", "/partnerships/engagements/"),
        ("events", "member", "/partnerships/events/"),
        ("event-new", "liaison", "/partnerships/events/new/"),
        ("event-organiser", "liaison", "event"),
        ("event-member", "member", "event"),
        ("calendar", "member", "/partnerships/calendar/"),
        ("grants", "liaison", "/partnerships/grants/"),
        ("grant", "liaison", "program"),
        ("volunteers-liaison", "liaison", "/partnerships/volunteers/"),
        ("volunteers-member", "member", "/partnerships/volunteers/"),
        ("resource-edit", "member", "resource-edit"),
        ("event-edit", "liaison", "event-edit"),
        ("sub-award-edit", "liaison", "sub-award-edit"),
    ],
)
def test_partnerships_pages_have_no_axe_violations(
    axe_page: Any, live_server: Any, hub: Hub, content: dict[str, Any], name: str, who: str, path: str
) -> None:
    sign_in_by_cookie(axe_page.context, live_server, getattr(hub, who))
    if not path.startswith("/"):
        obj = content[path]
        path = {
            "resource": f"/partnerships/library/{obj.pk}/",
            "initiative": f"/partnerships/initiatives/{obj.pk}/",
            "event": f"/partnerships/events/{obj.pk}/",
            "program": f"/partnerships/grants/{obj.pk}/",
            "resource-edit": f"/partnerships/library/{obj.pk}/edit/",
            "event-edit": f"/partnerships/events/{obj.pk}/edit/",
            "sub-award-edit": f"/partnerships/grants/{getattr(obj, 'program_id', 0)}/awards/{obj.pk}/edit/",
        }[path]
    response = axe_page.goto(path)
    assert response is not None and response.status == 200
    _no_axe_violations(axe_page, name)


@pytest.mark.browser
def test_form_errors_have_no_axe_violations(axe_page: Any, live_server: Any, hub: Hub, settings: Any, tmp_path: Any):
    settings.MEDIA_ROOT = tmp_path
    sign_in_by_cookie(axe_page.context, live_server, hub.member)
    axe_page.goto("/partnerships/library/new/")
    axe_page.get_by_label("Title").fill("A tool")
    axe_page.get_by_label("Kind of resource").select_option(label="Tool")
    axe_page.get_by_label("Summary").fill("Runs things.")
    axe_page.locator("input[type=file]").set_input_files(
        files=[{"name": "tool.exe", "mimeType": "application/pdf", "buffer": b"MZ\x90\x00" + b"\x00" * 60}]
    )
    axe_page.get_by_role("button", name="Share").click()
    expect(axe_page.locator(".usa-error-message")).to_contain_text("is not a type the library accepts")
    assert not Resource.objects.exists()
    _no_axe_violations(axe_page, "library-upload-error")


@pytest.mark.browser
def test_raising_an_events_capacity_promotes_the_waiting_list(
    page: Any, live_server: Any, hub: Hub, content: dict[str, Any]
) -> None:
    event = content["event"]
    Event.objects.filter(pk=event.pk).update(capacity=1)
    services.event_register(actor=hub.admin, event=event, organization=hub.ingham)  # waiting
    sign_in_by_cookie(page.context, live_server, hub.liaison)
    page.goto(f"/partnerships/events/{event.pk}/edit/")
    page.get_by_label("Capacity").fill("0")
    page.get_by_role("button", name="Save the event").click()
    expect(page.locator(".usa-error-message").first).to_be_visible()
    page.errors.clear()  # the refusal is a 400, which the browser reports
    page.get_by_label("Capacity").fill("2")
    page.get_by_role("button", name="Save the event").click()
    expect(page.locator(".cg-messages")).to_contain_text("From the waiting list to the new places: Ada Admin")
    assert Registration.objects.get(event=event, user=hub.admin).status == "registered"
    page.errors.assert_none()
