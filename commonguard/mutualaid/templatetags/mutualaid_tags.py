"""`{% load mutualaid_tags %}{% report_aid_requests report can_ask %}`: on an incident report's page,
the mutual-aid requests made from it (those the signed-in person may read) and the "Ask for help" link."""

from __future__ import annotations

from typing import Any

from django import template

from commonguard.mutualaid.models import AssistanceRequest

register = template.Library()


@register.inclusion_tag("mutualaid/partials/report_aid_requests.html", takes_context=True)
def report_aid_requests(context: Any, report: Any, can_ask: bool) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    found = (
        AssistanceRequest.objects.visible_to(user).filter(incident_report=report).order_by("-created_at")
        if user is not None
        else AssistanceRequest.objects.none()
    )
    return {"report": report, "aid_requests": list(found[:20]), "can_ask": can_ask and not report.is_draft}
