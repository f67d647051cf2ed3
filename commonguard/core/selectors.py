from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from commonguard.core.models import AuditEvent


def audit_list(*, user: Any, organization: int | None = None, kind: str = "", action: str = "") -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.visible_to(user).select_related("organization")
    if organization:
        qs = qs.filter(organization_id=organization)
    if kind:
        qs = qs.filter(kind=kind)
    if action:
        qs = qs.filter(action__startswith=action)
    return qs
