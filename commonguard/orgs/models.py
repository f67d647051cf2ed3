"""The directory: organisations, state-defined regions, and role-based contacts."""

from __future__ import annotations

import re
import unicodedata

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from commonguard.core.models import TimeStampedModel
from commonguard.orgs.querysets import ContactAssignmentQuerySet, OrganizationQuerySet, RegionQuerySet
from commonguard.orgs.states import STATE_CHOICES, STATES


def normalise_search_text(value: str) -> str:
    """Lower-case, accents stripped, punctuation to spaces: the form search compares against."""
    text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


_KIND_PREFIX = re.compile(r"^(city and borough|city|village|town|borough|township|county|charter township) of ")


def sort_key_for(name: str) -> str:
    """ "City of Lansing" sorts under L, beside "Lansing Charter Township"."""
    return _KIND_PREFIX.sub("", normalise_search_text(name))


county_fips_validator = RegexValidator(r"^\d{5}$", "A county FIPS code is five digits (state + county), e.g. 26065.")
place_fips_validator = RegexValidator(r"^\d{7}$", "A place FIPS code is seven digits (state + place), e.g. 2646000.")


class Region(models.Model):
    """A state-defined region (emergency-management district, prosperity region...). Editable."""

    state = models.CharField(max_length=2, choices=STATE_CHOICES)
    number = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=100)
    liaison = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="liaison_regions",
        help_text="The state liaison assigned to the local governments of this region.",
    )

    objects = RegionQuerySet.as_manager()

    class Meta:
        ordering = ["state", "number"]
        constraints = [
            models.UniqueConstraint(fields=["state", "number"], name="region_unique_number"),
            models.UniqueConstraint(fields=["state", "name"], name="region_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"


class Organization(TimeStampedModel):
    class Kind(models.TextChoices):
        STATE_AGENCY = "state_agency", "State agency"
        COUNTY = "county", "County"
        CITY = "city", "City"
        VILLAGE = "village", "Village"
        TOWNSHIP = "township", "Township"
        TOWN = "town", "Town"
        BOROUGH = "borough", "Borough"
        SCHOOL_DISTRICT = "school_district", "School district"
        SPECIAL_DISTRICT = "special_district", "Special district"
        TRIBAL_GOVERNMENT = "tribal_government", "Tribal government"
        GUARD_UNIT = "guard_unit", "National Guard unit"
        VOLUNTEER_CORPS = "volunteer_corps", "Volunteer cyber corps"
        UNIVERSITY = "university", "University"
        ASSOCIATION = "association", "Association"
        ISAC = "isac", "ISAC"
        FEDERAL_AGENCY = "federal_agency", "Federal agency"
        VENDOR = "vendor", "Vendor"

    LOCAL_GOVERNMENT_KINDS = frozenset(
        {
            Kind.COUNTY,
            Kind.CITY,
            Kind.VILLAGE,
            Kind.TOWNSHIP,
            Kind.TOWN,
            Kind.BOROUGH,
            Kind.SCHOOL_DISTRICT,
            Kind.SPECIAL_DISTRICT,
            Kind.TRIBAL_GOVERNMENT,
        }
    )

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=Kind.choices, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    state = models.CharField(max_length=2, choices=STATE_CHOICES, help_text="The parent state (postal code).")
    county_fips = models.CharField(
        max_length=5, blank=True, validators=[county_fips_validator], help_text="State + county FIPS, 5 digits."
    )
    place_fips = models.CharField(
        max_length=7, blank=True, validators=[place_fips_validator], help_text="State + place FIPS, 7 digits."
    )
    county = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="places",
        limit_choices_to={"kind": "county"},
        help_text="The county this organisation lies in (for a county: empty).",
    )
    region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.SET_NULL, related_name="organizations")
    population = models.PositiveIntegerField(null=True, blank=True)
    website = models.URLField(blank=True)
    time_zone = models.CharField(max_length=64, default="America/New_York")
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    # Stable key of the seed record this row came from (Census or demo), so seeding is idempotent.
    source_key = models.CharField(max_length=160, null=True, blank=True, unique=True)
    search_name = models.CharField(max_length=200, editable=False)
    sort_name = models.CharField(max_length=200, editable=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        ordering = ["sort_name", "id"]
        indexes = [
            models.Index(fields=["sort_name", "id"], name="org_sort"),
            models.Index(fields=["state", "kind", "sort_name"], name="org_state_kind_sort"),
            models.Index(fields=["county", "sort_name"], name="org_county_sort"),
            models.Index(fields=["region", "sort_name"], name="org_region_sort"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["county_fips"],
                condition=Q(kind="county") & ~Q(county_fips=""),
                name="org_unique_county_fips",
            ),
            models.UniqueConstraint(fields=["place_fips"], condition=~Q(place_fips=""), name="org_unique_place_fips"),
        ]

    def __str__(self) -> str:
        return self.name

    def refresh_search_fields(self) -> None:
        """Derive the search and sort forms of the name (bulk writers call this themselves)."""
        self.search_name = normalise_search_text(self.name)
        self.sort_name = sort_key_for(self.name)

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.refresh_search_fields()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "search_name", "sort_name"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        state = STATES.get(self.state)
        for field in ("county_fips", "place_fips"):
            code = getattr(self, field)
            if code and state and not code.startswith(state.fips):
                raise ValidationError({field: f"A {state.name} FIPS code starts with {state.fips}."})

    @property
    def is_local_government(self) -> bool:
        return self.kind in self.LOCAL_GOVERNMENT_KINDS

    @property
    def is_approved(self) -> bool:
        return self.status == self.Status.APPROVED

    @property
    def state_name(self) -> str:
        state = STATES.get(self.state)
        return state.name if state else self.state

    @property
    def fips(self) -> str:
        """The most specific FIPS code the organisation has."""
        return self.place_fips or (self.county_fips if self.kind == self.Kind.COUNTY else "")

    @property
    def liaison(self):  # type: ignore[no-untyped-def]
        """The state liaison assigned to this organisation's region, if any."""
        return self.region.liaison if self.region_id and self.region else None


class ContactAssignment(models.Model):
    """A role-based contact ("the CIO of Ingham County") held by a person for a time.

    Reassigning a role ends the current assignment and starts a new one, so the history of who
    held it survives turnover. Only one assignment per organisation and role is current.
    """

    class Role(models.TextChoices):
        CIO = "cio", "Chief information officer"
        CISO = "ciso", "Chief information security officer"
        IT_DIRECTOR = "it_director", "IT director"
        AFTER_HOURS = "after_hours", "After-hours contact"
        INCIDENT_REPORTER = "incident_reporter", "Primary incident reporter"
        EMERGENCY_MANAGER = "emergency_manager", "Emergency manager"
        PUBLIC_INFORMATION = "public_information", "Public information officer"
        ELECTIONS = "elections", "Elections official"

    # Contact roles that only the organisation itself and state staff may read.
    RESTRICTED_ROLES = frozenset({Role.AFTER_HOURS})

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="contacts")
    role = models.CharField(max_length=32, choices=Role.choices)
    holder = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="contact_assignments")
    phone = models.CharField(max_length=40, blank=True, help_text="The number to call for this role.")
    notes = models.CharField(max_length=300, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ContactAssignmentQuerySet.as_manager()

    class Meta:
        ordering = ["organization", "role", "-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "role"], condition=Q(ended_at__isnull=True), name="contact_one_current_per_role"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()} of {self.organization}"

    @property
    def is_current(self) -> bool:
        return self.ended_at is None
