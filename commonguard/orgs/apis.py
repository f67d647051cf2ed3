"""Directory API: organisations and role-based contacts. Reads go through visible_to (404 for
what may not be seen); writes go through the services."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from commonguard.accounts.models import User
from commonguard.api.serialization import validated
from commonguard.orgs import selectors, services
from commonguard.orgs.models import ContactAssignment, Organization
from commonguard.orgs.serializers import (
    ContactAssignSerializer,
    ContactSerializer,
    DecisionSerializer,
    OrganizationRequestSerializer,
    OrganizationSerializer,
)
from commonguard.web.http import acting_user


def _int_param(request: Request, name: str) -> int | None:
    value = request.query_params.get(name, "")
    return int(value) if value.isdigit() else None


@extend_schema(tags=["directory"])
class OrganizationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = OrganizationSerializer

    def get_queryset(self) -> Any:
        params = self.request.query_params
        return selectors.organization_list(
            user=self.request.user,
            q=params.get("q", ""),
            kind=params.get("kind", ""),
            state=params.get("state", ""),
            county=_int_param(self.request, "county"),
            region=_int_param(self.request, "region"),
            status=params.get("status", ""),
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="Words in the name, or a 5-digit county / 7-digit place FIPS"),
            OpenApiParameter("kind", str, enum=Organization.Kind.values),
            OpenApiParameter("state", str),
            OpenApiParameter("county", int),
            OpenApiParameter("region", int),
            OpenApiParameter("status", str, enum=Organization.Status.values),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=OrganizationRequestSerializer, responses={201: OrganizationSerializer})
    def create(self, request: Request) -> Response:
        """Ask for a new organisation to be added; you become its admin when a liaison approves."""
        data = validated(OrganizationRequestSerializer, request.data)
        county = None
        if data.get("county"):
            county = get_object_or_404(Organization.objects.visible_to(request.user), pk=data["county"])
        org = services.organization_request(
            actor=acting_user(request),
            name=data["name"],
            kind=data["kind"],
            state=data["state"],
            county=county,
            website=data["website"],
            population=data.get("population"),
            message=data["message"],
        )
        return Response(OrganizationSerializer(org).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DecisionSerializer, responses=OrganizationSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        org = selectors.organization_get(user=request.user, pk=pk)
        note = validated(DecisionSerializer, request.data)["note"]
        return Response(
            OrganizationSerializer(
                services.organization_approve(actor=acting_user(request), organization=org, note=note)
            ).data
        )

    @extend_schema(request=DecisionSerializer, responses=OrganizationSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, pk: str) -> Response:
        org = selectors.organization_get(user=request.user, pk=pk)
        note = validated(DecisionSerializer, request.data)["note"]
        return Response(
            OrganizationSerializer(
                services.organization_reject(actor=acting_user(request), organization=org, note=note)
            ).data
        )


@extend_schema(tags=["directory"])
class ContactViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ContactSerializer

    def get_queryset(self) -> Any:
        params = self.request.query_params
        qs = ContactAssignment.objects.visible_to(self.request.user).select_related("holder", "organization")
        if org_id := _int_param(self.request, "organization"):
            qs = qs.filter(organization_id=org_id)
        if params.get("current") in {"true", "false"}:
            qs = qs.filter(ended_at__isnull=params["current"] == "true")
        return qs

    @extend_schema(parameters=[OpenApiParameter("organization", int), OpenApiParameter("current", bool)])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=ContactAssignSerializer, responses={201: ContactSerializer})
    def create(self, request: Request) -> Response:
        """Give a contact role to an approved member (org admins). The previous holder is kept in history."""
        data = validated(ContactAssignSerializer, request.data)
        org = selectors.organization_get(user=request.user, pk=data["organization"])
        holder = get_object_or_404(User.objects.visible_to(request.user), pk=data["holder"])
        assignment = services.contact_assign(
            actor=acting_user(request),
            organization=org,
            role=data["role"],
            holder=holder,
            phone=data["phone"],
            notes=data["notes"],
        )
        return Response(ContactSerializer(assignment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ContactSerializer)
    @action(detail=True, methods=["post"])
    def end(self, request: Request, pk: str) -> Response:
        assignment = get_object_or_404(self.get_queryset(), pk=pk)
        return Response(ContactSerializer(services.contact_end(actor=acting_user(request), assignment=assignment)).data)
