"""Incident reports in the REST API (`/api/v1/incident-reports/`): list, read, create a draft, change a
draft (PATCH, with the revision it was read at), submit, and add a supplemental update. The same
`visible_to` as the pages: a hidden report is the same 404 as a missing one; every read is audited."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from commonguard.accounts.viewer import viewer_for
from commonguard.api.serialization import represented, validated
from commonguard.core.compiled import CompiledQuery
from commonguard.incidents import services
from commonguard.incidents.models import (
    AttackVector,
    Category,
    DataType,
    FunctionalImpact,
    IncidentReport,
    InformationImpact,
    Recoverability,
    ReportUpdate,
    SeverityLevel,
)
from commonguard.incidents.querysets import writer_org_ids
from commonguard.orgs.models import Organization
from commonguard.web.http import acting_user

FILING_ORG_FIELDS = ("name", "kind", "state", "status", "county_fips", "place_fips", "population", "time_zone")


def _filing_org(pk: int) -> Any:
    return Organization.objects.filter(pk=pk).values_list("id", *FILING_ORG_FIELDS)


# Every submission through the API reads it: compiled once (core/compiled.py).
_FILING_ORG = CompiledQuery(_filing_org)

READ_FIELDS = (
    "uuid",
    "organization",
    "organization_name",
    "state",
    "status",
    "phase",
    "revision",
    "created_at",
    "updated_at",
    "submitted_at",
    *services.REPORT_FIELDS,
    "veris",
)


class ReportUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReportUpdate
        fields = ("number", "created_at", "note", "changes")


class IncidentReportSerializer(serializers.ModelSerializer):
    """A report as the API shows it, in lists and alone: its facts, its state and its updates."""

    organization_name = serializers.CharField(source="organization.name", read_only=True)
    updates = ReportUpdateSerializer(many=True, read_only=True)

    class Meta:
        model = IncidentReport
        fields: tuple[str, ...] = (*READ_FIELDS, "updates")


def _choice(choices: Any) -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=[("", ""), *list(choices)], required=False, allow_blank=True)


class FactsSerializer(serializers.Serializer):
    """The reporter's facts; every field optional (the services check what a submitted report needs)."""

    title = serializers.CharField(required=False, allow_blank=True, max_length=200)
    category = _choice(Category.choices)
    description = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    started_at = serializers.DateTimeField(required=False, allow_null=True)
    discovered_at = serializers.DateTimeField(required=False, allow_null=True)
    confirmed_at = serializers.DateTimeField(required=False, allow_null=True)
    contained_at = serializers.DateTimeField(required=False, allow_null=True)
    recovered_at = serializers.DateTimeField(required=False, allow_null=True)
    systems_affected = serializers.CharField(required=False, allow_blank=True)
    services_affected = serializers.CharField(required=False, allow_blank=True)
    functional_impact = _choice(FunctionalImpact.choices)
    information_impact = _choice(InformationImpact.choices)
    recoverability = _choice(Recoverability.choices)
    attack_vector = _choice(AttackVector.choices)
    data_types = serializers.ListField(child=serializers.ChoiceField(choices=DataType.choices), required=False)
    records_affected = serializers.IntegerField(required=False, allow_null=True)
    severity_level = serializers.ChoiceField(choices=SeverityLevel.choices, required=False, allow_null=True)
    water_utility_affected = serializers.BooleanField(required=False)
    ransom_demanded = serializers.BooleanField(required=False)
    ransom_amount = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True)
    ransom_currency = serializers.CharField(required=False, allow_blank=True, max_length=12)
    ransom_paid = serializers.BooleanField(required=False)
    ransom_paid_at = serializers.DateTimeField(required=False, allow_null=True)
    last_good_backup_at = serializers.DateTimeField(required=False, allow_null=True)
    backup_location = serializers.CharField(required=False, allow_blank=True, max_length=200)
    backups_affected = serializers.BooleanField(required=False, allow_null=True)
    estimated_cost = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True)
    law_enforcement_notified = serializers.BooleanField(required=False)
    insurer_notified = serializers.BooleanField(required=False)
    help_wanted = serializers.CharField(required=False, allow_blank=True)
    indicators = serializers.CharField(required=False, allow_blank=True)


class CreateSerializer(FactsSerializer):
    organization = serializers.IntegerField(help_text="Id of your organisation the incident happened to.")
    submit = serializers.BooleanField(required=False, default=False, help_text="Send it to the state at once.")


class RevisionSerializer(FactsSerializer):
    revision = serializers.IntegerField(help_text="The report's revision when you read it (stale writes are refused).")


class UpdateSerializer(RevisionSerializer):
    note = serializers.CharField(required=False, allow_blank=True)


def _facts(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k in services.REPORT_FIELDS}


@extend_schema(tags=["incident reports"])
class IncidentReportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Incident reports: confidential to the reporting organisation and the state's analysts and liaisons."""

    lookup_field = "uuid"

    serializer_class = IncidentReportSerializer

    def get_queryset(self) -> Any:
        qs = (
            IncidentReport.objects.visible_to(self.request.user)
            .select_related("organization")
            .prefetch_related("updates")
        )
        if self.action == "list":
            for name in ("status", "state", "category"):
                value = self.request.query_params.get(name)
                if value:
                    qs = qs.filter(**{name: value})
        return qs

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        services.audit_list(request.user, len(response.data.get("results", [])), "report list (API)")
        return response

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        report = self.get_object()
        services.audit_read(request.user, report, "report (API)")
        return Response(represented(IncidentReportSerializer, report))

    @extend_schema(request=CreateSerializer, responses={201: IncidentReportSerializer})
    def create(self, request: Request) -> Response:
        data = validated(CreateSerializer, request.data)
        user = acting_user(request)
        org = None
        if data["organization"] in writer_org_ids(viewer_for(user)):
            # Only what filing reads (the rules' tests, the clocks' time zone, the documents): a whole
            # directory row costs more to build than the report's INSERT.
            org = _FILING_ORG.instance(Organization, data["organization"])
        if org is None:
            raise PermissionDenied("You can report incidents only for an organisation you are an approved member of.")
        report = services.report_file(actor=user, organization=org, data=_facts(data), submit=bool(data.get("submit")))
        # A new report has no supplemental updates: no query to find that out.
        report._prefetched_objects_cache = {"updates": ReportUpdate.objects.none()}  # type: ignore[attr-defined]
        return Response(represented(IncidentReportSerializer, report), status=status.HTTP_201_CREATED)

    @extend_schema(request=RevisionSerializer, responses={200: IncidentReportSerializer})
    def partial_update(self, request: Request, uuid: str | None = None) -> Response:
        report = self.get_object()
        data = validated(RevisionSerializer, request.data)
        report = services.report_save(
            actor=acting_user(request), report=report, data=_facts(data), revision=data["revision"]
        )
        return Response(represented(IncidentReportSerializer, report))

    @extend_schema(request=RevisionSerializer, responses={200: IncidentReportSerializer})
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, uuid: str | None = None) -> Response:
        report = self.get_object()
        data = validated(RevisionSerializer, request.data)
        report = services.report_submit(
            actor=acting_user(request), report=report, revision=data["revision"], data=_facts(data)
        )
        return Response(represented(IncidentReportSerializer, report))

    @extend_schema(request=UpdateSerializer, responses={201: ReportUpdateSerializer})
    @action(detail=True, methods=["post"])
    def updates(self, request: Request, uuid: str | None = None) -> Response:
        report = self.get_object()
        data = validated(UpdateSerializer, request.data)
        update = services.report_update(
            actor=acting_user(request),
            report=report,
            data=_facts(data),
            note=data.get("note", ""),
            revision=data["revision"],
        )
        return Response(represented(ReportUpdateSerializer, update), status=status.HTTP_201_CREATED)
