"""Federation between CommonGuard hubs (docs/adr/0022-hub-federation.md).

- `Peer`: another hub this one exchanges alerts with: its URL, the secret of the link (one secret
  per pair of hubs, configured on both), whether it is part of the community (GREEN goes there),
  its pull schedule and cursor, the organisation that stands for it here (author of what it sends),
  and the organisations of this hub that read the AMBER alerts it sends.
- `AlertPeer`: the peers the author of an AMBER alert named (AMBER leaves only to them).
- `Change`: the per-peer outbox and change log. A row is written in the transaction of each
  publish, update, revocation or deletion, for every peer that may receive the alert (or had it
  before); the worker pushes it, and the peer may also pull it (`seq` is its cursor). What is sent
  is built at send time from the alert as it is then, so a row never carries stale content.
- `Received`: the provenance of an alert that came from a peer (origin hub, path, origin version).
- `Tombstone`: an alert deleted here (by its author or by its origin's tombstone), so that a late
  copy arriving by another route is not revived and the deletion can be passed on.
"""

from __future__ import annotations

from django.db import models


class Peer(models.Model):
    name = models.CharField(max_length=120, unique=True)
    url = models.URLField(help_text="Base URL of the peer hub, e.g. https://hub.oh.example")
    # The secret of this link: sent to the peer as a Bearer token and expected from it. Kept in clear
    # because the hub must send it (as a TAXII feed's secret, ADR 21); write-only on every page.
    token = models.CharField(max_length=200)
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    hub_id = models.CharField(max_length=200, blank=True, help_text="The peer's own hub id, learned when it answers.")
    community = models.BooleanField(default=False, help_text="Part of the community: TLP:GREEN alerts go there.")
    enabled = models.BooleanField(default=True)
    push = models.BooleanField(default=True, help_text="Send changes as they happen (else the peer pulls them).")
    pull = models.BooleanField(default=True, help_text="Pull the peer's changes on a schedule.")
    pull_interval = models.FloatField(default=60, help_text="Seconds between pulls.")
    organization = models.OneToOneField(
        "orgs.Organization", on_delete=models.PROTECT, related_name="federation_peer", help_text="Author of its alerts."
    )
    amber_organizations = models.ManyToManyField(
        "orgs.Organization",
        blank=True,
        related_name="+",
        help_text="Organisations of this hub that read the TLP:AMBER alerts this peer sends.",
    )
    cursor = models.BigIntegerField(default=0, help_text="The last change pulled from the peer (its `seq`).")
    last_pull_at = models.DateTimeField(null=True, blank=True)
    last_pull_ok_at = models.DateTimeField(null=True, blank=True, help_text="The last pull that ended without error.")
    next_pull_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AlertPeer(models.Model):
    alert = models.ForeignKey("sharing.Alert", on_delete=models.CASCADE, related_name="federation_peers")
    peer = models.ForeignKey(Peer, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["alert", "peer"], name="alert_peer_unique")]

    def __str__(self) -> str:
        return f"{self.alert_id} → peer {self.peer_id}"


class Change(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        RETRY = "retry", "Waiting to retry"
        SENT = "sent", "Sent"
        REFUSED = "refused", "Refused by the peer"
        SKIPPED = "skipped", "Not pushed (pull only)"

    # The primary key is the per-peer sequence a pulling peer pages by: rows of one peer are written
    # under that peer's row lock, so their ids are handed out in commit order.
    peer = models.ForeignKey(Peer, on_delete=models.CASCADE, related_name="changes")
    alert = models.ForeignKey(
        "sharing.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="federation_changes"
    )
    alert_uuid = models.UUIDField(db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["peer", "status", "id"], name="fed_change_due"),
            models.Index(fields=["peer", "id"], name="fed_change_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.alert_uuid} → peer {self.peer_id} ({self.status})"


class Received(models.Model):
    alert = models.OneToOneField("sharing.Alert", on_delete=models.CASCADE, related_name="federation_received")
    peer = models.ForeignKey(Peer, null=True, on_delete=models.SET_NULL, related_name="+")
    origin_hub = models.CharField(max_length=200)
    path = models.JSONField(default=list)  # hub ids it passed through, the origin first
    origin_modified = models.CharField(max_length=40)  # the origin's version stamp (STIX timestamp)
    received_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.alert_id} from {self.origin_hub}"


class Tombstone(models.Model):
    alert_uuid = models.UUIDField(unique=True)
    origin_hub = models.CharField(max_length=200)
    path = models.JSONField(default=list)
    modified = models.CharField(max_length=40)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"deleted {self.alert_uuid}"
