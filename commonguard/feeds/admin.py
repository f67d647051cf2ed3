from django.contrib import admin

from commonguard.core.admin import AuditedAdmin
from commonguard.feeds.models import Feed


@admin.register(Feed)
class FeedAdmin(AuditedAdmin):
    list_display = ["name", "owner", "format", "tlp", "interval_minutes", "enabled", "status", "last_finished_at"]
    list_filter = ["format", "tlp", "enabled", "status"]
    search_fields = ["name", "source", "owner__name"]
    exclude = ["credentials"]  # the remote TAXII secret is write-only (pages, API and here)
    readonly_fields = [
        "status",
        "stage",
        "progress_done",
        "progress_total",
        "last_started_at",
        "last_finished_at",
        "last_result",
        "last_error",
    ]
