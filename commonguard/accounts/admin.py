from django.contrib import admin

from commonguard.accounts.models import ApiToken, Membership, User
from commonguard.core.admin import AuditedAdmin


@admin.register(User)
class UserAdmin(AuditedAdmin):
    list_display = ["email", "full_name", "title", "is_active", "is_superuser", "last_login"]
    list_filter = ["is_active", "is_superuser"]
    search_fields = ["email", "full_name"]
    exclude = ["password", "user_permissions", "groups"]
    readonly_fields = ["last_login", "date_joined"]


@admin.register(Membership)
class MembershipAdmin(AuditedAdmin):
    list_display = ["user", "organization", "role", "status", "requested_at", "decided_at"]
    list_filter = ["status", "role"]
    search_fields = ["user__email", "organization__name"]
    autocomplete_fields = ["user", "organization", "decided_by"]


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedAdmin):
    list_display = ["name", "user", "key_id", "created_at", "last_used_at", "revoked_at"]
    search_fields = ["user__email", "name", "key_id"]
    readonly_fields = ["user", "name", "key_id", "key_hash", "created_at", "last_used_at"]
