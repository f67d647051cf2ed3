"""Published alerts in the TAXII collections of their audience.

Called by the alert services inside the transaction of each publish, update and revocation (and
after a sighting), so the collections never disagree with the alert. The read rule stays
`Alert.objects.visible_to`: rows exported from an alert carry it, and `StixObject.readable_in`
reads them only through that rule; placing them in the audience's collections is what makes them
appear where a TAXII client looks.
"""

from __future__ import annotations

from typing import Any

from commonguard.core.tlp import TLP
from commonguard.interop.collections import community_collection, organization_collection, sharing_group_collection
from commonguard.interop.export import alert_stix_objects
from commonguard.interop.models import Collection, StixObject
from commonguard.interop.services import objects_add


def audience_collections(alert: Any) -> list[Collection]:
    label = TLP(alert.tlp)
    if label in (TLP.CLEAR, TLP.GREEN):
        return [community_collection()]
    orgs = {alert.author_org}
    groups: list[Any] = []
    if label in (TLP.AMBER, TLP.AMBER_STRICT):
        orgs.update(alert.recipient_orgs.all())
        groups = list(alert.sharing_groups.all())
    else:  # RED: the author's organisation and those of the people named; the rule filters people
        from commonguard.accounts.models import Membership

        people = alert.recipient_people.values("pk")
        orgs.update(
            m.organization
            for m in Membership.objects.filter(user__in=people, status=Membership.Status.APPROVED).select_related(
                "organization"
            )
        )
    return [organization_collection(org) for org in sorted(orgs, key=lambda o: o.pk)] + [
        sharing_group_collection(group) for group in groups
    ]


def stix_sync_alert(alert: Any) -> None:
    """Write the alert's current STIX objects to each collection of its audience (new versions only)
    and take them out of collections that are no longer its audience."""
    if alert.status not in alert.LIVE_STATUSES:
        return
    shared, own = alert_stix_objects(alert)
    label = TLP(alert.tlp)
    shared_labels = {obj["id"]: (TLP.CLEAR if obj["type"] == "marking-definition" else TLP.GREEN) for obj in shared}
    targets = audience_collections(alert)
    for collection in targets:
        # Shared objects (the author's identity, the TLP marking) are stored without the alert and
        # read by everyone in the collection: only where every reader of the collection may read
        # the alert (CLEAR/GREEN: the community; AMBER: its organisations and groups). A RED alert's
        # readers are named people: its identity and marking appearing in an organisation's
        # collection would tell every other member that an alert exists (and who wrote it).
        if label != TLP.RED:
            objects_add(collection, shared, labels=shared_labels, check_pattern=False)
        # Patterns were built here with escaping: checking them again would only let a grammar quirk
        # block a publish. Exports are validated with stix2-validator in the test suite.
        objects_add(collection, own, alert=alert, labels={obj["id"]: label for obj in own}, check_pattern=False)
    StixObject.objects.filter(alert=alert).exclude(collection__in=targets).delete()
    # Indicators taken out of the alert by an update leave the collections too.
    StixObject.objects.filter(alert=alert).exclude(stix_id__in=[obj["id"] for obj in own]).delete()
