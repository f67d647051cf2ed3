"""Create and edit pages for coordinators and agreement keepers (ADR 33): agreements (parties,
dates, terms, documents, authorised roles, rates), responders (the programme's coordinators only)
and team packages (from the FEMA CIRT template), and the team page with its status."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from commonguard.accounts.models import Role
from commonguard.accounts.viewer import viewer_for
from commonguard.mutualaid import manage, policies, selectors, services
from commonguard.mutualaid.models import Agreement, AgreementRates, Responder, Skill, TeamPackage
from commonguard.mutualaid.querysets import coordinator_org_ids
from commonguard.orgs.models import Organization, Region
from commonguard.web.decorators import vetted_required
from commonguard.web.errors import apply_validation_error, error_text, set_choices
from commonguard.web.forms import Form
from commonguard.web.http import AuthedRequest

DATE = {"type": "date"}
MONEY: dict[str, Any] = {"max_digits": 8, "decimal_places": 2}


class AgreementForm(Form):
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=Agreement.Kind.choices)
    administrator = forms.TypedChoiceField(coerce=int, label="Kept by")
    region = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Region (regional only)")
    effective_from = forms.DateField(label="In effect from (YYYY-MM-DD)", widget=forms.DateInput(attrs=DATE))
    effective_to = forms.DateField(
        label="Until (YYYY-MM-DD; empty: until terminated)", required=False, widget=forms.DateInput(attrs=DATE)
    )
    legal_basis = forms.CharField(max_length=300, required=False)
    liability_terms = forms.CharField(widget=forms.Textarea, required=False)
    workers_comp_terms = forms.CharField(widget=forms.Textarea, required=False, label="Workers' compensation terms")
    reimbursement_terms = forms.CharField(widget=forms.Textarea, required=False)
    per_diem_basis = forms.ChoiceField(choices=Agreement.PerDiem.choices, label="Per-diem basis")
    data_handling_terms = forms.CharField(widget=forms.Textarea, required=False)
    request_roles = forms.MultipleChoiceField(
        choices=Role.choices, widget=forms.CheckboxSelectMultiple, label="Roles that may request"
    )
    offer_roles = forms.MultipleChoiceField(
        choices=Role.choices, widget=forms.CheckboxSelectMultiple, label="Roles that may offer"
    )

    def __init__(self, *args: Any, administrators: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "administrator", administrators)
        set_choices(self, "region", [("", "—"), *Region.objects.order_by("name").values_list("pk", "name")])
        for name in ("request_roles", "offer_roles"):
            self.fields[name].widget.attrs["class"] = "usa-checkbox__input"


def _input(data: dict[str, Any], administrator: Organization) -> services.AgreementInput:
    return services.AgreementInput(
        name=data["name"],
        kind=data["kind"],
        administrator=administrator,
        effective_from=data["effective_from"],
        effective_to=data["effective_to"],
        region_id=data["region"],
        legal_basis=data["legal_basis"],
        liability_terms=data["liability_terms"],
        workers_comp_terms=data["workers_comp_terms"],
        reimbursement_terms=data["reimbursement_terms"],
        per_diem_basis=data["per_diem_basis"],
        data_handling_terms=data["data_handling_terms"],
        request_roles=data["request_roles"],
        offer_roles=data["offer_roles"],
    )


def administrator_choices(request: AuthedRequest) -> list[tuple[int, str]]:
    """The organisations this person may draw up an agreement for (its admins; state staff)."""
    viewer = viewer_for(request.user)
    orgs = Organization.objects.filter(status=Organization.Status.APPROVED).filter(
        pk__in=list(viewer.admin_org_ids)
    ) | Organization.objects.filter(status=Organization.Status.APPROVED, pk__in=list(viewer.org_ids)).filter(
        state__in=list(viewer.staff_states)
    )
    return list(orgs.distinct().order_by("sort_name").values_list("pk", "name"))


@vetted_required
def agreement_new(request: AuthedRequest) -> HttpResponse:
    administrators = administrator_choices(request)
    if not administrators:
        raise Http404
    form = AgreementForm(
        request.POST or None,
        administrators=administrators,
        initial={"request_roles": [Role.ORG_ADMIN], "offer_roles": [Role.ORG_ADMIN, Role.COORDINATOR]},
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                agreement = services.agreement_create(
                    actor=request.user,
                    data=_input(form.cleaned_data, Organization.objects.get(pk=form.cleaned_data["administrator"])),
                )
            except (ValidationError, PermissionDenied) as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, "The agreement is drawn up as a draft. Record the parties' signatures next.")
                return redirect("mutualaid:agreement-edit", pk=agreement.pk)
        status = 400
    return render(request, "mutualaid/manage/agreement_form.html", {"form": form, "agreement": None}, status=status)


class RatesForm(Form):
    personnel_hourly = forms.DecimalField(label="Personnel, per hour (US$)", min_value=0, **MONEY)
    per_diem_daily = forms.DecimalField(label="Per diem, per day worked (US$)", min_value=0, **MONEY)


class PartyForm(Form):
    organization = forms.TypedChoiceField(coerce=int, label="Organisation")
    signed_on = forms.DateField(label="Signed on (YYYY-MM-DD)", widget=forms.DateInput(attrs=DATE))
    signed_by_name = forms.CharField(max_length=150, label="Signed by (name)")
    title = forms.CharField(max_length=150, required=False, label="Their title")

    def __init__(self, *args: Any, state: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        orgs = Organization.objects.filter(status=Organization.Status.APPROVED, state=state).order_by("sort_name")
        set_choices(self, "organization", list(orgs.values_list("pk", "name")[:2000]))


class DocumentForm(Form):
    title = forms.CharField(max_length=200)
    signed_on = forms.DateField(label="Signed on (optional)", required=False, widget=forms.DateInput(attrs=DATE))
    file = forms.FileField(label="Signed copy (PDF)")


def _agreement_act(request: AuthedRequest, agreement: Agreement, action: str, form: Any) -> None:
    """One of the edit page's forms, valid: the service that saves it."""
    data = form.cleaned_data if form is not None else {}
    if action == "terms":
        manage.agreement_update(actor=request.user, agreement=agreement, data=_input(data, agreement.administrator))
    elif action == "rates":
        manage.agreement_rates_set(actor=request.user, agreement=agreement, **data)
    elif action == "party":
        services.agreement_party_sign(
            actor=request.user,
            agreement=agreement,
            organization=Organization.objects.get(pk=data["organization"]),
            signed_on=data["signed_on"],
            signed_by_name=data["signed_by_name"],
            title=data["title"],
        )
    elif action == "document":
        manage.agreement_document_add(
            actor=request.user,
            agreement=agreement,
            title=data["title"],
            upload=data["file"],
            signed_on=data["signed_on"],
        )
    else:
        services.agreement_set_status(actor=request.user, agreement=agreement, status=request.POST.get("to", ""))


@vetted_required
def agreement_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    agreement = selectors.agreement_list(request.user).filter(pk=pk).first()
    if agreement is None or not policies.can_keep_agreement(request.user, agreement):
        raise Http404
    action = request.POST.get("action") if request.method == "POST" else None
    initial = {name: getattr(agreement, name) for name in AgreementForm.base_fields if hasattr(agreement, name)}
    initial.update({"administrator": agreement.administrator_id, "region": agreement.region_id})
    administrators = [(agreement.administrator_id, agreement.administrator.name)]
    form = AgreementForm(request.POST if action == "terms" else None, administrators=administrators, initial=initial)
    rates = AgreementRates.objects.filter(agreement=agreement).first()
    rates_form = RatesForm(
        request.POST if action == "rates" else None,
        prefix="rates",
        initial={"personnel_hourly": rates.personnel_hourly, "per_diem_daily": rates.per_diem_daily} if rates else {},
    )
    party_form = PartyForm(request.POST if action == "party" else None, prefix="party", state=agreement.state)
    document_form = DocumentForm(
        request.POST if action == "document" else None,
        request.FILES if action == "document" else None,
        prefix="doc",
    )
    status = 200
    target = {"terms": form, "rates": rates_form, "party": party_form, "document": document_form}.get(action or "")
    if action is not None:
        status = 400  # unless saved below
    if action == "status" or (target is not None and target.is_valid()):
        try:
            _agreement_act(request, agreement, action or "", target)
        except (ValidationError, PermissionDenied) as exc:
            if target is not None and isinstance(exc, ValidationError):
                apply_validation_error(target, exc)
            else:
                messages.error(request, error_text(exc))
        else:
            messages.success(request, "Saved.")
            return redirect("mutualaid:agreement-edit", pk=agreement.pk)
    return render(
        request,
        "mutualaid/manage/agreement_edit.html",
        {
            "agreement": agreement,
            "form": form,
            "rates_form": rates_form,
            "party_form": party_form,
            "document_form": document_form,
            "parties": agreement.party_rows.select_related("organization"),
            "documents": agreement.documents.all(),
        },
        status=status,
    )


# --- Responders ---------------------------------------------------------------------------------


class ResponderForm(Form):
    programme = forms.TypedChoiceField(coerce=int)
    full_name = forms.CharField(max_length=150, label="Full name")
    email = forms.EmailField(label="E-mail")
    source = forms.ChoiceField(choices=Responder.Source.choices)
    home_county_fips = forms.CharField(max_length=5, label="Home county (five-digit FIPS code, e.g. 26065)")
    work_mode = forms.ChoiceField(choices=Responder.WorkMode.choices, label="Works")
    skills = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, required=False)
    phone = forms.CharField(max_length=40, required=False, label="Phone (personal detail)")
    home_address = forms.CharField(widget=forms.Textarea, required=False, label="Home address (personal detail)")

    def __init__(self, *args: Any, programmes: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "programme", programmes)
        set_choices(self, "skills", [(s.slug, s.name) for s in Skill.objects.order_by("name")])
        self.fields["skills"].widget.attrs["class"] = "usa-checkbox__input"


def may_add_responder(request: AuthedRequest) -> bool:
    return bool(coordinator_org_ids(viewer_for(request.user)))


def may_create_team(request: AuthedRequest) -> bool:
    viewer = viewer_for(request.user)
    return bool(coordinator_org_ids(viewer) | viewer.admin_org_ids)


@vetted_required
def responder_new(request: AuthedRequest) -> HttpResponse:
    coordinated = coordinator_org_ids(viewer_for(request.user))
    if not coordinated:
        raise Http404
    programmes = list(
        Organization.objects.filter(pk__in=list(coordinated)).order_by("sort_name").values_list("pk", "name")
    )
    form = ResponderForm(request.POST or None, programmes=programmes)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                responder = services.responder_create(
                    actor=request.user,
                    data=services.ResponderInput(
                        programme=Organization.objects.get(pk=data["programme"]),
                        full_name=data["full_name"],
                        email=data["email"],
                        source=data["source"],
                        home_county_fips=data["home_county_fips"],
                        work_mode=data["work_mode"],
                        skills=data["skills"],
                        phone=data["phone"],
                        home_address=data["home_address"],
                    ),
                )
            except (ValidationError, PermissionDenied) as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, f"{responder.full_name} is on the roster (applied).")
                return redirect("mutualaid:responder", pk=responder.pk)
        status = 400
    return render(request, "mutualaid/manage/responder_form.html", {"form": form}, status=status)


# --- Team packages -----------------------------------------------------------------------------


class TeamForm(Form):
    template = forms.TypedChoiceField(coerce=int, label="Start from the template")
    provider = forms.TypedChoiceField(coerce=int, label="Provided by")
    name = forms.CharField(max_length=200, label="Team name")

    def __init__(self, *args: Any, providers: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "provider", providers)
        templates = TeamPackage.objects.filter(is_template=True).order_by("name").values_list("pk", "name")
        set_choices(self, "template", list(templates))


@vetted_required
def team_new(request: AuthedRequest) -> HttpResponse:
    viewer = viewer_for(request.user)
    ids = coordinator_org_ids(viewer) | viewer.admin_org_ids
    providers = list(Organization.objects.filter(pk__in=list(ids)).order_by("sort_name").values_list("pk", "name"))
    if not providers:
        raise Http404
    template = TeamPackage.objects.filter(is_template=True).order_by("name").first()
    initial = {"name": f"{providers[0][1]} Cyber Incident Response Team"}
    if template is not None:
        initial["template"] = template.pk
    form = TeamForm(request.POST or None, providers=providers, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                team = services.team_from_template(
                    actor=request.user,
                    template=TeamPackage.objects.get(pk=data["template"], is_template=True),
                    provider=Organization.objects.get(pk=data["provider"]),
                    name=data["name"],
                )
            except (ValidationError, PermissionDenied) as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, "The team package is drafted from the template; staff it from your roster.")
                return redirect("mutualaid:team", pk=team.pk)
        status = 400
    return render(request, "mutualaid/manage/team_form.html", {"form": form, "template": template}, status=status)


@vetted_required
def team_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    team = (
        TeamPackage.objects.visible_to(request.user)
        .select_related("provider")
        .prefetch_related("capabilities")
        .filter(pk=pk)
        .first()
    )
    if team is None:
        raise Http404
    can_staff = team.provider_id is not None and policies.can_coordinate(request.user, team.provider_id)
    if request.method == "POST":
        responder = Responder.objects.visible_to(request.user).filter(pk=request.POST.get("responder")).first()
        if responder is None:
            raise Http404
        try:
            role = request.POST.get("role", "").strip() or "Member"
            services.team_add_member(actor=request.user, team=team, responder=responder, role=role)
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(request, f"{responder.full_name} is on the team.")
        return redirect("mutualaid:team", pk=team.pk)
    roster = (
        Responder.objects.visible_to(request.user).filter(programme_id=team.provider_id).order_by("full_name")
        if can_staff
        else Responder.objects.none()
    )
    return render(
        request,
        "mutualaid/manage/team_detail.html",
        {
            "t": team,
            "status": None if team.is_template else manage.team_status(team),
            "members": team.member_rows.select_related("responder").order_by("responder__full_name"),
            "can_staff": can_staff,
            "roster": roster,
        },
    )
