"""Federation operations in a real browser (ADR 30): an author deletes an alert through its
confirmation page (which names the peer hubs that will get a tombstone); the operator reads the
peer pages. axe-core finds no violation on any of them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from commonguard.core.tlp import TLP
from commonguard.federation.models import Change, Peer
from commonguard.federation.services import peer_save
from commonguard.sharing.models import Alert
from tests.browser.conftest import Hub, assert_axe_clean, sign_in_by_cookie
from tests.factories import UserFactory
from tests.sharing_helpers import make_alert

pytestmark = pytest.mark.browser


def test_delete_an_alert_through_its_confirmation_page(axe_page: Any, live_server: Any, hub: Hub) -> None:
    peer_save(actor=None, name="Ohio", url="http://127.0.0.1:9/ohio", community=True)
    alert = make_alert(hub.member, hub.ingham, TLP.GREEN, title="Look-alike invoices")
    page = axe_page
    sign_in_by_cookie(page.context, live_server, hub.member)
    page.goto(f"{live_server.url}/alerts/{alert.uuid}/")
    page.get_by_role("link", name="Delete this alert").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete this alert?")
    expect(page.get_by_role("region", name="Deleting cannot be undone")).to_contain_text("Ohio")
    assert_axe_clean(page, "alert-delete-confirm")
    page.get_by_label("Why is it deleted? (optional)").fill("Names a person.")
    page.get_by_role("button", name="Delete the alert and send tombstones").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Alerts")
    expect(page.locator(".usa-alert--success")).to_contain_text("Look-alike invoices")
    assert not Alert.objects.filter(pk=alert.pk).exists()
    assert_axe_clean(page, "alert-deleted")


def test_the_operator_reads_the_peer_pages(axe_page: Any, live_server: Any, hub: Hub) -> None:
    operator = UserFactory(email="opal.operator@example.test", full_name="Opal Operator", is_superuser=True)
    ohio, _ = peer_save(actor=None, name="Ohio", url="http://127.0.0.1:9/ohio", community=True)
    peer_save(actor=None, name="Indiana", url="http://127.0.0.1:9/indiana", push=False)
    make_alert(hub.member, hub.ingham, TLP.GREEN)
    Change.objects.filter(peer=ohio).update(
        status=Change.Status.RETRY,
        attempts=3,
        last_error="502: bad gateway",
        created_at=timezone.now() - timedelta(hours=2),
    )
    Peer.objects.filter(pk=ohio.pk).update(last_error="The peer did not answer: ConnectError")
    page = axe_page
    sign_in_by_cookie(page.context, live_server, operator)
    page.goto(f"{live_server.url}/hub/federation/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Federation peers")
    expect(page.get_by_role("table")).to_contain_text("502: bad gateway")
    assert_axe_clean(page, "federation-peers")
    page.get_by_role("link", name="Ohio").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Peer hub: Ohio")
    expect(page.get_by_role("table")).to_contain_text("Waiting to retry")
    assert_axe_clean(page, "federation-peer")
