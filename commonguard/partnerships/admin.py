"""The operator's admin for partnerships. Library resources and comments are deliberately absent:
TLP binds the operator too (ADR 13), and the admin would bypass `visible_to`."""

from django.contrib import admin

from commonguard.core.admin import AuditedAdmin
from commonguard.partnerships.models import Event, GrantProgram, Initiative, SubAward


@admin.register(Event)
class EventAdmin(AuditedAdmin):
    list_display = ["title", "kind", "starts_at", "capacity", "organizer_org", "cancelled"]
    list_filter = ["kind", "cancelled", "state"]
    search_fields = ["title", "location"]


@admin.register(Initiative)
class InitiativeAdmin(AuditedAdmin):
    list_display = ["title", "status", "lead_org", "state"]
    list_filter = ["status", "state"]
    search_fields = ["title"]


class SubAwardInline(admin.TabularInline):
    model = SubAward
    extra = 0
    raw_id_fields = ["organization"]


@admin.register(GrantProgram)
class GrantProgramAdmin(AuditedAdmin):
    list_display = ["name", "fiscal_year", "state", "federal_award", "cost_share_rate"]
    list_filter = ["state", "fiscal_year"]
    inlines = [SubAwardInline]
