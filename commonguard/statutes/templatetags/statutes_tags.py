"""`{% load statutes_tags %}{% report_obligations report %}`: a report's obligations with live countdowns,
for the report page. Shows only what the signed-in person may read (nothing for anyone else)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from commonguard.statutes.selectors import report_obligations as select_report_obligations

register = template.Library()


@register.inclusion_tag("statutes/partials/obligations.html", takes_context=True)
def report_obligations(context: Any, report: Any) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    obligations = list(select_report_obligations(user=user, report=report)) if user is not None else []
    return {"obligations": obligations, "report": report, "now": timezone.now()}


@register.filter
def remaining(obligation: Any, now: Any = None) -> str:
    """ "5 h 20 min left", "overdue by 3 h" — the countdown's text before the script takes over."""
    now = now or timezone.now()
    seconds = int((obligation.due_at - now).total_seconds())
    text = _span(abs(seconds))
    return f"{text} left" if seconds > 0 else f"overdue by {text}"


def _span(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


@register.inclusion_tag("statutes/partials/ransom_warnings.html")
def ransom_warnings(report: Any) -> dict[str, Any]:
    """Before the "paid" answer is saved: what the laws binding the reporting organisation say of
    paying a ransom (forbidden, or only with a governing-body resolution), with their citations."""
    from commonguard.statutes.services import ransom_guardrails

    return {"rules": ransom_guardrails(organization=report.organization, state=report.state)}
