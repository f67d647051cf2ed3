"""The live feed in a real browser: a signed-in reader sits on the alert feed; an alert is published
and delivered by the worker; the banner and the list show it without a reload. (The test server
is WSGI, where the stream answers by polling once a second; tests/test_live_asgi.py covers the
open stream under uvicorn.)"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from commonguard.accounts.models import Role
from commonguard.core.tlp import TLP
from tests.browser.conftest import Hub, run_worker, screenshot, sign_in_by_cookie
from tests.factories import MembershipFactory, UserFactory
from tests.sharing_helpers import make_alert

pytestmark = pytest.mark.browser


def test_a_new_alert_arrives_live_for_its_readers_only(page: Any, live_server: Any, hub: Hub) -> None:
    reader = UserFactory(email="rae.reader@example.test", full_name="Rae Reader")
    MembershipFactory(user=reader, organization=hub.washtenaw, role=Role.MEMBER)
    sign_in_by_cookie(page.context, live_server, reader)
    page.goto("/alerts/")
    expect(page.locator("#cg-live")).to_have_attribute("data-connected", "1")
    hidden = make_alert(hub.member, hub.ingham, TLP.AMBER, title="Only for Lansing", recipient_orgs=[hub.lansing])
    shown = make_alert(hub.member, hub.ingham, TLP.GREEN, title="QR-code phishing in tax notices")
    run_worker()
    banner = page.locator("#cg-live .usa-alert")
    # The stream polls once a second; give a loaded CI machine (the other xdist worker busy) time.
    expect(banner).to_contain_text("New alert: QR-code phishing in tax notices", timeout=15_000)
    expect(page.locator("#results")).to_contain_text(shown.title)  # the list refreshed itself
    expect(banner).to_have_count(1)
    assert hidden.title not in page.content()
    screenshot(page, "alert-arrives-live")
    page.errors.assert_none()
