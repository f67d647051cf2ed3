"""The measurement API (under /api/v1/measurement/): every figure the pages show, as JSON.
The same read rules as the pages: what a person may not read is a 404."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from commonguard.accounts.viewer import viewer_for
from commonguard.measurement import dashboard as dash
from commonguard.measurement import services, stats, surveys
from commonguard.measurement.layers import LAYERS
from commonguard.measurement.models import DIMENSIONS, MAX_SCORE, MIN_SCORE, Assessment, Rating
from commonguard.orgs.models import Organization
from commonguard.web.http import acting_user


class AlreadyAnswered(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "already_answered"
    default_detail = "This organisation has already answered this year's survey."


class SurveyNotOpen(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "survey_closed"
    default_detail = "This year's survey is not open."


def _int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise exceptions.ValidationError({name: ["A whole number."]}) from None


@extend_schema(
    tags=["measurement"],
    parameters=[OpenApiParameter("layer", str, enum=list(LAYERS)), OpenApiParameter("year", int)],
    responses={200: dict},
)
@api_view(["GET"])
def dashboard(request: Request) -> Response:
    """One map layer by county for one year, and every layer's trend (state staff only)."""
    years = dash.dashboard_years()
    layer = request.query_params.get("layer") or "alerts"
    year = _int(request, "year", years[-1])
    if layer not in LAYERS:
        raise exceptions.ValidationError({"layer": [f"One of: {', '.join(LAYERS)}."]})
    if year not in years:
        raise exceptions.ValidationError({"year": [f"From {years[0]} to {years[-1]}."]})
    try:
        board = dash.dashboard_for(user=acting_user(request), state=stats.hub_state(), layer_key=layer, year=year)
    except dash.NotStateStaff:
        raise Http404 from None
    return Response(board.as_json())


@extend_schema(tags=["measurement"], parameters=[OpenApiParameter("year", int)], responses={200: dict})
@api_view(["GET"])
def survey_results(request: Request) -> Response:
    """The relationship survey of a year, combined (k-anonymous), with the trend and the baseline."""
    state = stats.hub_state()
    years = stats.survey_years(state)
    year = _int(request, "year", years[0] if years else 0)
    body = stats.survey_results(state, year).as_json()
    body["trend"] = [c.as_json() for c in stats.survey_trend(state)]
    return Response(body)


class SurveyAnswerSerializer(serializers.Serializer):
    organization = serializers.IntegerField()
    information_sharing = serializers.ChoiceField(choices=Rating.choices)
    resource_sharing = serializers.ChoiceField(choices=Rating.choices)
    education_training = serializers.ChoiceField(choices=Rating.choices)
    comments = serializers.CharField(required=False, allow_blank=True, max_length=4000)


@extend_schema(tags=["measurement"], request=SurveyAnswerSerializer, responses={201: dict})
@api_view(["POST"])
def survey_answer(request: Request) -> Response:
    """Answer this year's survey for a local government you are the IT lead (admin) of. A second
    answer in the same year is a 409 and changes nothing."""
    from django.utils import timezone

    data = SurveyAnswerSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    org_id = data.validated_data["organization"]
    if org_id not in viewer_for(request.user).org_ids:
        raise Http404
    org = Organization.objects.get(pk=org_id)
    try:
        response = services.survey_answer_submit(
            actor=acting_user(request),
            organization=org,
            year=timezone.now().year,
            ratings={f: data.validated_data[f] for f, _ in DIMENSIONS},
            comments=data.validated_data.get("comments", ""),
        )
    except services.SurveyAlreadyAnswered as exc:
        raise AlreadyAnswered(exc.messages[0]) from None
    except surveys.SurveyClosed as exc:
        raise SurveyNotOpen(exc.messages[0]) from None
    return Response({"organization": org.pk, "year": response.year}, status=status.HTTP_201_CREATED)


def _assessment_json(a: Assessment) -> dict[str, Any]:
    return {
        "id": a.pk,
        "organization": a.organization_id,
        "year": a.year,
        "status": a.status,
        "overall": a.overall,
        "submitted_at": a.submitted_at,
    }


@extend_schema(tags=["measurement"], responses={200: dict})
@api_view(["GET"])
def assessments(request: Request) -> Response:
    """Your organisations' self-assessments (private to each organisation)."""
    rows = Assessment.objects.visible_to(request.user).order_by("organization_id", "-year")
    return Response({"results": [_assessment_json(a) for a in rows]})


def _visible_assessment(request: Request, pk: int) -> Assessment:
    assessment = Assessment.objects.visible_to(request.user).select_related("organization").filter(pk=pk).first()
    if assessment is None:
        raise Http404
    return assessment


@extend_schema(tags=["measurement"], responses={200: dict})
@api_view(["GET"])
def assessment_results(request: Request, pk: int) -> Response:
    """Results by function and category, with the k-anonymous peer mean and the previous year."""
    return Response(stats.assessment_results(_visible_assessment(request, pk)).as_json())


class ScoreSerializer(serializers.Serializer):
    subcategory = serializers.CharField(max_length=12)
    score = serializers.IntegerField(
        allow_null=True,
        min_value=MIN_SCORE,
        max_value=MAX_SCORE,
        error_messages={
            "min_value": f"A score is a whole number from {MIN_SCORE} to {MAX_SCORE}.",
            "max_value": f"A score is a whole number from {MIN_SCORE} to {MAX_SCORE}.",
        },
    )
    evidence = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")
    notes = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")


@extend_schema(tags=["measurement"], request=ScoreSerializer(many=True), responses={200: dict})
@api_view(["POST"])
def assessment_scores(request: Request, pk: int) -> Response:
    """Save scores (1–7) with evidence and notes; one bad entry refuses all (400), nothing stored."""
    assessment = _visible_assessment(request, pk)
    data = ScoreSerializer(data=request.data, many=True)
    data.is_valid(raise_exception=True)
    entries = {
        row["subcategory"]: services.ScoreEntry(row["score"], row.get("evidence", ""), row.get("notes", ""))
        for row in data.validated_data
    }
    scored = services.assessment_scores_save(actor=acting_user(request), assessment=assessment, entries=entries)
    return Response({"scored": scored})
