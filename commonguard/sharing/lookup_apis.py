"""POST /api/v1/lookup/: “Have we seen this?” over the API. A log as a multipart file (`file`, up to
50 MB) or JSON text; the answer lists the lines that mention an indicator the caller may see, and,
when asked, the sightings recorded for the matched alerts. The log is not kept."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from commonguard.orgs.models import Organization
from commonguard.sharing import lookup_services
from commonguard.sharing.indicators import defang
from commonguard.sharing.lookup_services import (
    MAX_LOG_BYTES,
    SHOWN_MATCHES,
    LogUploadHandler,
    log_from,
    lookup_log,
    lookup_sightings_record,
    too_big_message,
)
from commonguard.web.http import acting_user


class LogTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"
    default_detail = "The log is too large."


class LookupTextSerializer(serializers.Serializer):
    text = serializers.CharField(trim_whitespace=False, help_text="Log lines (use a multipart upload above a few MB).")
    record_sightings = serializers.BooleanField(default=False)
    organization = serializers.IntegerField(
        required=False, help_text="Your organisation the sightings are for (needed if you belong to several)."
    )


class LookupUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=f"A text or CSV log, up to {MAX_LOG_BYTES // (1024 * 1024)} MB.")
    record_sightings = serializers.BooleanField(default=False)
    organization = serializers.IntegerField(required=False)


class _MatchedIndicator(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    value = serializers.CharField(help_text="Defanged.")
    alert = serializers.UUIDField()


class _Match(serializers.Serializer):
    line = serializers.IntegerField(help_text="1-based line number.")
    text = serializers.CharField(help_text="The line, trimmed around the match, matched values defanged.")
    indicators = _MatchedIndicator(many=True)


class _MatchedAlert(serializers.Serializer):
    uuid = serializers.UUIDField()
    title = serializers.CharField()
    tlp = serializers.CharField()
    lines = serializers.IntegerField()


class LookupResultSerializer(serializers.Serializer):
    lines_scanned = serializers.IntegerField()
    lines_matched = serializers.IntegerField()
    truncated = serializers.BooleanField(help_text=f"True when more than the {SHOWN_MATCHES:,} lines listed matched.")
    alerts = _MatchedAlert(many=True)
    matches = _Match(many=True)
    sightings = inline_serializer(
        "LookupSighting",
        {"id": serializers.IntegerField(), "alert": serializers.UUIDField(), "count": serializers.IntegerField()},
        many=True,
    )


class LookupView(APIView):
    parser_classes = [MultiPartParser, JSONParser]

    def initialize_request(self, request: Any, *args: Any, **kwargs: Any) -> Request:
        # Uploads go to memory only, capped: the handler must be in place before anything reads the body.
        request.upload_handlers = [LogUploadHandler(request)]
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(
        tags=["alerts"],
        operation_id="lookup",
        summary="Have we seen this? Match a log against the indicators you may see",
        request={"multipart/form-data": LookupUploadSerializer, "application/json": LookupTextSerializer},
        responses={
            200: LookupResultSerializer,
            400: OpenApiResponse(description="Empty input, text and file both given, or an unknown organisation."),
            413: OpenApiResponse(description="The log is over 50 MB; nothing was kept."),
        },
        examples=[OpenApiExample("Text", value={"text": "GET http://evil.example/x 200", "record_sightings": False})],
    )
    def post(self, request: Request) -> Response:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > lookup_services.MAX_LOG_BYTES + 1024 * 1024:
            raise LogTooLarge(too_big_message())
        body = request.data
        handler = request._request.upload_handlers[0]
        if isinstance(handler, LogUploadHandler) and handler.too_big:
            raise LogTooLarge(too_big_message())
        text = body.get("text", "")
        if not isinstance(text, str):
            raise exceptions.ValidationError({"text": ["Send the log as a string."]})
        record = serializers.BooleanField().to_internal_value(body.get("record_sightings", False))
        user = acting_user(request)
        org = self._organization(user, body.get("organization")) if record else None
        found = lookup_log(user=user, data=log_from(text=text, upload=request.FILES.get("file")), keep=SHOWN_MATCHES)
        recorded = lookup_sightings_record(actor=user, organization=org, found=found) if org and found.alerts else []
        alerts = found.alerts
        return Response(
            {
                "lines_scanned": found.result.lines_scanned,
                "lines_matched": found.result.lines_matched,
                "truncated": found.result.truncated,
                "alerts": [{"uuid": a.uuid, "title": a.title, "tlp": a.tlp, "lines": n} for a, n in found.alert_rows()],
                "matches": [
                    {
                        "line": m.line_no,
                        "text": m.shown(),
                        "indicators": [
                            {
                                "id": r.id,
                                "kind": r.kind,
                                "value": defang(r.kind, r.value),
                                "alert": alerts[r.alert_id].uuid,
                            }
                            for r in m.refs
                            if r.alert_id in alerts
                        ],
                    }
                    for m in found.result.matches
                ],
                "sightings": [{"id": s.pk, "alert": s.alert.uuid, "count": s.count} for s in recorded],
            }
        )

    def _organization(self, user: Any, value: Any) -> Organization:
        from commonguard.accounts.viewer import viewer_for

        mine = Organization.objects.visible_to(user).filter(pk__in=viewer_for(user).org_ids)
        if value in (None, ""):
            if mine.count() != 1:
                raise exceptions.ValidationError(
                    {"organization": ["Say which of your organisations the sightings are for."]}
                )
            return mine.get()
        try:
            return mine.get(pk=int(value))
        except (ValueError, TypeError, Organization.DoesNotExist):
            raise exceptions.ValidationError({"organization": [f"Unknown id: {value}."]}) from None
