"""Measurement pages. Access, act, respond: what a person may not read is a 404 like absent."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from commonguard.accounts.viewer import viewer_for
from commonguard.core.audit import audit_record
from commonguard.core.models import AuditEvent
from commonguard.measurement import dashboard as dash
from commonguard.measurement import policies, services, stats, surveys
from commonguard.measurement.forms import ScoresForm, SurveyForm, SurveyOpenForm
from commonguard.measurement.kanon import K
from commonguard.measurement.layers import LAYERS
from commonguard.measurement.models import (
    DIMENSIONS,
    RECOMMENDED_MINIMUM,
    SCORE_LABELS,
    Assessment,
    Survey,
    SurveyResponse,
)
from commonguard.orgs.models import Organization
from commonguard.web.decorators import vetted_required
from commonguard.web.http import AuthedRequest


def _this_year() -> int:
    return timezone.now().year


def _my_org(request: AuthedRequest, org_id: int) -> Organization:
    """An organisation the person is an approved member of; anything else is a 404."""
    if org_id not in viewer_for(request.user).org_ids:
        raise Http404
    return Organization.objects.get(pk=org_id)


@vetted_required
@require_GET
def home(request: AuthedRequest) -> HttpResponse:
    viewer = viewer_for(request.user)
    orgs = list(Organization.objects.filter(pk__in=viewer.org_ids).order_by("sort_name"))
    state = stats.hub_state()
    answerable = [o for o in orgs if policies.can_answer_survey(request.user, o)]
    return render(
        request,
        "measurement/home.html",
        {
            "orgs": orgs,
            "year": _this_year(),
            "answerable": answerable,
            "is_staff": dash.may_view_dashboard(request.user, state),
            "is_owner": state in _owner_states(request),
        },
    )


def _owner_states(request: AuthedRequest) -> frozenset[str]:
    from commonguard.measurement.querysets import survey_owner_states

    return survey_owner_states(request.user)


# --- The self-assessment ----------------------------------------------------------------------


def _assessment(request: AuthedRequest, org_id: int, year: int) -> tuple[Organization, Assessment | None]:
    org = _my_org(request, org_id)
    assessment = Assessment.objects.visible_to(request.user).filter(organization=org, year=year).first()
    return org, assessment


@vetted_required
@require_http_methods(["GET", "POST"])
def assessment_edit(request: AuthedRequest, org_id: int, year: int) -> HttpResponse:
    org, assessment = _assessment(request, org_id, year)
    if year < 2000 or year > _this_year() + 1:
        raise Http404
    can_edit = policies.can_edit_assessment(request.user, org.pk)
    cat = stats.catalogue()
    function = request.GET.get("function") or cat.functions[0][0]
    if function not in cat.function_titles:
        raise Http404
    categories = [(c, t) for c, t, f in cat.categories if f == function]
    subs = [s for c, _t in categories for s in cat.subcategories.get(c, [])]
    existing = {s.subcategory_id: s for s in assessment.scores.all()} if assessment else {}
    form = ScoresForm(request.POST or None, subcategories=subs, initial_scores=existing)
    status = 200
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only the organisation's admins and members can change its self-assessment.")
        if form.is_valid():
            entries = {
                code: services.ScoreEntry(
                    form.cleaned_data[f"score_{code}"],
                    form.cleaned_data[f"evidence_{code}"],
                    form.cleaned_data[f"notes_{code}"],
                )
                for code in form.codes
            }
            try:
                if assessment is None:
                    assessment = services.assessment_start(actor=request.user, organization=org, year=year)
                services.assessment_scores_save(actor=request.user, assessment=assessment, entries=entries)
            except ValidationError as exc:
                for code, errors in exc.message_dict.items():
                    field = f"score_{code}" if f"score_{code}" in form.fields else None
                    for error in errors:
                        form.add_error(field, error)
            else:
                if "submit" in request.POST:
                    try:
                        services.assessment_submit(actor=request.user, assessment=assessment)
                    except ValidationError as exc:
                        messages.error(request, " ".join(exc.messages))
                        return redirect(_edit_url(org.pk, year, function))
                    messages.success(request, f"The {year} self-assessment is submitted.")
                    return redirect("measurement:assessment-results", org_id=org.pk, year=year)
                messages.success(request, f"Saved the {cat.function_titles[function]} scores.")
                return redirect(_edit_url(org.pk, year, _next_function(cat, function)))
        status = 400
    scored = assessment.scores.count() if assessment else 0
    groups = []
    rows = {code: (s, e, n) for code, s, e, n in form.rows()}
    for code, title in categories:
        groups.append((code, title, [(c, st, *rows[c]) for c, st in cat.subcategories.get(code, [])]))
    return render(
        request,
        "measurement/assessment_edit.html",
        {
            "org": org,
            "year": year,
            "assessment": assessment,
            "form": form,
            "groups": groups,
            "function": function,
            "function_title": cat.function_titles[function],
            "functions": cat.functions,
            "scored": scored,
            "total": sum(len(v) for v in cat.subcategories.values()),
            "can_edit": can_edit,
            "score_labels": SCORE_LABELS,
            "minimum": RECOMMENDED_MINIMUM,
        },
        status=status,
    )


def _edit_url(org_id: int, year: int, function: str) -> str:
    return reverse("measurement:assessment-edit", kwargs={"org_id": org_id, "year": year}) + f"?function={function}"


def _next_function(cat: stats.Catalogue, function: str) -> str:
    codes = [c for c, _ in cat.functions]
    return codes[(codes.index(function) + 1) % len(codes)]


@vetted_required
@require_GET
def assessment_results(request: AuthedRequest, org_id: int, year: int) -> HttpResponse:
    org, assessment = _assessment(request, org_id, year)
    if assessment is None:
        raise Http404
    results = stats.assessment_results(assessment)
    plan = stats.improvement_plan(results, request.user)
    history = stats.year_over_year(org)
    chart = {
        "labels": [r.code for r in results.categories],
        "titles": [r.title for r in results.categories],
        "own": [r.mean for r in results.categories],
        "peers": [r.peer for r in results.categories] if not results.peers.suppressed else None,
        "previous": [r.previous for r in results.categories] if results.previous else None,
        "previous_year": results.previous.year if results.previous else None,
        "minimum": RECOMMENDED_MINIMUM,
        "year": year,
    }
    return render(
        request,
        "measurement/assessment_results.html",
        {
            "org": org,
            "year": year,
            "results": results,
            "plan": plan,
            "history": history,
            "chart": chart,
            "k": K,
            "minimum": RECOMMENDED_MINIMUM,
        },
    )


@vetted_required
@require_GET
def assessment_results_csv(request: AuthedRequest, org_id: int, year: int) -> HttpResponse:
    import csv
    import io

    org, assessment = _assessment(request, org_id, year)
    if assessment is None:
        raise Http404
    results = stats.assessment_results(assessment)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["level", "code", "title", "mean", "scored", "total", "peer_mean", "previous_year_mean"])
    for level, rows in (("function", results.functions), ("category", results.categories)):
        for r in rows:
            writer.writerow([level, r.code, r.title, r.mean, r.scored, r.total, r.peer, r.previous])
    return _csv(out.getvalue(), f"csf-assessment-{org.pk}-{year}.csv")


def _csv(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store, private"
    return response


# --- The relationship survey ------------------------------------------------------------------


@vetted_required
@require_http_methods(["GET", "POST"])
def survey_answer(request: AuthedRequest, org_id: int, year: int | None = None) -> HttpResponse:
    org = _my_org(request, org_id)
    if not policies.can_answer_survey(request.user, org):
        raise Http404
    year = year or _this_year()
    answered = SurveyResponse.objects.filter(organization=org, year=year).values_list("submitted_at", flat=True).first()
    form = SurveyForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.survey_answer_submit(
                    actor=request.user,
                    organization=org,
                    year=year,
                    ratings=form.cleaned_data,
                    comments=form.cleaned_data["comments"],
                )
            except (services.SurveyAlreadyAnswered, surveys.SurveyClosed) as exc:
                form.add_error(None, exc.messages[0])
                status = 409
            except ValidationError as exc:
                for fieldname, errors in exc.message_dict.items():
                    for error in errors:
                        form.add_error(fieldname if fieldname in form.fields else None, error)
            else:
                messages.success(request, f"Thank you: {org.name}'s answer to the {year} survey is recorded.")
                return redirect("measurement:home")
        if status == 200:
            status = 409 if answered else 400
    return render(
        request,
        "measurement/survey_form.html",
        {"org": org, "year": year, "form": form, "answered": answered, "open": surveys.open_survey(org.state, year)},
        status=status,
    )


@vetted_required
@require_http_methods(["GET", "POST"])
def survey_link(request: AuthedRequest, token: str) -> HttpResponse:
    """The answer link of an invitation e-mail: for its recipient only (anyone else: 404), once."""
    invitation = surveys.invitation_for(token, request.user)
    if invitation is None:
        raise Http404
    org, year = invitation.organization, invitation.survey.year
    if invitation.used_at is not None:
        messages.info(request, f"This link has been used: {org.name} has answered the {year} survey.")
        return redirect("measurement:home")
    if request.method == "GET" and not policies.can_answer_survey(request.user, org):
        raise Http404
    return survey_answer(request, org.pk, year=year)


@vetted_required
@require_GET
def survey_results(request: AuthedRequest) -> HttpResponse:
    state = stats.hub_state()
    years = stats.survey_years(state)
    try:
        year = int(request.GET.get("year") or (years[0] if years else _this_year()))
    except ValueError:
        year = years[0] if years else _this_year()
    results = stats.survey_results(state, year)
    trend = stats.survey_trend(state)
    survey = Survey.objects.filter(state=state, year=year).first()
    return render(
        request,
        "measurement/survey_results.html",
        {
            "results": results,
            "year": year,
            "years": years,
            "trend": trend,
            "k": K,
            "baseline": stats.BASELINE,
            "dimensions": DIMENSIONS,
            "is_owner": state in _owner_states(request),
            "rates": surveys.response_rates(survey, exact=False) if survey else None,
            "chart": {
                "years": [c.label for c in trend],
                "excellent": [None if c.suppressed else c.values["excellent_pct"] for c in trend],
                "poor": [None if c.suppressed else c.values["poor_pct"] for c in trend],
                "baseline_poor": 39,
            },
        },
    )


@vetted_required
@require_GET
def survey_results_csv(request: AuthedRequest) -> HttpResponse:
    import csv
    import io

    state = stats.hub_state()
    try:
        year = int(request.GET.get("year") or _this_year())
    except ValueError:
        raise Http404 from None
    results = stats.survey_results(state, year)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["state", "year", "group", "cell", "organisations", "question", "excellent_pct", "fair_pct", "poor_pct", "note"]
    )
    for group, cells in (("all", [results.total]), ("region", results.by_region), ("size", results.by_size)):
        for c in cells:
            if c.suppressed:
                writer.writerow([state, year, group, c.label, "", "", "", "", "", f"fewer than {K}: not shown"])
                continue
            for dim, _label in DIMENSIONS:
                v = c.values[dim]
                writer.writerow([state, year, group, c.label, c.n, dim, v["excellent"], v["fair"], v["poor"], ""])
    return _csv(out.getvalue(), f"relationship-survey-{state}-{year}.csv")


@vetted_required
@require_GET
def survey_answers(request: AuthedRequest) -> HttpResponse:
    """Individual answers: the state's survey owners only; everyone else a 404."""
    answers = SurveyResponse.objects.visible_to(request.user)
    if not _owner_states(request):
        raise Http404
    years = sorted(set(answers.values_list("year", flat=True)), reverse=True)
    try:
        year = int(request.GET.get("year") or (years[0] if years else _this_year()))
    except ValueError:
        raise Http404 from None
    rows = list(answers.filter(year=year).select_related("organization", "region").order_by("organization__sort_name"))
    # Reading individual answers is recorded: who read which year's answers, and how many.
    audit_record(
        actor=request.user,
        action="survey.answers.read",
        summary=f"Read {len(rows)} individual answers of the {year} relationship survey",
        kind=AuditEvent.Kind.READ,
        data={"year": year, "answers": len(rows)},
    )
    return render(request, "measurement/survey_answers.html", {"rows": rows, "year": year, "years": years})


@vetted_required
@require_http_methods(["GET", "POST"])
def survey_manage(request: AuthedRequest) -> HttpResponse:
    """The survey owners' page: open a year's survey, and the list of surveys. Others: 404."""
    state = stats.hub_state()
    if state not in _owner_states(request):
        raise Http404
    form = SurveyOpenForm(request.POST or None, initial={"year": _this_year()})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                survey = surveys.survey_open(actor=request.user, state=state, year=form.cleaned_data["year"])
            except ValidationError as exc:
                for error in exc.messages:
                    form.add_error("year", error)
            else:
                messages.success(request, f"The {survey.year} survey is open; invitations are being sent.")
                return redirect("measurement:survey-manage-year", year=survey.year)
        status = 400
    rows = Survey.objects.filter(state=state).order_by("-year")
    return render(request, "measurement/survey_manage.html", {"form": form, "surveys": rows}, status=status)


@vetted_required
@require_http_methods(["GET", "POST"])
def survey_manage_year(request: AuthedRequest, year: int) -> HttpResponse:
    """One survey for its owners: response rate by region and size, reminders, close or reopen."""
    state = stats.hub_state()
    if state not in _owner_states(request):
        raise Http404
    survey = Survey.objects.filter(state=state, year=year).first()
    if survey is None:
        raise Http404
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "remind":
                queued = surveys.survey_remind(actor=request.user, survey=survey)
                messages.success(request, f"{queued} reminder{'s' if queued != 1 else ''} queued.")
            elif action == "close":
                surveys.survey_close(actor=request.user, survey=survey)
                messages.success(request, f"The {year} survey is closed; no more answers are taken.")
            elif action == "reopen":
                surveys.survey_open(actor=request.user, state=state, year=year)
                messages.success(request, f"The {year} survey is open again.")
            else:
                return HttpResponse("Unknown action.", status=400)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect("measurement:survey-manage-year", year=year)
    mail = dict(
        survey.invitations.values_list("mails__status").annotate(n=Count("mails__id")).values_list("mails__status", "n")
    )
    return render(
        request,
        "measurement/survey_manage_year.html",
        {"survey": survey, "rates": surveys.response_rates(survey, exact=True), "mail": mail},
    )


# --- The state dashboard ----------------------------------------------------------------------


def _board(request: AuthedRequest, *, with_trends: bool = True) -> dash.Dashboard:
    layer = request.GET.get("layer") or "alerts"
    years = dash.dashboard_years()
    try:
        year = int(request.GET.get("year") or years[-1])
    except ValueError:
        raise Http404 from None
    if layer not in LAYERS or year not in years:
        raise Http404
    try:
        return dash.dashboard_for(
            user=request.user, state=stats.hub_state(), layer_key=layer, year=year, with_trends=with_trends
        )
    except dash.NotStateStaff:
        raise Http404 from None


@vetted_required
@require_GET
def dashboard(request: AuthedRequest) -> HttpResponse:
    board = _board(request)
    config = {"data": board.as_json(), "atlas_url": static("atlas/counties-10m.json")}
    return render(request, "measurement/dashboard.html", {"board": board, "config": config, "layers": LAYERS, "k": K})


@vetted_required
@require_GET
def dashboard_data(request: AuthedRequest) -> HttpResponse:
    response = JsonResponse(_board(request).as_json(), json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "no-store, private"
    return response


@vetted_required
@require_GET
def dashboard_csv(request: AuthedRequest) -> HttpResponse:
    board = _board(request, with_trends=False)
    return _csv(dash.counties_csv(board), f"dashboard-{board.state}-{board.layer.key}-{board.year}.csv")


@vetted_required
@require_GET
def dashboard_trends_csv(request: AuthedRequest) -> HttpResponse:
    board = _board(request)
    return _csv(dash.trends_csv(board), f"dashboard-{board.state}-trends.csv")
