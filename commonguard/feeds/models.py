"""Configured sources of intelligence the hub pulls: plain indicator lists (one per line, or CSV)
and MISP feeds (manifest.json + one file per event). Each pull turns the source into imported alerts
(docs/adr/0021-feed-and-misp-imports.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from commonguard.core.tlp import TLP
from commonguard.feeds.querysets import FeedQuerySet
from commonguard.sharing.models import Alert, Indicator


class Feed(models.Model):
    class Format(models.TextChoices):
        TEXT = "text", "Text, one indicator per line"
        CSV = "csv", "CSV, one indicator per row"
        MISP = "misp", "MISP feed (manifest.json and one file per event)"
        STIX = "stix", "STIX 2.0 or 2.1 bundle (a file or URL)"
        TAXII = "taxii", "TAXII 2.1 collection (its URL)"

    class Status(models.TextChoices):
        IDLE = "idle", "Not pulled yet"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        OK = "ok", "Succeeded"
        FAILED = "failed", "Failed"

    name = models.CharField(max_length=120)
    source = models.CharField(max_length=500, help_text="An http(s) URL, or a file or folder on the hub's server.")
    format = models.CharField(max_length=8, choices=Format.choices, default=Format.TEXT)
    # Text and CSV: what a value is (blank: guessed from each value).
    kind = models.CharField(max_length=16, choices=Indicator.Kind.choices, blank=True, default="")
    # CSV: which column holds the value (a header name or a 1-based number), and optionally the kind
    # and a comment; "#" lines are comments.
    csv_value_column = models.CharField(max_length=80, blank=True, default="1")
    csv_kind_column = models.CharField(max_length=80, blank=True, default="")
    csv_comment_column = models.CharField(max_length=80, blank=True, default="")
    csv_delimiter = models.CharField(max_length=1, default=",")
    csv_header = models.BooleanField(default=False, help_text="The first non-comment row names the columns.")
    # TAXII: who the hub is at the remote server (blank: the secret is sent as a Bearer token) and the
    # secret (an API token or a password). Written, never shown back on pages or in the API.
    taxii_user = models.CharField(max_length=200, blank=True, default="")
    credentials = models.CharField(max_length=500, blank=True, default="")
    # TAXII: the X-TAXII-Date-Added-Last of the last committed pull (the next pull's added_after).
    taxii_cursor = models.CharField(max_length=40, blank=True, default="")
    # What the imported alerts say and who reads them. MISP events with a tlp: tag keep their own label.
    tlp = models.CharField(max_length=16, choices=TLP.choices, default=TLP.AMBER)
    recipient_orgs = models.ManyToManyField("orgs.Organization", related_name="+", blank=True)
    sharing_groups = models.ManyToManyField("sharing.SharingGroup", related_name="+", blank=True)
    category = models.CharField(max_length=32, choices=Alert.Category.choices, default=Alert.Category.MALWARE)
    severity = models.CharField(max_length=16, choices=Alert.Severity.choices, default=Alert.Severity.MEDIUM)
    owner = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="feeds")
    interval_minutes = models.PositiveIntegerField(default=0, help_text="Pull every N minutes; 0: only on request.")
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # The latest pull: status, progress while it runs, and its counts.
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.IDLE)
    stage = models.CharField(max_length=120, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_result = models.JSONField(default=dict, blank=True)
    last_error = models.CharField(max_length=1000, blank=True)

    objects = FeedQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="feed_unique_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def source_key(self) -> str:
        """The imported alert of a text, CSV, STIX or TAXII feed."""
        return f"feed:{self.pk}"

    @property
    def collection_alias(self) -> str:
        """The TAXII collection (kind feed) holding a STIX or TAXII feed's objects."""
        return f"feed-{self.pk}"


class MispEventImport(models.Model):
    """The MISP event behind an imported alert: its uuid and the timestamp of the version imported
    (a newer timestamp makes a new version of the alert; the same one changes nothing)."""

    alert = models.OneToOneField(Alert, on_delete=models.CASCADE, related_name="misp_import")
    event_uuid = models.UUIDField()
    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    feed = models.ForeignKey(Feed, null=True, blank=True, on_delete=models.SET_NULL, related_name="misp_events")
    timestamp = models.BigIntegerField(help_text="The event's MISP timestamp (seconds since 1970).")
    imported_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "event_uuid"], name="misp_event_once_per_org"),
        ]

    def __str__(self) -> str:
        return f"MISP event {self.event_uuid}"
