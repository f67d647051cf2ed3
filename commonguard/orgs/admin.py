from django.contrib import admin

from commonguard.core.admin import AuditedAdmin
from commonguard.orgs.models import ContactAssignment, Organization, Region


@admin.register(Region)
class RegionAdmin(AuditedAdmin):
    list_display = ["name", "number", "state", "liaison"]
    list_filter = ["state"]
    search_fields = ["name"]
    autocomplete_fields = ["liaison"]


@admin.register(Organization)
class OrganizationAdmin(AuditedAdmin):
    list_display = ["name", "kind", "state", "county_fips", "place_fips", "population", "region", "status"]
    list_filter = ["status", "kind", "state"]
    search_fields = ["name", "county_fips", "place_fips"]
    autocomplete_fields = ["county", "region"]
    readonly_fields = ["source_key", "requested_by", "decided_by", "decided_at", "created_at", "updated_at"]


@admin.register(ContactAssignment)
class ContactAssignmentAdmin(AuditedAdmin):
    list_display = ["organization", "role", "holder", "started_at", "ended_at"]
    list_filter = ["role"]
    autocomplete_fields = ["organization", "holder", "assigned_by"]
