"""Questions to the author and the version history in a real browser: asking through the form
under the site's CSP, and axe-core on the alert page with a thread and on the history page."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from commonguard.accounts.models import Role, User
from commonguard.sharing import services
from commonguard.sharing.models import Alert, Question
from commonguard.sharing.questions import question_ask, question_reply
from tests.browser.conftest import Hub, axe_violations, describe_violations, screenshot, sign_in_by_cookie
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture
def reader(hub: Hub) -> User:
    person = UserFactory(email="wren.washtenaw@example.test", full_name="Wren Washtenaw")
    MembershipFactory(user=person, organization=hub.washtenaw, role=Role.MEMBER)
    return person


def _publish(hub: Hub, **fields: Any) -> Alert:
    data = services.AlertInput(
        title=fields.pop("title", "Payroll portal phishing"),
        summary=fields.pop("summary", "Look-alike payroll pages.\n\nSeen in three townships."),
        category="phishing",
        tlp=fields.pop("tlp", "green"),
        indicators=[(None, "payroll-login.example")],
        **fields,
    )
    draft = services.alert_save_draft(actor=hub.member, author_org=hub.ingham, data=data)
    return services.alert_publish(actor=hub.member, alert=draft)


def _axe(page: Any, name: str) -> None:
    violations = axe_violations(page)
    screenshot(page, name)
    if violations:
        pytest.fail(describe_violations(name, page.url, violations), pytrace=False)


@pytest.mark.browser
def test_a_recipient_asks_and_reads_the_anonymous_answer(page: Any, live_server: Any, hub: Hub, reader: User) -> None:
    alert = _publish(hub, anonymous=True)
    sign_in_by_cookie(page.context, live_server, reader)
    page.goto(f"/alerts/{alert.uuid}/")
    page.get_by_text("Ask the author a question").click()
    page.get_by_label("Your question").fill("Did it reach **payroll** staff?")
    page.get_by_role("button", name="Send the question").click()
    expect(page.locator(".usa-alert--success, .usa-alert")).to_contain_text(["Your question is sent"])
    question = Question.objects.get()
    thread = page.locator(f"#question-{question.pk}")
    expect(thread).to_contain_text("Wren Washtenaw, Washtenaw County")
    expect(thread.locator("strong", has_text="payroll")).to_be_visible()
    question_reply(actor=hub.admin, question=question, body="Two mailboxes; blocked.")
    page.reload()
    expect(thread).to_contain_text("The author (a county in Region 1)")
    expect(thread).not_to_contain_text("Ingham")
    page.errors.assert_none()


@pytest.mark.browser
def test_alert_page_with_a_thread_has_no_axe_violations(
    axe_page: Any, live_server: Any, hub: Hub, reader: User
) -> None:
    alert = _publish(hub, anonymous=True)
    question = question_ask(actor=reader, alert=alert, organization=hub.washtenaw, body="Which *sender*?")
    question_reply(actor=hub.admin, question=question, body="- payroll@payroll-login.example\n- two more")
    question_reply(actor=reader, question=question, body="Thanks.")
    sign_in_by_cookie(axe_page.context, live_server, reader)
    axe_page.goto(f"/alerts/{alert.uuid}/")
    for summary in axe_page.locator("details > summary").all():
        summary.click()
    expect(axe_page.get_by_role("button", name="Send the reply")).to_be_visible()
    expect(axe_page.get_by_role("button", name="Forward")).to_be_visible()
    _axe(axe_page, "alert-detail-thread")


@pytest.mark.browser
def test_history_page_has_no_axe_violations(axe_page: Any, live_server: Any, hub: Hub, reader: User) -> None:
    alert = _publish(hub, tlp="amber", recipient_orgs=[hub.washtenaw])
    data = services.AlertInput(
        title="Payroll portal phishing, second wave",
        summary="Look-alike payroll pages.\n\nSeen in five townships.",
        category="phishing",
        tlp="green",
        severity="high",
        indicators=[(None, "payroll-login.example"), (None, "91.92.251.7")],
    )
    alert = services.alert_update(actor=hub.member, alert=alert, data=data)
    sign_in_by_cookie(axe_page.context, live_server, reader)
    axe_page.goto(f"/alerts/{alert.uuid}/")
    axe_page.get_by_role("link", name="Version history").click()
    axe_page.wait_for_url(f"**/alerts/{alert.uuid}/history/")
    expect(axe_page.get_by_role("heading", level=1)).to_have_text("Version history")
    expect(axe_page.get_by_role("table")).to_contain_text("TLP:AMBER → TLP:GREEN")
    _axe(axe_page, "alert-history")
