from django.contrib import admin
from django.http import HttpRequest

from commonguard.core.admin import AuditedAdmin
from commonguard.federation.models import Change, Peer


@admin.register(Peer)
class PeerAdmin(AuditedAdmin):
    list_display = ["name", "url", "hub_id", "community", "enabled", "push", "pull", "pull_interval", "last_pull_at"]
    list_filter = ["community", "enabled"]
    search_fields = ["name", "url", "hub_id"]
    exclude = ["token"]  # the link's secret is write-only (set with `manage.py federation_peer`)
    readonly_fields = ["hub_id", "organization", "cursor", "last_pull_at", "next_pull_at", "last_error"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # `manage.py federation_peer add`: it creates the peer's organisation and secret


@admin.register(Change)
class ChangeAdmin(AuditedAdmin):
    list_display = ["id", "peer", "alert_uuid", "status", "attempts", "next_attempt_at", "sent_at", "last_error"]
    list_filter = ["status", "peer"]
    readonly_fields = [f.name for f in Change._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
