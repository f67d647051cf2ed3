from django.contrib import admin

from commonguard.core.admin import AuditedAdmin
from commonguard.sharing.models import Alert, SharingGroup


@admin.register(SharingGroup)
class SharingGroupAdmin(AuditedAdmin):
    list_display = ["name", "owner", "created_at"]
    search_fields = ["name"]
    autocomplete_fields = ["owner", "organizations"]


@admin.register(Alert)
class AlertAdmin(AuditedAdmin):
    """Read-only for the operator: alerts change only through their authors' services."""

    list_display = ["title", "tlp", "severity", "status", "author_org", "published_at"]
    list_filter = ["tlp", "status", "severity", "category"]
    search_fields = ["title"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
