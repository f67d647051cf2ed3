"""API of feeds and MISP: `/api/v1/feeds/` (list, create, read, `POST …/pull/`), `POST /api/v1/misp/events/`
(upload one event), and the hub's MISP feed (`/feeds/misp/manifest.json`, `<uuid>.json`, `hashes.csv`),
which MISP instances subscribe to with an API token (HTTP Basic or Bearer)."""

from __future__ import annotations

import hashlib
import json
import uuid as uuidlib
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse, StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from commonguard.accounts.viewer import viewer_for
from commonguard.feeds.misp import MispError, feed_event, manifest_entry, upload_event
from commonguard.feeds.models import Feed
from commonguard.feeds.services import FeedInput, feed_request_pull, feed_save
from commonguard.feeds.sources import max_bytes
from commonguard.orgs.models import Organization
from commonguard.sharing.models import Alert, Indicator, SharingGroup
from commonguard.web.http import acting_user


class FeedSerializer(serializers.ModelSerializer):
    owner = serializers.PrimaryKeyRelatedField(queryset=Organization.objects.none())
    recipient_orgs = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=Organization.objects.none())
    sharing_groups = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=SharingGroup.objects.none())
    tlp = serializers.CharField(help_text="CLEAR, GREEN, AMBER or AMBER+STRICT (not RED).")
    alert = serializers.SerializerMethodField(help_text="The uuid of a feed's alert, once pulled (not MISP feeds).")
    credentials = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="TAXII feeds: an API token (sent as Bearer) or, with taxii_user, a password. Never shown back.",
    )

    class Meta:
        model = Feed
        fields = [
            "id",
            "name",
            "source",
            "format",
            "kind",
            "csv_value_column",
            "csv_kind_column",
            "csv_comment_column",
            "csv_delimiter",
            "csv_header",
            "taxii_user",
            "credentials",
            "taxii_cursor",
            "tlp",
            "recipient_orgs",
            "sharing_groups",
            "category",
            "severity",
            "owner",
            "interval_minutes",
            "enabled",
            "status",
            "stage",
            "progress_done",
            "progress_total",
            "last_started_at",
            "last_finished_at",
            "last_result",
            "last_error",
            "alert",
        ]
        read_only_fields = [
            "taxii_cursor",
            "status",
            "stage",
            "progress_done",
            "progress_total",
            "last_started_at",
            "last_finished_at",
            "last_result",
            "last_error",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            visible = Organization.objects.visible_to(request.user)
            fields: Any = self.fields
            fields["owner"].queryset = visible.filter(pk__in=viewer_for(request.user).admin_org_ids)
            fields["recipient_orgs"].child_relation.queryset = visible
            fields["sharing_groups"].child_relation.queryset = SharingGroup.objects.visible_to(request.user)

    def get_alert(self, feed: Feed) -> str | None:
        if feed.format == Feed.Format.MISP:
            return None
        readable = Alert.objects.visible_to(self.context["request"].user)  # the feed's alert, if they may read it
        alert = readable.filter(source_key=feed.source_key).only("uuid").first()
        return str(alert.uuid) if alert else None


class FeedViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Feeds of the caller's organisations (the owning organisation's members read them; its admins
    set them up and pull them). Progress of a running pull: `status`, `stage`, `progress_done/total`."""

    serializer_class = FeedSerializer

    def get_queryset(self) -> Any:
        return Feed.objects.visible_to(self.request.user).select_related("owner")

    def perform_create(self, serializer: Any) -> None:
        data = dict(serializer.validated_data)
        try:
            serializer.instance = feed_save(
                actor=acting_user(self.request),
                data=FeedInput(
                    name=data["name"],
                    source=data["source"],
                    format=data.get("format", Feed.Format.TEXT),
                    owner=data["owner"],
                    tlp=data["tlp"],
                    kind=data.get("kind", ""),
                    category=data.get("category", Alert.Category.MALWARE),
                    severity=data.get("severity", Alert.Severity.MEDIUM),
                    recipient_orgs=list(data.get("recipient_orgs", [])),
                    sharing_groups=list(data.get("sharing_groups", [])),
                    csv_value_column=data.get("csv_value_column", "1"),
                    csv_kind_column=data.get("csv_kind_column", ""),
                    csv_comment_column=data.get("csv_comment_column", ""),
                    csv_delimiter=data.get("csv_delimiter", ","),
                    csv_header=data.get("csv_header", False),
                    taxii_user=data.get("taxii_user", ""),
                    credentials=data.get("credentials"),
                    interval_minutes=data.get("interval_minutes", 0),
                    enabled=data.get("enabled", True),
                ),
            )
        except ValidationError as exc:
            raise serializers.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages) from exc

    @extend_schema(request=None, responses={202: FeedSerializer})
    @action(detail=True, methods=["post"])
    def pull(self, request: Request, pk: str | None = None) -> Response:
        """Queue a pull on the worker's bulk queue; poll the feed for its progress and result."""
        feed = self.get_object()
        try:
            feed = feed_request_pull(actor=acting_user(request), feed=feed)
        except PermissionDenied as exc:
            return Response({"error": {"code": "forbidden", "message": str(exc), "fields": {}}}, status=403)
        return Response(self.get_serializer(feed).data, status=status.HTTP_202_ACCEPTED)


class MispUploadSerializer(serializers.Serializer):
    file = serializers.FileField(required=False, help_text='A MISP event file ({"Event": {...}}).')
    event = serializers.JSONField(required=False, help_text="Or the event itself, in a JSON body.")
    organization = serializers.IntegerField(help_text="The organisation the alert is for (one of yours).")
    tlp = serializers.CharField(default="amber", help_text="The label when the event has no tlp: tag.")
    category = serializers.ChoiceField(choices=Alert.Category.choices, default=Alert.Category.OTHER)


class MispEventUploadView(APIView):
    """Upload one MISP event: it becomes an alert of your organisation, published without
    announcement. The same event again changes nothing; a newer timestamp makes a new version."""

    parser_classes = [MultiPartParser, JSONParser]
    serializer_class = MispUploadSerializer

    @extend_schema(request=MispUploadSerializer, responses={201: dict, 200: dict})
    def post(self, request: Request) -> Response:
        form = MispUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        upload = data.get("file")
        if upload is not None:
            if upload.size > max_bytes():
                return _error(413, "too_large", f"The file is over {max_bytes() // (1024 * 1024)} MB.")
            raw: bytes = upload.read()
        elif data.get("event") is not None:
            raw = json.dumps(data["event"]).encode()
        else:
            return _error(400, "invalid", "Send a MISP event as `file` (multipart) or `event` (JSON).")
        user = acting_user(request)
        org = Organization.objects.visible_to(user).filter(pk=data["organization"]).first()
        if org is None or org.pk not in viewer_for(user).org_ids:
            return _error(400, "invalid", "Choose one of your organisations.", {"organization": ["Not yours."]})
        try:
            result = upload_event(raw, actor=user, org=org, default_tlp=data["tlp"], category=data["category"])
        except MispError as exc:
            return _error(400, "invalid", str(exc))
        except ValidationError as exc:
            return _error(400, "invalid", " ".join(exc.messages))
        except PermissionDenied as exc:
            return _error(403, "forbidden", str(exc))
        code = status.HTTP_201_CREATED if result.outcome == "created" else status.HTTP_200_OK
        return Response(result.as_dict(), status=code)


def _error(code: int, kind: str, message: str, fields: dict[str, Any] | None = None) -> Response:
    return Response({"error": {"code": kind, "message": message, "fields": fields or {}}}, status=code)


# --- The hub's MISP feed ---------------------------------------------------------------------


def _readable(user: Any) -> Any:
    """What the caller may read, live (published or updated; revoked alerts leave the feed)."""
    return (
        Alert.objects.visible_to(user)
        .filter(status__in=[Alert.Status.PUBLISHED, Alert.Status.UPDATED])
        .select_related("author_org", "author_org__region")
    )


class MispManifestView(APIView):
    """`manifest.json`: every alert the caller may read, as MISP's feed manifest (uuid → metadata)."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> JsonResponse:
        user = acting_user(request)
        return JsonResponse({str(a.uuid): manifest_entry(a, user) for a in _readable(user)})


class MispEventView(APIView):
    """`<uuid>.json`: one alert as a MISP event. One the caller may not read answers like absent."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request, uuid: str) -> JsonResponse:
        try:
            key = uuidlib.UUID(uuid)
        except ValueError:
            raise Http404 from None
        user = acting_user(request)
        alert = _readable(user).filter(uuid=key).first()
        if alert is None:
            raise Http404
        return JsonResponse(feed_event(alert, user))


class MispHashesView(APIView):
    """`hashes.csv`: MD5 of each attribute value the caller may read, with its event's uuid (what
    MISP caches to correlate against a feed without importing it)."""

    @extend_schema(responses={(200, "text/csv"): str})
    def get(self, request: Request) -> StreamingHttpResponse:
        # Streamed from a server-side cursor: a hub holding millions of indicators answers without
        # holding them in memory. The read rule is decided before the first byte (the subquery).
        readable = _readable(acting_user(request)).values("pk")
        rows = (
            Indicator.objects.filter(alert__in=readable)
            .order_by("alert_id", "pk")
            .values_list("value", "alert__uuid")
            .iterator(chunk_size=5000)
        )

        def lines() -> Iterator[str]:
            for value, alert_uuid in rows:
                yield f"{hashlib.md5(value.encode()).hexdigest()},{alert_uuid}\n"  # noqa: S324 - MISP's format

        return StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
