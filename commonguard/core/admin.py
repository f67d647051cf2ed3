"""The operator's admin site. Every change made here lands in the audit trail too."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from commonguard.core.audit import audit_record
from commonguard.core.models import AuditEvent


def _org_of(obj: Any) -> Any:
    from commonguard.orgs.models import Organization

    if isinstance(obj, Organization):
        return obj
    return getattr(obj, "organization", None)


class AuditedAdmin(admin.ModelAdmin):
    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        verb = "change" if change else "add"
        audit_record(
            actor=request.user,
            action=f"admin.{verb}",
            organization=_org_of(obj),
            target=obj,
            summary=f"{request.user} {verb}ed {obj._meta.verbose_name} “{obj}” in the admin site",
            data={"fields": list(form.changed_data)},
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        audit_record(
            actor=request.user,
            action="admin.delete",
            organization=_org_of(obj),
            target=obj,
            summary=f"{request.user} deleted {obj._meta.verbose_name} “{obj}” in the admin site",
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "kind", "action", "actor_label", "organization", "summary"]
    list_filter = ["kind"]
    search_fields = ["action", "actor_label", "summary"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
