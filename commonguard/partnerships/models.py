"""Partnerships between the state and its local governments: the shared library, partnership
initiatives, liaison engagements, events, grant programmes with their sub-awards
(docs/adr/0025-partnerships-library-events-grants.md)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from commonguard.core.models import TimeStampedModel
from commonguard.core.tlp import TLP
from commonguard.orgs.states import STATE_CHOICES
from commonguard.partnerships.querysets import (
    EngagementQuerySet,
    EventQuerySet,
    GrantProgramQuerySet,
    InitiativeChildQuerySet,
    InitiativeQuerySet,
    LocalNeedQuerySet,
    RegistrationQuerySet,
    ResourcePartQuerySet,
    ResourceQuerySet,
    SubAwardQuerySet,
    VolunteerMatchQuerySet,
    VolunteerOfferQuerySet,
)

# --- Shared library --------------------------------------------------------------------------


class Tag(models.Model):
    name = models.CharField(max_length=40, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def _library_upload_path(instance: Resource, filename: str) -> str:
    # Never the uploader's file name on disk: it is kept in `file_name` and sent only as a download name.
    return f"library/{uuid.uuid4().hex}"


class Resource(TimeStampedModel):
    """A policy, playbook, template, tool, cooperative contract, after-action report or best practice:
    an uploaded file or a link, labelled with TLP and read by the same rule as alerts."""

    class Kind(models.TextChoices):
        POLICY = "policy", "Policy"
        PLAYBOOK = "playbook", "Playbook"
        TEMPLATE = "template", "Template"
        TOOL = "tool", "Tool"
        CONTRACT = "contract", "Cooperative contract"
        AFTER_ACTION = "after_action", "After-action report"
        BEST_PRACTICE = "best_practice", "Best practice"

    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    summary = models.TextField(help_text="What it is and when to use it (Markdown).")
    url = models.URLField(blank=True, max_length=500)
    file = models.FileField(upload_to=_library_upload_path, blank=True, max_length=200)
    file_name = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=120, blank=True)
    file_size = models.PositiveIntegerField(default=0)
    tlp = models.CharField(max_length=16, choices=TLP.choices, default=TLP.GREEN)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    author_org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    recipient_orgs = models.ManyToManyField("orgs.Organization", related_name="+", blank=True)
    recipient_groups = models.ManyToManyField("sharing.SharingGroup", related_name="+", blank=True)
    recipient_people = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+", blank=True)
    tags = models.ManyToManyField(Tag, related_name="resources", blank=True)
    # NIST CSF 2.0 category codes ("PR.AA ID.RA"): the posture improvement plan links weak categories here.
    csf_categories = models.CharField(max_length=200, blank=True)

    objects = ResourceQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(url="") | ~Q(file=""), name="resource_has_file_or_link"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def csf_category_list(self) -> list[str]:
        return self.csf_categories.split()


class ResourceUse(models.Model):
    """An organisation says it uses a resource ("used by N organisations")."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="uses")
    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    marked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ResourcePartQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["resource", "organization"], name="resource_use_once")]

    def __str__(self) -> str:
        return f"use of resource {self.resource_id}"


class ResourceComment(models.Model):
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    author_org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ResourcePartQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"comment on resource {self.resource_id}"


# --- Partnership initiatives -----------------------------------------------------------------


class Initiative(TimeStampedModel):
    """A regional SOC cooperative, a shared procurement, a broadband programme..."""

    class Status(models.TextChoices):
        PLANNING = "planning", "Planning"
        ON_TRACK = "on_track", "On track"
        AT_RISK = "at_risk", "At risk"
        OFF_TRACK = "off_track", "Off track"
        COMPLETED = "completed", "Completed"

    title = models.CharField(max_length=200)
    description = models.TextField(help_text="Markdown.")
    state = models.CharField(max_length=2, choices=STATE_CHOICES)
    lead_org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLANNING)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    objects = InitiativeQuerySet.as_manager()

    class Meta:
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title


class Partner(models.Model):
    initiative = models.ForeignKey(Initiative, on_delete=models.CASCADE, related_name="partners")
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    expectations = models.TextField(blank=True, help_text="What this partner has agreed to do.")

    objects = InitiativeChildQuerySet.as_manager()

    class Meta:
        ordering = ["organization__sort_name"]
        constraints = [models.UniqueConstraint(fields=["initiative", "organization"], name="partner_once")]

    def __str__(self) -> str:
        return f"partner {self.organization_id} of initiative {self.initiative_id}"


class Goal(models.Model):
    initiative = models.ForeignKey(Initiative, on_delete=models.CASCADE, related_name="goals")
    text = models.CharField(max_length=300)
    met = models.BooleanField(default=False)

    objects = InitiativeChildQuerySet.as_manager()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.text


class Milestone(models.Model):
    initiative = models.ForeignKey(Initiative, on_delete=models.CASCADE, related_name="milestones")
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    owner_org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    due_on = models.DateField()
    done_on = models.DateField(null=True, blank=True)

    objects = InitiativeChildQuerySet.as_manager()

    class Meta:
        ordering = ["due_on", "id"]

    def __str__(self) -> str:
        return self.title

    def is_overdue(self, today: date) -> bool:
        return self.done_on is None and self.due_on < today


class ProgressNote(models.Model):
    initiative = models.ForeignKey(Initiative, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Initiative.Status.choices)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = InitiativeChildQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"progress on initiative {self.initiative_id}"


# --- Liaison engagements ---------------------------------------------------------------------


class Engagement(models.Model):
    class Kind(models.TextChoices):
        VISIT = "visit", "Visit"
        CALL = "call", "Call"
        TRAINING = "training", "Training"
        TABLETOP = "tabletop", "Tabletop exercise"
        ASSESSMENT_REVIEW = "assessment_review", "Assessment review"
        GRANT_HELP = "grant_help", "Grant help"

    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    liaison = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    occurred_on = models.DateField()
    summary = models.TextField()
    follow_up = models.CharField(max_length=300, blank=True)
    follow_up_due = models.DateField(null=True, blank=True)
    follow_up_done_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = EngagementQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_on", "-id"]
        indexes = [models.Index(fields=["organization", "occurred_on"], name="engagement_org_date")]

    def __str__(self) -> str:
        return f"{self.kind} with {self.organization_id} on {self.occurred_on}"


# --- Events ----------------------------------------------------------------------------------


class Event(TimeStampedModel):
    class Kind(models.TextChoices):
        BRIEFING = "briefing", "State programme briefing"
        TRAINING = "training", "Training"
        EXERCISE = "exercise", "Exercise"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    description = models.TextField(help_text="Markdown.")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    location = models.CharField(max_length=200)
    capacity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    state = models.CharField(max_length=2, choices=STATE_CHOICES)
    organizer_org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    cancelled = models.BooleanField(default=False)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="event_ends_after")]

    def __str__(self) -> str:
        return self.title


class Registration(models.Model):
    class Status(models.TextChoices):
        REGISTERED = "registered", "Registered"
        WAITLISTED = "waitlisted", "On the waiting list"
        CANCELLED = "cancelled", "Cancelled"

    OPEN_STATUSES = (Status.REGISTERED, Status.WAITLISTED)

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="registrations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    attended = models.BooleanField(null=True, blank=True)

    objects = RegistrationQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "user"],
                condition=Q(status__in=["registered", "waitlisted"]),
                name="registration_one_open",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} for event {self.event_id}: {self.status}"


class CalendarFeed(models.Model):
    """A person's iCalendar feed: an unguessable token in the URL (only its hash is stored), revocable."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"calendar feed of {self.user_id}"


# --- Grants ----------------------------------------------------------------------------------


class GrantProgram(TimeStampedModel):
    """A federal programme the state passes through (e.g. SLCGP FY2025)."""

    name = models.CharField(max_length=200)
    state = models.CharField(max_length=2, choices=STATE_CHOICES)
    fiscal_year = models.PositiveSmallIntegerField(validators=[MinValueValidator(2000), MaxValueValidator(2100)])
    federal_award = models.DecimalField(max_digits=14, decimal_places=2, validators=[MinValueValidator(Decimal(1))])
    cost_share_rate = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
        help_text="The non-federal share required, in per cent of each sub-award (e.g. 10 for FY2022, 40 for FY2025).",
    )
    local_share_minimum = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal(80))
    rural_share_minimum = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal(25))
    rural_population_limit = models.PositiveIntegerField(default=50_000)
    administrator = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")

    objects = GrantProgramQuerySet.as_manager()

    class Meta:
        ordering = ["-fiscal_year", "name"]
        constraints = [models.UniqueConstraint(fields=["state", "name", "fiscal_year"], name="grant_program_once")]

    def __str__(self) -> str:
        return f"{self.name} FY{self.fiscal_year}"


class SubAward(TimeStampedModel):
    class Status(models.TextChoices):
        APPLIED = "applied", "Applied"
        AWARDED = "awarded", "Awarded"
        ACTIVE = "active", "Active"
        CLOSED = "closed", "Closed"
        DECLINED = "declined", "Declined"

    # What counts toward the pass-through: money committed to the locality.
    COMMITTED = (Status.AWARDED, Status.ACTIVE, Status.CLOSED)

    program = models.ForeignKey(GrantProgram, on_delete=models.CASCADE, related_name="sub_awards")
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(max_digits=14, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))])
    match_amount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))
    objective = models.CharField(max_length=200)
    project = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.APPLIED)
    self_assessment_done = models.BooleanField(default=False)

    objects = SubAwardQuerySet.as_manager()

    class Meta:
        ordering = ["organization__sort_name", "id"]

    def __str__(self) -> str:
        return f"sub-award {self.pk} to {self.organization_id}"


# --- Volunteers and interns ------------------------------------------------------------------


class VolunteerOffer(TimeStampedModel):
    """Students a university offers (interns, clinics) or expertise a resident offers."""

    class Kind(models.TextChoices):
        STUDENTS = "students", "University students or interns"
        EXPERTISE = "expertise", "A resident's expertise"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        MATCHED = "matched", "Matched"
        CLOSED = "closed", "Closed"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    offered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=2, choices=STATE_CHOICES)
    title = models.CharField(max_length=200)
    skills = models.CharField(max_length=300, help_text="e.g. network scanning, policy writing, phishing training")
    hours_per_month = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    # Kept by volunteer_match under a row lock (select_for_update), never set from a stale copy.
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    # The liaison's vetting; a vetted, matched resident can be handed to a mutual-aid programme's roster.
    vetted_at = models.DateTimeField(null=True, blank=True)
    vetted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    roster_responder = models.ForeignKey(
        "mutualaid.Responder", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = VolunteerOfferQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class LocalNeed(TimeStampedModel):
    """Help a local government asks for."""

    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    posted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=200)
    description = models.TextField()
    skills = models.CharField(max_length=300)
    status = models.CharField(max_length=16, choices=VolunteerOffer.Status.choices, default=VolunteerOffer.Status.OPEN)

    objects = LocalNeedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class VolunteerMatch(models.Model):
    offer = models.ForeignKey(VolunteerOffer, on_delete=models.CASCADE, related_name="matches")
    need = models.ForeignKey(LocalNeed, on_delete=models.CASCADE, related_name="matches")
    matched_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = VolunteerMatchQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["offer", "need"], name="volunteer_match_once")]

    def __str__(self) -> str:
        return f"offer {self.offer_id} for need {self.need_id}"
