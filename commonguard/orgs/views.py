"""Directory pages: search, organisation profile with people and contacts, the liaison's
approvals. Access, act, respond: every read through visible_to, every write through a service."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from commonguard.accounts import policies
from commonguard.accounts import services as account_services
from commonguard.accounts.models import Membership, Role, User
from commonguard.accounts.viewer import viewer_for
from commonguard.orgs import selectors, services
from commonguard.orgs.forms import (
    ContactAssignForm,
    DecisionForm,
    DirectorySearchForm,
    OrganizationRegionForm,
    ProfileForm,
    RegionForm,
    RoleForm,
)
from commonguard.orgs.models import ContactAssignment, Organization, Region
from commonguard.web.decorators import vetted_required
from commonguard.web.errors import error_text, form_errors_text, set_choices
from commonguard.web.http import AuthedRequest

PAGE_SIZE = 25


@vetted_required
def directory(request: AuthedRequest) -> HttpResponse:
    from django.conf import settings

    form = DirectorySearchForm(request.GET or None)
    state = settings.COMMONGUARD_STATE
    counties = Organization.objects.visible_to(request.user).filter(kind="county", state=state)
    regions = Region.objects.visible_to(request.user).filter(state=state)
    set_choices(form, "county", [("", "Any county"), *counties.values_list("id", "name")])
    set_choices(form, "region", [("", "Any region"), *((r.pk, r.name) for r in regions)])
    data = form.cleaned_data if form.is_valid() else {}
    results = selectors.organization_list(
        user=request.user,
        q=data.get("q") or "",
        kind=data.get("kind") or "",
        county=data.get("county"),
        region=data.get("region"),
    )
    page = Paginator(results, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    template = "orgs/partials/directory_results.html" if request.htmx else "orgs/directory.html"
    return render(request, template, context)


@vetted_required
def my_organization(request: AuthedRequest) -> HttpResponse:
    viewer = viewer_for(request.user)
    org_ids = sorted(viewer.org_ids)
    if len(org_ids) == 1:
        return redirect("orgs:detail", pk=org_ids[0])
    orgs = Organization.objects.visible_to(request.user).filter(pk__in=org_ids)
    return render(request, "orgs/my_organizations.html", {"organizations": orgs})


@vetted_required
def organization_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    org = selectors.organization_get(user=request.user, pk=pk)
    can_manage = policies.can_manage_organization(request.user, org)
    memberships = Membership.objects.visible_to(request.user).filter(organization=org).select_related("user")
    people = [m for m in memberships if m.status == Membership.Status.APPROVED]
    pending = [
        m
        for m in memberships
        if m.status == Membership.Status.PENDING and policies.can_decide_membership(request.user, m)
    ]
    contacts = selectors.contact_list(user=request.user, organization=org)
    current = [c for c in contacts if c.ended_at is None]
    history = [c for c in contacts if c.ended_at is not None]
    contact_form = None
    if can_manage:
        contact_form = ContactAssignForm()
        set_choices(contact_form, "holder", [(m.user_id, f"{m.user.full_name} ({m.user.email})") for m in people])
    context: dict[str, Any] = {
        "org": org,
        "can_manage": can_manage,
        "people": people,
        "pending": pending,
        "current_contacts": current,
        "contact_history": history,
        "contact_form": contact_form,
        "role_choices": [(r, Role(r).label) for r in policies.roles_for_kind(org.kind)],
        "profile_form": ProfileForm(initial={"website": org.website, "time_zone": org.time_zone})
        if can_manage
        else None,
        "can_decide_org": org.status == Organization.Status.PENDING
        and policies.can_decide_organization(request.user, org),
        "region_form": _region_form(request, org),
        "place_count": org.places.filter(status="approved").count() if org.kind == Organization.Kind.COUNTY else 0,
    }
    return render(request, "orgs/detail.html", context)


def _region_form(request: AuthedRequest, org: Organization) -> OrganizationRegionForm | None:
    if not policies.can_manage_regions(request.user, org.state):
        return None
    form = OrganizationRegionForm(initial={"region": org.region_id})
    regions_of_state = Region.objects.visible_to(request.user).filter(state=org.state)
    set_choices(form, "region", [("", "— none —"), *((r.pk, r.name) for r in regions_of_state)])
    return form


def _run(request: AuthedRequest, action: Any, success: str, **kwargs: Any) -> bool:
    try:
        action(actor=request.user, **kwargs)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
        return False
    messages.success(request, success)
    return True


@vetted_required
@require_POST
def organization_update(request: AuthedRequest, pk: int) -> HttpResponse:
    org = selectors.organization_get(user=request.user, pk=pk)
    form = ProfileForm(request.POST)
    if form.is_valid():
        _run(request, services.organization_update_profile, "Profile saved.", organization=org, **form.cleaned_data)
    else:
        messages.error(request, "Nothing was saved: " + form_errors_text(form))
    return redirect("orgs:detail", pk=org.pk)


@vetted_required
@require_POST
def contact_assign(request: AuthedRequest, pk: int) -> HttpResponse:
    org = selectors.organization_get(user=request.user, pk=pk)
    form = ContactAssignForm(request.POST)
    members = Membership.objects.visible_to(request.user).approved().filter(organization=org)
    set_choices(form, "holder", [(m.user_id, m.user_id) for m in members])
    if not form.is_valid():
        messages.error(request, "Nothing was changed: " + form_errors_text(form))
        return redirect("orgs:detail", pk=org.pk)
    data = form.cleaned_data
    holder = get_object_or_404(
        Membership.objects.visible_to(request.user).filter(organization=org), user_id=data["holder"]
    ).user
    _run(
        request,
        services.contact_assign,
        "Contact role assigned; the previous holder is kept in the history.",
        organization=org,
        role=data["role"],
        holder=holder,
        phone=data["phone"],
        notes=data["notes"],
    )
    return redirect("orgs:detail", pk=org.pk)


@vetted_required
@require_POST
def contact_end(request: AuthedRequest, pk: int) -> HttpResponse:
    assignment = get_object_or_404(ContactAssignment.objects.visible_to(request.user), pk=pk)
    _run(request, services.contact_end, "Contact role ended.", assignment=assignment)
    return redirect("orgs:detail", pk=assignment.organization_id)


@vetted_required
@require_POST
def membership_decide(request: AuthedRequest, pk: int, decision: str) -> HttpResponse:
    membership = get_object_or_404(
        Membership.objects.visible_to(request.user).select_related("organization", "user"), pk=pk
    )
    form = DecisionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    actions = {
        "approve": (
            account_services.membership_approve,
            f"{membership.user} is now a member of {membership.organization}.",
        ),
        "decline": (account_services.membership_reject, f"The request from {membership.user} is declined."),
        "remove": (account_services.membership_remove, f"{membership.user} is removed from {membership.organization}."),
    }
    action, success = actions[decision]
    _run(request, action, success, membership=membership, note=note)
    if request.POST.get("back") == "approvals":
        return redirect("orgs:approvals")
    return redirect("orgs:detail", pk=membership.organization_id)


@vetted_required
@require_POST
def membership_role(request: AuthedRequest, pk: int) -> HttpResponse:
    membership = get_object_or_404(
        Membership.objects.visible_to(request.user).select_related("organization", "user"), pk=pk
    )
    form = RoleForm(request.POST)
    if form.is_valid():
        _run(
            request,
            account_services.membership_change_role,
            "Role changed.",
            membership=membership,
            role=form.cleaned_data["role"],
        )
    else:
        messages.error(request, "Choose a role from the list.")
    return redirect("orgs:detail", pk=membership.organization_id)


@vetted_required
def approvals(request: AuthedRequest) -> HttpResponse:
    """Everything waiting for this person's decision: new organisations (liaisons) and join requests."""
    pending_orgs = [
        o
        for o in Organization.objects.visible_to(request.user)
        .filter(status="pending")
        .select_related("county", "requested_by")
        if policies.can_decide_organization(request.user, o)
    ]
    pending_members = [
        m
        for m in Membership.objects.visible_to(request.user)
        .pending()
        .select_related("organization", "user")
        .order_by("requested_at")
        if policies.can_decide_membership(request.user, m)
    ]
    return render(request, "orgs/approvals.html", {"pending_orgs": pending_orgs, "pending_members": pending_members})


@vetted_required
@require_POST
def organization_decide(request: AuthedRequest, pk: int, decision: str) -> HttpResponse:
    org = selectors.organization_get(user=request.user, pk=pk)
    form = DecisionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    if decision == "approve":
        _run(
            request,
            services.organization_approve,
            f"{org.name} is approved and its requester is its admin.",
            organization=org,
            note=note,
        )
    else:
        _run(
            request,
            services.organization_reject,
            f"The request to add {org.name} is declined.",
            organization=org,
            note=note,
        )
    return redirect("orgs:approvals")


def _liaisons_of(state: str) -> list[tuple[int, str]]:
    people = User.objects.filter(
        memberships__role=Role.STATE_LIAISON,
        memberships__status="approved",
        memberships__organization__kind="state_agency",
        memberships__organization__status="approved",
        memberships__organization__state=state,
    ).distinct()
    return [(u.pk, u.full_name) for u in people]


@vetted_required
def regions(request: AuthedRequest) -> HttpResponse:
    """The state's regions, their liaisons and sizes; liaisons edit them here."""
    from django.conf import settings

    state = settings.COMMONGUARD_STATE
    rows = Region.objects.visible_to(request.user).filter(state=state).select_related("liaison")
    rows = rows.annotate(governments=Count("organizations", filter=Q(organizations__status="approved")))
    can_edit = policies.can_manage_regions(request.user, state)
    forms = []
    for region in rows:
        form = None
        if can_edit:
            form = RegionForm(initial={"name": region.name, "liaison": region.liaison_id}, prefix=f"r{region.pk}")
            set_choices(form, "liaison", [("", "— none —"), *_liaisons_of(state)])
        forms.append((region, form))
    return render(request, "orgs/regions.html", {"rows": forms, "can_edit": can_edit})


@vetted_required
@require_POST
def region_update(request: AuthedRequest, pk: int) -> HttpResponse:
    region = get_object_or_404(Region.objects.visible_to(request.user), pk=pk)
    form = RegionForm(request.POST, prefix=f"r{region.pk}")
    set_choices(form, "liaison", [("", "— none —"), *_liaisons_of(region.state)])
    if not form.is_valid():
        messages.error(request, "Nothing was changed: " + form_errors_text(form))
        return redirect("orgs:regions")
    liaison_id = form.cleaned_data["liaison"]
    liaison = User.objects.visible_to(request.user).filter(pk=liaison_id).first() if liaison_id else None
    _run(
        request,
        services.region_update,
        f"{form.cleaned_data['name']} saved.",
        region=region,
        name=form.cleaned_data["name"],
        liaison=liaison,
    )
    return redirect("orgs:regions")


@vetted_required
@require_POST
def organization_region(request: AuthedRequest, pk: int) -> HttpResponse:
    org = selectors.organization_get(user=request.user, pk=pk)
    form = OrganizationRegionForm(request.POST)
    choices = Region.objects.visible_to(request.user).filter(state=org.state)
    set_choices(form, "region", [("", "— none —"), *((r.pk, r.name) for r in choices)])
    if form.is_valid():
        region = choices.filter(pk=form.cleaned_data["region"]).first() if form.cleaned_data["region"] else None
        _run(request, services.organization_set_region, "Region changed.", organization=org, region=region)
    else:
        messages.error(request, "Choose a region from the list.")
    return redirect("orgs:detail", pk=org.pk)
