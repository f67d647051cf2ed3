"""People API: memberships (join requests and vetting), roles, the caller, API tokens."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action, api_view
from rest_framework.request import Request
from rest_framework.response import Response

from commonguard.accounts import services
from commonguard.accounts.models import MFA_REQUIRED_ROLES, ApiToken, Membership, Role
from commonguard.accounts.policies import roles_for_kind
from commonguard.accounts.serializers import (
    ApiTokenCreatedSerializer,
    ApiTokenCreateSerializer,
    ApiTokenSerializer,
    MembershipRequestSerializer,
    MembershipRoleSerializer,
    MembershipSerializer,
)
from commonguard.accounts.viewer import viewer_for
from commonguard.api.serialization import validated
from commonguard.orgs.apis import _int_param
from commonguard.orgs.models import ContactAssignment, Organization
from commonguard.orgs.selectors import organization_for_join
from commonguard.orgs.serializers import DecisionSerializer
from commonguard.web.http import acting_user


@extend_schema(tags=["people"])
class MembershipViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = MembershipSerializer

    def get_queryset(self) -> Any:
        qs = Membership.objects.visible_to(self.request.user).select_related("user", "organization")
        if org_id := _int_param(self.request, "organization"):
            qs = qs.filter(organization_id=org_id)
        if status_ := self.request.query_params.get("status"):
            qs = qs.filter(status=status_)
        return qs.order_by("-requested_at", "id")

    @extend_schema(
        parameters=[
            OpenApiParameter("organization", int),
            OpenApiParameter("status", str, enum=Membership.Status.values),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=MembershipRequestSerializer, responses={201: MembershipSerializer})
    def create(self, request: Request) -> Response:
        """Ask to join an organisation. Its admin (or a state liaison, where it has none) decides."""
        data = validated(MembershipRequestSerializer, request.data)
        org = organization_for_join(pk=data["organization"])
        membership = services.membership_request(
            actor=acting_user(request),
            organization=org,
            role=data["role"],
            message=data["message"],
        )
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    def _act(self, request: Request, pk: str, fn: Any, **extra: Any) -> Response:
        membership = get_object_or_404(self.get_queryset(), pk=pk)
        return Response(MembershipSerializer(fn(actor=acting_user(request), membership=membership, **extra)).data)

    @extend_schema(request=DecisionSerializer, responses=MembershipSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        return self._act(
            request, pk, services.membership_approve, note=validated(DecisionSerializer, request.data)["note"]
        )

    @extend_schema(request=DecisionSerializer, responses=MembershipSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, pk: str) -> Response:
        return self._act(
            request, pk, services.membership_reject, note=validated(DecisionSerializer, request.data)["note"]
        )

    @extend_schema(request=DecisionSerializer, responses=MembershipSerializer)
    @action(detail=True, methods=["post"])
    def remove(self, request: Request, pk: str) -> Response:
        return self._act(
            request, pk, services.membership_remove, note=validated(DecisionSerializer, request.data)["note"]
        )

    @extend_schema(request=MembershipRoleSerializer, responses=MembershipSerializer)
    @action(detail=True, methods=["post"])
    def role(self, request: Request, pk: str) -> Response:
        return self._act(
            request, pk, services.membership_change_role, role=validated(MembershipRoleSerializer, request.data)["role"]
        )


@extend_schema(tags=["people"])
class ApiTokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ApiTokenSerializer

    def get_queryset(self) -> Any:
        return ApiToken.objects.visible_to(self.request.user)

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: ApiTokenCreatedSerializer})
    def create(self, request: Request) -> Response:
        """Create a token. Only from a signed-in browser session: a token cannot mint tokens."""
        if isinstance(request.auth, ApiToken):
            raise exceptions.PermissionDenied("Create tokens from a signed-in session, not with another token.")
        data = validated(ApiTokenCreateSerializer, request.data)
        token, secret = services.token_create(
            actor=acting_user(request), name=data["name"], expires_at=data.get("expires_at")
        )
        body = ApiTokenCreatedSerializer(token).data
        body["token"] = secret
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ApiTokenSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        token = get_object_or_404(self.get_queryset(), pk=pk)
        return Response(ApiTokenSerializer(services.token_revoke(actor=acting_user(request), token=token)).data)


@extend_schema(
    tags=["people"],
    responses=inline_serializer(
        "Roles",
        {
            "membership_roles": serializers.ListField(child=serializers.DictField()),
            "contact_roles": serializers.ListField(child=serializers.DictField()),
        },
    ),
)
@api_view(["GET"])
def roles(request: Request) -> Response:
    """The roles a membership can have (and which need two-step sign-in), and the contact roles."""
    return Response(
        {
            "membership_roles": [
                {
                    "value": r.value,
                    "label": r.label,
                    "requires_mfa": r in MFA_REQUIRED_ROLES,
                    "organization_kinds": [k for k in Organization.Kind.values if r.value in roles_for_kind(k)],
                }
                for r in Role
            ],
            "contact_roles": [{"value": r.value, "label": r.label} for r in ContactAssignment.Role],
        }
    )


@extend_schema(tags=["people"], responses=inline_serializer("Me", {"id": serializers.IntegerField()}))
@api_view(["GET"])
def me(request: Request) -> Response:
    """Who the caller is, and their approved roles."""
    viewer = viewer_for(request.user)
    user = acting_user(request)
    return Response(
        {
            "id": user.pk,
            "email": user.email,
            "full_name": user.full_name,
            "vetted": viewer.is_vetted,
            "memberships": MembershipSerializer(
                Membership.objects.filter(user_id=user.pk).select_related("user", "organization"), many=True
            ).data,
        }
    )
