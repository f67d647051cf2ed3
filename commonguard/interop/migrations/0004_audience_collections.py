"""The collection of every existing audience: `GET /taxii2/api/collections/` no longer creates them
on a read (new ones come with the organisation, membership or sharing group: interop/signals.py)."""

import uuid

from django.db import migrations


def forwards(apps, schema_editor):
    Collection = apps.get_model("interop", "Collection")
    Organization = apps.get_model("orgs", "Organization")
    Membership = apps.get_model("accounts", "Membership")
    SharingGroup = apps.get_model("sharing", "SharingGroup")
    if not Collection.objects.filter(kind="community").exists():
        Collection.objects.create(
            uuid=uuid.uuid4(),
            kind="community",
            title="Community",
            alias="community",
            description="TLP:CLEAR and TLP:GREEN alerts for every vetted member of the hub.",
            default_tlp="green",
        )
    member_orgs = Membership.objects.filter(status="approved").values("organization_id")
    for org in Organization.objects.filter(status="approved", pk__in=member_orgs, stix_collection__isnull=True):
        Collection.objects.create(
            uuid=uuid.uuid4(),
            kind="organization",
            organization=org,
            title=org.name,
            alias=f"org-{org.pk}",
            description="Shared with this organisation (TLP:AMBER and above addressed to it) and its own additions.",
            default_tlp="amber",
        )
    for group in SharingGroup.objects.filter(stix_collection__isnull=True):
        Collection.objects.create(
            uuid=uuid.uuid4(),
            kind="sharing_group",
            sharing_group=group,
            title=f"Sharing group: {group.name}",
            alias=f"group-{group.pk}",
            description="TLP:AMBER alerts addressed to this sharing group.",
            default_tlp="amber",
        )


class Migration(migrations.Migration):
    dependencies = [
        ("interop", "0003_stix_import_jobs"),
        ("accounts", "0003_user_is_service"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
