"""What a signed-in person is, in the terms the read rules need. Computed once per request.

Every `visible_to(user)` starts here, so "who is vetted", "whose admin", "which state's staff"
are answered in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AnonymousUser

from commonguard.core.compiled import CompiledQuery

_CACHE_ATTR = "_commonguard_viewer"


@dataclass(frozen=True)
class Viewer:
    user_id: int | None
    is_operator: bool = False
    # Approved memberships in approved organisations: org id -> role.
    roles_by_org: dict[int, str] = field(default_factory=dict)
    # Organisations the person has an open request for: to join, or to add to the directory.
    requested_org_ids: frozenset[int] = frozenset()
    # States whose liaison or analyst the person is (state staff see across their state).
    staff_states: frozenset[str] = frozenset()
    liaison_states: frozenset[str] = frozenset()
    # Regions whose assigned liaison the person is.
    liaison_region_ids: frozenset[int] = frozenset()

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def is_vetted(self) -> bool:
        """Has at least one approved membership in an approved organisation (or runs the hub)."""
        return self.is_operator or bool(self.roles_by_org)

    @property
    def org_ids(self) -> frozenset[int]:
        return frozenset(self.roles_by_org)

    @property
    def admin_org_ids(self) -> frozenset[int]:
        from commonguard.accounts.models import Role

        return frozenset(org for org, role in self.roles_by_org.items() if role == Role.ORG_ADMIN)

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(self.roles_by_org.values())

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    @property
    def is_state_staff(self) -> bool:
        return bool(self.staff_states)

    @property
    def is_liaison(self) -> bool:
        return bool(self.liaison_states)


ANONYMOUS = Viewer(user_id=None)


def viewer_for(user: Any) -> Viewer:
    """The Viewer for `user`, cached on the user object for the life of the request. A Viewer
    passes through unchanged (see `organization_viewer`)."""
    if isinstance(user, Viewer):
        return user
    if user is None or isinstance(user, AnonymousUser) or not getattr(user, "is_authenticated", False):
        return ANONYMOUS
    if not user.is_active:
        return ANONYMOUS
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    viewer = _compute(user)
    setattr(user, _CACHE_ATTR, viewer)
    return viewer


# Stands for "no person": matches no user row, so nothing addressed to a person (TLP:RED) applies.
NO_PERSON = 0


def organization_viewer(organization: Any) -> Viewer:
    """An approved organisation as a whole, for what is delivered to it rather than to a person (its
    webhooks): it reads what every approved member reads by virtue of the organisation (CLEAR, GREEN,
    AMBER addressed to it), never what names people (RED), and has no state-staff sight (anonymous
    authors stay anonymous). An organisation that is not approved reads nothing."""
    from commonguard.accounts.models import Role
    from commonguard.orgs.models import Organization

    if organization.status != Organization.Status.APPROVED:
        return Viewer(user_id=NO_PERSON)
    return Viewer(user_id=NO_PERSON, roles_by_org={organization.pk: Role.MEMBER})


def forget_viewer(user: Any) -> None:
    """Drop the cached Viewer after a change to the person's memberships."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


_ASKED_FOR = "asked-for"  # not a membership status: an organisation the person asked to add


def _memberships_and_asked_for(user_pk: int) -> Any:
    """The person's memberships, and the organisations they asked to add to the directory (status
    "requested"), in one query. Constant columns last in both halves, as a UNION pairs them by
    position."""
    from django.db.models import CharField, Value

    from commonguard.accounts.models import Membership
    from commonguard.orgs.models import Organization

    memberships = (
        Membership.objects.filter(user_id=user_pk)
        .order_by()
        .values_list(
            "organization_id", "organization__status", "organization__kind", "organization__state", "role", "status"
        )
    )
    asked_for = (
        Organization.objects.filter(requested_by_id=user_pk, status=Organization.Status.PENDING)
        .order_by()
        .annotate(no_role=Value("", output_field=CharField()), asked=Value(_ASKED_FOR, output_field=CharField()))
        .values_list("id", "status", "kind", "state", "no_role", "asked")
    )
    return memberships.union(asked_for, all=True)


# Every page and API call reads it: compiled once (core/compiled.py), not on every request.
_MEMBERSHIPS_AND_ASKED_FOR = CompiledQuery(_memberships_and_asked_for)


def _compute(user: Any) -> Viewer:
    from commonguard.accounts.models import STATE_STAFF_ROLES, Membership, Role
    from commonguard.orgs.models import Organization, Region

    roles_by_org: dict[int, str] = {}
    staff_states: set[str] = set()
    liaison_states: set[str] = set()
    requested: set[int] = set()
    for org_id, org_status, org_kind, org_state, role, status in _MEMBERSHIPS_AND_ASKED_FOR.rows(user.pk):
        if status in (Membership.Status.PENDING, _ASKED_FOR):
            requested.add(org_id)
        if status != Membership.Status.APPROVED or org_status != Organization.Status.APPROVED:
            continue
        roles_by_org[org_id] = role
        if role in STATE_STAFF_ROLES and org_kind == Organization.Kind.STATE_AGENCY:
            staff_states.add(org_state)
            if role == Role.STATE_LIAISON:
                liaison_states.add(org_state)
    liaison_regions = (
        frozenset(Region.objects.filter(liaison_id=user.pk).values_list("id", flat=True))
        if liaison_states
        else frozenset()
    )
    return Viewer(
        user_id=user.pk,
        is_operator=bool(user.is_superuser),
        roles_by_org=roles_by_org,
        requested_org_ids=frozenset(requested),
        staff_states=frozenset(staff_states),
        liaison_states=frozenset(liaison_states),
        liaison_region_ids=liaison_regions,
    )
