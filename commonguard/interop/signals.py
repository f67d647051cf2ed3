"""The TAXII collections of audiences are created when the audience comes to be (an organisation
approved, a sharing group created), never on a read: `GET /taxii2/api/collections/` only lists."""

from __future__ import annotations

from typing import Any


def organization_saved(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    from commonguard.interop.collections import community_collection, organization_collection

    if raw or instance.status != instance.Status.APPROVED:
        return
    community_collection()
    organization_collection(instance)


def sharing_group_saved(sender: Any, instance: Any, created: bool = False, raw: bool = False, **kwargs: Any) -> None:
    from commonguard.interop.collections import sharing_group_collection

    if raw:
        return
    sharing_group_collection(instance)


def membership_saved(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    """An approved member makes their organisation's collection needed (organisations seeded in
    bulk from the census send no signal of their own)."""
    if raw or instance.status != instance.Status.APPROVED:
        return
    organization_saved(sender, instance.organization)
