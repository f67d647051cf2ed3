"""Measurement: the CSF 2.0 posture self-assessment, the annual relationship survey, and who owns
the survey in each state. Read rules are in querysets.py; aggregates (k-anonymous) in stats.py."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from commonguard.measurement.querysets import AssessmentQuerySet, SurveyOwnerQuerySet, SurveyResponseQuerySet
from commonguard.orgs.states import STATE_CHOICES

MIN_SCORE = 1
MAX_SCORE = 7
RECOMMENDED_MINIMUM = 5

# The NCSR seven-point maturity scale, which CIS/MS-ISAC use with the NIST CSF (5 = the minimum).
SCORE_LABELS: dict[int, str] = {
    1: "Not performed",
    2: "Informally performed",
    3: "Documented policy",
    4: "Partially documented standards and/or procedures",
    5: "Implementation in process",
    6: "Tested and verified",
    7: "Optimised",
}


class CsfFunction(models.Model):
    code = models.CharField(max_length=2, primary_key=True)
    title = models.CharField(max_length=40)
    order = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["order"]

    def __str__(self) -> str:
        return f"{self.title} ({self.code})"


class CsfCategory(models.Model):
    code = models.CharField(max_length=8, primary_key=True)
    function = models.ForeignKey(CsfFunction, on_delete=models.PROTECT, related_name="categories")
    title = models.CharField(max_length=120)
    statement = models.TextField(blank=True)
    order = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["order"]
        verbose_name_plural = "CSF categories"

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class CsfSubcategory(models.Model):
    code = models.CharField(max_length=12, primary_key=True)
    category = models.ForeignKey(CsfCategory, on_delete=models.PROTECT, related_name="subcategories")
    statement = models.TextField()
    order = models.PositiveIntegerField()

    class Meta:
        ordering = ["order"]
        verbose_name_plural = "CSF subcategories"

    def __str__(self) -> str:
        return self.code


class Assessment(models.Model):
    """One organisation's self-assessment for one year. Private to the organisation."""

    class Status(models.TextChoices):
        DRAFT = "draft", "In progress"
        SUBMITTED = "submitted", "Submitted"

    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="assessments")
    year = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Written when submitted, so benchmarks and the dashboard read one row per organisation:
    # the mean score overall and by CSF category ("GV.OC": 4.2, ...) and function ("GV": 4.0, ...).
    overall = models.FloatField(null=True, blank=True)
    means = models.JSONField(default=dict, blank=True)

    objects = AssessmentQuerySet.as_manager()

    class Meta:
        ordering = ["organization_id", "-year"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "year"], name="assessment_one_per_org_year"),
        ]
        indexes = [models.Index(fields=["year", "status"], name="assessment_year_status")]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.year}"


class AssessmentScore(models.Model):
    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="scores")
    subcategory = models.ForeignKey(CsfSubcategory, on_delete=models.PROTECT, related_name="+")
    score = models.PositiveSmallIntegerField()
    evidence = models.TextField(blank=True, help_text="What shows this score: documents, tests, tickets.")
    notes = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["subcategory__order"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "subcategory"], name="score_one_per_subcategory"),
            models.CheckConstraint(
                condition=Q(score__gte=MIN_SCORE) & Q(score__lte=MAX_SCORE), name="score_between_1_and_7"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subcategory_id}: {self.score}"


class Rating(models.TextChoices):
    EXCELLENT = "excellent", "Excellent"
    FAIR = "fair", "Fair"
    POOR = "poor", "Poor"


# The three dimensions of the relationship, in the wording of CompTIA PTI's national survey.
DIMENSIONS: tuple[tuple[str, str], ...] = (
    ("information_sharing", "Information sharing"),
    ("resource_sharing", "Resource sharing"),
    ("education_training", "Education and training"),
)


class SizeBand(models.TextChoices):
    SMALL = "small", "Under 10,000 people"
    RURAL = "rural", "10,000 to 49,999 people"
    MEDIUM = "medium", "50,000 to 249,999 people"
    LARGE = "large", "250,000 people or more"
    UNKNOWN = "unknown", "Population not known"


def size_band_for(population: int | None) -> str:
    if population is None:
        return SizeBand.UNKNOWN
    if population < 10_000:
        return SizeBand.SMALL
    if population < 50_000:
        return SizeBand.RURAL
    if population < 250_000:
        return SizeBand.MEDIUM
    return SizeBand.LARGE


class SurveyOwner(models.Model):
    """A person who may read individual survey answers of one state (granted by the operator)."""

    state = models.CharField(max_length=2, choices=STATE_CHOICES)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="survey_ownerships")
    granted_at = models.DateTimeField(auto_now_add=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = SurveyOwnerQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["state", "user"], name="survey_owner_once")]

    def __str__(self) -> str:
        return f"{self.user_id} owns the {self.state} survey"


class SurveyResponse(models.Model):
    """One local government's answer to the relationship survey of one year (one per year).

    Region and size band are copied from the organisation when it answers, so a later change to
    the directory does not move past answers between cells."""

    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="survey_responses")
    year = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=2, choices=STATE_CHOICES)
    region = models.ForeignKey("orgs.Region", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    size_band = models.CharField(max_length=16, choices=SizeBand.choices)
    county_fips = models.CharField(max_length=5, blank=True)
    information_sharing = models.CharField(max_length=16, choices=Rating.choices)
    resource_sharing = models.CharField(max_length=16, choices=Rating.choices)
    education_training = models.CharField(max_length=16, choices=Rating.choices)
    comments = models.TextField(blank=True)
    respondent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField()

    objects = SurveyResponseQuerySet.as_manager()

    class Meta:
        ordering = ["-year", "organization_id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "year"], name="survey_one_answer_per_org_year"),
        ]
        indexes = [models.Index(fields=["state", "year"], name="survey_state_year")]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.year}"


class Survey(models.Model):
    """One state's relationship survey of one year. Answers are taken only while it is open;
    opening it invites every local government's IT lead by e-mail (outbox: `SurveyMail`)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    state = models.CharField(max_length=2, choices=STATE_CHOICES)
    year = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField()
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["state", "-year"]
        constraints = [models.UniqueConstraint(fields=["state", "year"], name="survey_one_per_state_year")]

    def __str__(self) -> str:
        return f"{self.state} survey {self.year} ({self.status})"


class SurveyInvitation(models.Model):
    """The survey sent to one IT lead (an admin) of one local government. The answer link in the
    e-mail is a signed reference to this row; it works once (`used_at`), for its recipient only."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="invitations")
    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)
    reminders = models.PositiveSmallIntegerField(default=0)
    last_mailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["survey_id", "organization_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["survey", "organization", "recipient"], name="survey_invitation_once")
        ]

    def __str__(self) -> str:
        return f"invitation {self.pk} to {self.recipient_id} for {self.organization_id}"


class SurveyMail(models.Model):
    """The outbox of survey e-mail (invitations and reminders): written in the transaction that
    opens the survey or asks for reminders, worked off by `survey_mail` (claim, send, record)."""

    class Kind(models.TextChoices):
        INVITATION = "invitation", "Invitation"
        REMINDER = "reminder", "Reminder"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        RETRY = "retry", "Failed, to be tried again"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Not needed any more"
        FAILED = "failed", "Failed"

    invitation = models.ForeignKey(SurveyInvitation, on_delete=models.CASCADE, related_name="mails")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    key = models.CharField(max_length=80, unique=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    claim = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "claimed_at"], name="survey_mail_due")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}: {self.status}"
