from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render

from commonguard.core.models import AuditEvent
from commonguard.core.selectors import audit_list
from commonguard.orgs.models import Organization
from commonguard.web.decorators import vetted_required
from commonguard.web.http import AuthedRequest


@vetted_required
def audit_trail(request: AuthedRequest) -> HttpResponse:
    org = request.GET.get("organization", "")
    kind = request.GET.get("kind", "")
    events = audit_list(
        user=request.user,
        organization=int(org) if org.isdigit() else None,
        kind=kind if kind in AuditEvent.Kind.values else "",
        action=request.GET.get("action", "")[:80],
    )
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    org_ids = audit_list(user=request.user).exclude(organization=None).values("organization_id").distinct()
    return render(
        request,
        "core/audit.html",
        {
            "page": page,
            "query": query.urlencode(),
            "kinds": AuditEvent.Kind.choices,
            "kind": kind,
            "org": org,
            "organizations": Organization.objects.visible_to(request.user).filter(pk__in=org_ids).only("id", "name"),
        },
    )
