"""Briefing PDFs: a local government's for its own members; the state's for the state's staff."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from commonguard.accounts.viewer import viewer_for
from commonguard.measurement import briefing, stats
from commonguard.measurement.dashboard import may_view_dashboard
from commonguard.orgs.models import Organization
from commonguard.web.decorators import vetted_required
from commonguard.web.http import AuthedRequest


def _quarters() -> list[tuple[int, int]]:
    now = timezone.now()
    year, quarter = now.year, (now.month - 1) // 3 + 1
    out = []
    for _ in range(8):
        out.append((year, quarter))
        year, quarter = (year, quarter - 1) if quarter > 1 else (year - 1, 4)
    return out


def _check_period(year: int, quarter: int) -> None:
    if quarter not in (1, 2, 3, 4) or not 2000 <= year <= timezone.now().year:
        raise Http404


def _pdf(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "no-store, private"
    return response


@vetted_required
@require_GET
def briefings(request: AuthedRequest) -> HttpResponse:
    viewer = viewer_for(request.user)
    orgs = list(Organization.objects.filter(pk__in=viewer.org_ids).order_by("sort_name"))
    return render(
        request,
        "measurement/briefings.html",
        {"orgs": orgs, "quarters": _quarters(), "state": may_view_dashboard(request.user, stats.hub_state())},
    )


@vetted_required
@require_GET
def org_briefing(request: AuthedRequest, org_id: int, year: int, quarter: int) -> HttpResponse:
    if org_id not in viewer_for(request.user).org_ids:
        raise Http404
    _check_period(year, quarter)
    org = Organization.objects.get(pk=org_id)
    data = briefing.render_pdf(briefing.briefing_for_org(org, year, quarter, user=request.user))
    return _pdf(data, f"briefing-{org.pk}-{year}-q{quarter}.pdf")


@vetted_required
@require_GET
def state_briefing(request: AuthedRequest, year: int, quarter: int) -> HttpResponse:
    state = stats.hub_state()
    if not may_view_dashboard(request.user, state):
        raise Http404
    _check_period(year, quarter)
    report = briefing.briefing_for_state(state, year, quarter, user=request.user)
    data = briefing.render_pdf(report, state_briefing=True)
    return _pdf(data, f"briefing-{state}-{year}-q{quarter}.pdf")
