"""Threat alerts: what happened, what to do, the indicators, and who may see it (TLP + audience)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from commonguard.core.tlp import TLP
from commonguard.sharing.querysets import (
    AlertQuerySet,
    IndicatorQuerySet,
    QuestionQuerySet,
    QuestionReplyQuerySet,
    ReactionQuerySet,
    SharingGroupQuerySet,
    WebhookQuerySet,
)

MAX_TITLE = 200
MAX_MARKDOWN = 20_000
MAX_INDICATORS = 5_000


class SharingGroup(models.Model):
    """A named, reusable list of organisations ("Region 3 counties", "election offices") that an
    AMBER alert can be addressed to. Owned by an organisation, whose admins keep it."""

    name = models.CharField(max_length=120)
    description = models.CharField(max_length=300, blank=True)
    owner = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="owned_sharing_groups")
    organizations = models.ManyToManyField("orgs.Organization", related_name="sharing_groups", blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SharingGroupQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="sharing_group_unique_name")]

    def __str__(self) -> str:
        return self.name


class Alert(models.Model):
    class Category(models.TextChoices):
        PHISHING = "phishing", "Phishing / spear-phishing"
        RANSOMWARE_PRECURSOR = "ransomware_precursor", "Ransomware precursor"
        EXPLOITED_VULNERABILITY = "exploited_vulnerability", "Exploited vulnerability"
        MALWARE = "malware", "Malware"
        DDOS = "ddos", "DDoS"
        BEC = "bec", "Business e-mail compromise"
        ELECTION = "election", "Election-related"
        OTHER = "other", "Other"

    class Severity(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical (flash)"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        UPDATED = "updated", "Updated"
        REVOKED = "revoked", "Revoked"

    LIVE_STATUSES = (Status.PUBLISHED, Status.UPDATED, Status.REVOKED)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=MAX_TITLE)
    summary = models.TextField(help_text="What happened (Markdown).")
    recommended_actions = models.TextField(blank=True, help_text="What to do (Markdown).")
    category = models.CharField(max_length=32, choices=Category.choices)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.MEDIUM)
    tlp = models.CharField(max_length=16, choices=TLP.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="authored_alerts")
    author_org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="authored_alerts")
    anonymous = models.BooleanField(
        default=False, help_text="Peers see only “a county in Region 3”; the state still knows who."
    )
    attack_techniques = models.JSONField(default=list, blank=True, help_text="ATT&CK ids, e.g. T1566.001")
    valid_until = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    version = models.PositiveIntegerField(default=0)
    # Audience: AMBER and AMBER+STRICT name organisations and sharing groups; RED names people.
    recipient_orgs = models.ManyToManyField("orgs.Organization", related_name="received_alerts", blank=True)
    sharing_groups = models.ManyToManyField(SharingGroup, related_name="alerts", blank=True)
    recipient_people = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="received_alerts", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=500, blank=True)
    known_ransomware_use = models.BooleanField(
        default=False, help_text="The vulnerability or activity is known to have been used in ransomware campaigns."
    )
    # Where an imported alert came from, e.g. "kev:CVE-2024-3400": re-imports find it here.
    # Blank for alerts people write.
    source_key = models.CharField(max_length=120, blank=True, default="", editable=False)

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-created_at", "-id"]
        indexes = [models.Index(fields=["tlp", "status", "-published_at"], name="alert_tlp_status_pub")]
        constraints = [
            models.UniqueConstraint(
                fields=["source_key"], condition=~models.Q(source_key=""), name="alert_unique_source_key"
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE_STATUSES


# What a person's or a webhook's filter may ask for: "from this severity up". Critical alerts pass
# every filter, so "critical" is not one.
FILTER_SEVERITIES = [s for s in Alert.Severity.values if s != Alert.Severity.CRITICAL]


# What an author writes (as opposed to status, audience and bookkeeping): saved by the services,
# snapshotted into each version.
ALERT_CONTENT_FIELDS = (
    "title",
    "summary",
    "recommended_actions",
    "category",
    "severity",
    "tlp",
    "anonymous",
    "attack_techniques",
    "valid_until",
    "known_ransomware_use",
)


class AlertVersion(models.Model):
    """What an alert said at each publish and update: the version history."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    snapshot = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["alert", "-version"]
        constraints = [models.UniqueConstraint(fields=["alert", "version"], name="alert_version_unique")]

    def __str__(self) -> str:
        return f"{self.alert} v{self.version}"


class Indicator(models.Model):
    class Kind(models.TextChoices):
        DOMAIN = "domain", "Domain"
        URL = "url", "URL"
        IPV4 = "ipv4", "IPv4 address"
        IPV6 = "ipv6", "IPv6 address"
        CIDR = "cidr", "IP network (CIDR)"
        EMAIL = "email", "E-mail sender"
        EMAIL_SUBJECT = "email_subject", "E-mail subject"
        FILENAME = "filename", "File name"
        MD5 = "md5", "MD5"
        SHA1 = "sha1", "SHA-1"
        SHA256 = "sha256", "SHA-256"
        CVE = "cve", "CVE"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="indicators")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = models.CharField(max_length=2048, help_text="Normalised (refanged, lower-cased where it matters).")
    comment = models.CharField(max_length=300, blank=True)
    warning = models.CharField(
        max_length=300, blank=True, help_text="The known-benign list it appears on; the author confirmed it."
    )

    objects = IndicatorQuerySet.as_manager()

    class Meta:
        ordering = ["alert", "kind", "value"]
        constraints = [models.UniqueConstraint(fields=["alert", "kind", "value"], name="indicator_unique_per_alert")]
        indexes = [models.Index(fields=["kind", "value"], name="indicator_kind_value")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"


class Webhook(models.Model):
    """An organisation's endpoint for alerts (its SIEM, a Slack or Teams channel), kept by its admins.

    It receives what the organisation as a whole may read (never TLP:RED, which names people), up to
    the highest label its admins allow for that endpoint, filtered by category and severity. Every
    request is signed with HMAC-SHA256 over "<timestamp>.<body>" with the endpoint's secret."""

    class Preset(models.TextChoices):
        GENERIC = "generic", "Generic JSON"
        SLACK = "slack", "Slack (incoming webhook)"
        TEAMS = "teams", "Microsoft Teams (workflow webhook)"

    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="webhooks")
    name = models.CharField(max_length=120)
    url = models.URLField(max_length=500)
    preset = models.CharField(max_length=16, choices=Preset.choices, default=Preset.GENERIC)
    secret = models.CharField(max_length=64, help_text="HMAC-SHA256 key; shown to the organisation's admins.")
    max_tlp = models.CharField(
        max_length=16,
        choices=[(t.value, t.label) for t in TLP if t != TLP.RED],
        default=TLP.GREEN,
        help_text="The most restricted label this endpoint may receive. TLP:RED never goes to a webhook.",
    )
    categories = models.JSONField(default=list, blank=True, help_text="Empty: every category.")
    min_severity = models.CharField(max_length=16, choices=Alert.Severity.choices, default=Alert.Severity.LOW)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WebhookQuerySet.as_manager()

    class Meta:
        ordering = ["organization", "name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="webhook_unique_name")]

    def __str__(self) -> str:
        return f"{self.organization}: {self.name}"


class AlertPreference(models.Model):
    """How one person wants alerts: by e-mail at once or in a daily digest, only some categories,
    from some severity up, and whether the browser may notify. Without a row: everything, at once.
    Critical (flash) alerts ignore the digest and the filters: they always arrive at once."""

    class Mode(models.TextChoices):
        IMMEDIATE = "immediate", "At once"
        DIGEST = "digest", "Once a day, in a digest"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_preference")
    email = models.BooleanField(default=True, help_text="Send alerts by e-mail.")
    email_mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.IMMEDIATE)
    browser_notifications = models.BooleanField(default=True, help_text="Pop up new alerts while CommonGuard is open.")
    categories = models.JSONField(default=list, blank=True, help_text="Empty: every category.")
    min_severity = models.CharField(max_length=16, choices=Alert.Severity.choices, default=Alert.Severity.LOW)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Alert preferences of {self.user}"


class Delivery(models.Model):
    """One alert version to one recipient on one channel: the outbox row written in the same
    transaction as the publish, then worked off by the background workers. The key makes each
    delivery happen once however often the fan-out runs; a worker claims rows before sending, so
    two workers never send the same row."""

    class Channel(models.TextChoices):
        APP = "app", "Live feed"
        EMAIL = "email", "E-mail"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        HELD = "held", "Held for the daily digest"
        SENT = "sent", "Delivered"
        FAILED = "failed", "Failed, will retry"
        SKIPPED = "skipped", "Skipped (recipient no longer entitled)"
        DEAD = "dead", "Gave up (dead letter)"

    # No index of their own on `alert` and `recipient`: `delivery_due` and `delivery_recipient` start
    # with them, and every index is written once per row of a 190,000-row fan-out.
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    version = models.PositiveIntegerField()
    channel = models.CharField(max_length=16, choices=Channel.choices)
    # A person (live feed, e-mail) or an organisation's webhook.
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,
    )
    webhook = models.ForeignKey(Webhook, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries")
    key = models.CharField(max_length=120, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True)  # indexed only while set (`delivery_claim`)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # Ends with the id: a claim's "the next N pending rows of this fan-out, in order" is then a
            # range scan that stops after N rows, not a sort of every pending row (ADR 18).
            models.Index(fields=["alert", "version", "channel", "status", "id"], name="delivery_due"),
            models.Index(fields=["status", "next_attempt_at"], name="delivery_retry"),
            models.Index(fields=["recipient", "status"], name="delivery_recipient"),
            models.Index(fields=["claim"], name="delivery_claim", condition=~models.Q(claim="")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(recipient__isnull=False, webhook__isnull=True)
                | models.Q(recipient__isnull=True, webhook__isnull=False),
                name="delivery_one_target",
            )
        ]

    def __str__(self) -> str:
        return self.key


class LiveEvent(models.Model):
    """What the workers hand to the web processes' live feed: an alert version now delivered to these
    people, or a sighting reported on an alert they may read (either way already re-checked against
    the read rule). Web processes poll this small table and push to the connected browsers of those
    people; rows older than a day are pruned."""

    class Kind(models.TextChoices):
        ALERT = "alert", "Alert version delivered"
        SIGHTING = "sighting", "Sighting reported"  # the campaign map refreshes; no banner

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="+")
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.ALERT)
    user_ids = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"live {self.kind} {self.alert_id} v{self.version} to {len(self.user_ids)}"


class DigestRun(models.Model):
    """One row per day a digest went out: the daily digest is sent once, whichever process gets there."""

    day = models.DateField(unique=True)
    started_at = models.DateTimeField(auto_now_add=True)
    sent = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"digest {self.day}"


class Acknowledgement(models.Model):
    """A recipient organisation says "we have it, we are checking". One per organisation and alert."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="acknowledgements")
    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    objects = ReactionQuerySet.as_manager()

    class Meta:
        ordering = ["-at"]
        constraints = [models.UniqueConstraint(fields=["alert", "organization"], name="ack_once_per_org")]

    def __str__(self) -> str:
        return f"{self.organization} acknowledged {self.alert}"


class Sighting(models.Model):
    """A recipient organisation saw the alert's activity in its own environment, or found it to be a
    false positive there."""

    class Kind(models.TextChoices):
        SEEN = "seen", "Seen in our environment"
        FALSE_POSITIVE = "false_positive", "False positive for us"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="sightings")
    indicator = models.ForeignKey(Indicator, null=True, blank=True, on_delete=models.SET_NULL, related_name="sightings")
    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    seen_at = models.DateTimeField()
    count = models.PositiveIntegerField(default=1)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ReactionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.alert} at {self.organization}"


MAX_QUESTION = 5_000


class Question(models.Model):
    """A recipient organisation asks the alert's author a question: the root of a thread that only
    the author's organisation and the asking organisation read (`QuestionQuerySet.visible_to`)."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="questions")
    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    asker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(help_text="Markdown, sanitised when shown.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = QuestionQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["alert", "organization"], name="question_alert_org")]

    def __str__(self) -> str:
        return f"Question {self.pk} on {self.alert}"


class QuestionReply(models.Model):
    """An answer in a thread, by a member of the author's organisation (`from_author`) or of the
    asking organisation."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="replies")
    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    from_author = models.BooleanField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(help_text="Markdown, sanitised when shown.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = QuestionReplyQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Reply {self.pk} to question {self.question_id}"
