"""The project's URLs plus POST /bench/reports/submit/: a minimal submit of an incident report.

MERGE: the incidents app's submit view replaces this endpoint; reports.py then posts to that view
(with its CSRF token) and this file and bench_settings.py go away.
"""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from commonguard.accounts.models import Membership
from commonguard.incidents.models import IncidentReport
from commonguard.incidents.signals import report_submitted
from commonguard.urls import urlpatterns as project_urlpatterns


def report_submit_minimal(*, user, organization, data: dict) -> IncidentReport:  # type: ignore[no-untyped-def]
    """Store a submitted report and announce it, in one transaction, as the incidents app will."""
    with transaction.atomic():
        report = IncidentReport.objects.create(
            organization=organization,
            state=organization.state,
            created_by=user,
            status=IncidentReport.Status.SUBMITTED,
            submitted_at=timezone.now(),
            title=str(data.get("title", ""))[:200],
            category=str(data.get("category", "other")),
            description=str(data.get("description", "")),
            discovered_at=parse_datetime(data["discovered_at"]) if data.get("discovered_at") else None,
            ransom_demanded=bool(data.get("ransom_demanded")),
            ransom_paid=bool(data.get("ransom_paid")),
        )
        report_submitted.send(sender=IncidentReport, report=report, by=user)
    return report


@csrf_exempt
@require_POST
@login_required
def submit(request: HttpRequest) -> JsonResponse:
    data = json.loads(request.body)
    membership = (
        Membership.objects.select_related("organization")
        .filter(user=request.user, status="approved", organization__status="approved")
        .first()
    )
    if membership is None:
        return JsonResponse({"error": "not a member"}, status=403)
    report = report_submit_minimal(user=request.user, organization=membership.organization, data=data)
    return JsonResponse({"uuid": str(report.uuid)}, status=201)


urlpatterns = [path("bench/reports/submit/", submit), *project_urlpatterns]
