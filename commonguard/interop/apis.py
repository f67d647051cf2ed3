"""GET /api/v1/alerts/<uuid>/stix/: the alert as a STIX 2.1 bundle (a download), for whoever may
read the alert (Alert.objects.visible_to; anything else is the API's 404)."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view
from rest_framework.request import Request

from commonguard.interop.export import alert_bundle
from commonguard.interop.stix import dumps
from commonguard.sharing.models import Alert

STIX_MEDIA = "application/stix+json;version=2.1"


@extend_schema(
    summary="The alert as a STIX 2.1 bundle",
    responses={(200, STIX_MEDIA): OpenApiTypes.OBJECT},
    tags=["alerts"],
)
@api_view(["GET"])
def alert_stix(request: Request, alert_uuid: str) -> HttpResponse:
    alert = get_object_or_404(
        Alert.objects.visible_to(request.user).exclude(status=Alert.Status.DRAFT), uuid=alert_uuid
    )
    response = HttpResponse(dumps(alert_bundle(alert)), content_type=STIX_MEDIA)
    response["Content-Disposition"] = (
        f'attachment; filename="commonguard-alert-{alert.uuid}-v{alert.version}.stix.json"'
    )
    return response
