from typing import Any

from django.contrib import admin

from commonguard.core.admin import AuditedAdmin
from commonguard.feeds.models import Feed


@admin.register(Feed)
class FeedAdmin(AuditedAdmin):
    list_display = ["name", "owner", "format", "tlp", "interval_minutes", "enabled", "status", "last_finished_at"]
    list_filter = ["format", "tlp", "enabled", "status"]
    search_fields = ["name", "source", "owner__name"]
    exclude = ["credentials"]  # the remote TAXII secret is write-only (pages, API and here)
    # Feeds are set up and changed on their pages and the API (feed_save checks labels, sources and
    # who may): here an operator can only switch one off.
    readonly_fields = [
        "name",
        "source",
        "format",
        "kind",
        "csv_value_column",
        "csv_kind_column",
        "csv_comment_column",
        "csv_delimiter",
        "csv_header",
        "taxii_user",
        "taxii_cursor",
        "tlp",
        "recipient_orgs",
        "sharing_groups",
        "category",
        "severity",
        "owner",
        "interval_minutes",
        "created_by",
        "status",
        "stage",
        "progress_done",
        "progress_total",
        "last_started_at",
        "last_finished_at",
        "last_result",
        "last_error",
    ]

    def has_add_permission(self, request: Any) -> bool:
        return False
