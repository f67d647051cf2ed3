"""The operator's view of the statutory clocks. States edit their rules on /statutes/rules/ (validated
there); here the operator can read everything and fix a rule. Obligations and sendings are evidence:
read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from commonguard.core.admin import AuditedAdmin
from commonguard.statutes.models import Obligation, ReportingRule, RuleRecipient, Sending


class RuleRecipientInline(admin.TabularInline):
    model = RuleRecipient
    extra = 0


@admin.register(ReportingRule)
class ReportingRuleAdmin(AuditedAdmin):
    list_display = ["key", "state", "name", "trigger", "clock_start", "duration", "unit", "enabled"]
    list_filter = ["state", "trigger", "enabled"]
    search_fields = ["key", "name", "citation"]
    inlines = [RuleRecipientInline]


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Obligation)
class ObligationAdmin(_ReadOnly):
    list_display = ["report", "recipient_name", "due_at", "status"]
    list_filter = ["status", "trigger"]


@admin.register(Sending)
class SendingAdmin(_ReadOnly):
    list_display = ["obligation", "channel", "sent_at", "reference", "late"]
    list_filter = ["channel", "late"]
