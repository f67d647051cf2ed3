"""The campaign map's figures in the API (GET /api/v1/alerts/<uuid>/campaign/ and /alerts/campaign/):
output shapes for the OpenAPI schema; the data comes from `sharing.campaign`."""

from __future__ import annotations

from rest_framework import serializers

from commonguard.sharing.campaign import DEFAULT_DAYS, MAX_DAYS


class _StateSerializer(serializers.Serializer):
    fips = serializers.CharField(help_text="The hub state's two-digit FIPS code.")
    name = serializers.CharField()


class _TotalsSerializer(serializers.Serializer):
    sightings = serializers.IntegerField(help_text="Sighting reports (kind `seen`), mapped or not.")
    organisations = serializers.IntegerField(help_text="Organisations that reported one.")
    counties = serializers.IntegerField(help_text="Counties on the map.")
    false_positives = serializers.IntegerField(help_text="Organisations that found it a false positive (not mapped).")


class _AreaSerializer(serializers.Serializer):
    sightings = serializers.IntegerField()
    times = serializers.IntegerField(help_text="The reports' counts added up.")
    organisations = serializers.IntegerField()
    last_seen = serializers.DateTimeField(allow_null=True)
    reporters = serializers.ListField(
        child=serializers.CharField(),
        help_text="The reporting organisations you may know by name (see the read rule); often empty.",
    )


class CampaignCountySerializer(_AreaSerializer):
    fips = serializers.CharField(help_text="County FIPS code, five digits.")
    name = serializers.CharField(help_text="The county's name in the directory (empty if it has none).")


class CampaignSerializer(serializers.Serializer):
    state = _StateSerializer()
    alert = serializers.UUIDField(allow_null=True, help_text="The alert mapped; null for the statewide view.")
    days = serializers.IntegerField(allow_null=True, help_text="The period of the statewide view, in days.")
    updated_at = serializers.DateTimeField()
    totals = _TotalsSerializer()
    counties = CampaignCountySerializer(many=True)
    not_mapped = _AreaSerializer(
        help_text="Sightings not placed on a county: organisations without one or outside the state, and counties "
        "too small to show without singling out an organisation."
    )


class CampaignFilterSerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=MAX_DAYS, default=DEFAULT_DAYS)
