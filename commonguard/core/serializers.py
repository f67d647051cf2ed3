from __future__ import annotations

from rest_framework import serializers

from commonguard.core.models import AuditEvent
from commonguard.orgs.serializers import OrganizationRefSerializer


class AuditEventSerializer(serializers.ModelSerializer):
    organization = OrganizationRefSerializer(read_only=True)
    actor = serializers.CharField(source="actor_label", read_only=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "at",
            "kind",
            "action",
            "actor",
            "organization",
            "target_type",
            "target_id",
            "summary",
            "ip_address",
            "request_id",
        ]
        read_only_fields = fields
