"""The read rule of TAXII collections and of the STIX objects in them (docs/adr/0008, 0013, 0020).

A collection is a view of an audience:
- community, ATT&CK reference and imported feeds: every vetted person;
- an organisation's collection: the approved members of that organisation;
- a sharing group's collection: the approved members of the organisations in the group.
The hub operator follows the same rule (TLP binds whoever runs the hub too).

Inside a collection the object's own TLP label narrows it further:
- objects exported from an alert are read through `Alert.objects.visible_to` and nothing else;
- other objects: CLEAR and GREEN by everyone who reads the collection; AMBER and AMBER+STRICT only
  in a collection whose audience is named organisations (an organisation's or a sharing group's);
  RED only by the person who added it (no one else is named).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Q

from commonguard.accounts.viewer import viewer_for
from commonguard.core.tlp import TLP

if TYPE_CHECKING:
    from commonguard.interop.models import Collection

# Collections that never hold objects exported from alerts.
NO_ALERT_KINDS = frozenset({"reference", "feed"})
NAMED_AUDIENCE_KINDS = frozenset({"organization", "sharing_group"})


class CollectionQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> CollectionQuerySet:
        viewer = viewer_for(user)
        if not viewer.is_vetted:
            return self.none()
        from commonguard.sharing.models import SharingGroup

        my_orgs = list(viewer.org_ids)
        # The groups as a subquery, not a join: no duplicate rows, so no DISTINCT (every TAXII request
        # runs this once).
        my_groups = SharingGroup.organizations.through.objects.filter(organization_id__in=my_orgs).values(
            "sharinggroup_id"
        )
        return self.filter(
            Q(kind__in=["community", "reference", "feed"])
            | Q(kind="organization", organization_id__in=my_orgs)
            | Q(kind="sharing_group", sharing_group_id__in=my_groups)
        )


def writable_by(collection: Collection, user: Any) -> bool:
    """TAXII can_write: an organisation's own collection, for its approved members."""
    viewer = viewer_for(user)
    return collection.kind == "organization" and collection.organization_id in viewer.org_ids


def labels_readable(collection: Collection) -> list[str]:
    """The labels of non-alert objects every reader of `collection` may read."""
    if collection.kind in NAMED_AUDIENCE_KINDS:
        return [TLP.CLEAR, TLP.GREEN, TLP.AMBER, TLP.AMBER_STRICT]
    return [TLP.CLEAR, TLP.GREEN]


def object_rule(collection: Collection, user: Any) -> Q:
    """The per-object read rule inside `collection` (which `user` must see: `Collection.visible_to`)."""
    from commonguard.sharing.models import Alert

    viewer = viewer_for(user)
    own = Q(alert__isnull=True)
    rule = own & Q(tlp__in=labels_readable(collection))
    rule |= own & Q(tlp=TLP.RED, added_by_id=viewer.user_id or 0)
    if collection.kind not in NO_ALERT_KINDS:
        rule |= Q(alert__in=Alert.objects.visible_to(user).values("pk"))
    return rule & Q(collection=collection)


class StixObjectQuerySet(models.QuerySet):
    def readable_in(self, collection: Collection, user: Any) -> StixObjectQuerySet:
        """Objects of `collection` that `user` may read. `collection` MUST come from
        `Collection.objects.visible_to(user)` (the TAXII views find it no other way): this adds the
        per-object part of the rule in the same query, so a page is one query."""
        if not viewer_for(user).is_vetted:
            return self.none()
        return self.filter(object_rule(collection, user))

    def visible_to(self, user: Any) -> StixObjectQuerySet:
        """Every object `user` may read, in any collection they see: `object_rule` for every
        collection of `Collection.visible_to(user)` at once, as one query of fixed size however many
        collections there are (the rule depends on a collection only through its kind)."""
        from commonguard.interop.models import Collection
        from commonguard.sharing.models import Alert

        viewer = viewer_for(user)
        if not viewer.is_vetted:
            return self.none()
        seen = Collection.objects.visible_to(user)
        own = Q(alert__isnull=True)
        named = seen.filter(kind__in=NAMED_AUDIENCE_KINDS).values("pk")
        rule = own & Q(tlp__in=[TLP.CLEAR, TLP.GREEN]) & Q(collection__in=seen.values("pk"))
        rule |= own & Q(tlp__in=[TLP.AMBER, TLP.AMBER_STRICT]) & Q(collection__in=named)
        rule |= own & Q(tlp=TLP.RED, added_by_id=viewer.user_id or 0) & Q(collection__in=seen.values("pk"))
        rule |= Q(alert__in=Alert.objects.visible_to(user).values("pk")) & Q(
            collection__in=seen.exclude(kind__in=NO_ALERT_KINDS).values("pk")
        )
        return self.filter(rule)


class StixImportQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> StixImportQuerySet:
        """An import job is read by the approved members of the organisation it was made for."""
        viewer = viewer_for(user)
        if not viewer.is_vetted:
            return self.none()
        return self.filter(organization_id__in=list(viewer.org_ids))
