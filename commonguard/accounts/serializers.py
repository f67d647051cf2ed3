from __future__ import annotations

from rest_framework import serializers

from commonguard.accounts.models import ApiToken, Membership, Role
from commonguard.orgs.serializers import OrganizationRefSerializer, PersonRefSerializer


class MembershipSerializer(serializers.ModelSerializer):
    user = PersonRefSerializer(read_only=True)
    organization = OrganizationRefSerializer(read_only=True)
    role_label = serializers.CharField(source="get_role_display", read_only=True)

    class Meta:
        model = Membership
        fields = [
            "id",
            "user",
            "organization",
            "role",
            "role_label",
            "status",
            "message",
            "requested_at",
            "decided_at",
            "decision_note",
        ]
        read_only_fields = fields


class MembershipRequestSerializer(serializers.Serializer):
    organization = serializers.IntegerField()
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)
    message = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class MembershipRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class ApiTokenSerializer(serializers.ModelSerializer):
    prefix = serializers.CharField(source="display_prefix", read_only=True)
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at", "active"]
        read_only_fields = fields


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The secret. Shown once; store it now.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields
