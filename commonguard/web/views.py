from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from commonguard.accounts import policies
from commonguard.accounts.models import Membership
from commonguard.accounts.viewer import viewer_for
from commonguard.orgs.models import Organization, Region
from commonguard.web.http import AuthedRequest


@login_required
def home(request: AuthedRequest) -> HttpResponse:
    """The dashboard. Unvetted people see only their own requests; later issues add alerts,
    reports and requests for help here."""
    viewer = viewer_for(request.user)
    my_requests = Membership.objects.filter(user=request.user).select_related("organization").order_by("-requested_at")
    context = {"viewer": viewer, "my_requests": my_requests}
    if viewer.is_vetted:
        orgs = (
            Organization.objects.visible_to(request.user)
            .filter(pk__in=viewer.org_ids)
            .select_related("region__liaison")
        )
        pending_members = sum(
            1
            for m in Membership.objects.visible_to(request.user).pending().select_related("organization")
            if policies.can_decide_membership(request.user, m)
        )
        pending_orgs = (
            Organization.objects.visible_to(request.user)
            .filter(status="pending", state__in=viewer.liaison_states)
            .count()
            if viewer.liaison_states or viewer.is_operator
            else 0
        )
        context.update(
            liaison_regions=Region.objects.filter(liaison=request.user).annotate(
                governments=Count("organizations", filter=Q(organizations__status="approved"))
            ),
            can_approve=bool(viewer.admin_org_ids or viewer.liaison_states or viewer.is_operator),
            organizations=orgs,
            pending_approvals=pending_members + pending_orgs,
            directory_size=Organization.objects.visible_to(request.user).approved().count(),
        )
    return render(request, "web/home.html", context)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(request, "web/csrf_failure.html", status=403)


def healthz(request: HttpRequest) -> JsonResponse:
    """Load-balancer probe: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
