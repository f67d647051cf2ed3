"""Property-based tests of the read rules: random memberships, roles and statuses; the rules must
agree with a plain-Python statement of the policy, on the queryset and on the API channel."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commonguard.accounts.models import Membership, Role, User
from commonguard.orgs.models import Organization
from tests.conftest import sign_in

ORG_SPECS = [
    # key, kind, status, state
    ("county_a", "county", "approved", "MI"),
    ("county_b", "county", "approved", "MI"),
    ("state_it", "state_agency", "approved", "MI"),
    ("ohio_it", "state_agency", "approved", "OH"),
    ("pending_mi", "special_district", "pending", "MI"),
    ("pending_oh", "special_district", "pending", "OH"),
    ("rejected", "special_district", "rejected", "MI"),
]
ROLES = [r.value for r in Role]
STATUSES = [s.value for s in Membership.Status]

membership_choice = st.one_of(st.none(), st.tuples(st.sampled_from(ROLES), st.sampled_from(STATUSES)))
person = st.fixed_dictionaries(
    {
        "memberships": st.lists(membership_choice, min_size=len(ORG_SPECS), max_size=len(ORG_SPECS)),
        "requested": st.sampled_from([None, "pending_mi", "pending_oh", "rejected"]),
    }
)
worlds = st.lists(person, min_size=2, max_size=3).flatmap(
    lambda people: st.tuples(st.just(people), st.lists(st.booleans(), min_size=len(people), max_size=len(people)))
)


def _build(people: list[dict[str, Any]], operators: list[bool]) -> tuple[dict[str, Organization], list[User]]:
    orgs = {
        key: Organization.objects.create(name=key, kind=kind, status=status, state=state, time_zone="UTC")
        for key, kind, status, state in ORG_SPECS
    }
    users = []
    for i, (spec, operator) in enumerate(zip(people, operators, strict=True)):
        user = User.objects.create_user(
            email=f"p{i}@example.test", password=None, full_name=f"P {i}", is_superuser=operator and i == 0
        )  # at most one operator
        for (key, *_), choice in zip(ORG_SPECS, spec["memberships"], strict=True):
            if choice is not None:
                role, status = choice
                Membership.objects.create(user=user, organization=orgs[key], role=role, status=status)
        if spec["requested"]:
            Organization.objects.filter(pk=orgs[spec["requested"]].pk, requested_by__isnull=True).update(
                requested_by=user
            )
        users.append(user)
    return orgs, users


def _oracle_orgs(user: User, orgs: dict[str, Organization]) -> set[int]:
    """The organisation policy, written plainly from the ADR."""
    if user.is_superuser:
        return {o.pk for o in orgs.values()}
    mine = list(Membership.objects.filter(user=user).select_related("organization"))
    approved = [m for m in mine if m.status == "approved" and m.organization.status == "approved"]
    vetted = bool(approved)
    liaison_states = {
        m.organization.state for m in approved if m.role == "state_liaison" and m.organization.kind == "state_agency"
    }
    seen = set()
    for org in Organization.objects.all():
        own_request = any(m.organization_id == org.pk and m.status == "pending" for m in mine) or (
            org.requested_by_id == user.pk and org.status == "pending"
        )
        if (
            own_request
            or (vetted and org.status == "approved")
            or (org.status == "pending" and org.state in liaison_states)
        ):
            seen.add(org.pk)
    return seen


def _oracle_memberships(user: User) -> set[int]:
    if user.is_superuser:
        return set(Membership.objects.values_list("pk", flat=True))
    approved = [
        m
        for m in Membership.objects.filter(user=user).select_related("organization")
        if m.status == "approved" and m.organization.status == "approved"
    ]
    orgs = {m.organization_id for m in approved}
    admin_of = {m.organization_id for m in approved if m.role == "org_admin"}
    staff_states = {
        m.organization.state
        for m in approved
        if m.role in {"state_liaison", "analyst"} and m.organization.kind == "state_agency"
    }
    liaison_states = {
        m.organization.state for m in approved if m.role == "state_liaison" and m.organization.kind == "state_agency"
    }
    seen = set()
    for m in Membership.objects.select_related("organization"):
        if (
            m.user_id == user.pk
            or (m.status == "approved" and m.organization_id in orgs)
            or m.organization_id in admin_of
            or (m.status == "approved" and m.organization.state in staff_states)
            or m.organization.state in liaison_states
        ):
            seen.add(m.pk)
    return seen


class _Rollback(Exception):
    pass


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(world=worlds)
def test_read_rules_match_the_policy_on_every_channel(db: Any, world: Any) -> None:
    people, operators = world
    try:
        with transaction.atomic():
            orgs, users = _build(people, operators)
            for user in users:
                fresh = User.objects.get(pk=user.pk)
                expected_orgs = _oracle_orgs(fresh, orgs)
                expected_members = _oracle_memberships(fresh)
                assert set(Organization.objects.visible_to(fresh).values_list("pk", flat=True)) == expected_orgs
                assert set(Membership.objects.visible_to(fresh).values_list("pk", flat=True)) == expected_members
                client = sign_in(Client(), fresh)
                api_orgs = {r["id"] for r in client.get("/api/v1/organizations/", {"page_size": 500}).json()["results"]}
                assert api_orgs == expected_orgs
                api_members = {
                    r["id"] for r in client.get("/api/v1/memberships/", {"page_size": 500}).json()["results"]
                }
                assert api_members == expected_members
                hidden = next((o for o in orgs.values() if o.pk not in expected_orgs), None)
                if hidden is not None:
                    assert client.get(f"/api/v1/organizations/{hidden.pk}/").status_code == 404
            raise _Rollback
    except _Rollback:
        pass
