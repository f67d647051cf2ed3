"""The statutory clocks in the REST API, read-only:

- `GET /api/v1/incident-reports/<uuid>/obligations/`: a report's obligations with their sendings, for
  whoever may read the report (its `visible_to`); anyone else gets the same 404 as for a missing report.
  Every read is audited like a read of the report.
- `GET /api/v1/reporting-rules/` and `/<id>/`: the rules with their recipients (the law is public to
  every vetted person; an unvetted one sees an empty list).

Writes (recording a sending, e-mailing, waiving, editing rules) stay on the pages."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from commonguard.incidents.services import audit_read
from commonguard.statutes.models import Obligation, ReportingRule, RuleRecipient, Sending
from commonguard.statutes.rules import RECIPIENT_FIELDS, RULE_FIELDS
from commonguard.statutes.selectors import report_for, report_obligations

NOT_FOUND = "Not found."


class SendingSerializer(serializers.ModelSerializer):
    recorded_by = serializers.SerializerMethodField()

    class Meta:
        model = Sending
        # The evidence itself (a whole e-mail with its PDF) is on the page; its digest is here.
        fields = ("id", "channel", "sent_at", "reference", "evidence_sha256", "late", "recorded_at", "recorded_by")

    def get_recorded_by(self, sending: Sending) -> str:
        return sending.recorded_by.email if sending.recorded_by else ""


class ObligationSerializer(serializers.ModelSerializer):
    rule: serializers.SlugRelatedField = serializers.SlugRelatedField(slug_field="key", read_only=True)
    sendings = SendingSerializer(many=True, read_only=True)

    class Meta:
        model = Obligation
        fields = (
            "id",
            "rule",
            "recipient_name",
            "recipient_email",
            "recipient_portal_url",
            "recipient_phone",
            "citation",
            "trigger",
            "clock_start",
            "clock_started_at",
            "clock_basis",
            "duration",
            "unit",
            "due_at",
            "status",
            "status_note",
            "sent_at",
            "sendings",
        )


class RecipientSerializer(serializers.ModelSerializer):
    class Meta:
        model = RuleRecipient
        fields = (*RECIPIENT_FIELDS, "position")


class ReportingRuleSerializer(serializers.ModelSerializer):
    """A rule as the rules screen edits it (rules.RULE_FIELDS), with its recipients."""

    recipients = RecipientSerializer(many=True, read_only=True)

    class Meta:
        model = ReportingRule
        fields = ("id", "key", *RULE_FIELDS, "updated_at", "recipients")


@extend_schema(
    tags=["statutory clocks"],
    parameters=[OpenApiParameter("report_uuid", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The report.")],
)
class ReportObligationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """A report's statutory obligations (one per recipient and rule, or the default report to the
    state) with their sendings. Only for people who may read the report."""

    serializer_class = ObligationSerializer
    pagination_class = None  # a report has a handful of obligations

    def get_queryset(self) -> Any:
        return Obligation.objects.none()  # the schema's model; list() reads through the report's rule

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        report = report_for(user=request.user, uuid=_uuid(kwargs.get("report_uuid")))
        if report is None:
            raise NotFound(NOT_FOUND)
        obligations = (
            report_obligations(user=request.user, report=report)
            .select_related("rule")
            .prefetch_related("sendings__recorded_by")
            .order_by("due_at", "id")
        )
        audit_read(request.user, report, "obligations (API)")
        return Response(ObligationSerializer(obligations, many=True).data)


def _uuid(value: Any) -> Any:
    import uuid

    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(NOT_FOUND) from None


@extend_schema(tags=["statutory clocks"])
class ReportingRuleViewSet(viewsets.ReadOnlyModelViewSet):
    """The reporting rules (state laws as data) with their recipients, read-only."""

    serializer_class = ReportingRuleSerializer

    def get_queryset(self) -> Any:
        qs = ReportingRule.objects.visible_to(self.request.user).prefetch_related("recipients")
        state = self.request.query_params.get("state")
        return qs.filter(state=state.upper()) if state else qs.order_by("state", "trigger", "duration", "key")
