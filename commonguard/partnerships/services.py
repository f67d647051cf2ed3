"""Every state change of partnerships: transactional, checked against policies.py, audited.
Mail is sent only after commit."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from commonguard.accounts.models import User
from commonguard.accounts.viewer import viewer_for
from commonguard.core.audit import audit_record
from commonguard.core.tlp import NAMED_ORGANISATION_LABELS, TLP
from commonguard.orgs.models import Organization
from commonguard.partnerships import policies
from commonguard.partnerships.models import (
    CalendarFeed,
    Engagement,
    Event,
    Goal,
    GrantProgram,
    Initiative,
    LocalNeed,
    Milestone,
    Partner,
    ProgressNote,
    Registration,
    Resource,
    ResourceComment,
    ResourceUse,
    SubAward,
    Tag,
    VolunteerMatch,
    VolunteerOffer,
)
from commonguard.partnerships.uploads import max_bytes, safe_download_name, sniff
from commonguard.sharing.models import SharingGroup

CSF_CATEGORY = re.compile(r"^(GV|ID|PR|DE|RS|RC)\.[A-Z]{2}$")
MAX_TAGS = 12
STALE = (
    "Someone changed this (or you did, in another tab) after you opened this form: nothing of yours was "
    "saved. Open it again to see the latest version, then make your change."
)


def version_of(row: Any) -> str:
    """The version an edit form carries (the row's last change), checked when it is saved."""
    return row.updated_at.isoformat()


def _check_version(locked: Any, version: str | None) -> None:
    if version is not None and version != version_of(locked):
        raise ValidationError({"version": STALE}, code="stale")


def _acting_org(actor: Any, organization: Organization, what: str) -> None:
    if organization.pk not in viewer_for(actor).org_ids:
        raise PermissionDenied(f"You can only {what} for an organisation you are an approved member of.")


# --- Library ---------------------------------------------------------------------------------


@dataclass
class ResourceInput:
    title: str
    kind: str
    summary: str
    author_org: Organization
    tlp: str = TLP.GREEN
    url: str = ""
    tags: list[str] = field(default_factory=list)
    csf_categories: list[str] = field(default_factory=list)
    recipient_orgs: list[Organization] = field(default_factory=list)
    recipient_groups: list[SharingGroup] = field(default_factory=list)
    recipient_people: list[User] = field(default_factory=list)


def parse_tags(text: str) -> list[str]:
    """ "Ransomware, tabletop  exercise" -> ["ransomware", "tabletop exercise"]."""
    tags = [re.sub(r"\s+", " ", t).strip().lower()[:40] for t in re.split(r"[,;\n]", text)]
    return list(dict.fromkeys(t for t in tags if t))


def parse_csf_categories(text: str) -> list[str]:
    return list(dict.fromkeys(c.strip().upper() for c in re.split(r"[\s,;]+", text) if c.strip()))


def _clean_resource(data: ResourceInput, upload: UploadedFile | None, *, has_file: bool = False) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not data.title.strip():
        errors["title"] = "Give the resource a title."
    if data.kind not in Resource.Kind.values:
        errors["kind"] = "Choose what kind of resource this is."
    if not data.summary.strip():
        errors["summary"] = "Say in a sentence or two what it is and when to use it."
    if data.tlp not in TLP.values:
        errors["tlp"] = "Choose a TLP label."
    if upload is None and not data.url and not has_file:
        errors["file"] = "Upload a file or give a link."
    if (upload is not None or has_file) and data.url:
        errors["url"] = "Give a file or a link, not both."
    foreign = [g.name for g in data.recipient_groups if g.pk not in set(member_group_ids(data.author_org))]
    if foreign and data.tlp in NAMED_ORGANISATION_LABELS:
        errors["recipient_groups"] = "Name only sharing groups your organisation belongs to: " + ", ".join(foreign)
    if data.tlp in NAMED_ORGANISATION_LABELS and not (data.recipient_orgs or data.recipient_groups):
        errors["recipient_orgs"] = "TLP:AMBER needs at least one organisation or sharing group (yours is included)."
    if data.tlp == TLP.RED and not data.recipient_people:
        errors["recipient_people"] = "TLP:RED needs at least one person named."
    not_vetted = [p.email for p in data.recipient_people if not viewer_for(p).is_vetted]
    if data.tlp == TLP.RED and not_vetted:
        errors["recipient_people"] = "Not vetted members of the hub: " + ", ".join(not_vetted[:10])
    if len(data.tags) > MAX_TAGS:
        errors["tags"] = f"At most {MAX_TAGS} tags."
    bad = [c for c in data.csf_categories if not CSF_CATEGORY.match(c)]
    if bad:
        errors["csf_categories"] = f"Not a CSF 2.0 category code: {', '.join(bad)} (e.g. PR.AA, ID.RA)."
    return errors


@transaction.atomic
def resource_create(*, actor: User, data: ResourceInput, upload: UploadedFile | None = None) -> Resource:
    """Any vetted person adds a resource for one of their organisations. The file's type is decided by
    its bytes; unknown types and files over the limit are refused and nothing is stored."""
    _acting_org(actor, data.author_org, "share a resource")
    errors = _clean_resource(data, upload)
    content: bytes = b""
    sniffed = None
    if upload is not None and "file" not in errors:
        if upload.size is not None and upload.size > max_bytes():
            errors["file"] = f"The file is larger than the limit of {max_bytes() // (1024 * 1024)} MB."
        else:
            content = upload.read(max_bytes() + 1)
            if len(content) > max_bytes():
                errors["file"] = f"The file is larger than the limit of {max_bytes() // (1024 * 1024)} MB."
            elif not content:
                errors["file"] = "The file is empty."
            else:
                try:
                    sniffed = sniff(content, upload.name or "upload")
                except ValidationError as exc:
                    errors["file"] = " ".join(exc.messages)
    if errors:
        raise ValidationError(errors)
    resource = Resource(
        title=data.title.strip(),
        kind=data.kind,
        summary=data.summary.strip(),
        url=data.url,
        tlp=data.tlp,
        author=actor,
        author_org=data.author_org,
        csf_categories=" ".join(data.csf_categories),
    )
    if sniffed is not None and upload is not None:
        resource.file_name = safe_download_name(upload.name or "resource", sniffed.extension)
        resource.content_type = sniffed.content_type
        resource.file_size = len(content)
        resource.file.save("upload", ContentFile(content), save=False)
    try:
        resource.save()
        _set_audience(resource, data)
        audit_record(
            actor=actor,
            action="library.resource.create",
            summary=f"Shared “{resource.title}” in the library as {resource.get_tlp_display()}",
            organization=data.author_org,
            target=resource,
            data={"tlp": resource.tlp, "kind": resource.kind, "content_type": resource.content_type},
        )
    except Exception:
        if resource.file:
            resource.file.delete(save=False)
        raise
    return resource


def member_group_ids(organization: Organization) -> list[int]:
    """The sharing groups an organisation belongs to: the only ones its members may name."""
    rows = SharingGroup.objects.filter(Q(organizations=organization) | Q(owner=organization))
    return list(rows.values_list("pk", flat=True).distinct())


def _set_audience(resource: Resource, data: ResourceInput) -> None:
    # Audience fields a label does not use are dropped (ADR 13): they would silently widen later.
    named = data.tlp in NAMED_ORGANISATION_LABELS
    resource.recipient_orgs.set(data.recipient_orgs if named else [])
    resource.recipient_groups.set(data.recipient_groups if named else [])
    resource.recipient_people.set(data.recipient_people if data.tlp == TLP.RED else [])
    resource.tags.set([Tag.objects.get_or_create(name=name)[0] for name in data.tags])


@transaction.atomic
def resource_update(*, actor: User, resource: Resource, data: ResourceInput, version: str | None) -> Resource:
    """Editors of the owning organisation (its admins and members) change a resource's text, link,
    label, audience, tags and CSF categories. The organisation and the file stay; a form opened
    before someone else's change is refused (STALE), nothing saved."""
    locked = Resource.objects.select_for_update().get(pk=resource.pk)
    if not policies.can_edit_resource(actor, locked):
        raise PermissionDenied("Only the owning organisation's admins and members can edit this resource.")
    _check_version(locked, version)
    data.author_org = locked.author_org
    errors = _clean_resource(data, None, has_file=bool(locked.file))
    if errors:
        raise ValidationError(errors)
    before = locked.tlp
    locked.title, locked.kind, locked.summary = data.title.strip(), data.kind, data.summary.strip()
    locked.url, locked.tlp, locked.csf_categories = data.url, data.tlp, " ".join(data.csf_categories)
    locked.save()
    _set_audience(locked, data)
    audit_record(
        actor=actor,
        action="library.resource.update",
        summary=f"Edited “{locked.title}” ({locked.get_tlp_display()})",
        organization=locked.author_org,
        target=locked,
        data={"tlp_before": before, "tlp": locked.tlp},
    )
    return locked


@transaction.atomic
def resource_mark_used(*, actor: User, resource: Resource, organization: Organization, used: bool = True) -> None:
    """A member says their organisation uses (or no longer uses) a resource they can read."""
    _acting_org(actor, organization, "mark a resource as used")
    if used:
        _, created = ResourceUse.objects.get_or_create(
            resource=resource, organization=organization, defaults={"marked_by": actor}
        )
    else:
        created = bool(ResourceUse.objects.filter(resource=resource, organization=organization).delete()[0])
    if created:
        audit_record(
            actor=actor,
            action="library.resource.use" if used else "library.resource.unuse",
            summary=f"{organization.name} {'uses' if used else 'no longer uses'} “{resource.title}”",
            organization=organization,
            target=resource,
        )


@transaction.atomic
def resource_comment_add(*, actor: User, resource: Resource, organization: Organization, body: str) -> ResourceComment:
    """Readers of a resource comment on it (Markdown, rendered sanitised)."""
    _acting_org(actor, organization, "comment")
    text = body.strip()
    if not text:
        raise ValidationError({"body": "Write a comment first."})
    if len(text) > 10_000:
        raise ValidationError({"body": "A comment is at most 10,000 characters."})
    comment = ResourceComment.objects.create(resource=resource, author=actor, author_org=organization, body=text)
    audit_record(
        actor=actor,
        action="library.comment.add",
        summary=f"Commented on “{resource.title}”",
        organization=organization,
        target=resource,
    )
    return comment


# --- Initiatives -----------------------------------------------------------------------------


@transaction.atomic
def initiative_create(
    *,
    actor: User,
    title: str,
    description: str,
    lead_org: Organization,
    partners: list[tuple[Organization, str]],
    goals: list[str],
    status: str = Initiative.Status.PLANNING,
) -> Initiative:
    """Admins of the lead organisation, or state staff for their agency, start an initiative."""
    if not policies.can_lead_from(actor, lead_org):
        raise PermissionDenied("Only an admin of the lead organisation, or state staff, can start an initiative.")
    errors = {}
    if not title.strip():
        errors["title"] = "Give the initiative a title."
    if not description.strip():
        errors["description"] = "Describe the initiative."
    if status not in Initiative.Status.values:
        errors["status"] = "Choose a status."
    if errors:
        raise ValidationError(errors)
    initiative = Initiative.objects.create(
        title=title.strip(),
        description=description.strip(),
        state=lead_org.state,
        lead_org=lead_org,
        status=status,
        created_by=actor,
    )
    for org, expectations in partners:
        Partner.objects.get_or_create(
            initiative=initiative, organization=org, defaults={"expectations": expectations.strip()}
        )
    for text in goals:
        if text.strip():
            Goal.objects.create(initiative=initiative, text=text.strip()[:300])
    audit_record(
        actor=actor,
        action="initiative.create",
        summary=f"Started the initiative “{initiative.title}”",
        organization=lead_org,
        target=initiative,
    )
    return initiative


@transaction.atomic
def partner_add(*, actor: User, initiative: Initiative, organization: Organization, expectations: str) -> Partner:
    if not policies.can_manage_initiative(actor, initiative):
        raise PermissionDenied("Only the initiative's managers can add partners.")
    partner, created = Partner.objects.get_or_create(initiative=initiative, organization=organization)
    partner.expectations = expectations.strip()
    partner.save(update_fields=["expectations"])
    audit_record(
        actor=actor,
        action="initiative.partner",
        summary=f"{'Added' if created else 'Updated'} {organization.name} as a partner of “{initiative.title}”",
        organization=initiative.lead_org,
        target=initiative,
    )
    return partner


@transaction.atomic
def milestone_add(
    *, actor: User, initiative: Initiative, title: str, owner_org: Organization, due_on: date, owner: User | None = None
) -> Milestone:
    if not policies.can_manage_initiative(actor, initiative):
        raise PermissionDenied("Only the initiative's managers can add milestones.")
    if not title.strip():
        raise ValidationError({"title": "Name the milestone."})
    involved = {initiative.lead_org_id, *initiative.partners.values_list("organization_id", flat=True)}
    if owner_org.pk not in involved:
        raise ValidationError({"owner_org": "The owner must be the lead organisation or a partner."})
    milestone = Milestone.objects.create(
        initiative=initiative, title=title.strip(), owner=owner, owner_org=owner_org, due_on=due_on
    )
    audit_record(
        actor=actor,
        action="initiative.milestone.add",
        summary=f"Milestone “{milestone.title}” due {due_on:%Y-%m-%d} for “{initiative.title}”",
        organization=initiative.lead_org,
        target=initiative,
    )
    return milestone


@transaction.atomic
def milestone_complete(*, actor: User, milestone: Milestone, done_on: date | None = None) -> Milestone:
    """Managers, the owner, or an admin of the owning organisation mark a milestone done."""
    viewer = viewer_for(actor)
    allowed = (
        policies.can_manage_initiative(actor, milestone.initiative)
        or milestone.owner_id == actor.pk
        or milestone.owner_org_id in viewer.admin_org_ids
    )
    if not allowed:
        raise PermissionDenied("Only the milestone's owner or the initiative's managers can mark it done.")
    milestone.done_on = done_on or timezone.localdate()
    milestone.save(update_fields=["done_on"])
    audit_record(
        actor=actor,
        action="initiative.milestone.done",
        summary=f"Milestone “{milestone.title}” done",
        organization=milestone.initiative.lead_org,
        target=milestone.initiative,
    )
    return milestone


@transaction.atomic
def goal_set_met(*, actor: User, goal: Goal, met: bool) -> Goal:
    """The initiative's managers mark a goal met (or not met after all)."""
    if not policies.can_manage_initiative(actor, goal.initiative):
        raise PermissionDenied("Only the initiative's managers can mark its goals met.")
    goal = Goal.objects.select_for_update().get(pk=goal.pk)
    if goal.met == met:
        return goal
    goal.met = met
    goal.save(update_fields=["met"])
    audit_record(
        actor=actor,
        action="initiative.goal",
        summary=f"Goal “{goal.text}” {'met' if met else 'not met'}",
        organization=goal.initiative.lead_org,
        target=goal.initiative,
    )
    return goal


@transaction.atomic
def progress_note_add(*, actor: User, initiative: Initiative, body: str, status: str | None = None) -> ProgressNote:
    """Managers record progress and may change the status; partner admins record progress only."""
    if not policies.can_add_progress_note(actor, initiative):
        raise PermissionDenied("Only the initiative's managers and partner admins can record progress.")
    if not body.strip():
        raise ValidationError({"body": "Say what happened."})
    if status and status != initiative.status:
        if status not in Initiative.Status.values:
            raise ValidationError({"status": "Choose a status."})
        if not policies.can_manage_initiative(actor, initiative):
            raise PermissionDenied("Only the initiative's managers can change its status.")
        initiative.status = status
        initiative.save(update_fields=["status", "updated_at"])
    note = ProgressNote.objects.create(initiative=initiative, author=actor, status=initiative.status, body=body.strip())
    audit_record(
        actor=actor,
        action="initiative.progress",
        summary=f"Progress on “{initiative.title}”: {initiative.get_status_display()}",
        organization=initiative.lead_org,
        target=initiative,
    )
    return note


# --- Liaison engagements ---------------------------------------------------------------------


@transaction.atomic
def engagement_log(
    *,
    actor: User,
    organization: Organization,
    kind: str,
    occurred_on: date,
    summary: str,
    follow_up: str = "",
    follow_up_due: date | None = None,
) -> Engagement:
    """A state liaison logs a visit, call, training, exercise, assessment review or grant help."""
    if not policies.can_log_engagement(actor, organization):
        raise PermissionDenied("Only a state liaison of this organisation's state can log engagements.")
    errors = {}
    if kind not in Engagement.Kind.values:
        errors["kind"] = "Choose what kind of engagement it was."
    if not summary.strip():
        errors["summary"] = "Say what was discussed."
    if occurred_on > timezone.localdate():
        errors["occurred_on"] = "An engagement is logged after it happened; the date is in the future."
    if follow_up_due and not follow_up.strip():
        errors["follow_up"] = "Say what the follow-up is."
    if errors:
        raise ValidationError(errors)
    engagement = Engagement.objects.create(
        organization=organization,
        liaison=actor,
        kind=kind,
        occurred_on=occurred_on,
        summary=summary.strip(),
        follow_up=follow_up.strip(),
        follow_up_due=follow_up_due,
    )
    audit_record(
        actor=actor,
        action="engagement.log",
        summary=f"{engagement.get_kind_display()} with {organization.name} on {occurred_on:%Y-%m-%d}",
        organization=organization,
        target=engagement,
    )
    return engagement


@transaction.atomic
def engagement_follow_up_done(*, actor: User, engagement: Engagement) -> Engagement:
    if not policies.can_log_engagement(actor, engagement.organization):
        raise PermissionDenied("Only a state liaison can close follow-ups.")
    engagement.follow_up_done_on = timezone.localdate()
    engagement.save(update_fields=["follow_up_done_on"])
    audit_record(
        actor=actor,
        action="engagement.follow_up_done",
        summary=f"Follow-up with {engagement.organization.name} done",
        organization=engagement.organization,
        target=engagement,
    )
    return engagement


# --- Events ----------------------------------------------------------------------------------


@transaction.atomic
def event_create(
    *,
    actor: User,
    title: str,
    kind: str,
    description: str,
    starts_at: datetime,
    ends_at: datetime,
    location: str,
    capacity: int,
    organizer_org: Organization,
) -> Event:
    if not policies.can_lead_from(actor, organizer_org):
        raise PermissionDenied("Only an admin of the organising organisation, or state staff, can create events.")
    errors = _clean_event(title, kind, starts_at, ends_at, capacity)
    if errors:
        raise ValidationError(errors)
    event = Event.objects.create(
        title=title.strip(),
        kind=kind,
        description=description.strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        location=location.strip(),
        capacity=capacity,
        state=organizer_org.state,
        organizer_org=organizer_org,
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action="event.create",
        summary=f"Created the event “{event.title}” ({capacity} places)",
        organization=organizer_org,
        target=event,
    )
    return event


def _clean_event(title: str, kind: str, starts_at: datetime, ends_at: datetime, capacity: int) -> dict[str, str]:
    errors = {}
    if not title.strip():
        errors["title"] = "Give the event a title."
    if ends_at <= starts_at:
        errors["ends_at"] = "The event must end after it starts."
    if capacity < 1:
        errors["capacity"] = "The capacity is at least one place."
    if kind not in Event.Kind.values:
        errors["kind"] = "Choose what kind of event it is."
    return errors


@transaction.atomic
def event_update(
    *,
    actor: User,
    event: Event,
    title: str,
    kind: str,
    description: str,
    starts_at: datetime,
    ends_at: datetime,
    location: str,
    capacity: int,
    version: str | None,
) -> tuple[Event, list[Registration]]:
    """The organisers change an event. The row is locked (as registration locks it): raising the
    capacity gives the new places to the waiting list in the order people joined it (each told by
    e-mail after commit); lowering it below the people registered is refused, nothing saved.
    Returns the event and the registrations promoted."""
    locked = Event.objects.select_for_update().get(pk=event.pk)
    if not policies.can_manage_event(actor, locked):
        raise PermissionDenied("Only the event's organisers can change it.")
    _check_version(locked, version)
    errors = _clean_event(title, kind, starts_at, ends_at, capacity)
    taken = Registration.objects.filter(event=locked, status=Registration.Status.REGISTERED).count()
    if "capacity" not in errors and capacity < taken:
        errors["capacity"] = (
            f"{taken} people are registered, so the capacity cannot go below {taken}. Keep at least {taken} "
            "places, or cancel registrations first (each person is told)."
        )
    if errors:
        raise ValidationError(errors)
    before = locked.capacity
    locked.title, locked.kind, locked.description = title.strip(), kind, description.strip()
    locked.starts_at, locked.ends_at, locked.location, locked.capacity = starts_at, ends_at, location.strip(), capacity
    locked.save()
    audit_record(
        actor=actor,
        action="event.update",
        summary=f"Changed the event “{locked.title}” ({before} → {capacity} places)",
        organization=locked.organizer_org,
        target=locked,
        data={"capacity_before": before, "capacity": capacity},
    )
    promoted = []
    while (row := _promote_waiting(locked)) is not None:
        promoted.append(row)
    return locked, promoted


@transaction.atomic
def event_register(*, actor: User, event: Event, organization: Organization) -> Registration:
    """A vetted person registers for an event. The event row is locked, so two people racing for the
    last place cannot both get it: the second goes on the waiting list, in the order they came."""
    _acting_org(actor, organization, "register")
    event = Event.objects.select_for_update().get(pk=event.pk)
    if event.cancelled:
        raise ValidationError("This event is cancelled.")
    if event.ends_at <= timezone.now():
        raise ValidationError("This event is over; registration is closed.")
    existing = Registration.objects.filter(event=event, user=actor, status__in=Registration.OPEN_STATUSES).first()
    if existing is not None:
        raise ValidationError(f"You are already {existing.get_status_display().lower()} for this event.")
    taken = Registration.objects.filter(event=event, status=Registration.Status.REGISTERED).count()
    status = Registration.Status.REGISTERED if taken < event.capacity else Registration.Status.WAITLISTED
    registration = Registration.objects.create(event=event, user=actor, organization=organization, status=status)
    audit_record(
        actor=actor,
        action="event.register",
        summary=f"{registration.get_status_display()} for “{event.title}”",
        organization=organization,
        target=event,
        data={"status": status},
    )
    return registration


@transaction.atomic
def registration_cancel(*, actor: User, registration: Registration) -> Registration | None:
    """The person (or an organiser) cancels; a freed place goes to the first on the waiting list, who
    is told by e-mail after commit. Returns the promoted registration, if any."""
    event = Event.objects.select_for_update().get(pk=registration.event_id)
    registration.refresh_from_db()
    if registration.user_id != actor.pk and not policies.can_manage_event(actor, event):
        raise PermissionDenied("Only the person registered or the event's organisers can cancel a registration.")
    if registration.status == Registration.Status.CANCELLED:
        raise ValidationError("This registration is already cancelled.")
    freed = registration.status == Registration.Status.REGISTERED
    registration.status = Registration.Status.CANCELLED
    registration.save(update_fields=["status"])
    audit_record(
        actor=actor,
        action="event.cancel_registration",
        summary=f"Registration of {registration.user} for “{event.title}” cancelled",
        organization=registration.organization,
        target=event,
    )
    return _promote_waiting(event) if freed else None


def _promote_waiting(event: Event) -> Registration | None:
    taken = Registration.objects.filter(event=event, status=Registration.Status.REGISTERED).count()
    if taken >= event.capacity:
        return None
    first = (
        Registration.objects.filter(event=event, status=Registration.Status.WAITLISTED)
        .order_by("created_at", "id")
        .select_related("user")
        .first()
    )
    if first is None:
        return None
    first.status = Registration.Status.REGISTERED
    first.promoted_at = timezone.now()
    first.save(update_fields=["status", "promoted_at"])
    audit_record(
        actor=None,
        action="event.promote",
        summary=f"{first.user} moved from the waiting list to a place at “{event.title}”",
        organization=first.organization,
        target=event,
    )
    email, title, starts = first.user.email, event.title, event.starts_at
    transaction.on_commit(
        lambda: send_mail(
            f"A place is yours: {title}",
            f"A place freed up and you are now registered for “{title}” on {starts:%Y-%m-%d %H:%M %Z}.\n"
            "If you cannot come, please cancel so the next person can take it.",
            None,
            [email],
            fail_silently=True,
        )
    )
    return first


@transaction.atomic
def attendance_record(*, actor: User, registration: Registration, attended: bool) -> Registration:
    if not policies.can_manage_event(actor, registration.event):
        raise PermissionDenied("Only the event's organisers record attendance.")
    if registration.status != Registration.Status.REGISTERED:
        raise ValidationError("Only registered people can be marked present or absent.")
    registration.attended = attended
    registration.save(update_fields=["attended"])
    audit_record(
        actor=actor,
        action="event.attendance",
        summary=f"{registration.user} {'attended' if attended else 'did not attend'} “{registration.event.title}”",
        organization=registration.organization,
        target=registration.event,
    )
    return registration


def event_send_reminders(*, now: datetime | None = None, ahead: timedelta = timedelta(hours=24)) -> int:
    """E-mail each registered person once, within `ahead` of the event's start. Returns how many."""
    now = now or timezone.now()
    due = Registration.objects.filter(
        status=Registration.Status.REGISTERED,
        reminded_at__isnull=True,
        event__cancelled=False,
        event__starts_at__gt=now,
        event__starts_at__lte=now + ahead,
    ).select_related("event", "user")
    sent = 0
    for registration in due:
        with transaction.atomic():
            claimed = Registration.objects.filter(pk=registration.pk, reminded_at__isnull=True).update(reminded_at=now)
            if not claimed:
                continue
            event = registration.event
            send_mail(
                f"Reminder: {event.title}",
                f"“{event.title}” starts {event.starts_at:%Y-%m-%d %H:%M %Z} at {event.location}.\n"
                "If you cannot come, please cancel your registration so someone on the waiting list can take it.",
                None,
                [registration.user.email],
            )
            sent += 1
    return sent


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def calendar_feed_create(*, actor: User) -> str:
    """A new iCalendar feed URL token for the person; any earlier one stops working. The token is
    returned once and only its hash is stored."""
    CalendarFeed.objects.filter(user=actor, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token = secrets.token_urlsafe(32)
    CalendarFeed.objects.create(user=actor, token_hash=_token_hash(token))
    audit_record(actor=actor, action="calendar.create", summary="Created a calendar feed link", kind="security")
    return token


@transaction.atomic
def calendar_feed_revoke(*, actor: User) -> int:
    count = CalendarFeed.objects.filter(user=actor, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if count:
        audit_record(actor=actor, action="calendar.revoke", summary="Revoked the calendar feed link", kind="security")
    return count


def calendar_feed_user(token: str) -> User | None:
    """The person a live feed token belongs to, or None (unknown, revoked, or the person is gone)."""
    feed = (
        CalendarFeed.objects.filter(token_hash=_token_hash(token), revoked_at__isnull=True)
        .select_related("user")
        .first()
    )
    if feed is None or not feed.user.is_active:
        return None
    CalendarFeed.objects.filter(pk=feed.pk).update(last_used_at=timezone.now())
    return feed.user


# --- Grants ----------------------------------------------------------------------------------


@transaction.atomic
def grant_program_create(
    *,
    actor: User,
    name: str,
    fiscal_year: int,
    federal_award: Decimal,
    cost_share_rate: Decimal,
    administrator: Organization,
) -> GrantProgram:
    if administrator.kind != Organization.Kind.STATE_AGENCY or not policies.can_lead_from(actor, administrator):
        raise PermissionDenied("Only state staff of the administering state agency can set up a grant programme.")
    if GrantProgram.objects.filter(state=administrator.state, name=name.strip(), fiscal_year=fiscal_year).exists():
        raise ValidationError({"name": "This programme already exists for that fiscal year."})
    program = GrantProgram(
        name=name.strip(),
        state=administrator.state,
        fiscal_year=fiscal_year,
        federal_award=federal_award,
        cost_share_rate=cost_share_rate,
        administrator=administrator,
    )
    program.full_clean()
    program.save()
    audit_record(
        actor=actor,
        action="grant.program.create",
        summary=f"Set up {program} (${federal_award:,.2f})",
        organization=administrator,
        target=program,
    )
    return program


@transaction.atomic
def sub_award_save(
    *,
    actor: User,
    program: GrantProgram,
    organization: Organization,
    amount: Decimal,
    match_amount: Decimal,
    objective: str,
    project: str,
    status: str,
    self_assessment_done: bool,
    sub_award: SubAward | None = None,
    version: str | None = None,
) -> SubAward:
    """The programme's administrators record or update a sub-award to a local government of the state.
    An update locks the row and refuses a form opened before someone else's change (STALE)."""
    if not policies.can_manage_program(actor, program):
        raise PermissionDenied("Only the programme's administrators can record sub-awards.")
    if sub_award is not None:
        sub_award = SubAward.objects.select_for_update().get(pk=sub_award.pk, program=program)
        _check_version(sub_award, version)
    errors = {}
    if not organization.is_local_government or organization.state != program.state:
        errors["organization"] = f"Sub-awards go to local governments of {program.get_state_display()}."
    if amount <= 0:
        errors["amount"] = "The amount must be more than zero."
    if match_amount < 0:
        errors["match_amount"] = "The match cannot be negative."
    if not objective.strip():
        errors["objective"] = "Name the plan objective the project serves."
    if not project.strip():
        errors["project"] = "Describe the project."
    if status not in SubAward.Status.values:
        errors["status"] = "Choose a status."
    if errors:
        raise ValidationError(errors)
    award = sub_award or SubAward(program=program)
    award.organization = organization
    award.amount = amount
    award.match_amount = match_amount
    award.objective = objective.strip()
    award.project = project.strip()
    award.status = status
    award.self_assessment_done = self_assessment_done
    award.save()
    audit_record(
        actor=actor,
        action="grant.sub_award.save",
        summary=f"Sub-award of ${amount:,.2f} to {organization.name} under {program} ({award.get_status_display()})",
        organization=organization,
        target=award,
    )
    return award


# --- Volunteers and interns ------------------------------------------------------------------


@transaction.atomic
def volunteer_offer_create(
    *, actor: User, organization: Organization, kind: str, title: str, skills: str, hours_per_month: int
) -> VolunteerOffer:
    """A vetted person offers students (for a university) or their own expertise."""
    _acting_org(actor, organization, "offer help")
    errors = {}
    if kind not in VolunteerOffer.Kind.values:
        errors["kind"] = "Choose what is offered."
    if kind == VolunteerOffer.Kind.STUDENTS and organization.kind != Organization.Kind.UNIVERSITY:
        errors["kind"] = "Students are offered by a university."
    if not title.strip():
        errors["title"] = "Say what is offered."
    if not skills.strip():
        errors["skills"] = "Name the skills offered."
    if hours_per_month < 1:
        errors["hours_per_month"] = "At least one hour a month."
    if errors:
        raise ValidationError(errors)
    offer = VolunteerOffer.objects.create(
        kind=kind,
        offered_by=actor,
        organization=organization,
        state=organization.state,
        title=title.strip(),
        skills=skills.strip(),
        hours_per_month=hours_per_month,
    )
    audit_record(
        actor=actor,
        action="volunteer.offer",
        summary=f"Offered “{offer.title}”",
        organization=organization,
        target=offer,
    )
    return offer


@transaction.atomic
def local_need_create(
    *, actor: User, organization: Organization, title: str, description: str, skills: str
) -> LocalNeed:
    """A member of a local government asks for help."""
    _acting_org(actor, organization, "ask for help")
    errors = {}
    if not organization.is_local_government:
        errors["organization"] = "Needs are posted for a local government."
    if not title.strip():
        errors["title"] = "Say what help is needed."
    if not skills.strip():
        errors["skills"] = "Name the skills needed."
    if errors:
        raise ValidationError(errors)
    need = LocalNeed.objects.create(
        organization=organization,
        posted_by=actor,
        title=title.strip(),
        description=description.strip(),
        skills=skills.strip(),
    )
    audit_record(
        actor=actor,
        action="volunteer.need",
        summary=f"Asked for “{need.title}”",
        organization=organization,
        target=need,
    )
    return need


@transaction.atomic
def volunteer_match(*, actor: User, offer: VolunteerOffer, need: LocalNeed, note: str = "") -> VolunteerMatch:
    """A state liaison matches an open offer to an open need of the same state; both sides are e-mailed.
    Both rows are locked and their status read again under the lock, so two liaisons matching the same
    offer (or need) at once cannot both succeed: the second is refused, nothing written."""
    if offer.state not in viewer_for(actor).liaison_states or need.organization.state != offer.state:
        raise PermissionDenied("Only a state liaison of the offer's and the need's state can match them.")
    offer = VolunteerOffer.objects.select_for_update().select_related("offered_by", "organization").get(pk=offer.pk)
    need = LocalNeed.objects.select_for_update().select_related("organization", "posted_by").get(pk=need.pk)
    if offer.status != VolunteerOffer.Status.OPEN or need.status != VolunteerOffer.Status.OPEN:
        raise ValidationError("Both the offer and the need must still be open.")
    match = VolunteerMatch.objects.create(offer=offer, need=need, matched_by=actor, note=note.strip())
    offer.status = need.status = VolunteerOffer.Status.MATCHED
    offer.save(update_fields=["status", "updated_at"])
    need.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor,
        action="volunteer.match",
        summary=f"Matched “{offer.title}” to {need.organization.name}: “{need.title}”",
        organization=need.organization,
        target=match,
    )
    recipients = [offer.offered_by.email, need.posted_by.email]
    subject = f"Volunteer match: {offer.title} for {need.organization.name}"
    body = (
        f"The state liaison matched “{offer.title}” ({offer.offered_by.full_name}, {offer.organization.name}) "
        f"to “{need.title}” at {need.organization.name}.\n{note.strip()}\n"
        "Please get in touch with each other; the liaison follows up."
    )
    transaction.on_commit(lambda: send_mail(subject, body, None, recipients, fail_silently=True))
    return match


@transaction.atomic
def volunteer_vet(*, actor: User, offer: VolunteerOffer) -> VolunteerOffer:
    """A state liaison of the offer's state records that the volunteer is vetted (references,
    identity, conflicts checked). Vetted and matched, a resident can go to a mutual-aid roster."""
    if offer.state not in viewer_for(actor).liaison_states:
        raise PermissionDenied("Only a state liaison of the offer's state can vet volunteers.")
    offer = VolunteerOffer.objects.select_for_update().get(pk=offer.pk)
    if offer.vetted_at is not None:
        raise ValidationError("This volunteer is already vetted.")
    offer.vetted_at, offer.vetted_by = timezone.now(), actor
    offer.save(update_fields=["vetted_at", "vetted_by", "updated_at"])
    audit_record(
        actor=actor,
        action="volunteer.vet",
        summary=f"Vetted the volunteer of “{offer.title}”",
        organization=offer.organization,
        target=offer,
    )
    return offer


def roster_ready(offer: VolunteerOffer) -> bool:
    """A resident's own expertise offer, vetted and matched, not yet on a roster (students are added
    one by one by the programme, not as their university's offer)."""
    return (
        offer.kind == VolunteerOffer.Kind.EXPERTISE
        and offer.vetted_at is not None
        and offer.status == VolunteerOffer.Status.MATCHED
        and offer.roster_responder_id is None
    )


@transaction.atomic
def volunteer_to_roster(*, actor: User, offer: VolunteerOffer, programme: Organization, home_county_fips: str) -> Any:
    """Hand a vetted, matched volunteer to a mutual-aid programme's roster: the programme's
    coordinator adds them through mutual aid's own service (status applied, then screening: the
    liaison's vetting is the start of screening). Partnerships never writes mutual aid's tables."""
    from commonguard.mutualaid import services as mutualaid
    from commonguard.mutualaid.models import Responder

    offer = VolunteerOffer.objects.select_for_update().select_related("offered_by").get(pk=offer.pk)
    if not roster_ready(offer):
        raise ValidationError(
            "Only a resident's vetted and matched offer that is not on a roster yet can be added to one."
        )
    if programme.state != offer.state:
        raise ValidationError({"programme": "Choose a programme of the volunteer's state."})
    person = offer.offered_by
    if Responder.objects.filter(user_id=person.pk).exists():  # one roster place per person (mutual aid's rule)
        raise ValidationError(f"{person.full_name or person.email} is already on a mutual-aid roster.")
    responder = mutualaid.responder_create(
        actor=actor,
        data=mutualaid.ResponderInput(
            programme=programme,
            full_name=person.full_name or person.email,
            email=person.email,
            source="volunteer_corps",
            home_county_fips=home_county_fips.strip(),
            skills=[],
            user_id=person.pk,
        ),
    )
    responder = mutualaid.responder_transition(
        actor=actor, responder=responder, to="screening", note="vetted by the state liaison (volunteers)"
    )
    offer.roster_responder = responder
    offer.save(update_fields=["roster_responder", "updated_at"])
    audit_record(
        actor=actor,
        action="volunteer.roster",
        summary=f"Added the volunteer of “{offer.title}” to the roster of {programme.name} (screening)",
        organization=programme,
        target=offer,
    )
    return responder
