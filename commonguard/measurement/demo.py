"""Demo data for measurement: five years of relationship-survey answers and CSF self-assessments
for the demo state. Fictional, but shaped like the real thing: the state relationship improves
from about a third "excellent" (the national picture) as the hub matures; posture scores start
below the recommended minimum and rise slowly, supply chain and detection lagging. Idempotent."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from commonguard.accounts.models import Membership, Role, User
from commonguard.measurement.models import (
    DIMENSIONS,
    Assessment,
    AssessmentScore,
    CsfSubcategory,
    Rating,
    Survey,
    SurveyOwner,
    SurveyResponse,
    size_band_for,
)
from commonguard.measurement.services import assessment_means
from commonguard.orgs.models import Organization
from commonguard.orgs.states import State

YEARS = 5
ASSESSING_ORGS = 260  # the largest local governments self-assess (plus every demo organisation)
SURVEY_SHARE = 0.45  # share of local governments answering each year

# Categories that lag in real NCSR results, and those that lead.
_CATEGORY_BIAS = {
    "GV.SC": -0.9,
    "DE.AE": -0.6,
    "DE.CM": -0.4,
    "ID.AM": -0.3,
    "RC.RP": -0.4,
    "RS.AN": -0.3,
    "PR.AA": 0.4,
    "PR.AT": 0.5,
    "GV.RR": 0.2,
    "PR.PS": 0.2,
}
_EVIDENCE = [
    "Policy approved by the board; reviewed annually.",
    "Vendor assessment questionnaire on file for critical suppliers.",
    "Quarterly tabletop exercise after-action report.",
    "MFA enforced for all remote and administrative access (IdP report).",
    "Asset inventory exported from the endpoint management console.",
    "Phishing simulation results, last 12 months.",
    "Backups tested by a restore drill; results logged.",
    "",
]
_COMMENTS = [
    "The weekly threat briefings are useful; more notice before trainings would help.",
    "We would like shared procurement for endpoint protection.",
    "Our liaison visited twice this year; very helpful with the grant application.",
    "Hard to find the right contact after hours.",
    "Training is good but too far to travel; please offer more online.",
    "Alerts arrive quickly now. Resource sharing is still mostly on paper.",
    "",
    "",
]


def _rating(rng: random.Random, p_excellent: float, p_poor: float) -> str:
    x = rng.random()
    if x < p_excellent:
        return Rating.EXCELLENT
    if x < p_excellent + p_poor:
        return Rating.POOR
    return Rating.FAIR


@transaction.atomic
def seed_demo(state: State) -> dict[str, int]:
    """Seed the demo state's measurement data (once: skipped when assessments already exist)."""
    now = timezone.now()
    this_year = now.year
    years = list(range(this_year - YEARS + 1, this_year + 1))
    local = list(
        Organization.objects.filter(
            state=state.postal,
            kind__in=Organization.LOCAL_GOVERNMENT_KINDS,
            status=Organization.Status.APPROVED,
        ).order_by("-population", "id")
    )
    demo_member_orgs = set(
        Membership.objects.filter(user__email__endswith="@demo.test", status=Membership.Status.APPROVED).values_list(
            "organization_id", flat=True
        )
    )
    liaison = User.objects.filter(email="liaison@demo.test").first()
    if liaison is not None:
        SurveyOwner.objects.get_or_create(state=state.postal, user=liaison)
        # Past surveys closed; this year's open, its IT leads invited (the outbox sends in run-demo).
        for year in years[:-1]:
            Survey.objects.get_or_create(
                state=state.postal,
                year=year,
                defaults={"status": Survey.Status.CLOSED, "opened_at": datetime(year, 2, 1, 15, tzinfo=UTC)},
            )
        if not Survey.objects.filter(state=state.postal, year=years[-1]).exists():
            from commonguard.measurement.surveys import survey_open

            survey_open(actor=liaison, state=state.postal, year=years[-1])
    if Assessment.objects.filter(organization__state=state.postal).exists():
        return {"assessments": 0, "answers": 0}

    if not CsfSubcategory.objects.exists():  # a database flushed since its migrations
        from django.core.management import call_command

        call_command("csf_load", verbosity=0)
    subcategories = list(CsfSubcategory.objects.values_list("code", "category_id"))
    assessing = [o for o in local[:ASSESSING_ORGS]] + [o for o in local if o.pk in demo_member_orgs]
    assessing = list({o.pk: o for o in assessing}.values())
    # The demo IT lead answers this year's survey themselves: leave their organisations out of it.
    demo_admin_orgs = set(
        Membership.objects.filter(
            user__email__endswith="@demo.test", role=Role.ORG_ADMIN, status=Membership.Status.APPROVED
        ).values_list("organization_id", flat=True)
    )
    assessments = 0
    score_rows: list[AssessmentScore] = []
    for org in assessing:
        rng = random.Random(f"posture:{org.pk}")  # noqa: S311 - fictional demo figures
        base = rng.uniform(2.6, 4.6) + (0.3 if (org.population or 0) > 100_000 else 0.0)
        start_year = rng.choice(years[:3]) if org.pk not in demo_member_orgs else years[0]
        for year in years:
            if year < start_year:
                continue
            level = base + 0.22 * (year - years[0]) + rng.uniform(-0.15, 0.15)
            submitted = datetime(year, rng.randint(2, 10), rng.randint(1, 28), 15, tzinfo=UTC)
            if submitted > now:
                submitted = now - timedelta(days=1)
            assessment = Assessment.objects.create(
                organization=org,
                year=year,
                status=Assessment.Status.SUBMITTED,
                submitted_at=submitted,
            )
            pairs = []
            for code, category in subcategories:
                value = level + _CATEGORY_BIAS.get(category, 0.0) + rng.gauss(0, 0.7)
                score = max(1, min(7, round(value)))
                pairs.append((code, score))
                score_rows.append(
                    AssessmentScore(
                        assessment=assessment,
                        subcategory_id=code,
                        score=score,
                        evidence=rng.choice(_EVIDENCE) if org.pk in demo_member_orgs else "",
                    )
                )
            assessment.overall, assessment.means = assessment_means(pairs)
            assessment.save(update_fields=["overall", "means"])
            assessments += 1
        if len(score_rows) > 20_000:
            AssessmentScore.objects.bulk_create(score_rows)
            score_rows = []
    AssessmentScore.objects.bulk_create(score_rows)

    answers: list[SurveyResponse] = []
    for index, year in enumerate(years):
        # From about a third excellent and a quarter poor, improving as the hub matures.
        p_excellent = 0.31 + 0.035 * index
        p_poor = 0.25 - 0.03 * index
        for org in local:
            rng = random.Random(f"survey:{org.pk}:{year}")  # noqa: S311 - fictional demo figures
            if rng.random() > SURVEY_SHARE and org.pk not in demo_member_orgs:
                continue
            if year == this_year and org.pk in demo_admin_orgs:
                continue
            small = (org.population or 0) < 10_000
            ratings = {
                "information_sharing": _rating(rng, p_excellent + 0.05, p_poor - 0.03),
                "resource_sharing": _rating(rng, p_excellent - 0.08 - (0.05 if small else 0), p_poor + 0.05),
                "education_training": _rating(rng, p_excellent, p_poor),
            }
            answered = datetime(year, rng.randint(1, 3), rng.randint(1, 28), 14, tzinfo=UTC)
            if answered > now:
                answered = now - timedelta(hours=1)
            answers.append(
                SurveyResponse(
                    organization=org,
                    year=year,
                    state=state.postal,
                    region_id=org.region_id,
                    size_band=size_band_for(org.population),
                    county_fips=org.county_fips,
                    comments=rng.choice(_COMMENTS),
                    submitted_at=answered,
                    **{f: ratings[f] for f, _ in DIMENSIONS},
                )
            )
    SurveyResponse.objects.bulk_create(answers, batch_size=2000)
    return {"assessments": assessments, "answers": len(answers)}
