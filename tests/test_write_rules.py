"""Denied writes change nothing: persona × write endpoint, asserting the status, that the row is
untouched and that no audit event (the record of any change) was written."""

from __future__ import annotations

from typing import Any

import pytest

from commonguard.accounts.models import Membership
from commonguard.core.models import AuditEvent
from commonguard.orgs.models import ContactAssignment, Organization
from tests.conftest import PERSONAS


def _snapshot(world: Any) -> dict[str, Any]:
    return {
        "memberships": sorted(Membership.objects.values_list("id", "status", "role")),
        "orgs": sorted(Organization.objects.values_list("id", "status", "website")),
        "contacts": sorted(ContactAssignment.objects.values_list("id", "holder_id", "ended_at")),
        "audit": AuditEvent.objects.count(),
    }


WRITES: dict[str, tuple[Any, set[str]]] = {
    # name: (how to make the request, who may)
    "approve join request": (
        lambda w: ("post", f"/api/v1/memberships/{w.memberships['unvetted'].pk}/approve/", {}),
        {"ingham_admin", "operator"},
    ),
    "approve new organisation": (
        lambda w: ("post", f"/api/v1/organizations/{w.pending_org.pk}/approve/", {}),
        {"liaison1", "liaison2", "operator"},
    ),
    "change a member's role": (
        lambda w: ("post", f"/api/v1/memberships/{w.memberships['ingham_member'].pk}/role/", {"role": "official"}),
        {"ingham_admin", "operator"},
    ),
    "remove a member": (
        lambda w: ("post", f"/api/v1/memberships/{w.memberships['ingham_member'].pk}/remove/", {}),
        {"ingham_admin", "operator", "ingham_member"},  # a person may leave on their own
    ),
    "assign a contact role": (
        lambda w: (
            "post",
            "/api/v1/contacts/",
            {"organization": w.ingham.pk, "role": "ciso", "holder": w.people["ingham_member"].pk},
        ),
        {"ingham_admin", "operator"},
    ),
    "end a contact role": (
        lambda w: ("post", f"/api/v1/contacts/{w.contacts['ingham_cio'].pk}/end/", {}),
        {"ingham_admin", "operator"},
    ),
    "approve via the page": (
        lambda w: ("post", f"/organizations/memberships/{w.memberships['unvetted'].pk}/approve/", {}),
        {"ingham_admin", "operator"},
    ),
    "assign a contact via the page": (
        lambda w: (
            "post",
            f"/organizations/{w.ingham.pk}/contacts/",
            {"role": "ciso", "holder": w.people["ingham_member"].pk},
        ),
        {"ingham_admin", "operator"},
    ),
}


@pytest.mark.parametrize("write", list(WRITES))
def test_denied_writes_change_nothing(world, as_persona, write):
    make, allowed = WRITES[write]
    for persona in PERSONAS:
        if persona in allowed:
            continue
        method, url, data = make(world)
        before = _snapshot(world)
        client = as_persona(persona)
        response = (
            getattr(client, method)(url, data, content_type="application/json")
            if url.startswith("/api/")
            else getattr(client, method)(url, data)
        )
        where = f"{write} as {persona}"
        if url.startswith("/api/"):
            assert response.status_code in {401, 403, 404}, f"{where}: {response.status_code}"
        else:
            assert response.status_code in {302, 403, 404}, f"{where}: {response.status_code}"
        assert _snapshot(world) == before, f"{where} changed something"


@pytest.mark.parametrize("write", list(WRITES))
def test_allowed_writes_change_something(world, as_persona, write):
    """The same requests succeed for the people allowed (so the denial test cannot pass vacuously)."""
    make, allowed = WRITES[write]
    persona = sorted(allowed)[0]
    method, url, data = make(world)
    before = _snapshot(world)
    client = as_persona(persona)
    if url.startswith("/api/"):
        response = getattr(client, method)(url, data, content_type="application/json")
        assert response.status_code in {200, 201}, response.content
    else:
        response = getattr(client, method)(url, data)
        assert response.status_code == 302
    after = _snapshot(world)
    assert after != before
    assert after["audit"] == before["audit"] + 1
