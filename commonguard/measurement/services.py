"""Every write of measurement: transactional, audited, checked by policies.py first."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from commonguard.core.audit import audit_record
from commonguard.measurement import policies, stats, surveys
from commonguard.measurement.models import (
    DIMENSIONS,
    MAX_SCORE,
    MIN_SCORE,
    Assessment,
    AssessmentScore,
    CsfSubcategory,
    Rating,
    SurveyOwner,
    SurveyResponse,
    size_band_for,
)
from commonguard.orgs.models import Organization


class SurveyAlreadyAnswered(ValidationError):
    """The organisation has answered this year's survey: a second answer is refused, the first kept."""


@dataclass(frozen=True)
class ScoreEntry:
    score: int | None
    evidence: str = ""
    notes: str = ""


def assessment_means(scores: list[tuple[str, int]]) -> tuple[float | None, dict[str, float]]:
    """Mean score overall, by category ("GV.OC") and by function ("GV") from (subcategory, score)."""
    by: dict[str, list[int]] = {}
    for code, score in scores:
        category = code.split("-")[0]
        by.setdefault(category, []).append(score)
        by.setdefault(category.split(".")[0], []).append(score)
    means = {key: round(sum(v) / len(v), 2) for key, v in by.items()}
    overall = round(sum(s for _, s in scores) / len(scores), 2) if scores else None
    return overall, means


def _refresh_means(assessment: Assessment) -> None:
    rows = list(assessment.scores.values_list("subcategory_id", "score"))
    assessment.overall, assessment.means = assessment_means(rows)


@transaction.atomic
def assessment_start(*, actor: Any, organization: Organization, year: int) -> Assessment:
    """The organisation's assessment of `year`, created on first use by an admin or member."""
    policies.require_assessment_editor(actor, organization.pk)
    assessment, created = Assessment.objects.get_or_create(organization=organization, year=year)
    if created:
        audit_record(
            actor=actor,
            action="assessment.start",
            summary=f"Started the {year} CSF self-assessment",
            organization=organization,
            target=assessment,
        )
    return assessment


def _validate_entries(entries: Mapping[str, ScoreEntry], known: set[str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for code, entry in entries.items():
        if code not in known:
            errors[code] = f"{code} is not a NIST CSF 2.0 subcategory."
        elif entry.score is not None and not (MIN_SCORE <= entry.score <= MAX_SCORE):
            errors[code] = (
                f"{code}: a score is a whole number from {MIN_SCORE} to {MAX_SCORE} (you gave {entry.score})."
            )
        elif entry.score is None and (entry.evidence.strip() or entry.notes.strip()):
            errors[code] = f"{code}: give a score from {MIN_SCORE} to {MAX_SCORE} with the evidence and notes."
    return errors


@transaction.atomic
def assessment_scores_save(*, actor: Any, assessment: Assessment, entries: Mapping[str, ScoreEntry]) -> int:
    """Save scores (1–7), evidence and notes for subcategories. Every entry is checked before any
    write: one bad score refuses the whole save with a message per subcategory, nothing stored.
    An entry without a score clears that subcategory. Returns the number of scored subcategories."""
    policies.require_assessment_editor(actor, assessment.organization_id)
    known = {code for subs in stats.catalogue().subcategories.values() for code, _statement in subs}
    errors = _validate_entries(entries, known)
    if errors:
        raise ValidationError(errors)
    existing = {s.subcategory_id: s for s in assessment.scores.all()}
    to_create, to_update, to_delete = [], [], []
    for code, entry in entries.items():
        row = existing.get(code)
        if entry.score is None:
            if row is not None:
                to_delete.append(row.pk)
            continue
        if row is None:
            to_create.append(
                AssessmentScore(
                    assessment=assessment,
                    subcategory_id=code,
                    score=entry.score,
                    evidence=entry.evidence.strip(),
                    notes=entry.notes.strip(),
                    updated_by=actor,
                )
            )
        elif (row.score, row.evidence, row.notes) != (entry.score, entry.evidence.strip(), entry.notes.strip()):
            row.score, row.evidence, row.notes, row.updated_by = (
                entry.score,
                entry.evidence.strip(),
                entry.notes.strip(),
                actor,
            )
            row.updated_at = timezone.now()
            to_update.append(row)
    AssessmentScore.objects.bulk_create(to_create)
    AssessmentScore.objects.bulk_update(to_update, ["score", "evidence", "notes", "updated_by", "updated_at"])
    AssessmentScore.objects.filter(pk__in=to_delete).delete()
    _refresh_means(assessment)
    assessment.save(update_fields=["overall", "means", "updated_at"])
    if to_create or to_update or to_delete:
        audit_record(
            actor=actor,
            action="assessment.scores",
            summary=f"Changed {len(to_create) + len(to_update) + len(to_delete)} scores of the {assessment.year} "
            "self-assessment",
            organization=assessment.organization,
            target=assessment,
        )
    return assessment.scores.count()


@transaction.atomic
def assessment_submit(*, actor: Any, assessment: Assessment) -> Assessment:
    """Submit a complete assessment (every subcategory scored): it then counts in the anonymous
    peer benchmarks and the state's figures. Later score changes keep it submitted."""
    policies.require_assessment_editor(actor, assessment.organization_id)
    missing = CsfSubcategory.objects.exclude(code__in=assessment.scores.values("subcategory_id")).count()
    if missing:
        raise ValidationError(f"Score every subcategory before submitting: {missing} still have no score.")
    _refresh_means(assessment)
    assessment.status = Assessment.Status.SUBMITTED
    assessment.submitted_at = timezone.now()
    assessment.submitted_by = actor
    assessment.save()
    audit_record(
        actor=actor,
        action="assessment.submit",
        summary=f"Submitted the {assessment.year} CSF self-assessment (mean {assessment.overall})",
        organization=assessment.organization,
        target=assessment,
    )
    return assessment


def _rating(value: Any, field: str, errors: dict[str, str]) -> str:
    if value not in Rating.values:
        errors[field] = "Choose excellent, fair or poor."
    return str(value)


@transaction.atomic
def survey_answer_submit(
    *, actor: Any, organization: Organization, year: int, ratings: Mapping[str, Any], comments: str = ""
) -> SurveyResponse:
    """Record the organisation's answer to the `year` survey, while it is open (else SurveyClosed).
    One answer per organisation and year: a second raises SurveyAlreadyAnswered and leaves the first
    unchanged. Every answer link of the organisation for that year stops working."""
    policies.require_survey_answerer(actor, organization)
    surveys.require_open(organization, year)
    errors: dict[str, str] = {}
    values = {field: _rating(ratings.get(field), field, errors) for field, _label in DIMENSIONS}
    if errors:
        raise ValidationError(errors)
    if SurveyResponse.objects.filter(organization=organization, year=year).exists():
        raise SurveyAlreadyAnswered(f"{organization.name} has already answered the {year} survey; one answer a year.")
    try:
        with transaction.atomic():
            response = SurveyResponse.objects.create(
                organization=organization,
                year=year,
                state=organization.state,
                region=organization.region,
                size_band=size_band_for(organization.population),
                county_fips=organization.county_fips,
                comments=comments.strip(),
                respondent=actor,
                submitted_at=timezone.now(),
                **values,
            )
    except IntegrityError:  # answered at the same moment by a colleague
        raise SurveyAlreadyAnswered(
            f"{organization.name} has already answered the {year} survey; one answer a year."
        ) from None
    audit_record(
        actor=actor,
        action="survey.answer",
        summary=f"Answered the {year} relationship survey",
        organization=organization,
        target=response,
    )
    surveys.mark_used(organization, year)
    return response


@transaction.atomic
def survey_owner_grant(*, actor: Any, state: str, user: Any) -> SurveyOwner:
    """The operator names a person who may read the individual survey answers of `state`."""
    policies.require_operator(actor)
    owner, _ = SurveyOwner.objects.get_or_create(state=state, user=user, defaults={"granted_by": actor})
    audit_record(actor=actor, action="survey.owner", summary=f"{user.email} owns the {state} survey", target=owner)
    return owner
