"""Changes to sharing groups: named lists of organisations that AMBER alerts are addressed to.

A group is kept by the admins of the organisation that owns it. Changing its members changes who
reads the AMBER alerts already addressed to it (the alerts' read rule follows the group), so every
change is audited with the organisations added and removed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from commonguard.accounts.models import User
from commonguard.accounts.viewer import viewer_for
from commonguard.core.audit import audit_record
from commonguard.orgs.models import Organization
from commonguard.sharing.models import SharingGroup

MAX_GROUP_NAME = 120
MAX_GROUP_DESCRIPTION = 300
MAX_GROUP_ORGANIZATIONS = 2_000


def can_manage_sharing_group(actor: Any, owner: Organization) -> bool:
    """Only the admins of the owning organisation keep its groups."""
    return owner.pk in viewer_for(actor).admin_org_ids


def check_can_manage_sharing_group(actor: Any, owner: Organization) -> None:
    if not can_manage_sharing_group(actor, owner):
        raise PermissionDenied(f"Only an admin of {owner.name} can keep its sharing groups.")


def _clean(
    *,
    owner: Organization,
    name: str,
    description: str,
    organizations: Iterable[Organization] | None,
    group_pk: int | None,
    members: frozenset[int] = frozenset(),
) -> tuple[str, str, list[Organization] | None]:
    """Validate everything before writing anything; one ValidationError lists every problem.
    Only organisations being added must be approved (a member suspended later does not block a rename)."""
    errors: dict[str, list[str]] = {}
    name = " ".join(name.split())
    description = " ".join(description.split())
    if not name:
        errors.setdefault("name", []).append("Give the group a name.")
    elif len(name) > MAX_GROUP_NAME:
        errors.setdefault("name", []).append(f"Keep the name under {MAX_GROUP_NAME} characters.")
    elif SharingGroup.objects.filter(owner=owner, name__iexact=name).exclude(pk=group_pk).exists():
        errors.setdefault("name", []).append(f"{owner.name} already has a sharing group named “{name}”.")
    if len(description) > MAX_GROUP_DESCRIPTION:
        errors.setdefault("description", []).append(f"Keep the description under {MAX_GROUP_DESCRIPTION} characters.")
    orgs = None if organizations is None else list({o.pk: o for o in organizations}.values())
    if orgs is not None and len(orgs) > MAX_GROUP_ORGANIZATIONS:
        errors.setdefault("organizations", []).append(
            f"A sharing group holds at most {MAX_GROUP_ORGANIZATIONS:,} organisations."
        )
    unapproved = [o.name for o in orgs or [] if o.pk not in members and o.status != Organization.Status.APPROVED]
    if unapproved:
        errors.setdefault("organizations", []).append("Not approved organisations: " + ", ".join(unapproved[:10]))
    if errors:
        raise ValidationError(errors)
    return name, description, orgs


@transaction.atomic
def sharing_group_create(
    *, actor: User, owner: Organization, name: str, description: str = "", organizations: Iterable[Organization] = ()
) -> SharingGroup:
    """A new group owned by `owner` (the actor must be one of its admins)."""
    check_can_manage_sharing_group(actor, owner)
    name, description, cleaned = _clean(
        owner=owner, name=name, description=description, organizations=organizations, group_pk=None
    )
    orgs = cleaned or []
    group = SharingGroup.objects.create(owner=owner, name=name, description=description, created_by=actor)
    group.organizations.set(orgs)
    audit_record(
        actor=actor,
        action="sharing_group.create",
        summary=f"{actor.email} created sharing group “{name}” of {owner.name} ({len(orgs)} organisations)",
        organization=owner,
        target=group,
        data={"organizations": sorted(o.pk for o in orgs)},
    )
    return group


@transaction.atomic
def sharing_group_update(
    *,
    actor: User,
    group: SharingGroup,
    name: str | None = None,
    description: str | None = None,
    organizations: Iterable[Organization] | None = None,
) -> SharingGroup:
    """Rename, redescribe or change the members of a group (None keeps what is there)."""
    group = SharingGroup.objects.select_for_update().select_related("owner").get(pk=group.pk)
    owner = group.owner
    check_can_manage_sharing_group(actor, owner)
    before = frozenset(group.organizations.values_list("pk", flat=True))
    name, description, orgs = _clean(
        owner=owner,
        name=group.name if name is None else name,
        description=group.description if description is None else description,
        organizations=organizations,
        group_pk=group.pk,
        members=before,
    )
    after = before if orgs is None else {o.pk for o in orgs}
    fields = [
        f for f, differs in (("name", name != group.name), ("description", description != group.description)) if differs
    ]
    group.name, group.description = name, description
    group.save(update_fields=["name", "description"])
    if orgs is not None:
        group.organizations.set(orgs)
    audit_record(
        actor=actor,
        action="sharing_group.update",
        summary=f"{actor.email} changed sharing group “{name}” of {owner.name} "
        f"(+{len(after - before)} / -{len(before - after)} organisations)",
        organization=owner,
        target=group,
        data={"fields": fields, "added": sorted(after - before), "removed": sorted(before - after)},
    )
    return group
