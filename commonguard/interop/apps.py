from django.apps import AppConfig
from django.db.models.signals import post_save


class InteropConfig(AppConfig):
    name = "commonguard.interop"
    label = "interop"
    verbose_name = "STIX / TAXII"

    def ready(self) -> None:
        from commonguard.interop import signals

        post_save.connect(signals.organization_saved, sender="orgs.Organization", dispatch_uid="interop-org-collection")
        post_save.connect(signals.membership_saved, sender="accounts.Membership", dispatch_uid="interop-member-coll")
        post_save.connect(
            signals.sharing_group_saved, sender="sharing.SharingGroup", dispatch_uid="interop-group-collection"
        )
