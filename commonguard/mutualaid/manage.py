"""Keeping agreements and team packages (ADR 33): edit an agreement's dates and terms, attach its
signed documents, set the rates its claims are priced with; a team package's status computed from
its members' deployments."""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from commonguard.core.audit import audit_record
from commonguard.mutualaid import policies
from commonguard.mutualaid.models import (
    Agreement,
    AgreementDocument,
    AgreementRates,
    Deployment,
    Responder,
    TeamPackage,
)
from commonguard.mutualaid.services import AgreementInput, _check_roles

DOCUMENT_MAX_BYTES = 20 * 1024 * 1024


@transaction.atomic
def agreement_update(*, actor: Any, agreement: Agreement, data: AgreementInput) -> Agreement:
    """Change an agreement's name, dates, terms and authorised roles. A terminated agreement is history."""
    if not policies.can_keep_agreement(actor, agreement):
        raise PermissionDenied("Only the agreement's administrator or state staff can change it.")
    if agreement.status == Agreement.Status.TERMINATED:
        raise ValidationError({"name": "A terminated agreement is kept as it was; draw up a new one."})
    errors: dict[str, str] = {}
    if not data.name.strip():
        errors["name"] = "Name the agreement."
    if data.effective_to is not None and data.effective_to < data.effective_from:
        errors["effective_to"] = "The agreement cannot end before it takes effect."
    if data.per_diem_basis not in Agreement.PerDiem.values:
        errors["per_diem_basis"] = "Unknown per-diem basis."
    if errors:
        raise ValidationError(errors)
    _check_roles(data.request_roles, "request_roles")
    _check_roles(data.offer_roles, "offer_roles")
    for name in (
        "legal_basis",
        "liability_terms",
        "workers_comp_terms",
        "reimbursement_terms",
        "per_diem_basis",
        "data_handling_terms",
        "effective_from",
        "effective_to",
    ):
        setattr(agreement, name, getattr(data, name))
    agreement.name = data.name.strip()
    agreement.request_roles = sorted(set(data.request_roles))
    agreement.offer_roles = sorted(set(data.offer_roles))
    agreement.save()
    audit_record(
        actor=actor,
        action="mutualaid.agreement.update",
        summary=f"Changed the agreement “{agreement.name}”",
        organization=agreement.administrator,
        target=agreement,
    )
    return agreement


@transaction.atomic
def agreement_rates_set(
    *, actor: Any, agreement: Agreement, personnel_hourly: Decimal, per_diem_daily: Decimal
) -> AgreementRates:
    if not policies.can_keep_agreement(actor, agreement):
        raise PermissionDenied("Only the agreement's administrator or state staff can set its rates.")
    errors = {}
    if personnel_hourly < 0:
        errors["personnel_hourly"] = "A rate cannot be negative."
    if per_diem_daily < 0:
        errors["per_diem_daily"] = "A rate cannot be negative."
    if errors:
        raise ValidationError(errors)
    rates, _ = AgreementRates.objects.update_or_create(
        agreement=agreement, defaults={"personnel_hourly": personnel_hourly, "per_diem_daily": per_diem_daily}
    )
    audit_record(
        actor=actor,
        action="mutualaid.agreement.rates",
        summary=f"Rates of “{agreement.name}”: ${personnel_hourly}/h, per diem ${per_diem_daily}/day",
        organization=agreement.administrator,
        target=agreement,
    )
    return rates


@transaction.atomic
def agreement_document_add(
    *, actor: Any, agreement: Agreement, title: str, upload: File, signed_on: date | None = None
) -> AgreementDocument:
    """A signed copy or amendment: a PDF only (checked by its first bytes), stored under a random name."""
    if not policies.can_keep_agreement(actor, agreement):
        raise PermissionDenied("Only the agreement's administrator or state staff can add its documents.")
    errors = {}
    if not title.strip():
        errors["title"] = "Name the document."
    size = int(upload.size or 0)
    upload.seek(0)
    head = upload.read(5)
    upload.seek(0)
    if size == 0:
        errors["file"] = "The file is empty."
    elif size > DOCUMENT_MAX_BYTES:
        errors["file"] = f"Documents are limited to {DOCUMENT_MAX_BYTES // 1_048_576} MB."
    elif head != b"%PDF-":
        errors["file"] = "Upload the signed agreement as a PDF."
    if errors:
        raise ValidationError(errors)
    document = AgreementDocument(agreement=agreement, title=title.strip()[:200], signed_on=signed_on, uploaded_by=actor)
    document.file.save(f"{uuidlib.uuid4().hex}.pdf", upload, save=False)
    document.save()
    audit_record(
        actor=actor,
        action="mutualaid.agreement.document",
        summary=f"Added “{document.title}” to “{agreement.name}”",
        organization=agreement.administrator,
        target=agreement,
    )
    return document


# --- Team status -------------------------------------------------------------------------------


@dataclass
class TeamStatus:
    status: str  # "available", "deployed" or "unavailable"
    label: str
    reasons: list[str]


def team_status(team: TeamPackage, today: date | None = None) -> TeamStatus:
    """A team is deployed when any member is at work on a deployment (active or extended); unavailable
    when it has no members, a member is not active on the roster, or a member is committed to a
    deployment today; available otherwise. Two queries whatever the team's size."""
    today = today or timezone.localdate()
    members = list(team.member_rows.select_related("responder").order_by("responder__full_name"))
    if not members:
        return TeamStatus("unavailable", "Unavailable", ["No members yet."])
    ids = [m.responder_id for m in members]
    names = {m.responder_id: m.responder.full_name for m in members}
    holding = list(
        Deployment.objects.filter(
            responder_id__in=ids, status__in=Deployment.HOLDING, starts_on__lte=today, ends_on__gte=today
        ).values_list("responder_id", "status")
    )
    deployed = sorted({names[r] for r, s in holding if s in Deployment.UNDER_WAY})
    if deployed:
        return TeamStatus("deployed", "Deployed", [f"Deployed now: {', '.join(deployed)}."])
    reasons = []
    inactive = [m.responder.full_name for m in members if m.responder.status != Responder.Status.ACTIVE]
    if inactive:
        reasons.append(f"Not active on the roster: {', '.join(inactive)}.")
    committed = sorted({names[r] for r, _ in holding})
    if committed:
        reasons.append(f"Committed to a deployment today: {', '.join(committed)}.")
    if reasons:
        return TeamStatus("unavailable", "Unavailable", reasons)
    return TeamStatus("available", "Available", [f"All {len(members)} member(s) active and free today."])
