"""API of mutual aid under /api/v1/mutualaid/: responders (the personal details only under the
field rule), agreements, assistance requests (create, read) and their ranked matches."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from commonguard.mutualaid import services
from commonguard.mutualaid.matching import match_request
from commonguard.mutualaid.models import Agreement, AgreementParty, AssistanceRequest, Responder, ResponderPrivate
from commonguard.orgs.models import Organization
from commonguard.web.http import acting_user


class ResponderSerializer(serializers.ModelSerializer):
    programme = serializers.CharField(source="programme.name")
    skills: Any = serializers.SlugRelatedField(many=True, read_only=True, slug_field="slug")
    personal = serializers.SerializerMethodField(
        help_text="Phone, home address and background-check result: present only for the coordinators of the "
        "responder's programme, the responder, and the organisation they are deployed to while deployed; else null."
    )

    class Meta:
        model = Responder
        fields = [
            "id",
            "full_name",
            "programme",
            "source",
            "status",
            "home_county_fips",
            "work_mode",
            "skills",
            "background_check",
            "background_checked_on",
            "personal",
        ]

    def get_personal(self, responder: Responder) -> dict[str, str] | None:
        # Only what ResponderPrivate.objects.visible_to let through (prefetched by the view).
        found = getattr(responder, "visible_private", None)
        if found is None:
            return None
        return {name: getattr(found, name) for name in ResponderPrivate.FIELDS}


class ResponderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The roster as the caller may see it (`Responder.objects.visible_to`)."""

    serializer_class = ResponderSerializer

    def get_queryset(self) -> Any:
        # Personal details are loaded only through their own read rule, never with the roster row.
        private = Prefetch(
            "private", queryset=ResponderPrivate.objects.visible_to(self.request.user), to_attr="visible_private"
        )
        return (
            Responder.objects.visible_to(self.request.user).select_related("programme").prefetch_related("skills")
        ).prefetch_related(private)


class AgreementSerializer(serializers.ModelSerializer):
    administrator = serializers.CharField(source="administrator.name")
    parties = serializers.SerializerMethodField()

    class Meta:
        model = Agreement
        fields = [
            "id",
            "name",
            "kind",
            "status",
            "state",
            "administrator",
            "effective_from",
            "effective_to",
            "legal_basis",
            "liability_terms",
            "workers_comp_terms",
            "reimbursement_terms",
            "per_diem_basis",
            "data_handling_terms",
            "request_roles",
            "offer_roles",
            "parties",
        ]

    def get_parties(self, agreement: Agreement) -> list[dict[str, Any]]:
        return [
            {"organization": p.organization_id, "name": p.organization.name, "signed_on": p.signed_on}
            for p in agreement.party_rows.all()
            if p.withdrawn_on is None
        ]


class AgreementViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AgreementSerializer

    def get_queryset(self) -> Any:
        return (
            Agreement.objects.visible_to(self.request.user)
            .select_related("administrator")
            .prefetch_related(Prefetch("party_rows", queryset=AgreementParty.objects.select_related("organization")))
        )


class AssistanceRequestSerializer(serializers.ModelSerializer):
    requesting_org = serializers.PrimaryKeyRelatedField(queryset=Organization.objects.all())
    skills = serializers.ListField(child=serializers.CharField(), write_only=True)
    skill_slugs = serializers.SerializerMethodField()

    class Meta:
        model = AssistanceRequest
        fields = [
            "id",
            "requesting_org",
            "title",
            "description",
            "skills",
            "skill_slugs",
            "mode",
            "starts_on",
            "duration_days",
            "headcount",
            "priority",
            "support_provided",
            "safety_notes",
            "status",
            "created_at",
        ]
        read_only_fields = ["status", "created_at"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            fields: Any = self.fields
            fields["requesting_org"].queryset = Organization.objects.visible_to(request.user)

    def get_skill_slugs(self, aid: AssistanceRequest) -> list[str]:
        return sorted(s.slug for s in aid.skills.all())


class CandidateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    kind = serializers.CharField()
    id = serializers.IntegerField()
    rank = serializers.IntegerField()
    name = serializers.CharField()
    organization = serializers.CharField()
    score = serializers.FloatField()
    distance_km = serializers.FloatField(allow_null=True)
    reasons = serializers.ListField(child=serializers.CharField())


class MatchSerializer(serializers.Serializer):  # type: ignore[type-arg]
    responders = CandidateSerializer(many=True)
    teams = CandidateSerializer(many=True)
    considered_responders = serializers.IntegerField()
    considered_teams = serializers.IntegerField()
    excluded = serializers.DictField(child=serializers.IntegerField())
    milliseconds = serializers.FloatField()


class AssistanceRequestViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Requests the caller may read; `POST` asks for help for one of the caller's organisations."""

    serializer_class = AssistanceRequestSerializer

    def get_queryset(self) -> Any:
        return AssistanceRequest.objects.visible_to(self.request.user).prefetch_related("skills")

    def perform_create(self, serializer: Any) -> None:
        data = dict(serializer.validated_data)
        try:
            serializer.instance = services.request_create(
                actor=acting_user(self.request),
                data=services.RequestInput(
                    requesting_org=data["requesting_org"],
                    title=data["title"],
                    description=data["description"],
                    skills=data["skills"],
                    starts_on=data["starts_on"],
                    duration_days=data.get("duration_days", 7),
                    mode=data.get("mode", AssistanceRequest.Mode.EITHER),
                    headcount=data.get("headcount", 1),
                    priority=data.get("priority", AssistanceRequest.Priority.HIGH),
                    support_provided=data.get("support_provided", ""),
                    safety_notes=data.get("safety_notes", ""),
                ),
            )
        except ValidationError as exc:
            raise serializers.ValidationError(getattr(exc, "message_dict", {"detail": exc.messages})) from exc
        except PermissionDenied as exc:
            from rest_framework.exceptions import PermissionDenied as ApiDenied

            raise ApiDenied(str(exc)) from exc

    @extend_schema(responses=MatchSerializer)
    @action(detail=True, methods=["get"])
    def matches(self, request: Request, pk: str | None = None) -> Response:
        """Responders and team packages ranked for the request, each with the reasons for its rank."""
        aid = self.get_object()
        limit = min(max(int(request.query_params.get("limit", 25) or 25), 1), 200)
        try:
            result = match_request(aid, user=request.user, limit=limit)
        except ValidationError as exc:  # a request that is not open is not matched
            raise serializers.ValidationError(exc.message_dict) from exc
        return Response(MatchSerializer(result).data)
