from __future__ import annotations

from rest_framework import serializers

from commonguard.orgs.models import ContactAssignment, Organization, Region
from commonguard.orgs.states import STATE_CHOICES


class RegionRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Region
        fields = ["id", "number", "name"]


class OrganizationRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "name", "kind"]


class OrganizationSerializer(serializers.ModelSerializer):
    county = OrganizationRefSerializer(read_only=True)
    region = RegionRefSerializer(read_only=True)
    fips = serializers.CharField(read_only=True)

    class Meta:
        model = Organization
        fields = [
            "id",
            "name",
            "kind",
            "status",
            "state",
            "fips",
            "county_fips",
            "place_fips",
            "county",
            "region",
            "population",
            "website",
            "time_zone",
            "latitude",
            "longitude",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class OrganizationRequestSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=Organization.Kind.choices)
    state = serializers.ChoiceField(choices=STATE_CHOICES)
    county = serializers.IntegerField(required=False, allow_null=True, help_text="Id of the county it lies in.")
    website = serializers.URLField(required=False, allow_blank=True, default="")
    population = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    message = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class DecisionSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class PersonRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    full_name = serializers.CharField()
    email = serializers.EmailField()
    title = serializers.CharField()


class ContactSerializer(serializers.ModelSerializer):
    holder = PersonRefSerializer(read_only=True)
    organization = OrganizationRefSerializer(read_only=True)
    role_label = serializers.CharField(source="get_role_display", read_only=True)

    class Meta:
        model = ContactAssignment
        fields = ["id", "organization", "role", "role_label", "holder", "phone", "notes", "started_at", "ended_at"]
        read_only_fields = fields


class ContactAssignSerializer(serializers.Serializer):
    organization = serializers.IntegerField()
    role = serializers.ChoiceField(choices=ContactAssignment.Role.choices)
    holder = serializers.IntegerField(help_text="Id of an approved member of the organisation.")
    phone = serializers.CharField(required=False, allow_blank=True, default="", max_length=40)
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)
