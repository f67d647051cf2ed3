"""Responders' personal details (phone, home address, background-check result): only the
coordinators of their own programme, the responder, and the requesting organisation while the
responder is deployed there. A persona × deployment-status matrix over the queryset, the page and
the API, and a hypothesis property against a plain-Python statement of the rule."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commonguard.accounts.models import Role
from commonguard.mutualaid.models import Deployment, ResponderPrivate
from commonguard.mutualaid.querysets import private_visible
from tests.conftest import PERSONAS
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.mutualaid_helpers import aid_request, make_responder

SECRET_PHONE = "+1 517 555 0142"
INGHAM_PEOPLE = {"ingham_member", "ingham_admin", "ingham_official"}


def expected(persona: str, status: str | None) -> bool:
    """The rule, plainly."""
    if persona in {"coordinator", "responder"}:  # the Guard's coordinator; the responder themself
        return True
    return status in {"active", "extended"} and persona in INGHAM_PEOPLE


def _setup(world: Any, status: str | None) -> Any:
    responder = make_responder(world, name="Responder", user=world["responder"])
    if status is not None:
        aid = aid_request(world)
        Deployment.objects.create(
            request=aid, responder=responder, status=status, starts_on=aid.starts_on, ends_on=aid.ends_on
        )
    return responder


STATUSES = [None, *Deployment.Status.values]


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("persona", PERSONAS)
def test_personal_details_matrix(world: Any, as_persona: Any, persona: str, status: str | None) -> None:
    responder = _setup(world, status)
    user = None if persona == "anonymous" else world[persona]
    allowed = expected(persona, status)
    # 1. The queryset and the field rule.
    assert ResponderPrivate.objects.visible_to(user).filter(responder=responder).exists() is allowed
    assert private_visible(user, responder.pk) is allowed
    if persona in {"anonymous", "unvetted", "removed_member"}:
        return
    client = as_persona(persona)
    # 2. The page: the profile is there for the vetted (an active responder), the details only if allowed.
    page = client.get(f"/mutualaid/responders/{responder.pk}/").content.decode()
    assert (SECRET_PHONE in page) is allowed
    assert ("1 Main St" in page) is allowed
    # 3. The API, detail and list.
    data = client.get(f"/api/v1/mutualaid/responders/{responder.pk}/").json()
    assert (data["personal"] is not None) is allowed
    if allowed:
        assert data["personal"] == {
            "phone": SECRET_PHONE,
            "home_address": "1 Main St, Mason MI",
            "background_check_result": "clear",
        }
    listed = client.get("/api/v1/mutualaid/responders/").json()["results"]
    assert any(row["personal"] for row in listed) is allowed
    assert (SECRET_PHONE in str(listed)) is allowed


def test_coordinator_of_another_programme_does_not_see(world: Any) -> None:
    responder = _setup(world, "active")
    corps = OrganizationFactory(name="Cyber Civilian Corps", kind="volunteer_corps", county_fips="")
    other = UserFactory(email="other.coord@example.test")
    MembershipFactory(user=other, organization=corps, role=Role.COORDINATOR)
    assert not private_visible(other, responder.pk)
    # ...nor an admin or plain member of the responder's own programme.
    admin = UserFactory(email="guard.admin@example.test")
    MembershipFactory(user=admin, organization=world.guard, role=Role.ORG_ADMIN)
    assert not private_visible(admin, responder.pk)


# --- Property: random worlds of programmes, people and deployments --------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    memberships=st.lists(
        st.tuples(
            st.integers(0, 3),
            st.integers(0, 2),
            st.sampled_from(["coordinator", "member", "org_admin"]),
            st.sampled_from(["approved", "pending", "removed"]),
        ),
        max_size=10,
    ),
    deployments=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 2), st.sampled_from(Deployment.Status.values)), max_size=5
    ),
    owner=st.integers(0, 3),
)
def test_property_personal_details(world: Any, memberships: list[Any], deployments: list[Any], owner: int) -> None:
    with transaction.atomic():
        _check_world(world, memberships, deployments, owner)
        transaction.set_rollback(True)


def _check_world(world: Any, memberships: list[Any], deployments: list[Any], owner: int) -> None:
    """3 organisations (0, 1: counties that may request; 2: the Guard programme of every responder),
    4 people, 3 responders (responder i belongs to person i when i == owner), memberships and
    deployments at random. Whoever sees a responder's details must satisfy the rule written plainly."""
    orgs = [world.ingham, world.washtenaw, world.guard]
    people = [UserFactory() for _ in range(4)]
    seen: set[tuple[int, int]] = set()
    for person, org, role, status in memberships:
        if (person, org) in seen:
            continue
        seen.add((person, org))
        MembershipFactory(user=people[person], organization=orgs[org], role=role, status=status)
    responders = [
        make_responder(world, name=f"R{i}", user=people[i] if i == owner else None, phone=f"+1 555 000 000{i}")
        for i in range(3)
    ]
    requests = [
        aid_request(world, org=world.ingham),
        aid_request(world, org=world.washtenaw, actor=world["washtenaw_admin"]),
    ]
    under_way: set[tuple[int, int]] = set()  # (responder, requesting org index)
    for r, req, status in deployments:
        if req > 1:
            continue
        Deployment.objects.create(
            request=requests[req],
            responder=responders[r],
            status=status,
            starts_on=requests[req].starts_on,
            ends_on=requests[req].ends_on,
        )
        if status in ("active", "extended"):
            under_way.add((r, req))
    # Only the first membership of a (person, org) pair was created.
    first: dict[tuple[int, int], tuple[str, str]] = {}
    for person, org, role, status in memberships:
        first.setdefault((person, org), (role, status))
    approved = {(p, o, role) for (p, o), (role, status) in first.items() if status == "approved"}
    for p, user in enumerate(people):
        for r, responder in enumerate(responders):
            rule = (
                (r == owner and p == owner)
                or (p, 2, "coordinator") in approved  # coordinator of the Guard, the programme
                or any(
                    (r, o) in under_way
                    and any((p, o, role) in approved for role in ("coordinator", "member", "org_admin"))
                    for o in (0, 1)
                )
            )
            # The world's own personas hold the Guard coordinator role too, unaffected here.
            assert private_visible(user, responder.pk) is rule, (p, r, first, under_way)
