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
from commonguard.interop.querysets import CollectionQuerySet, StixImportQuerySet, StixObjectQuerySet


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

    # No index of its own: the unique constraints and stix_latest_page all start with the collection.
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="stix_objects", db_index=False)
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
        "sharing.Alert",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="stix_objects",
        db_index=False,  # stix_alert: only the rows that have one
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # stix_added_by: only the rows that have one
    )

    objects = StixObjectQuerySet.as_manager()

    class Meta:
        ordering = ["collection", "date_added", "id"]
        constraints = [
            models.UniqueConstraint(fields=["collection", "stix_id", "version"], name="stix_object_version_unique"),
            models.UniqueConstraint(fields=["collection", "date_added"], name="stix_object_date_added_unique"),
        ]
        indexes = [
            # (collection, stix_id, version) is indexed by stix_object_version_unique.
            models.Index(fields=["collection", "is_latest", "date_added", "id"], name="stix_latest_page"),
            # Reference data and feeds (most rows) have neither an alert nor a person: partial indexes
            # leave those rows out, so a bulk import of ATT&CK maintains two indexes fewer per row.
            models.Index(fields=["alert"], condition=models.Q(alert__isnull=False), name="stix_alert"),
            models.Index(fields=["added_by"], condition=models.Q(added_by__isnull=False), name="stix_added_by"),
        ]

    def __str__(self) -> str:
        return f"{self.stix_id} @ {self.version.isoformat()}"


class TaxiiStatus(models.Model):
    """The status resource of one POST (TAXII 2.1 §4.3), kept for
    `COMMONGUARD_TAXII_STATUS_RETENTION_HOURS` (default 72); afterwards a TAXII 404."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    request_timestamp = models.DateTimeField()
    total_count = models.PositiveIntegerField(default=0)
    success_count = models.PositiveIntegerField(default=0)
    failure_count = models.PositiveIntegerField(default=0)
    successes = models.JSONField(default=list)
    # Large POSTs run on the worker (ADR 30): `pending` (or `running`) until `complete`; the
    # objects wait in `raw` and are dropped when the job ends; a refused bundle lists `failures`.
    state = models.CharField(
        max_length=8,
        choices=[("pending", "Pending"), ("running", "Running"), ("complete", "Complete")],
        default="complete",
    )
    raw = models.BinaryField(default=b"")
    failures = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return str(self.uuid)


class StixImport(models.Model):
    """One STIX bundle uploaded (page or API) for an organisation, imported in the background
    (`interop/imports.py`, docs/adr/0023-stix-import-jobs.md): all or nothing, idempotent."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        COMPLETE = "complete", "Complete"
        FAILED = "failed", "Failed"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="stix_imports")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    filename = models.CharField(max_length=200, blank=True)
    # The label of objects that carry no TLP marking (never CLEAR by accident: chosen by the person).
    default_tlp = models.CharField(max_length=16, choices=TLP.choices, default=TLP.AMBER)
    bundle_id = models.CharField(max_length=300, blank=True)
    # The bundle as received, until the import has run (then emptied).
    raw = models.BinaryField(default=b"")
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    stage = models.CharField(max_length=120, blank=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    # Counts when complete: objects stored / already held, indicators of the alert, patterns skipped.
    result = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=1000, blank=True)
    alert = models.ForeignKey("sharing.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The running worker's lease: renewed at every step; a job whose lease ran out (the worker died)
    # is queued again by `stix_imports_resume`, at most MAX_ATTEMPTS claims in all.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    objects = StixImportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"STIX import {self.uuid}"

    @property
    def running(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.RUNNING)
