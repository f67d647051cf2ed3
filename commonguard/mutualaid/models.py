"""Cyber mutual aid: agreements between organisations, the responder roster (skills, credentials,
onboarding), team packages, assistance requests and deployments.

Field lists follow EMAC's request → offer → acceptance → mission order → deployment flow
(research note: reporting-and-mutual-aid.md §1). State changes go through `services.py`, which
checks the transition tables below; the read rules are in `querysets.py`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from commonguard.core.models import TimeStampedModel
from commonguard.mutualaid.querysets import (
    AfterActionQuerySet,
    AgreementQuerySet,
    AssistanceRequestQuerySet,
    DeploymentChildQuerySet,
    DeploymentQuerySet,
    ResponderPrivateQuerySet,
    ResponderQuerySet,
    TeamPackageQuerySet,
)
from commonguard.orgs.models import Organization, county_fips_validator


class Skill(models.Model):
    """One entry of the skills taxonomy (loaded from data/skills.json). `bit` is its position in the
    64-bit skill sets that matching compares (`Responder.skill_bits`)."""

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    category = models.CharField(max_length=40)
    bit = models.PositiveSmallIntegerField(unique=True, validators=[MinValueValidator(0)])

    class Meta:
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=Q(bit__lt=63), name="skill_bit_fits_signed_64")]

    def __str__(self) -> str:
        return self.name


def skill_bits_of(skills: object) -> int:
    """The bit set of an iterable of Skill rows (or of their bit numbers)."""
    bits = 0
    for skill in skills:  # type: ignore[attr-defined]
        bits |= 1 << (skill if isinstance(skill, int) else skill.bit)
    return bits


# --- Agreements ------------------------------------------------------------------------------


class Agreement(TimeStampedModel):
    """A mutual aid agreement: who may call on whom, on what terms. The roles (not persons) allowed
    to request and to offer under it are lists of `accounts.Role` values."""

    class Kind(models.TextChoices):
        STATEWIDE_COMPACT = "statewide_compact", "Statewide compact"
        REGIONAL = "regional", "Regional agreement"
        BILATERAL = "bilateral", "Bilateral agreement"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_FORCE = "in_force", "In force"
        TERMINATED = "terminated", "Terminated"

    class PerDiem(models.TextChoices):
        REQUESTER_RATES = "requester_rates", "Requesting party's rates"
        PROVIDER_RATES = "provider_rates", "Providing party's rates"
        GSA_RATES = "gsa", "Federal GSA per-diem rates"
        NONE = "none", "No per diem (donated)"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    state = models.CharField(max_length=2)
    region = models.ForeignKey("orgs.Region", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    administrator = models.ForeignKey(
        "orgs.Organization",
        on_delete=models.PROTECT,
        related_name="administered_agreements",
        help_text="The organisation that keeps the agreement (state emergency management, a county...).",
    )
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True, help_text="Empty: until terminated.")
    legal_basis = models.CharField(max_length=300, blank=True)
    liability_terms = models.TextField(blank=True)
    workers_comp_terms = models.TextField(blank=True)
    reimbursement_terms = models.TextField(blank=True)
    per_diem_basis = models.CharField(max_length=24, choices=PerDiem.choices, default=PerDiem.REQUESTER_RATES)
    data_handling_terms = models.TextField(blank=True)
    request_roles = models.JSONField(default=list, help_text="Roles that may request assistance under it.")
    offer_roles = models.JSONField(default=list, help_text="Roles that may offer assistance under it.")
    parties: models.ManyToManyField[Organization, AgreementParty] = models.ManyToManyField(
        "orgs.Organization", through="AgreementParty", related_name="agreements"
    )

    objects = AgreementQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gte=models.F("effective_from")),
                name="agreement_dates_in_order",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def in_force_on(self, day: date) -> bool:
        return (
            self.status == self.Status.IN_FORCE
            and self.effective_from <= day
            and (self.effective_to is None or day <= self.effective_to)
        )


class AgreementParty(models.Model):
    """An organisation that signed (or joined) an agreement. It is bound once `signed_on` is set."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="party_rows")
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="agreement_rows")
    signed_on = models.DateField(null=True, blank=True)
    signed_by_name = models.CharField(max_length=150, blank=True)
    signed_by_title = models.CharField(max_length=150, blank=True)
    withdrawn_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["agreement", "organization__name"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "organization"], name="agreement_party_once"),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} in {self.agreement_id}"


def agreement_document_path(instance: AgreementDocument, filename: str) -> str:
    return f"mutualaid/agreements/{instance.agreement_id}/{filename}"


class AgreementDocument(models.Model):
    """A signed copy (PDF scan) or amendment of an agreement."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(max_length=200)
    file = models.FileField(upload_to=agreement_document_path)
    signed_on = models.DateField(null=True, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at"]

    def __str__(self) -> str:
        return self.title


# --- Roster -----------------------------------------------------------------------------------


class Responder(TimeStampedModel):
    """A person on a programme's roster. The programme is the organisation that recruits, vets and
    deploys them (a member organisation lending staff, the Guard unit, the volunteer corps, a
    university). Personal details live apart in `ResponderPrivate`, behind their own read rule."""

    class Source(models.TextChoices):
        MEMBER_ORG = "member_org", "Member organisation staff"
        GUARD = "guard", "National Guard"
        VOLUNTEER_CORPS = "volunteer_corps", "Volunteer corps"
        UNIVERSITY = "university", "University (student / faculty)"

    class Status(models.TextChoices):
        APPLIED = "applied", "Applied"
        SCREENING = "screening", "Screening"
        BACKGROUND_CHECK = "background_check", "Background check"
        AGREEMENT_SIGNED = "agreement_signed", "Agreement signed"
        TRAINING = "training", "Training"
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"
        SEPARATED = "separated", "Separated"

    class WorkMode(models.TextChoices):
        REMOTE = "remote", "Remote only"
        ONSITE = "onsite", "On-site only"
        EITHER = "either", "Remote or on-site"

    class BackgroundCheck(models.TextChoices):
        NOT_STARTED = "not_started", "Not started"
        PENDING = "pending", "Pending"
        COMPLETE = "complete", "Complete"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="responder"
    )
    full_name = models.CharField(max_length=150)
    email = models.EmailField()
    programme = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="responders")
    source = models.CharField(max_length=20, choices=Source.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.APPLIED, db_index=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    home_county_fips = models.CharField(max_length=5, validators=[county_fips_validator])
    # The home county's centroid (from the county organisation), copied for distance ranking.
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    work_mode = models.CharField(max_length=8, choices=WorkMode.choices, default=WorkMode.EITHER)
    skills = models.ManyToManyField(Skill, related_name="responders", blank=True)
    skill_bits = models.BigIntegerField(default=0, help_text="Bit set of `skills`, kept by the services.")
    background_check = models.CharField(
        max_length=12, choices=BackgroundCheck.choices, default=BackgroundCheck.NOT_STARTED
    )
    background_checked_on = models.DateField(null=True, blank=True)
    agreement_signed_on = models.DateField(null=True, blank=True)
    conflicts = models.ManyToManyField(
        "orgs.Organization",
        related_name="conflicted_responders",
        blank=True,
        help_text="Organisations this responder must not serve (employer, family, vendor relationship).",
    )

    objects = ResponderQuerySet.as_manager()

    class Meta:
        ordering = ["full_name"]
        indexes = [models.Index(fields=["status", "programme"], name="responder_status_programme")]

    def __str__(self) -> str:
        return self.full_name


class ResponderPrivate(models.Model):
    """The responder's personal details. Read only through `ResponderPrivate.objects.visible_to`:
    coordinators of the responder's programme, the responder, and the requesting organisation of a
    deployment while it is under way (ADR 24)."""

    class Result(models.TextChoices):
        NONE = "", "No result yet"
        CLEAR = "clear", "Clear"
        ADVERSE = "adverse", "Adverse"

    responder = models.OneToOneField(Responder, on_delete=models.CASCADE, related_name="private")
    phone = models.CharField(max_length=40, blank=True)
    home_address = models.TextField(blank=True)
    background_check_result = models.CharField(max_length=8, choices=Result.choices, blank=True, default="")
    background_check_note = models.TextField(blank=True)

    objects = ResponderPrivateQuerySet.as_manager()

    # The fields this rule protects, for serialisers and templates.
    FIELDS = ("phone", "home_address", "background_check_result")

    def __str__(self) -> str:
        return f"Personal details of responder {self.responder_id}"


class Credential(models.Model):
    """A certification, licence or clearance with an expiry. A responder whose credential has
    lapsed may not start a deployment; the reminder command warns 30 days ahead."""

    responder = models.ForeignKey(Responder, on_delete=models.CASCADE, related_name="credentials")
    name = models.CharField(max_length=150)
    issuer = models.CharField(max_length=150, blank=True)
    issued_on = models.DateField(null=True, blank=True)
    expires_on = models.DateField(null=True, blank=True, db_index=True)
    warned_for_expiry = models.DateField(
        null=True, blank=True, help_text="The expiry date a reminder was last sent for (one reminder per expiry)."
    )

    class Meta:
        ordering = ["expires_on", "name"]

    def __str__(self) -> str:
        return self.name

    def valid_on(self, day: date) -> bool:
        return self.expires_on is None or self.expires_on >= day


class Training(models.Model):
    responder = models.ForeignKey(Responder, on_delete=models.CASCADE, related_name="trainings")
    name = models.CharField(max_length=150)
    completed_on = models.DateField()

    class Meta:
        ordering = ["-completed_on"]

    def __str__(self) -> str:
        return self.name


class AvailabilityWindow(models.Model):
    """Days the responder can be deployed (inclusive)."""

    responder = models.ForeignKey(Responder, on_delete=models.CASCADE, related_name="availability")
    starts_on = models.DateField()
    ends_on = models.DateField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["starts_on"]
        constraints = [models.CheckConstraint(condition=Q(ends_on__gte=models.F("starts_on")), name="window_order")]
        indexes = [models.Index(fields=["responder", "starts_on", "ends_on"], name="window_responder_dates")]

    def __str__(self) -> str:
        return f"{self.starts_on} – {self.ends_on}"


class TeamPackage(TimeStampedModel):
    """A mission-ready package: a named team with roles, capabilities, limits and a cost estimate.
    Rows with `is_template` (no provider) are typing templates such as FEMA's Cyber Incident
    Response Team."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    name = models.CharField(max_length=200)
    provider = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="team_packages"
    )
    is_template = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    nims_resource_type = models.CharField(max_length=120, blank=True)
    type_level = models.PositiveSmallIntegerField(null=True, blank=True)
    mission = models.TextField(blank=True)
    capabilities = models.ManyToManyField(Skill, related_name="teams", blank=True)
    skill_bits = models.BigIntegerField(default=0)
    limitations = models.TextField(blank=True)
    roles = models.JSONField(default=list, help_text='[{"role": "...", "quantity": n}]')
    remote_capable = models.BooleanField(default=True)
    onsite_capable = models.BooleanField(default=True)
    self_sufficiency_hours = models.PositiveIntegerField(default=72)
    max_deployment_days = models.PositiveIntegerField(default=14)
    shift_length_hours = models.PositiveSmallIntegerField(default=12)
    cost_personnel = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    cost_travel = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    cost_equipment = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    cost_commodities = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    cost_other = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    members: models.ManyToManyField[Responder, TeamMember] = models.ManyToManyField(
        Responder, through="TeamMember", related_name="teams"
    )

    objects = TeamPackageQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(is_template=True) | Q(provider__isnull=False), name="team_has_provider_unless_template"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def cost_total(self) -> Decimal:
        return self.cost_personnel + self.cost_travel + self.cost_equipment + self.cost_commodities + self.cost_other


class TeamMember(models.Model):
    team = models.ForeignKey(TeamPackage, on_delete=models.CASCADE, related_name="member_rows")
    responder = models.ForeignKey(Responder, on_delete=models.CASCADE, related_name="team_rows")
    role = models.CharField(max_length=150)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "responder"], name="team_member_once")]

    def __str__(self) -> str:
        return self.role


# --- Requests and deployments -----------------------------------------------------------------


class AssistanceRequest(TimeStampedModel):
    """What an organisation needs (EMAC request, section I): on its own, or asked for from an
    incident report ("ask for help", issue 5)."""

    class Priority(models.TextChoices):
        LIFESAVING = "lifesaving", "Life-saving / life-sustaining"
        HIGH = "high", "High"
        NORMAL = "normal", "Normal"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        FILLED = "filled", "Filled"
        CANCELLED = "cancelled", "Cancelled"
        CLOSED = "closed", "Closed"

    class Mode(models.TextChoices):
        REMOTE = "remote", "Remote"
        ONSITE = "onsite", "On-site"
        EITHER = "either", "Either"

    requesting_org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="aid_requests")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    title = models.CharField(max_length=200)
    description = models.TextField()
    skills = models.ManyToManyField(Skill, related_name="requests")
    skill_bits = models.BigIntegerField(default=0)
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.EITHER)
    location_county_fips = models.CharField(max_length=5, blank=True, validators=[county_fips_validator])
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    starts_on = models.DateField()
    duration_days = models.PositiveSmallIntegerField(default=7, validators=[MinValueValidator(1)])
    headcount = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    priority = models.CharField(max_length=12, choices=Priority.choices, default=Priority.HIGH)
    support_provided = models.TextField(blank=True, help_text="Workspace, accounts, lodging, meals...")
    safety_notes = models.TextField(blank=True, help_text="Safety, evidence handling, CJIS/HIPAA data...")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    # The incident report the request came from, if any (the requesting organisation's own report).
    incident_report = models.ForeignKey(
        "incidents.IncidentReport", null=True, blank=True, on_delete=models.SET_NULL, related_name="aid_requests"
    )

    objects = AssistanceRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    @property
    def ends_on(self) -> date:
        from datetime import timedelta

        return self.starts_on + timedelta(days=self.duration_days - 1)


class Deployment(TimeStampedModel):
    """One responder on one request (EMAC mission order per responder)."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        ACCEPTED = "accepted", "Accepted in writing"
        DECLINED = "declined", "Declined"
        AUTHORISED = "authorised", "Authorised"
        ACTIVE = "active", "Active"
        EXTENDED = "extended", "Extended"
        RELEASED = "released", "Released"
        DEBRIEFED = "debriefed", "Debriefed"

    # Statuses in which the responder is at work for the requesting organisation.
    UNDER_WAY = (Status.ACTIVE, Status.EXTENDED)
    # Statuses that hold the responder's days (a second deployment may not overlap them).
    HOLDING = (Status.ACCEPTED, Status.AUTHORISED, Status.ACTIVE, Status.EXTENDED)

    request = models.ForeignKey(AssistanceRequest, on_delete=models.PROTECT, related_name="deployments")
    responder = models.ForeignKey(Responder, on_delete=models.PROTECT, related_name="deployments")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PROPOSED, db_index=True)
    starts_on = models.DateField()
    ends_on = models.DateField()
    emergency_predeploy = models.BooleanField(
        default=False, help_text="Deployed before the paperwork is complete (EMAC's emergency provision)."
    )
    paperwork_due_on = models.DateField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_signature = models.CharField(max_length=150, blank=True)
    authorised_at = models.DateTimeField(null=True, blank=True)
    authorised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    debriefed_at = models.DateTimeField(null=True, blank=True)

    objects = DeploymentQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_on"]
        constraints = [models.CheckConstraint(condition=Q(ends_on__gte=models.F("starts_on")), name="deployment_order")]


# --- Offers, binding agreements, mission orders (EMAC sections II and III; ADR 32) --------------


from commonguard.mutualaid.offer_querysets import (  # noqa: E402 - kept beside the models it serves
    BindingAgreementQuerySet,
    MissionOrderQuerySet,
    OfferQuerySet,
)

COST_CATEGORIES = ("personnel", "travel", "equipment", "commodities", "other")


class Offer(TimeStampedModel):
    """An offering organisation's answer to an assistance request (EMAC section II), possibly a team
    package, naming responders, with dates and a cost estimate in EMAC's five categories. The
    current terms are on the row; every version (the offer and each counter-offer) is an
    `OfferRevision`. The covering agreement decides who may sign for each side."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", "Offered (the requester's turn)"
        COUNTERED = "countered", "Countered (the offerer's turn)"
        AGREED = "agreed", "Terms agreed, awaiting signatures"
        BINDING = "binding", "Binding"
        DECLINED = "declined", "Declined"
        WITHDRAWN = "withdrawn", "Withdrawn"

    OPEN = (Status.SUBMITTED, Status.COUNTERED, Status.AGREED)

    request = models.ForeignKey(AssistanceRequest, on_delete=models.PROTECT, related_name="offers")
    offering_org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="aid_offers")
    team = models.ForeignKey(TeamPackage, null=True, blank=True, on_delete=models.PROTECT, related_name="offers")
    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="offers")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SUBMITTED, db_index=True)
    revision = models.PositiveSmallIntegerField(default=1)
    starts_on = models.DateField()
    ends_on = models.DateField()
    mode = models.CharField(max_length=8, choices=AssistanceRequest.Mode.choices, default=AssistanceRequest.Mode.EITHER)
    cost_personnel = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    cost_travel = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    cost_equipment = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    cost_commodities = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    cost_other = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    objects = OfferQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gte=models.F("starts_on")), name="offer_dates_in_order")
        ]

    def __str__(self) -> str:
        return f"Offer {self.pk} from {self.offering_org_id} on request {self.request_id}"

    @property
    def cost_total(self) -> Decimal:
        return sum((getattr(self, f"cost_{c}") for c in COST_CATEGORIES), Decimal(0))


class OfferResponder(models.Model):
    """A responder named in an offer, and the deployment proposed for them (one per responder)."""

    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="responder_rows")
    responder = models.ForeignKey(Responder, on_delete=models.PROTECT, related_name="offer_rows")
    role = models.CharField(max_length=150, blank=True)
    deployment = models.OneToOneField(Deployment, on_delete=models.PROTECT, related_name="offer_line")

    class Meta:
        ordering = ["responder__full_name"]
        constraints = [models.UniqueConstraint(fields=["offer", "responder"], name="offer_responder_once")]

    def __str__(self) -> str:
        return f"{self.responder_id} on offer {self.offer_id}"


class OfferRevision(models.Model):
    """One version of the terms: the offer (revision 1) and every counter-offer after it, kept as
    written (append-only)."""

    class Side(models.TextChoices):
        REQUESTER = "requester", "Requesting organisation"
        OFFERER = "offerer", "Offering organisation"

    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveSmallIntegerField()
    side = models.CharField(max_length=10, choices=Side.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    terms = models.JSONField(help_text="starts_on, ends_on, mode, the five costs and notes, as proposed.")
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["offer", "number"]
        constraints = [models.UniqueConstraint(fields=["offer", "number"], name="offer_revision_once")]

    def __str__(self) -> str:
        return f"Revision {self.number} of offer {self.offer_id}"


class OfferSignature(models.Model):
    """A typed-name e-signature of one side on the agreed terms (EMAC section II for the offerer,
    section III for the requester), by a person whose role the covering agreement authorises."""

    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="signatures")
    revision = models.PositiveSmallIntegerField()
    side = models.CharField(max_length=10, choices=OfferRevision.Side.choices)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=20)
    typed_name = models.CharField(max_length=150)
    title = models.CharField(max_length=150, blank=True)
    signed_at = models.DateTimeField()

    class Meta:
        ordering = ["signed_at"]
        constraints = [models.UniqueConstraint(fields=["offer", "side"], name="offer_signed_once_per_side")]

    def __str__(self) -> str:
        return f"{self.typed_name} for the {self.side} of offer {self.offer_id}"


class BindingAgreement(models.Model):
    """The executed agreement (EMAC's REQ-A / RSA): written once, when both sides have signed, with
    an immutable snapshot of the terms, parties, costs and signatures and its SHA-256 digest. Never
    updated or deleted (`save` and `delete` refuse)."""

    number = models.CharField(max_length=30, unique=True)
    offer = models.OneToOneField(Offer, on_delete=models.PROTECT, related_name="binding")
    request = models.ForeignKey(AssistanceRequest, on_delete=models.PROTECT, related_name="binding_agreements")
    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="binding_agreements")
    requesting_org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    offering_org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    starts_on = models.DateField()
    ends_on = models.DateField()
    cost_total = models.DecimalField(max_digits=12, decimal_places=2)
    snapshot = models.JSONField()
    digest = models.CharField(max_length=64)
    executed_at = models.DateTimeField()

    objects = BindingAgreementQuerySet.as_manager()

    class Meta:
        ordering = ["-executed_at"]

    def __str__(self) -> str:
        return self.number

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise ValueError("A binding agreement is never changed; amend it with a new offer.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise ValueError("A binding agreement is never deleted.")


class MissionOrder(models.Model):
    """The mission order (EMAC's Mission Order Authorization) of one responder, issued from the
    binding agreement: who, where, reporting to whom, when, on-site or remote, data handling and
    safety. Issuing it is the written authorisation of the deployment."""

    number = models.CharField(max_length=40, unique=True)
    binding = models.ForeignKey(BindingAgreement, on_delete=models.PROTECT, related_name="mission_orders")
    deployment = models.OneToOneField(Deployment, on_delete=models.PROTECT, related_name="mission_order")
    responder = models.ForeignKey(Responder, on_delete=models.PROTECT, related_name="mission_orders")
    role = models.CharField(max_length=150, blank=True)
    location = models.CharField(max_length=300)
    mode = models.CharField(max_length=8, choices=AssistanceRequest.Mode.choices)
    reporting_to = models.CharField(max_length=300)
    starts_on = models.DateField()
    ends_on = models.DateField()
    data_handling = models.TextField(blank=True)
    safety_notes = models.TextField(blank=True)
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    objects = MissionOrderQuerySet.as_manager()

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return self.number


class ResponseLink(models.Model):
    """A single-use, expiring accept/decline link e-mailed to a responder for one deployment. Only
    the SHA-256 of the token is kept."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="response_links")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Response link for deployment {self.deployment_id}"


class AidNotice(models.Model):
    """The mutual-aid e-mail outbox: written in the transaction that causes the notice, sent by the
    worker after commit (claimed through `core/outbox.py`: a claim older than the lease is taken
    again, a failed send waits `retry_at`), so a crash loses nothing."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        RETRY = "retry", "Failed, to be tried again"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    key = models.CharField(max_length=200, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    to_email = models.EmailField()
    subject = models.CharField(max_length=250)
    body = models.TextField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.key


# --- The end of the chain: time and expenses, demobilisation, after-action, claims (ADR 33) ----


class Activity(models.TextChoices):
    TRIAGE = "triage", "Triage and scoping"
    FORENSICS = "forensics", "Forensics and analysis"
    CONTAINMENT = "containment", "Containment"
    RECOVERY = "recovery", "Recovery and rebuild"
    COORDINATION = "coordination", "Coordination and briefings"
    TRAVEL = "travel", "Travel"
    REPORTING = "reporting", "Reporting and handover"
    OTHER = "other", "Other"


class CostCategory(models.TextChoices):
    """The five reimbursement categories of EMAC's Req-A / R-1 forms (research note §1.8)."""

    PERSONNEL = "personnel", "Personnel"
    TRAVEL = "travel", "Travel"
    EQUIPMENT = "equipment", "Equipment"
    COMMODITIES = "commodities", "Commodities"
    OTHER = "other", "Other"


class TimeLog(models.Model):
    """Hours a responder worked on one day of a deployment, by activity."""

    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="time_logs")
    day = models.DateField()
    activity = models.CharField(max_length=16, choices=Activity.choices)
    hours = models.DecimalField(max_digits=4, decimal_places=2)
    note = models.CharField(max_length=300, blank=True)
    logged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DeploymentChildQuerySet.as_manager()

    class Meta:
        ordering = ["day", "id"]
        indexes = [models.Index(fields=["deployment", "day"], name="timelog_deployment_day")]
        constraints = [
            models.CheckConstraint(condition=Q(hours__gt=0) & Q(hours__lte=24), name="timelog_hours_in_a_day"),
        ]

    def __str__(self) -> str:
        return f"{self.hours} h {self.activity} on {self.day}"


def receipt_path(instance: ExpenseLog, filename: str) -> str:
    return f"mutualaid/receipts/{instance.deployment_id}/{filename}"


class ExpenseLog(models.Model):
    """An expense on one day of a deployment, with its receipt. The receipt is stored like an incident
    attachment: under a random name, hashed, downloaded only (never inline), and quarantined when it
    is a program or a script."""

    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="expense_logs")
    day = models.DateField()
    category = models.CharField(max_length=12, choices=CostCategory.choices)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    description = models.CharField(max_length=300)
    receipt = models.FileField(upload_to=receipt_path, blank=True)
    receipt_name = models.CharField(max_length=255, blank=True)
    receipt_size = models.PositiveBigIntegerField(default=0)
    receipt_sha256 = models.CharField(max_length=64, blank=True)
    receipt_quarantined = models.BooleanField(default=False)
    quarantine_reason = models.CharField(max_length=200, blank=True)
    logged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DeploymentChildQuerySet.as_manager()

    class Meta:
        ordering = ["day", "id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gte=0), name="expense_not_negative")]

    def __str__(self) -> str:
        return f"{self.amount} {self.category} on {self.day}"


class Demobilisation(models.Model):
    """The release checklist of a deployment, and its debrief."""

    deployment = models.OneToOneField(Deployment, on_delete=models.PROTECT, related_name="demobilisation")
    access_removed = models.BooleanField(default=False, help_text="Accounts, VPN and badges of the requester removed.")
    equipment_returned = models.BooleanField(default=False, help_text="Loaned equipment and evidence media returned.")
    handover_notes = models.TextField()
    released_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    released_at = models.DateTimeField()
    debrief_notes = models.TextField(blank=True)
    debriefed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    debriefed_at = models.DateTimeField(null=True, blank=True)

    objects = DeploymentChildQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Demobilisation of deployment {self.deployment_id}"


class AfterActionReport(TimeStampedModel):
    """What happened on a request (or one deployment of it), what worked and what to change. Can be
    published to the partnerships library as an after-action report under a TLP label chosen then."""

    request = models.ForeignKey(AssistanceRequest, on_delete=models.PROTECT, related_name="after_action_reports")
    deployment = models.ForeignKey(
        Deployment, null=True, blank=True, on_delete=models.PROTECT, related_name="after_action_reports"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    author_org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=200)
    timeline = models.TextField()
    what_worked = models.TextField()
    what_to_change = models.TextField()
    library_resource = models.ForeignKey(
        "partnerships.Resource", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)

    objects = AfterActionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title


class AgreementRates(models.Model):
    """The figures of an agreement's reimbursement terms that a claim is priced with (optional: an
    agreement without them yields claims with the hours and expenses but no personnel or per-diem
    amounts)."""

    agreement = models.OneToOneField(Agreement, on_delete=models.CASCADE, related_name="rates")
    personnel_hourly = models.DecimalField(
        max_digits=8, decimal_places=2, default=Decimal(0), validators=[MinValueValidator(Decimal(0))]
    )
    per_diem_daily = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(0))],
        help_text="Meals and incidentals per day worked (not with the 'no per diem' basis).",
    )

    def __str__(self) -> str:
        return f"Rates of agreement {self.agreement_id}"


class ReimbursementClaim(TimeStampedModel):
    """The providing programme's claim on the requesting organisation for one deployment, assembled
    from its time and expense logs by category."""

    class Status(models.TextChoices):
        COLLECTING = "collecting", "Collecting"
        SUBMITTED = "submitted", "Submitted"
        REVIEWED = "reviewed", "Reviewed"
        APPROVED = "approved", "Approved"
        PAID = "paid", "Paid"
        WAIVED = "waived", "Waived"

    deployment = models.OneToOneField(Deployment, on_delete=models.PROTECT, related_name="claim")
    agreement = models.ForeignKey(Agreement, null=True, blank=True, on_delete=models.PROTECT, related_name="claims")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.COLLECTING, db_index=True)
    number = models.CharField(max_length=40, unique=True)
    hourly_rate = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal(0))
    per_diem_rate = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal(0))
    hours = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal(0))
    days_worked = models.PositiveSmallIntegerField(default=0)
    total_personnel = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    total_travel = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    total_equipment = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    total_commodities = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    total_other = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    pricing_note = models.CharField(max_length=300, blank=True)
    note = models.TextField(blank=True, help_text="The last reviewer's or waiver's note.")
    assembled_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    waived_at = models.DateTimeField(null=True, blank=True)

    objects = DeploymentChildQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.number


class ClaimLine(models.Model):
    """One line of a claim: a category, what it is, quantity × rate = amount."""

    claim = models.ForeignKey(ReimbursementClaim, on_delete=models.CASCADE, related_name="lines")
    category = models.CharField(max_length=12, choices=CostCategory.choices)
    description = models.CharField(max_length=300)
    quantity = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal(1))
    rate = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal(0))
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    expense = models.ForeignKey(ExpenseLog, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.description
