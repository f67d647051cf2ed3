"""GET /api/v1/alerts/<uuid>/stix/: the alert as a STIX 2.1 bundle (a download), for whoever may
read the alert (Alert.objects.visible_to; anything else is the API's 404)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from commonguard.accounts.viewer import viewer_for
from commonguard.core.tlp import TLP
from commonguard.interop.export import alert_bundle
from commonguard.interop.imports import ImportRefused, max_bytes, stix_import_request
from commonguard.interop.models import StixImport
from commonguard.interop.selectors import intelligence_search
from commonguard.interop.stix import dumps
from commonguard.orgs.models import Organization
from commonguard.sharing.models import Alert
from commonguard.web.http import acting_user

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


# --- STIX import jobs and the intelligence search (docs/adr/0023-stix-import-jobs.md) ----------


def _error(code: int, kind: str, message: str, fields: dict[str, Any] | None = None) -> Response:
    return Response({"error": {"code": kind, "message": message, "fields": fields or {}}}, status=code)


def _alert_uuids(jobs: list[StixImport], user: Any) -> dict[int, Any]:
    """The uuids of the jobs' alerts that `user` may read, in one query (absent: not readable)."""
    ids = {job.alert_id for job in jobs if job.alert_id}
    if not ids:
        return {}
    return dict(Alert.objects.visible_to(user).filter(pk__in=ids).values_list("pk", "uuid"))


def job_resource(job: StixImport, user: Any, alerts: dict[int, Any] | None = None) -> dict[str, Any]:
    if alerts is None:
        alerts = _alert_uuids([job], user)
    alert = alerts.get(job.alert_id) if job.alert_id else None
    return {
        "id": str(job.uuid),
        "organization": job.organization_id,
        "bundle_id": job.bundle_id,
        "filename": job.filename,
        "default_tlp": job.default_tlp,
        "state": job.state,
        "stage": job.stage,
        "done": job.done,
        "total": job.total,
        "result": job.result,
        "error": job.error,
        "alert": str(alert) if alert else None,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


class StixImportListView(APIView):
    """`GET`: the import jobs of your organisations. `POST`: import a STIX 2.0/2.1 bundle in the
    background: multipart (`file`, `organization`, `tlp`) or the bundle itself as the body
    (`Content-Type: application/json` or `application/stix+json`) with `?organization=<id>&tlp=<label>`.
    Answers 202 with the job; poll `GET /api/v1/stix/imports/<id>/` for its progress."""

    parser_classes = [MultiPartParser]

    @extend_schema(operation_id="stix_imports_list", responses={200: dict}, tags=["stix"])
    def get(self, request: Request) -> Response:
        user = acting_user(request)
        # One query for the jobs (not their bundle bytes) and one for their alerts, however many jobs.
        jobs = list(StixImport.objects.visible_to(user).defer("raw")[:100])
        alerts = _alert_uuids(jobs, user)
        return Response({"results": [job_resource(job, user, alerts) for job in jobs]})

    @extend_schema(
        operation_id="stix_imports_create", request=None, responses={202: dict, 400: dict, 413: dict}, tags=["stix"]
    )
    def post(self, request: Request) -> Response:
        user = acting_user(request)
        limit = max_bytes()
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _error(400, "invalid", "Malformed Content-Length.")
        if declared > limit + 64 * 1024:  # refused before the body is read (the multipart envelope aside)
            return _error(413, "too_large", f"The bundle is over {limit // (1024 * 1024)} MB.")
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        filename = ""
        if content_type in ("application/json", "application/stix+json"):
            raw = request._request.read(limit + 1)
            params: Any = request.query_params
        elif content_type == "multipart/form-data":
            params = request.data
            upload = request.FILES.get("file")
            if upload is None:
                return _error(400, "invalid", "Send the bundle as `file`.", {"file": ["Required."]})
            if upload.size > limit:
                return _error(413, "too_large", f"The bundle is over {limit // (1024 * 1024)} MB.")
            raw, filename = upload.read(), upload.name or ""
        else:
            return _error(415, "unsupported_media_type", "Send multipart/form-data or the bundle as application/json.")
        try:
            org_id = int(params.get("organization", ""))
        except (TypeError, ValueError):
            org_id = 0
        org = Organization.objects.visible_to(user).filter(pk=org_id).first()
        if org is None or org.pk not in viewer_for(user).org_ids:
            return _error(400, "invalid", "Choose one of your organisations.", {"organization": ["Not yours."]})
        try:
            job = stix_import_request(
                actor=user,
                organization=org,
                raw=raw,
                default_tlp=str(params.get("tlp") or TLP.AMBER),
                filename=filename,
            )
        except ImportRefused as exc:
            return _error(exc.status, "too_large" if exc.status == 413 else "invalid", str(exc))
        except ValidationError as exc:
            return _error(400, "invalid", " ".join(exc.messages), getattr(exc, "message_dict", None))
        except PermissionDenied as exc:
            return _error(403, "forbidden", str(exc))
        return Response(job_resource(job, user), status=202)


class StixImportDetailView(APIView):
    """An import job: state (queued, running, complete, failed), objects done of total, counts, error."""

    @extend_schema(operation_id="stix_imports_retrieve", responses={200: dict}, tags=["stix"])
    def get(self, request: Request, job_uuid: str) -> Response:
        user = acting_user(request)
        job = StixImport.objects.visible_to(user).filter(uuid=job_uuid).first()
        if job is None:
            raise Http404
        return Response(job_resource(job, user))


@extend_schema(summary="Search the intelligence the hub holds", responses={200: dict}, tags=["stix"])
@api_view(["GET"])
def intelligence(request: Request) -> Response:
    """`?q=` (name, alias, external id such as T1566) and/or `?type=` (attack-pattern, malware, …)."""
    query, stix_type = str(request.query_params.get("q", ""))[:200], str(request.query_params.get("type", ""))[:250]
    if not query and not stix_type:
        return _error(400, "invalid", "Give `q` or `type`.")
    hits = intelligence_search(acting_user(request), query, stix_type)
    return Response({"results": [asdict(hit) for hit in hits]})


# Mounted at /api/v1/stix/ by commonguard/api/urls.py (one line).
urls = [
    path("imports/", StixImportListView.as_view(), name="stix-imports"),
    path("imports/<uuid:job_uuid>/", StixImportDetailView.as_view(), name="stix-import"),
    path("intelligence/", intelligence, name="stix-intelligence"),
]
