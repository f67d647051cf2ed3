"""The one read rule, as a persona × object matrix, on every channel: queryset, API detail,
API list and page. What a persona may not see must answer exactly like what does not exist."""

from __future__ import annotations

import re
from typing import Any

import pytest

from commonguard.accounts.models import ApiToken, Membership
from commonguard.accounts.services import token_create
from commonguard.core.audit import audit_record
from commonguard.core.models import AuditEvent
from commonguard.orgs.models import ContactAssignment, Organization
from tests.conftest import PERSONAS, VETTED_PERSONAS

VETTED = VETTED_PERSONAS


def _expect(visible_to: set[str]) -> list[tuple[str, bool]]:
    return [(p, p in visible_to) for p in PERSONAS]


ORG_CASES = {
    "ingham": set(VETTED) | {"unvetted"},  # unvetted asked to join Ingham: that is their own request
    "washtenaw": set(VETTED),
    "pending_org": {"unvetted", "liaison1", "liaison2", "operator"},
}

MEMBERSHIP_CASES = {
    # The unvetted person's pending request: themselves, Ingham's admin, the state's liaisons.
    "unvetted": {"unvetted", "ingham_admin", "liaison1", "liaison2", "operator"},
    # An approved member: colleagues, state staff, themselves.
    "ingham_member": {
        "ingham_member",
        "ingham_admin",
        "ingham_official",
        "liaison1",
        "liaison2",
        "analyst",
        "operator",
    },
    # A removed membership: the person, the org's admins, liaisons.
    "removed_member": {"removed_member", "ingham_admin", "liaison1", "liaison2", "operator"},
}

CONTACT_CASES = {
    "ingham_cio": set(VETTED),
    # After-hours numbers: the organisation's own people, state staff, coordinators, operator.
    "ingham_after_hours": {
        "ingham_member",
        "ingham_admin",
        "ingham_official",
        "liaison1",
        "liaison2",
        "analyst",
        "coordinator",
        "operator",
    },
    # Past holders: the organisation's admins and state staff.
    "ingham_old_cio": {"ingham_admin", "liaison1", "liaison2", "analyst", "operator"},
}


def _target(world: Any, model: str, key: str) -> Any:
    if model == "organization":
        return getattr(world, key)
    if model == "membership":
        return world.memberships[key]
    return world.contacts[key]


MODELS = {
    "organization": (Organization, "/api/v1/organizations/", ORG_CASES),
    "membership": (Membership, "/api/v1/memberships/", MEMBERSHIP_CASES),
    "contact": (ContactAssignment, "/api/v1/contacts/", CONTACT_CASES),
}

CASES = [(model, key) for model, (_, _, cases) in MODELS.items() for key in cases]


@pytest.mark.parametrize(("model", "key"), CASES)
def test_visible_to_matrix(world, as_persona, model, key):
    """For each object, every persona: queryset, API detail (200, or the same 404 as an id that
    does not exist), API list. One world per object keeps the matrix fast."""
    model_class, api, cases = MODELS[model]
    obj = _target(world, model, key)
    for persona, visible in _expect(cases[key]):
        where = f"{model} {key} as {persona}"
        user = None if persona == "anonymous" else world[persona]
        # 1. The queryset rule.
        assert model_class.objects.visible_to(user).filter(pk=obj.pk).exists() is visible, where

        client = as_persona(persona)
        detail = client.get(f"{api}{obj.pk}/")
        absent = client.get(f"{api}987654/")
        if persona == "anonymous":
            assert detail.status_code == absent.status_code == 401, where
            continue
        # 2. API detail.
        if visible:
            assert detail.status_code == 200, where
        else:
            assert detail.status_code == 404, where
            assert detail.json() == absent.json(), where
        # 3. API list.
        listed = client.get(api, {"page_size": 500}).json()["results"]
        assert (obj.pk in {row["id"] for row in listed}) is visible, where


def _without_csrf(content: bytes) -> str:
    return re.sub(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+', r"\1", content.decode())


@pytest.mark.parametrize(("persona", "visible"), [(p, p in ORG_CASES["pending_org"]) for p in VETTED])
def test_organization_page_hidden_like_absent(world, as_persona, persona, visible):
    """The page channel: a hidden organisation's page is the same 404 as a missing one."""
    client = as_persona(persona)
    response = client.get(f"/organizations/{world.pending_org.pk}/")
    if visible:
        assert response.status_code == 200
        assert world.pending_org.name in response.content.decode()
    else:
        absent = client.get("/organizations/987654/")
        assert response.status_code == absent.status_code == 404
        assert _without_csrf(response.content) == _without_csrf(absent.content)


@pytest.mark.parametrize(("persona", "visible"), _expect(CONTACT_CASES["ingham_after_hours"]))
def test_after_hours_number_on_profile_page(world, as_persona, persona, visible):
    if persona in {"anonymous", "unvetted", "removed_member"}:
        response = as_persona(persona).get(f"/organizations/{world.ingham.pk}/")
        assert response.status_code == 302
        return
    page = as_persona(persona).get(f"/organizations/{world.ingham.pk}/").content.decode()
    assert ("+1 517 555 0199" in page) is visible
    assert ("After-hours contact" in page) is visible


def test_unvetted_sees_only_their_own_request(world, as_persona):
    client = as_persona("unvetted")
    orgs = {row["name"] for row in client.get("/api/v1/organizations/").json()["results"]}
    assert orgs == {"Ingham County", "Ingham Drain District"}
    memberships = client.get("/api/v1/memberships/").json()["results"]
    assert [m["user"]["email"] for m in memberships] == ["unvetted@example.test"]
    assert client.get("/api/v1/contacts/").json()["results"] == []
    assert client.get("/api/v1/audit/").json()["results"] == []
    for page in ["/organizations/", f"/organizations/{world.ingham.pk}/", "/audit/", "/organizations/approvals/"]:
        assert client.get(page)["Location"] == "/"


AUDIT_CASES = {"ingham_admin", "liaison1", "operator"}


@pytest.mark.parametrize(("persona", "visible"), _expect(AUDIT_CASES))
def test_audit_event_visibility(world, as_persona, persona, visible):
    event = audit_record(actor=world["ingham_admin"], action="test.write", summary="x", organization=world.ingham)
    user = None if persona == "anonymous" else world[persona]
    assert AuditEvent.objects.visible_to(user).filter(pk=event.pk).exists() is visible
    if persona == "anonymous":
        return
    client = as_persona(persona)
    response = client.get(f"/api/v1/audit/{event.pk}/")
    assert response.status_code == (200 if visible else 404)
    page = client.get("/audit/")
    if persona not in {"unvetted", "removed_member"}:
        assert ("test.write" in page.content.decode() or "x</td>" in page.content.decode()) is visible


def test_tokens_are_private(world, as_persona):
    token, _ = token_create(actor=world["ingham_admin"], name="SIEM")
    for persona in PERSONAS:
        if persona == "anonymous":
            continue
        response = as_persona(persona).get(f"/api/v1/tokens/{token.pk}/")
        assert response.status_code == (200 if persona == "ingham_admin" else 404), persona
    assert ApiToken.objects.visible_to(world["operator"]).filter(pk=token.pk).exists() is False
