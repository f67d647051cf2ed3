"""The STIX objects the hub holds and the TAXII collections they live in.

Design and reasons: docs/adr/0020-stix-storage-and-taxii-paging.md. In short: one row per version of
an object per collection, the object's compact JSON kept as text (served by splicing, never
re-serialised), `date_added` strictly increasing per collection (microseconds), `is_latest` kept on
write so the default `match[version]=last` read is an index range scan.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from commonguard.core.tlp import TLP
from commonguard.interop.querysets import CollectionQuerySet, StixObjectQuerySet


class Collection(models.Model):
    class Kind(models.TextChoices):
        COMMUNITY = "community", "Community (every vetted member)"
        SHARING_GROUP = "sharing_group", "Sharing group"
        ORGANIZATION = "organization", "Organisation"
        REFERENCE = "reference", "Reference data (ATT&CK)"
        FEED = "feed", "Imported feed"

    # The TAXII collection id (a UUIDv4, as TAXII 2.1 §5.2.1 requires).
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    title = models.CharField(max_length=200)
    description = models.CharField(max_length=500, blank=True)
    alias = models.SlugField(max_length=100, unique=True)
    # The label of an object that carries no TLP marking: never CLEAR by accident.
    default_tlp = models.CharField(max_length=16, choices=TLP.choices, default=TLP.AMBER)
    organization = models.OneToOneField(
        "orgs.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="stix_collection"
    )
    sharing_group = models.OneToOneField(
        "sharing.SharingGroup", null=True, blank=True, on_delete=models.CASCADE, related_name="stix_collection"
    )
    # The last date_added handed out: the next one is strictly later (written under a row lock).
    last_date_added = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CollectionQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "title", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"],
                condition=models.Q(kind__in=["community"]),
                name="stix_collection_one_community",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class StixObject(models.Model):
    """One version of one STIX object in one collection."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="stix_objects")
    stix_id = models.CharField(max_length=300)
    type = models.CharField(max_length=250)
    spec_version = models.CharField(max_length=8)
    # `modified`, else `created`, else the first date_added (TAXII 2.1 §5.3.1): one per version.
    version = models.DateTimeField()
    created = models.DateTimeField(null=True, blank=True)
    date_added = models.DateTimeField()
    revoked = models.BooleanField(default=False)
    is_latest = models.BooleanField(default=True)
    tlp = models.CharField(max_length=16, choices=TLP.choices)
    # The object as compact JSON text, exactly as it is served.
    raw = models.TextField()
    # Objects exported from an alert are read through Alert.objects.visible_to (ADR 8, 13).
    alert = models.ForeignKey(
        "sharing.Alert", null=True, blank=True, on_delete=models.CASCADE, related_name="stix_objects"
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = StixObjectQuerySet.as_manager()

    class Meta:
        ordering = ["collection", "date_added", "id"]
        constraints = [
            models.UniqueConstraint(fields=["collection", "stix_id", "version"], name="stix_object_version_unique"),
            models.UniqueConstraint(fields=["collection", "date_added"], name="stix_object_date_added_unique"),
        ]
        indexes = [
            models.Index(fields=["collection", "is_latest", "date_added", "id"], name="stix_latest_page"),
            models.Index(fields=["collection", "stix_id", "version"], name="stix_object_versions"),
        ]

    def __str__(self) -> str:
        return f"{self.stix_id} @ {self.version.isoformat()}"


class TaxiiStatus(models.Model):
    """The status resource of one POST (TAXII 2.1 §4.3): kept at least 24 hours."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    request_timestamp = models.DateTimeField()
    total_count = models.PositiveIntegerField(default=0)
    success_count = models.PositiveIntegerField(default=0)
    failure_count = models.PositiveIntegerField(default=0)
    successes = models.JSONField(default=list)
    failures = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return str(self.uuid)
