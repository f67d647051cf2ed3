"""Audit trail API (read only)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from commonguard.core.models import AuditEvent
from commonguard.core.selectors import audit_list
from commonguard.core.serializers import AuditEventSerializer


@extend_schema(tags=["audit"])
class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AuditEventSerializer

    def get_queryset(self) -> Any:
        p = self.request.query_params
        org = p.get("organization", "")
        return audit_list(
            user=self.request.user,
            organization=int(org) if org.isdigit() else None,
            kind=p.get("kind", ""),
            action=p.get("action", ""),
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("organization", int),
            OpenApiParameter("kind", str, enum=AuditEvent.Kind.values),
            OpenApiParameter("action", str, description="Prefix, e.g. membership."),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)
