"""The collections the hub offers, created when first needed."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from commonguard.core.tlp import TLP
from commonguard.interop.models import Collection

ATTACK_COLLECTIONS = {
    "attack-enterprise": ("MITRE ATT&CK Enterprise", "enterprise-attack"),
    "attack-ics": ("MITRE ATT&CK for ICS", "ics-attack"),
}
ATTACK_NOTICE = (
    "© The MITRE Corporation. This work is reproduced and distributed with the permission of The MITRE Corporation."
)


def _get_or_create(lookup: dict[str, Any], defaults: dict[str, Any]) -> Collection:
    found = Collection.objects.filter(**lookup).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Collection.objects.create(**lookup, **defaults)
    except IntegrityError:  # created meanwhile by another request
        return Collection.objects.get(**lookup)


def community_collection() -> Collection:
    return _get_or_create(
        {"kind": Collection.Kind.COMMUNITY},
        {
            "title": "Community",
            "alias": "community",
            "description": "TLP:CLEAR and TLP:GREEN alerts for every vetted member of the hub.",
            "default_tlp": TLP.GREEN,
        },
    )


def reference_collection(alias: str) -> Collection:
    title, _ = ATTACK_COLLECTIONS[alias]
    return _get_or_create(
        {"kind": Collection.Kind.REFERENCE, "alias": alias},
        {"title": title, "description": ATTACK_NOTICE, "default_tlp": TLP.CLEAR},
    )


def organization_collection(organization: Any) -> Collection:
    return _get_or_create(
        {"kind": Collection.Kind.ORGANIZATION, "organization": organization},
        {
            "title": f"{organization.name}",
            "alias": f"org-{organization.pk}",
            "description": "Shared with this organisation (TLP:AMBER and above addressed to it) and its own additions.",
            "default_tlp": TLP.AMBER,
        },
    )


def sharing_group_collection(group: Any) -> Collection:
    return _get_or_create(
        {"kind": Collection.Kind.SHARING_GROUP, "sharing_group": group},
        {
            "title": f"Sharing group: {group.name}",
            "alias": f"group-{group.pk}",
            "description": "TLP:AMBER alerts addressed to this sharing group.",
            "default_tlp": TLP.AMBER,
        },
    )


def feed_collection(alias: str, title: str, default_tlp: TLP = TLP.GREEN) -> Collection:
    """An imported feed (readable by every vetted person); its unmarked objects get `default_tlp`."""
    return _get_or_create({"kind": Collection.Kind.FEED, "alias": alias}, {"title": title, "default_tlp": default_tlp})
