"""API of the delivery channels: a person's alert preferences (`/api/v1/me/alert-preferences/`)
and organisation webhooks (`/api/v1/webhooks/`), with their deliveries and dead letters.

Webhooks are their organisation's admins' business alone: anyone else gets the same 404 as for a
webhook that does not exist. Writes go through the same services as the pages."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action, api_view
from rest_framework.request import Request
from rest_framework.response import Response

from commonguard.accounts.viewer import viewer_for
from commonguard.api.permissions import IsVettedUser
from commonguard.api.serialization import validated
from commonguard.core.tlp import TLP
from commonguard.orgs.models import Organization
from commonguard.sharing import webhooks as hooks
from commonguard.sharing.models import FILTER_SEVERITIES, Alert, AlertPreference, Delivery, Webhook
from commonguard.sharing.preferences import PREFERENCE_FIELDS, preference_for, preferences_save
from commonguard.web.http import acting_user


class PreferenceSerializer(serializers.ModelSerializer):
    categories = serializers.ListField(child=serializers.ChoiceField(Alert.Category.choices), required=False)
    min_severity = serializers.ChoiceField(FILTER_SEVERITIES, required=False)

    class Meta:
        model = AlertPreference
        fields = list(PREFERENCE_FIELDS)


@extend_schema(methods=["GET"], responses=PreferenceSerializer)
@extend_schema(methods=["PUT", "PATCH"], request=PreferenceSerializer, responses=PreferenceSerializer)
@api_view(["GET", "PUT", "PATCH"])
def alert_preferences(request: Request) -> Response:
    """How alerts reach you: e-mail on or off, at once or in a daily digest, categories, minimum
    severity, browser pop-ups. Critical (flash) alerts always come at once."""
    if not viewer_for(request.user).is_vetted:
        return Response({"error": {"code": "not_vetted", "message": "Only vetted members receive alerts."}}, 403)
    user = acting_user(request)
    if request.method == "GET":
        return Response(PreferenceSerializer(preference_for(user)).data)
    data = PreferenceSerializer(data=request.data, partial=request.method == "PATCH")
    data.is_valid(raise_exception=True)
    saved = preferences_save(actor=user, data=dict(data.validated_data))
    return Response(PreferenceSerializer(saved).data)


class WebhookSerializer(serializers.ModelSerializer):
    min_severity = serializers.ChoiceField(FILTER_SEVERITIES)

    class Meta:
        model = Webhook
        fields = ["id", "organization", "name", "url", "preset", "max_tlp", "categories", "min_severity", "active"]
        fields += ["secret", "created_at"]
        read_only_fields = ["id", "secret", "created_at"]


class WebhookWriteSerializer(serializers.Serializer):
    organization = serializers.IntegerField()
    name = serializers.CharField(max_length=120)
    url = serializers.URLField(max_length=500)
    preset = serializers.ChoiceField(Webhook.Preset.choices, default=Webhook.Preset.GENERIC)
    max_tlp = serializers.ChoiceField([t.value for t in TLP], default=TLP.GREEN)
    categories = serializers.ListField(child=serializers.ChoiceField(Alert.Category.choices), default=list)
    min_severity = serializers.ChoiceField(FILTER_SEVERITIES, default=Alert.Severity.LOW)
    active = serializers.BooleanField(default=True)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    alert = serializers.UUIDField(source="alert.uuid")

    class Meta:
        model = Delivery
        fields = ["id", "alert", "version", "status", "attempts", "response_code", "last_error", "created_at"]
        fields += ["sent_at", "next_attempt_at"]


class RedeliverSerializer(serializers.Serializer):
    deliveries = serializers.ListField(child=serializers.IntegerField(), required=False, max_length=500)


class WebhookViewSet(viewsets.ModelViewSet):
    """Your organisations' webhooks (as their admin). Each request they receive is signed:
    `X-CommonGuard-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.body" with the secret>`."""

    serializer_class = WebhookSerializer
    permission_classes = [IsVettedUser]
    http_method_names = ["get", "post", "put", "delete"]

    def get_queryset(self) -> Any:
        return Webhook.objects.visible_to(self.request.user).select_related("organization").order_by("id")

    def _organization(self, org_id: int) -> Organization:
        org = hooks.administered(self.request.user).filter(pk=org_id).first()
        if org is None:
            raise serializers.ValidationError({"organization": ["Unknown organisation, or not one you administer."]})
        return org

    @extend_schema(request=WebhookWriteSerializer, responses={201: WebhookSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = validated(WebhookWriteSerializer, request.data)
        org = self._organization(data.pop("organization"))
        webhook = hooks.webhook_save(actor=acting_user(request), organization=org, webhook=None, data=data)
        return Response(WebhookSerializer(webhook).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=WebhookWriteSerializer, responses=WebhookSerializer)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        webhook = self.get_object()
        data = validated(WebhookWriteSerializer, request.data)
        if data.pop("organization") != webhook.organization_id:
            raise serializers.ValidationError({"organization": ["A webhook cannot move to another organisation."]})
        saved = hooks.webhook_save(
            actor=acting_user(request), organization=webhook.organization, webhook=webhook, data=data
        )
        return Response(WebhookSerializer(saved).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        hooks.webhook_delete(actor=acting_user(request), webhook=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=WebhookSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        webhook = hooks.webhook_rotate_secret(actor=acting_user(request), webhook=self.get_object())
        return Response(WebhookSerializer(webhook).data)

    @extend_schema(responses=WebhookDeliverySerializer(many=True))
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """This webhook's deliveries, newest first; `?status=dead` lists the dead letters."""
        rows = self.get_object().deliveries.select_related("alert").order_by("-created_at", "-id")
        wanted = request.query_params.get("status", "")
        if wanted:
            if wanted not in Delivery.Status.values:
                raise serializers.ValidationError({"status": [f"One of: {', '.join(Delivery.Status.values)}."]})
            rows = rows.filter(status=wanted)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)

    @extend_schema(request=RedeliverSerializer, responses={202: None})
    @action(detail=True, methods=["post"])
    def redeliver(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Send dead or failing deliveries again (all of them, or the ids given)."""
        ids = validated(RedeliverSerializer, request.data).get("deliveries")
        count = hooks.webhook_redeliver(actor=acting_user(request), webhook=self.get_object(), delivery_ids=ids)
        return Response({"queued": count}, status=status.HTTP_202_ACCEPTED)
