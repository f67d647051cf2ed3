"""Pages of partnerships: library, initiatives, liaison engagements, events (with a calendar feed),
grants. Views are access (visible_to), act (services), respond."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from commonguard.accounts.models import User
from commonguard.accounts.viewer import viewer_for
from commonguard.orgs.models import Organization
from commonguard.partnerships import forms as f
from commonguard.partnerships import policies, selectors, services
from commonguard.partnerships.ical import calendar_for
from commonguard.partnerships.models import (
    Engagement,
    Event,
    Goal,
    GrantProgram,
    Initiative,
    LocalNeed,
    Milestone,
    Registration,
    Resource,
    ResourceComment,
    ResourceUse,
    SubAward,
    VolunteerMatch,
    VolunteerOffer,
)
from commonguard.partnerships.uploads import Sniffed
from commonguard.sharing.models import SharingGroup
from commonguard.web.decorators import vetted_required
from commonguard.web.errors import apply_validation_error, error_text
from commonguard.web.http import AuthedRequest


def _my_orgs(request: AuthedRequest, *, admin: bool = False) -> list[tuple[int, str]]:
    viewer = viewer_for(request.user)
    ids = viewer.admin_org_ids if admin else viewer.org_ids
    if admin and viewer.staff_states:
        ids = ids | frozenset(o for o in viewer.org_ids if o not in ids)
    rows = Organization.objects.visible_to(request.user).filter(pk__in=list(ids)).order_by("sort_name")
    return [(o.pk, o.name) for o in rows if not admin or policies.can_lead_from(request.user, o)]


def _approved_orgs(request: AuthedRequest, **filters: Any) -> list[tuple[int, str]]:
    rows = Organization.objects.visible_to(request.user).filter(status=Organization.Status.APPROVED, **filters)
    return list(rows.order_by("sort_name").values_list("pk", "name"))


def _org(request: AuthedRequest, pk: int) -> Organization:
    org = Organization.objects.visible_to(request.user).filter(pk=pk).first()
    if org is None:
        raise ValidationError({"organization": "Choose an organisation from the list."})
    return org


PAGE_SIZE = 25


def _page(request: AuthedRequest, items: Any, size: int = PAGE_SIZE) -> dict[str, Any]:
    """One page of a long list (Django's Paginator, as the directory uses) and the query string
    without `page`, for includes/pagination.html."""
    page = Paginator(items, size).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return {"page": page, "query": query.urlencode()}


def _one(qs: Any, pk: int) -> Any:
    row = qs.filter(pk=pk).first()
    if row is None:
        raise Http404
    return row


# --- Library ---------------------------------------------------------------------------------


@vetted_required
@require_GET
def library_list(request: AuthedRequest) -> HttpResponse:
    form = f.SearchForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    resources = selectors.resource_search(
        user=request.user,
        query=data.get("q", ""),
        kind=data.get("kind", ""),
        tag=data.get("tag", ""),
        csf_category=data.get("csf", ""),
    ).prefetch_related("tags")
    paged = _page(request, resources)
    context = {"form": form, "resources": paged["page"].object_list, **paged}
    return render(request, "partnerships/library_list.html", context)


def _my_groups(request: AuthedRequest) -> list[tuple[int, str]]:
    """Sharing groups one of the person's organisations belongs to (or owns): the ones they may name."""
    ids = list(viewer_for(request.user).org_ids)
    rows = SharingGroup.objects.filter(Q(organizations__in=ids) | Q(owner_id__in=ids)).distinct().order_by("name")
    return list(rows.values_list("pk", "name"))


def _resource_input(request: AuthedRequest, data: dict[str, Any], author_org: Organization) -> services.ResourceInput:
    return services.ResourceInput(
        title=data["title"],
        kind=data["kind"],
        summary=data["summary"],
        author_org=author_org,
        tlp=data["tlp"],
        url=data["url"],
        tags=services.parse_tags(data["tags"]),
        csf_categories=services.parse_csf_categories(data["csf_categories"]),
        recipient_orgs=list(Organization.objects.visible_to(request.user).filter(pk__in=data["recipient_orgs"])),
        recipient_groups=list(SharingGroup.objects.filter(pk__in=data["recipient_groups"])),
        recipient_people=_people(request, data["recipient_people"]),
    )


@vetted_required
def library_new(request: AuthedRequest) -> HttpResponse:
    orgs = _my_orgs(request)
    form = f.ResourceForm(
        request.POST or None,
        request.FILES or None,
        orgs=orgs,
        all_orgs=_approved_orgs(request),
        groups=_my_groups(request),
    )
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                resource = services.resource_create(
                    actor=request.user,
                    data=_resource_input(request, data, _org(request, data["author_org"])),
                    upload=data["file"],
                )
            except (ValidationError, PermissionDenied) as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, f"“{resource.title}” is in the library as {resource.get_tlp_display()}.")
                return redirect("partnerships:resource", pk=resource.pk)
        return render(request, "partnerships/library_form.html", {"form": form}, status=400)
    return render(request, "partnerships/library_form.html", {"form": form})


@vetted_required
def library_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    """Editors of the owning organisation change a resource; anyone else: 404 like absent."""
    resource = _one(Resource.objects.visible_to(request.user).select_related("author_org"), pk)
    if not policies.can_edit_resource(request.user, resource):
        raise Http404
    initial = {
        "title": resource.title,
        "kind": resource.kind,
        "summary": resource.summary,
        "url": resource.url,
        "tlp": resource.tlp,
        "recipient_orgs": list(resource.recipient_orgs.values_list("pk", flat=True)),
        "recipient_groups": list(resource.recipient_groups.values_list("pk", flat=True)),
        "recipient_people": "\n".join(resource.recipient_people.values_list("email", flat=True)),
        "tags": ", ".join(resource.tags.values_list("name", flat=True)),
        "csf_categories": resource.csf_categories,
        "version": services.version_of(resource),
    }
    form = f.ResourceForm(
        request.POST or None,
        initial=initial,
        orgs=[],
        all_orgs=_approved_orgs(request),
        groups=_my_groups(request),
        editing=True,
    )

    def save(data: dict[str, Any]) -> str:
        services.resource_update(
            actor=request.user,
            resource=resource,
            data=_resource_input(request, data, resource.author_org),
            version=data["version"] or None,
        )
        return f"“{data['title']}” is saved."

    done = reverse("partnerships:resource", kwargs={"pk": resource.pk})
    return _edit_page(request, form, save, done, "partnerships/library_edit.html", {"resource": resource})


def _edit_page(
    request: AuthedRequest, form: Any, save: Any, done: str, template: str, context: dict[str, Any]
) -> HttpResponse:
    """An edit form: on a valid POST `save(cleaned_data)` (a service call) returns the success
    message and the page redirects to `done`; a service's refusal shows on the form (400), and a form
    opened before someone else's change says so (409, nothing saved)."""
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                message = save(form.cleaned_data)
            except (ValidationError, PermissionDenied) as exc:
                apply_validation_error(form, exc)
                status = 409 if _stale(exc) else 400
            else:
                messages.success(request, message)
                return redirect(done)
    return render(request, template, {"form": form, **context}, status=status)


def _stale(exc: Exception) -> bool:
    return isinstance(exc, ValidationError) and hasattr(exc, "error_dict") and "version" in exc.error_dict


def _people(request: AuthedRequest, text: str) -> list[User]:
    emails = [e.strip().lower() for e in text.replace(",", "\n").split() if e.strip()]
    if not emails:
        return []
    found = list(User.objects.visible_to(request.user).filter(email__in=emails))
    missing = sorted(set(emails) - {u.email for u in found})
    if missing:
        raise ValidationError(
            {"recipient_people": f"No vetted person you can see has the address: {', '.join(missing)}."}
        )
    return found


@vetted_required
def library_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    resource = _one(Resource.objects.visible_to(request.user).select_related("author", "author_org"), pk)
    orgs = _my_orgs(request)
    comment_form = f.CommentForm(request.POST if request.POST.get("action") == "comment" else None, orgs=orgs)
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "comment":
                if comment_form.is_valid():
                    services.resource_comment_add(
                        actor=request.user,
                        resource=resource,
                        organization=_org(request, comment_form.cleaned_data["organization"]),
                        body=comment_form.cleaned_data["body"],
                    )
                    messages.success(request, "Your comment is posted.")
                    return redirect("partnerships:resource", pk=resource.pk)
                status = 400
            elif action in {"use", "unuse"}:
                services.resource_mark_used(
                    actor=request.user,
                    resource=resource,
                    organization=_org(request, int(request.POST.get("organization", 0) or 0)),
                    used=action == "use",
                )
                return redirect("partnerships:resource", pk=resource.pk)
            else:
                raise ValidationError("Unknown action.")
        except (ValidationError, PermissionDenied) as exc:
            if action != "comment":
                messages.error(request, error_text(exc))
                return redirect("partnerships:resource", pk=resource.pk)
            apply_validation_error(comment_form, exc)
            status = 400
    my_org_ids = viewer_for(request.user).org_ids
    context = {
        "resource": resource,
        "comments": ResourceComment.objects.visible_to(request.user)
        .filter(resource=resource)
        .select_related("author", "author_org"),
        "comment_form": comment_form,
        "use_count": ResourceUse.objects.visible_to(request.user).filter(resource=resource).count(),
        "my_uses": set(
            ResourceUse.objects.visible_to(request.user)
            .filter(resource=resource, organization_id__in=my_org_ids)
            .values_list("organization_id", flat=True)
        ),
        "my_orgs": orgs,
        "can_edit": policies.can_edit_resource(request.user, resource),
    }
    return render(request, "partnerships/library_detail.html", context, status=status)


@vetted_required
@require_GET
def library_download(request: AuthedRequest, pk: int) -> HttpResponse:
    """The file, only to readers. Images are shown inline; everything else is an attachment, never
    sniffed, and sandboxed should a browser open it anyway."""
    resource = _one(Resource.objects.visible_to(request.user), pk)
    if not resource.file:
        raise Http404
    inline = Sniffed(resource.content_type, "").inline
    response = FileResponse(
        resource.file.open("rb"),
        as_attachment=not inline,
        filename=resource.file_name,
        content_type=resource.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    # A streamed file: the decorators pass it through untouched.
    return cast(HttpResponse, response)


# --- Initiatives -----------------------------------------------------------------------------


@vetted_required
@require_GET
def initiative_list(request: AuthedRequest) -> HttpResponse:
    glance = selectors.initiatives_at_a_glance(user=request.user)
    paged = _page(request, glance)
    context = {
        **paged,
        "glance": paged["page"].object_list,
        "on_track": sum(1 for g in glance if g.on_track),
        "attention": sum(1 for g in glance if not g.on_track),
        "can_create": bool(_my_orgs(request, admin=True)),
    }
    return render(request, "partnerships/initiative_list.html", context)


@vetted_required
def initiative_new(request: AuthedRequest) -> HttpResponse:
    orgs = _my_orgs(request, admin=True)
    if not orgs:
        raise PermissionDenied("Only organisation admins and state staff can start initiatives.")
    form = f.InitiativeForm(request.POST or None, orgs=orgs, all_orgs=_approved_orgs(request))
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                partners = Organization.objects.visible_to(request.user).filter(pk__in=data["partners"])
                initiative = services.initiative_create(
                    actor=request.user,
                    title=data["title"],
                    description=data["description"],
                    lead_org=_org(request, data["lead_org"]),
                    status=data["status"],
                    partners=[(p, "") for p in partners],
                    goals=data["goals"].splitlines(),
                )
            except (ValidationError, PermissionDenied) as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, f"The initiative “{initiative.title}” is started.")
                return redirect("partnerships:initiative", pk=initiative.pk)
        return render(request, "partnerships/initiative_form.html", {"form": form}, status=400)
    return render(request, "partnerships/initiative_form.html", {"form": form})


@vetted_required
def initiative_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    initiative = _one(Initiative.objects.visible_to(request.user).select_related("lead_org"), pk)
    partners = list(initiative.partners.select_related("organization"))
    involved = [(initiative.lead_org_id, initiative.lead_org.name)] + [
        (p.organization_id, p.organization.name) for p in partners
    ]
    action = request.POST.get("action") if request.method == "POST" else None
    progress_form = f.ProgressForm(request.POST if action == "note" else None, initial={"status": initiative.status})
    milestone_form = f.MilestoneForm(request.POST if action == "milestone" else None, involved=involved)
    partner_form = f.PartnerForm(request.POST if action == "partner" else None, all_orgs=_approved_orgs(request))
    status = 200
    if request.method == "POST":
        try:
            if action == "note" and progress_form.is_valid():
                services.progress_note_add(
                    actor=request.user,
                    initiative=initiative,
                    body=progress_form.cleaned_data["body"],
                    status=progress_form.cleaned_data["status"] or None,
                )
                messages.success(request, "Progress recorded.")
                return redirect("partnerships:initiative", pk=initiative.pk)
            if action == "milestone" and milestone_form.is_valid():
                data = milestone_form.cleaned_data
                owner = None
                if data["owner"]:
                    owner = User.objects.visible_to(request.user).filter(email=data["owner"].lower()).first()
                    if owner is None:
                        raise ValidationError({"owner": "No vetted person you can see has that address."})
                services.milestone_add(
                    actor=request.user,
                    initiative=initiative,
                    title=data["title"],
                    owner_org=_org(request, data["owner_org"]),
                    owner=owner,
                    due_on=data["due_on"],
                )
                messages.success(request, "Milestone added.")
                return redirect("partnerships:initiative", pk=initiative.pk)
            if action == "milestone_done":
                milestone = _one(
                    Milestone.objects.visible_to(request.user).filter(initiative=initiative),
                    int(request.POST.get("milestone", 0) or 0),
                )
                services.milestone_complete(actor=request.user, milestone=milestone)
                messages.success(request, f"“{milestone.title}” is done.")
                return redirect("partnerships:initiative", pk=initiative.pk)
            if action in {"goal_met", "goal_unmet"}:
                goal = _one(
                    Goal.objects.visible_to(request.user).filter(initiative=initiative),
                    int(request.POST.get("goal", 0) or 0),
                )
                services.goal_set_met(actor=request.user, goal=goal, met=action == "goal_met")
                messages.success(request, f"“{goal.text}” is {'met' if action == 'goal_met' else 'not met yet'}.")
                return redirect("partnerships:initiative", pk=initiative.pk)
            if action == "partner" and partner_form.is_valid():
                services.partner_add(
                    actor=request.user,
                    initiative=initiative,
                    organization=_org(request, partner_form.cleaned_data["organization"]),
                    expectations=partner_form.cleaned_data["expectations"],
                )
                messages.success(request, "Partner saved.")
                return redirect("partnerships:initiative", pk=initiative.pk)
            status = 400
        except (ValidationError, PermissionDenied) as exc:
            target = {"note": progress_form, "milestone": milestone_form, "partner": partner_form}.get(action or "")
            if target is None:
                messages.error(request, error_text(exc))
                return redirect("partnerships:initiative", pk=initiative.pk)
            apply_validation_error(target, exc)
            status = 400
    today = timezone.localdate()
    milestones = list(initiative.milestones.select_related("owner", "owner_org"))
    context = {
        "initiative": initiative,
        "partners": partners,
        "goals": initiative.goals.all(),
        "milestones": milestones,
        "overdue_ids": {m.pk for m in milestones if m.is_overdue(today)},
        "notes": initiative.notes.select_related("author")[:50],
        "can_manage": policies.can_manage_initiative(request.user, initiative),
        "can_note": policies.can_add_progress_note(request.user, initiative),
        "progress_form": progress_form,
        "milestone_form": milestone_form,
        "partner_form": partner_form,
        "today": today,
    }
    return render(request, "partnerships/initiative_detail.html", context, status=status)


# --- Liaison engagements ---------------------------------------------------------------------


@vetted_required
def engagement_list(request: AuthedRequest) -> HttpResponse:
    viewer = viewer_for(request.user)
    form = None
    status = 200
    if viewer.liaison_states:
        local = _approved_orgs(request, state__in=viewer.liaison_states, kind__in=Organization.LOCAL_GOVERNMENT_KINDS)
        form = f.EngagementForm(request.POST or None, orgs=local, initial={"occurred_on": timezone.localdate()})
        if request.method == "POST":
            if form.is_valid():
                data = form.cleaned_data
                try:
                    engagement = services.engagement_log(
                        actor=request.user,
                        organization=_org(request, data["organization"]),
                        kind=data["kind"],
                        occurred_on=data["occurred_on"],
                        summary=data["summary"],
                        follow_up=data["follow_up"],
                        follow_up_due=data["follow_up_due"],
                    )
                except (ValidationError, PermissionDenied) as exc:
                    apply_validation_error(form, exc)
                else:
                    messages.success(
                        request, f"Logged: {engagement.get_kind_display()} with {engagement.organization.name}."
                    )
                    return redirect("partnerships:engagements")
            status = 400
    elif request.method == "POST":
        raise PermissionDenied("Only state liaisons log engagements.")
    whole_state = request.GET.get("scope") == "state"
    engagements = Engagement.objects.visible_to(request.user).select_related("organization", "liaison")
    paged = _page(request, engagements)
    context = {
        "form": form,
        **paged,
        "engagements": paged["page"].object_list,
        "open_follow_ups": engagements.filter(follow_up__gt="", follow_up_done_on__isnull=True).order_by(
            "follow_up_due"
        ),
        "not_contacted": selectors.not_contacted_this_quarter(user=request.user, whole_state=whole_state),
        "quarter_start": selectors.quarter_start(timezone.localdate()),
        "whole_state": whole_state,
        "is_liaison": bool(viewer.liaison_states),
    }
    return render(request, "partnerships/engagements.html", context, status=status)


@vetted_required
@require_POST
def engagement_follow_up_done(request: AuthedRequest, pk: int) -> HttpResponse:
    engagement = _one(Engagement.objects.visible_to(request.user).select_related("organization"), pk)
    try:
        services.engagement_follow_up_done(actor=request.user, engagement=engagement)
    except PermissionDenied as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, f"Follow-up with {engagement.organization.name} closed.")
    return redirect("partnerships:engagements")


# --- Events ----------------------------------------------------------------------------------


@vetted_required
@require_GET
def event_list(request: AuthedRequest) -> HttpResponse:
    now = timezone.now()
    events = Event.objects.visible_to(request.user).filter(ends_at__gte=now).select_related("organizer_org")
    mine = {
        r.event_id: r
        for r in Registration.objects.visible_to(request.user).filter(
            user=request.user, status__in=Registration.OPEN_STATUSES
        )
    }
    from django.db.models import Count, Q

    events = events.annotate(taken=Count("registrations", filter=Q(registrations__status="registered")))
    paged = _page(request, events.order_by("starts_at", "id"))
    rows = [(e, mine.get(e.pk), max(e.capacity - e.taken, 0)) for e in paged["page"].object_list]
    context = {**paged, "rows": rows, "can_create": bool(_my_orgs(request, admin=True))}
    return render(request, "partnerships/event_list.html", context)


@vetted_required
def event_new(request: AuthedRequest) -> HttpResponse:
    orgs = _my_orgs(request, admin=True)
    if not orgs:
        raise PermissionDenied("Only organisation admins and state staff can create events.")
    form = f.EventForm(request.POST or None, orgs=orgs)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                event = services.event_create(
                    actor=request.user,
                    title=data["title"],
                    kind=data["kind"],
                    description=data["description"],
                    starts_at=data["starts_at"],
                    ends_at=data["ends_at"],
                    location=data["location"],
                    capacity=data["capacity"],
                    organizer_org=_org(request, data["organizer_org"]),
                )
            except (ValidationError, PermissionDenied) as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, f"The event “{event.title}” is open for registration.")
                return redirect("partnerships:event", pk=event.pk)
        return render(request, "partnerships/event_form.html", {"form": form}, status=400)
    return render(request, "partnerships/event_form.html", {"form": form})


@vetted_required
def event_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    """The organisers change an event (capacity included); anyone else: 404 like absent."""
    event = _one(Event.objects.visible_to(request.user).select_related("organizer_org"), pk)
    if not policies.can_manage_event(request.user, event):
        raise Http404
    tz = timezone.get_current_timezone()
    initial = {
        "title": event.title,
        "kind": event.kind,
        "description": event.description,
        "starts_at": event.starts_at.astimezone(tz),
        "ends_at": event.ends_at.astimezone(tz),
        "location": event.location,
        "capacity": event.capacity,
        "version": services.version_of(event),
    }
    form = f.EventForm(request.POST or None, initial=initial, orgs=[], editing=True)

    def save(data: dict[str, Any]) -> str:
        saved, promoted = services.event_update(
            actor=request.user,
            event=event,
            title=data["title"],
            kind=data["kind"],
            description=data["description"],
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            location=data["location"],
            capacity=data["capacity"],
            version=data["version"] or None,
        )
        if promoted:
            names = ", ".join(str(r.user) for r in promoted)
            messages.info(request, f"From the waiting list to the new places: {names}.")
        return f"“{saved.title}” is saved."

    done = reverse("partnerships:event", kwargs={"pk": event.pk})
    return _edit_page(request, form, save, done, "partnerships/event_edit.html", {"event": event})


@vetted_required
def event_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    event = _one(Event.objects.visible_to(request.user).select_related("organizer_org"), pk)
    orgs = _my_orgs(request)
    action = request.POST.get("action") if request.method == "POST" else None
    register_form = f.RegisterForm(request.POST if action == "register" else None, orgs=orgs)
    status = 200
    if request.method == "POST":
        try:
            if action == "register":
                if register_form.is_valid():
                    registration = services.event_register(
                        actor=request.user,
                        event=event,
                        organization=_org(request, register_form.cleaned_data["organization"]),
                    )
                    if registration.status == Registration.Status.REGISTERED:
                        messages.success(request, "You are registered. A reminder comes the day before.")
                    else:
                        messages.warning(
                            request,
                            "The event is full: you are on the waiting list. If a place frees up, it is yours "
                            "and we e-mail you.",
                        )
                    return redirect("partnerships:event", pk=event.pk)
                status = 400
            elif action in {"cancel", "present", "absent"}:
                registration = _one(
                    Registration.objects.visible_to(request.user).filter(event=event).select_related("event", "user"),
                    int(request.POST.get("registration", 0) or 0),
                )
                if action == "cancel":
                    promoted = services.registration_cancel(actor=request.user, registration=registration)
                    messages.success(request, "The registration is cancelled.")
                    if promoted is not None and policies.can_manage_event(request.user, event):
                        messages.info(request, f"{promoted.user} moved from the waiting list to the freed place.")
                else:
                    services.attendance_record(
                        actor=request.user, registration=registration, attended=action == "present"
                    )
                return redirect("partnerships:event", pk=event.pk)
            else:
                raise ValidationError("Unknown action.")
        except (ValidationError, PermissionDenied) as exc:
            if action != "register":
                messages.error(request, error_text(exc))
                return redirect("partnerships:event", pk=event.pk)
            apply_validation_error(register_form, exc)
            status = 400
    registrations = (
        Registration.objects.visible_to(request.user).filter(event=event).select_related("user", "organization")
    )
    mine = registrations.filter(user=request.user, status__in=Registration.OPEN_STATUSES).first()
    can_manage = policies.can_manage_event(request.user, event)
    taken = Registration.objects.filter(event=event, status=Registration.Status.REGISTERED).count()
    waiting = Registration.objects.filter(event=event, status=Registration.Status.WAITLISTED).count()
    context = {
        "event": event,
        "mine": mine,
        "register_form": register_form,
        "can_manage": can_manage,
        "registered": registrations.filter(status=Registration.Status.REGISTERED) if can_manage else [],
        "waitlisted": registrations.filter(status=Registration.Status.WAITLISTED) if can_manage else [],
        "taken": taken,
        "waiting": waiting,
        "free": max(event.capacity - taken, 0),
        "past": event.ends_at <= timezone.now(),
    }
    return render(request, "partnerships/event_detail.html", context, status=status)


@vetted_required
def calendar_settings(request: AuthedRequest) -> HttpResponse:
    token = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            services.calendar_feed_revoke(actor=request.user)
            messages.success(request, "The calendar link no longer works.")
            return redirect("partnerships:calendar")
        token = services.calendar_feed_create(actor=request.user)
    from commonguard.partnerships.models import CalendarFeed

    active = CalendarFeed.objects.filter(user=request.user, revoked_at__isnull=True).first()
    url = request.build_absolute_uri(f"/partnerships/calendar/{token}.ics") if token else None
    return render(request, "partnerships/calendar.html", {"feed_url": url, "active": active})


@require_GET
def calendar_feed(request: Any, token: str) -> HttpResponse:
    """The iCalendar feed: the token in the URL is the credential (calendar programs cannot sign in).
    An unknown or revoked token is a plain 404."""
    user = services.calendar_feed_user(token)
    if user is None:
        raise Http404
    body = calendar_for(user, host=request.get_host().split(":")[0])
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- Grants ----------------------------------------------------------------------------------


@vetted_required
def grant_list(request: AuthedRequest) -> HttpResponse:
    viewer = viewer_for(request.user)
    agencies = [
        (pk, name)
        for pk, name in _my_orgs(request, admin=True)
        if Organization.objects.filter(pk=pk, kind=Organization.Kind.STATE_AGENCY).exists()
    ]
    form = f.GrantProgramForm(request.POST or None, orgs=agencies) if agencies else None
    status = 200
    if request.method == "POST":
        if form is None:
            raise PermissionDenied("Only state staff set up grant programmes.")
        if form.is_valid():
            data = form.cleaned_data
            try:
                program = services.grant_program_create(
                    actor=request.user,
                    name=data["name"],
                    fiscal_year=data["fiscal_year"],
                    federal_award=data["federal_award"],
                    cost_share_rate=data["cost_share_rate"],
                    administrator=_org(request, data["administrator"]),
                )
            except (ValidationError, PermissionDenied) as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, f"{program} is set up.")
                return redirect("partnerships:grant", pk=program.pk)
        status = 400
    readable = GrantProgram.objects.visible_to(request.user).select_related("administrator")
    paged = _page(request, readable)
    shown = list(paged["page"].object_list)
    checks = selectors.pass_through_many(shown, user=request.user)
    programs = [(p, checks[p.pk]) for p in shown]
    my_awards = (
        SubAward.objects.visible_to(request.user)
        .filter(organization_id__in=viewer.org_ids)
        .select_related("program", "organization")
    )
    context = {**paged, "programs": programs, "form": form, "my_awards": my_awards}
    return render(request, "partnerships/grant_list.html", context, status=status)


@vetted_required
def grant_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    program = _one(GrantProgram.objects.visible_to(request.user).select_related("administrator"), pk)
    can_manage = policies.can_manage_program(request.user, program)
    form = None
    status = 200
    if can_manage:
        local = _approved_orgs(request, state=program.state, kind__in=Organization.LOCAL_GOVERNMENT_KINDS)
        form = f.SubAwardForm(request.POST or None, orgs=local)
        if request.method == "POST":
            if form.is_valid():
                data = form.cleaned_data
                try:
                    award = services.sub_award_save(
                        actor=request.user,
                        program=program,
                        organization=_org(request, data["organization"]),
                        amount=data["amount"],
                        match_amount=data["match_amount"],
                        objective=data["objective"],
                        project=data["project"],
                        status=data["status"],
                        self_assessment_done=data["self_assessment_done"],
                    )
                except (ValidationError, PermissionDenied) as exc:
                    apply_validation_error(form, exc)
                else:
                    messages.success(request, f"Sub-award to {award.organization.name} saved.")
                    return redirect("partnerships:grant", pk=program.pk)
            status = 400
    elif request.method == "POST":
        raise PermissionDenied("Only the programme's administrators record sub-awards.")
    context = {
        "program": program,
        "check": selectors.pass_through(program, user=request.user),
        "awards": SubAward.objects.visible_to(request.user).filter(program=program).select_related("organization"),
        "can_manage": can_manage,
        "form": form,
    }
    return render(request, "partnerships/grant_detail.html", context, status=status)


@vetted_required
def grant_award_edit(request: AuthedRequest, pk: int, award_pk: int) -> HttpResponse:
    """The programme's administrators change a sub-award; anyone else: 404 like absent."""
    program = _one(GrantProgram.objects.visible_to(request.user), pk)
    award = _one(
        SubAward.objects.visible_to(request.user).filter(program=program).select_related("organization"), award_pk
    )
    if not policies.can_manage_program(request.user, program):
        raise Http404
    local = _approved_orgs(request, state=program.state, kind__in=Organization.LOCAL_GOVERNMENT_KINDS)
    initial = {
        "organization": award.organization_id,
        "amount": award.amount,
        "match_amount": award.match_amount,
        "objective": award.objective,
        "project": award.project,
        "status": award.status,
        "self_assessment_done": award.self_assessment_done,
        "version": services.version_of(award),
    }
    form = f.SubAwardForm(request.POST or None, initial=initial, orgs=local)

    def save(data: dict[str, Any]) -> str:
        services.sub_award_save(
            actor=request.user,
            program=program,
            organization=_org(request, data["organization"]),
            amount=data["amount"],
            match_amount=data["match_amount"],
            objective=data["objective"],
            project=data["project"],
            status=data["status"],
            self_assessment_done=data["self_assessment_done"],
            sub_award=award,
            version=data["version"] or None,
        )
        return f"Sub-award to {award.organization.name} saved."

    done = reverse("partnerships:grant", kwargs={"pk": program.pk})
    context = {"program": program, "award": award}
    return _edit_page(request, form, save, done, "partnerships/sub_award_edit.html", context)


# --- Volunteers and interns ------------------------------------------------------------------


@vetted_required
def volunteers(request: AuthedRequest) -> HttpResponse:
    viewer = viewer_for(request.user)
    action = request.POST.get("action") if request.method == "POST" else None
    orgs = _my_orgs(request)
    local_orgs = [
        (pk, name)
        for pk, name in orgs
        if Organization.objects.filter(pk=pk, kind__in=Organization.LOCAL_GOVERNMENT_KINDS).exists()
    ]
    offer_form = f.OfferForm(request.POST if action == "offer" else None, orgs=orgs)
    need_form = f.NeedForm(request.POST if action == "need" else None, orgs=local_orgs) if local_orgs else None
    status = 200
    if request.method == "POST":
        try:
            if action == "offer" and offer_form.is_valid():
                data = offer_form.cleaned_data
                services.volunteer_offer_create(
                    actor=request.user,
                    organization=_org(request, data["organization"]),
                    kind=data["kind"],
                    title=data["title"],
                    skills=data["skills"],
                    hours_per_month=data["hours_per_month"],
                )
                messages.success(request, "Thank you: the state liaison will match your offer to a local need.")
                return redirect("partnerships:volunteers")
            if action == "need" and need_form is not None and need_form.is_valid():
                data = need_form.cleaned_data
                services.local_need_create(
                    actor=request.user,
                    organization=_org(request, data["organization"]),
                    title=data["title"],
                    description=data["description"],
                    skills=data["skills"],
                )
                messages.success(request, "Your request is with the state liaison.")
                return redirect("partnerships:volunteers")
            if action == "match":
                offer = _one(VolunteerOffer.objects.visible_to(request.user), int(request.POST.get("offer", 0) or 0))
                need = _one(
                    LocalNeed.objects.visible_to(request.user).select_related("organization"),
                    int(request.POST.get("need", 0) or 0),
                )
                services.volunteer_match(actor=request.user, offer=offer, need=need, note=request.POST.get("note", ""))
                messages.success(request, f"Matched “{offer.title}” to {need.organization.name}.")
                return redirect("partnerships:volunteers")
            if action == "vet":
                offer = _one(VolunteerOffer.objects.visible_to(request.user), int(request.POST.get("offer", 0) or 0))
                services.volunteer_vet(actor=request.user, offer=offer)
                messages.success(request, f"The volunteer of “{offer.title}” is vetted.")
                return redirect("partnerships:volunteers")
            if action == "roster":
                offer = _one(VolunteerOffer.objects.visible_to(request.user), int(request.POST.get("offer", 0) or 0))
                programme = _org(request, int(request.POST.get("programme", 0) or 0))
                responder = services.volunteer_to_roster(
                    actor=request.user,
                    offer=offer,
                    programme=programme,
                    home_county_fips=request.POST.get("home_county_fips", ""),
                )
                messages.success(request, f"{responder.full_name} is on the roster of {programme.name} (screening).")
                return redirect("partnerships:volunteers")
            status = 400
        except (ValidationError, PermissionDenied) as exc:
            target = {"offer": offer_form, "need": need_form}.get(action or "")
            if target is None:
                messages.error(request, error_text(exc))
                return redirect("partnerships:volunteers")
            apply_validation_error(target, exc)
            status = 400
    offers = VolunteerOffer.objects.visible_to(request.user).select_related("organization", "offered_by")
    needs = LocalNeed.objects.visible_to(request.user).select_related("organization")
    context = {
        "offer_form": offer_form,
        "need_form": need_form,
        "my_offers": offers.filter(Q(offered_by=request.user) | Q(organization_id__in=viewer.org_ids)),
        "my_needs": needs.filter(organization_id__in=viewer.org_ids),
        "suggestions": selectors.match_suggestions(user=request.user),
        "matches": VolunteerMatch.objects.visible_to(request.user).select_related(
            "offer__organization", "need__organization", "offer__offered_by"
        )[:50],
        "is_liaison": bool(viewer.liaison_states),
        "to_vet": offers.filter(state__in=viewer.liaison_states, vetted_at__isnull=True).exclude(status="closed"),
        "roster_candidates": [o for o in offers.filter(vetted_at__isnull=False) if services.roster_ready(o)],
        "programmes": _coordinated_programmes(request),
    }
    return render(request, "partnerships/volunteers.html", context, status=status)


def _coordinated_programmes(request: AuthedRequest) -> list[tuple[int, str]]:
    """The mutual-aid programmes (organisations) the person coordinates: where they may add responders."""
    from commonguard.mutualaid.querysets import coordinator_org_ids

    ids = list(coordinator_org_ids(viewer_for(request.user)))
    return list(Organization.objects.filter(pk__in=ids).order_by("sort_name").values_list("pk", "name"))
