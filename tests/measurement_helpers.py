"""Helpers for the measurement tests: local governments, survey answers and assessments in bulk."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from commonguard.measurement.models import (
    Assessment,
    AssessmentScore,
    CsfSubcategory,
    Survey,
    SurveyResponse,
    size_band_for,
)
from commonguard.measurement.services import assessment_means
from commonguard.orgs.models import Organization
from tests.factories import OrganizationFactory


def cities(n: int, *, county_fips: str = "26065", region: Any = None, population: int = 20_000) -> list[Organization]:
    return [
        OrganizationFactory(kind="city", county_fips=county_fips, region=region, population=population)
        for _ in range(n)
    ]


def answer(org: Organization, year: int, rating: str = "fair", **ratings: str) -> SurveyResponse:
    """A stored answer, bypassing the service (for building aggregates quickly)."""
    values = {"information_sharing": rating, "resource_sharing": rating, "education_training": rating, **ratings}
    return SurveyResponse.objects.create(
        organization=org,
        year=year,
        state=org.state,
        region=org.region,
        size_band=size_band_for(org.population),
        county_fips=org.county_fips,
        submitted_at=timezone.now(),
        **values,
    )


def open_survey(year: int, state: str = "MI") -> Survey:
    """This year's survey, open (answers are taken only while it is), without invitations."""
    return Survey.objects.get_or_create(
        state=state, year=year, defaults={"status": Survey.Status.OPEN, "opened_at": timezone.now()}
    )[0]


def submitted(org: Organization, year: int, score: int | dict[str, int] = 4) -> Assessment:
    """A submitted assessment with every subcategory scored `score` (or by category code)."""
    assessment = Assessment.objects.create(
        organization=org, year=year, status=Assessment.Status.SUBMITTED, submitted_at=timezone.now()
    )
    pairs = []
    for code, category in CsfSubcategory.objects.values_list("code", "category_id"):
        value = score if isinstance(score, int) else score.get(category, 4)
        pairs.append((code, value))
    AssessmentScore.objects.bulk_create(
        AssessmentScore(assessment=assessment, subcategory_id=c, score=s) for c, s in pairs
    )
    assessment.overall, assessment.means = assessment_means(pairs)
    assessment.save()
    return assessment


def without_csrf(content: bytes) -> str:
    import re

    return re.sub(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+', r"\1", content.decode())


def ensure_csf() -> None:
    """The CSF catalogue is loaded by a migration; a transactional test (live server) elsewhere in
    the session flushes it, so tests that need it load it again when it is missing."""
    from django.core.management import call_command

    if not CsfSubcategory.objects.exists():
        call_command("csf_load", verbosity=0)
