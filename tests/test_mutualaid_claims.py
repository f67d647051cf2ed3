"""The end of a deployment (ADR 33): time and expense logs with their refusals, receipts stored like
incident attachments, demobilisation and debrief, the reimbursement claim (assembly from the logs,
every state transition, PDF and CSV), and the read rule over the pages."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pypdfium2
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from commonguard.core.models import AuditEvent
from commonguard.mutualaid import claims
from commonguard.mutualaid.models import (
    AgreementRates,
    ClaimLine,
    Demobilisation,
    Deployment,
    ExpenseLog,
    ReimbursementClaim,
    TimeLog,
)
from tests.conftest import PERSONAS, VETTED_PERSONAS
from tests.mutualaid_helpers import aid_request, compact, make_responder, today, without_csrf

D = Deployment.Status
C = ReimbursementClaim.Status
# Who may read a deployment of a Guard responder at Ingham County (and so its logs and claim).
SEES_DEPLOYMENT = {
    "ingham_member",
    "ingham_admin",
    "ingham_official",
    "coordinator",
    "responder",
    "liaison1",
    "liaison2",
    "analyst",
    "operator",
}


def deployment(world: Any, status: str = D.ACTIVE, *, back: int = 3, ahead: int = 3) -> Deployment:
    """A Guard responder (the `responder` persona) deployed to Ingham County around today."""
    r = make_responder(world, name="Responder", user=world["responder"])
    aid = aid_request(world)
    return Deployment.objects.create(
        request=aid,
        responder=r,
        status=status,
        starts_on=today() - timedelta(days=back),
        ends_on=today() + timedelta(days=ahead),
    )


def receipt(name: str = "hotel.pdf", body: bytes = b"%PDF-1.4 receipt\n") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, body, content_type="application/pdf")


# --- Time logs ------------------------------------------------------------------------------------


def test_hours_are_logged_by_activity(world: Any) -> None:
    d = deployment(world)
    log = claims.time_log(actor=world["responder"], deployment=d, day=today(), hours="7.5", activity="forensics")
    assert log.hours == Decimal("7.50") and log.logged_by == world["responder"]
    # The programme's coordinator may enter the responder's timesheet too.
    claims.time_log(
        actor=world["coordinator"], deployment=d, day=today() - timedelta(days=1), hours=10, activity="recovery"
    )
    assert TimeLog.objects.filter(deployment=d).count() == 2
    assert AuditEvent.objects.filter(action="mutualaid.time.log").count() == 2


@pytest.mark.parametrize(
    ("day", "hours", "message"),
    [
        (-4, "2", "outside the deployment"),
        (4, "2", "outside the deployment"),
        (1, "2", "days that have happened"),
        (0, "0", "more than 0 hours"),
        (0, "-3", "more than 0 hours"),
        (0, "NaN", "more than 0 hours"),
        (0, "abc", "as a number"),
        (0, "25", "A day has 24 hours"),
    ],
)
def test_bad_hours_are_refused_and_nothing_is_stored(world: Any, day: int, hours: str, message: str) -> None:
    d = deployment(world)
    with pytest.raises(ValidationError, match=message):
        claims.time_log(
            actor=world["responder"], deployment=d, day=today() + timedelta(days=day), hours=hours, activity="triage"
        )
    assert not TimeLog.objects.exists()


def test_a_day_holds_24_hours_across_logs(world: Any) -> None:
    d = deployment(world)
    claims.time_log(actor=world["responder"], deployment=d, day=today(), hours=20, activity="forensics")
    with pytest.raises(ValidationError, match=r"20 h are already logged .* at most 4 h more"):
        claims.time_log(actor=world["responder"], deployment=d, day=today(), hours="4.5", activity="reporting")
    claims.time_log(actor=world["responder"], deployment=d, day=today(), hours=4, activity="reporting")
    assert TimeLog.objects.filter(day=today()).count() == 2


@pytest.mark.parametrize("status", [s for s in D.values if s not in claims.LOGGABLE])
def test_no_logs_on_a_deployment_that_is_not_under_way_or_released(world: Any, status: str) -> None:
    d = deployment(world, status)
    with pytest.raises(ValidationError, match="only on a deployment that is active, extended or released"):
        claims.time_log(actor=world["responder"], deployment=d, day=today(), hours=1, activity="triage")
    with pytest.raises(ValidationError, match="only on a deployment that is active, extended or released"):
        claims.expense_log(
            actor=world["responder"], deployment=d, day=today(), category="travel", amount=5, description="Fuel"
        )
    assert not TimeLog.objects.exists() and not ExpenseLog.objects.exists()


@pytest.mark.parametrize("persona", ["ingham_admin", "ingham_member", "liaison1", "analyst", "washtenaw_admin"])
def test_someone_not_on_the_deployment_cannot_log(world: Any, persona: str) -> None:
    d = deployment(world)
    with pytest.raises(PermissionDenied, match="Only the responder on this deployment"):
        claims.time_log(actor=world[persona], deployment=d, day=today(), hours=1, activity="triage")
    with pytest.raises(PermissionDenied):
        claims.expense_log(
            actor=world[persona], deployment=d, day=today(), category="travel", amount=5, description="Fuel"
        )
    assert not TimeLog.objects.exists() and not ExpenseLog.objects.exists()


# --- Expenses and receipts -------------------------------------------------------------------------


def test_an_expense_with_its_receipt(world: Any) -> None:
    d = deployment(world)
    e = claims.expense_log(
        actor=world["responder"],
        deployment=d,
        day=today(),
        category="travel",
        amount="129.40",
        description="Hotel, one night",
        receipt=receipt(),
    )
    assert e.amount == Decimal("129.40") and e.receipt_name == "hotel.pdf" and not e.receipt_quarantined
    assert len(e.receipt_sha256) == 64 and "hotel" not in e.receipt.name  # stored under a random name


@pytest.mark.parametrize(
    ("amount", "category", "description", "message"),
    [
        ("-0.01", "travel", "Fuel", "cannot be negative"),
        ("12", "snacks", "Fuel", "Choose personnel, travel"),
        ("12", "travel", "  ", "what the expense was for"),
        ("x", "travel", "Fuel", "in dollars"),
        ("1e12", "travel", "Fuel", "too large"),
    ],
)
def test_bad_expenses_are_refused(world: Any, amount: str, category: str, description: str, message: str) -> None:
    d = deployment(world)
    with pytest.raises(ValidationError, match=message):
        claims.expense_log(
            actor=world["responder"],
            deployment=d,
            day=today(),
            category=category,
            amount=amount,
            description=description,
            receipt=receipt(),
        )
    assert not ExpenseLog.objects.exists()


def test_a_program_sent_as_a_receipt_is_quarantined_and_downloads_opaque(world: Any, as_persona: Any) -> None:
    d = deployment(world)
    e = claims.expense_log(
        actor=world["responder"],
        deployment=d,
        day=today(),
        category="equipment",
        amount=10,
        description="USB drive",
        receipt=receipt("receipt.pdf", b"MZ\x90\x00 not a receipt"),
    )
    assert e.receipt_quarantined and "Windows program" in e.quarantine_reason
    response = as_persona("ingham_admin").get(reverse("mutualaid:receipt", args=[e.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert 'filename="receipt.pdf.quarantined"' in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content).startswith(b"MZ")


def test_an_empty_receipt_is_refused(world: Any) -> None:
    d = deployment(world)
    with pytest.raises(ValidationError, match="empty"):
        claims.expense_log(
            actor=world["responder"],
            deployment=d,
            day=today(),
            category="travel",
            amount=1,
            description="Fuel",
            receipt=receipt(body=b""),
        )
    assert not ExpenseLog.objects.exists()


@pytest.mark.parametrize("persona", PERSONAS)
def test_receipts_logs_and_claims_read_by_the_deployment_rule(world: Any, as_persona: Any, persona: str) -> None:
    d = deployment(world)
    e = claims.expense_log(
        actor=world["responder"],
        deployment=d,
        day=today(),
        category="travel",
        amount=10,
        description="Fuel",
        receipt=receipt(),
    )
    claims.claim_assemble(actor=world["coordinator"], deployment=d)
    client = as_persona(persona)
    urls = [
        reverse("mutualaid:receipt", args=[e.pk]),
        reverse("mutualaid:deployment-logs", args=[d.pk]),
        reverse("mutualaid:deployment-release", args=[d.pk]),
        reverse("mutualaid:claim", args=[d.pk]),
        reverse("mutualaid:claim-csv", args=[d.pk]),
    ]
    absent = [
        reverse("mutualaid:receipt", args=[e.pk + 999]),
        reverse("mutualaid:deployment-logs", args=[d.pk + 999]),
        reverse("mutualaid:deployment-release", args=[d.pk + 999]),
        reverse("mutualaid:claim", args=[d.pk + 999]),
        reverse("mutualaid:claim-csv", args=[d.pk + 999]),
    ]
    for url, gone in zip(urls, absent, strict=True):
        response = client.get(url)
        if persona not in VETTED_PERSONAS:
            assert response.status_code == 302
        elif persona in SEES_DEPLOYMENT:
            assert response.status_code == 200, url
        else:
            missing = client.get(gone)
            assert response.status_code == 404 == missing.status_code, url
            assert without_csrf(response.content) == without_csrf(missing.content)
    user = None if persona == "anonymous" else world[persona]
    assert ExpenseLog.objects.visible_to(user).exists() == (persona in SEES_DEPLOYMENT)
    assert ReimbursementClaim.objects.visible_to(user).exists() == (persona in SEES_DEPLOYMENT)


# --- Demobilisation ---------------------------------------------------------------------------------


def test_release_needs_the_whole_checklist(world: Any) -> None:
    d = deployment(world)
    with pytest.raises(ValidationError) as exc:
        claims.release(
            actor=world["coordinator"], deployment=d, access_removed=True, equipment_returned=False, handover_notes=" "
        )
    assert set(exc.value.message_dict) == {"equipment_returned", "handover_notes"}
    assert Deployment.objects.get(pk=d.pk).status == D.ACTIVE and not Demobilisation.objects.exists()
    demob = claims.release(
        actor=world["coordinator"],
        deployment=d,
        access_removed=True,
        equipment_returned=True,
        handover_notes="AD rebuilt; two workstations still to reimage (county IT has the list).",
    )
    d.refresh_from_db()
    assert d.status == D.RELEASED and d.released_at is not None and demob.released_by == world["coordinator"]
    with pytest.raises(ValidationError, match="cannot be released"):
        claims.release(
            actor=world["coordinator"], deployment=d, access_removed=True, equipment_returned=True, handover_notes="x"
        )
    with pytest.raises(ValidationError, match="debrief"):
        claims.debrief(actor=world["coordinator"], deployment=d, notes="")
    claims.debrief(actor=world["coordinator"], deployment=d, notes="Tired but fine; recommends a second shift.")
    d.refresh_from_db()
    assert d.status == D.DEBRIEFED and d.demobilisation.debrief_notes.startswith("Tired")


@pytest.mark.parametrize("persona", ["responder", "ingham_admin", "liaison1"])
def test_only_the_coordinators_release(world: Any, persona: str) -> None:
    d = deployment(world)
    with pytest.raises(PermissionDenied):
        claims.release(
            actor=world[persona], deployment=d, access_removed=True, equipment_returned=True, handover_notes="x"
        )
    assert Deployment.objects.get(pk=d.pk).status == D.ACTIVE


def test_debrief_needs_a_released_deployment(world: Any) -> None:
    d = deployment(world)
    with pytest.raises(ValidationError, match="Only a released deployment"):
        claims.debrief(actor=world["coordinator"], deployment=d, notes="Fine.")


def test_the_release_page(world: Any, as_persona: Any) -> None:
    d = deployment(world)
    client = as_persona("coordinator")
    url = reverse("mutualaid:deployment-release", args=[d.pk])
    response = client.post(url, {"action": "release", "access_removed": "on", "handover_notes": "Done."})
    assert response.status_code == 400 and b"evidence media were returned" in response.content
    response = client.post(
        url, {"action": "release", "access_removed": "on", "equipment_returned": "on", "handover_notes": "Done."}
    )
    assert response.status_code == 302
    assert Deployment.objects.get(pk=d.pk).status == D.RELEASED


def test_the_deployment_page_cannot_release_past_the_checklist(world: Any, as_persona: Any) -> None:
    d = deployment(world)
    client = as_persona("coordinator")
    page = client.get(reverse("mutualaid:deployment", args=[d.pk]))
    assert reverse("mutualaid:deployment-release", args=[d.pk]).encode() in page.content
    response = client.post(reverse("mutualaid:deployment", args=[d.pk]), {"to": "released"})
    assert response.status_code == 302 and response["Location"].endswith(f"/deployments/{d.pk}/release/")
    assert Deployment.objects.get(pk=d.pk).status == D.ACTIVE and not Demobilisation.objects.filter(deployment=d)


# --- Claims -----------------------------------------------------------------------------------------


def _logged(world: Any, *, rates: bool = True, per_diem_basis: str | None = None) -> Deployment:
    agreement = compact(world, [world.ingham, world.guard])
    if rates:
        AgreementRates.objects.create(
            agreement=agreement, personnel_hourly=Decimal("85.00"), per_diem_daily=Decimal("59.00")
        )
    if per_diem_basis:
        type(agreement).objects.filter(pk=agreement.pk).update(per_diem_basis=per_diem_basis)
    d = deployment(world)
    r = world["responder"]
    claims.time_log(actor=r, deployment=d, day=today() - timedelta(days=2), hours=8, activity="forensics")
    claims.time_log(actor=r, deployment=d, day=today() - timedelta(days=1), hours="10.5", activity="forensics")
    claims.time_log(actor=r, deployment=d, day=today() - timedelta(days=1), hours=2, activity="reporting")
    claims.expense_log(
        actor=r, deployment=d, day=today() - timedelta(days=2), category="travel", amount="120.00", description="Hotel"
    )
    claims.expense_log(
        actor=r,
        deployment=d,
        day=today(),
        category="commodities",
        amount="35.50",
        description="=HYPERLINK(1) write blockers",
    )
    return d


def test_a_claim_is_assembled_from_the_logs_at_the_agreements_rates(world: Any) -> None:
    d = _logged(world)
    claim = claims.claim_assemble(actor=world["coordinator"], deployment=d)
    assert claim.status == C.COLLECTING and claim.agreement is not None
    assert claim.hourly_rate == Decimal("85.00") and claim.per_diem_rate == Decimal("59.00")
    assert claim.hours == Decimal("20.50") and claim.days_worked == 2
    assert claim.total_personnel == Decimal("1742.50")  # 20.5 h × 85
    assert claim.total_travel == Decimal("238.00")  # 2 × 59 per diem + 120 hotel
    assert claim.total_commodities == Decimal("35.50")
    assert claim.total_equipment == claim.total_other == 0
    assert claim.total == Decimal("2016.00")
    assert ClaimLine.objects.filter(claim=claim).count() == 5  # 2 activities, per diem, 2 expenses
    # Re-assembled while collecting: a new log counts, no duplicate lines.
    claims.time_log(actor=world["responder"], deployment=d, day=today(), hours=1, activity="reporting")
    claim = claims.claim_assemble(actor=world["coordinator"], deployment=d)
    assert claim.total == Decimal("2160.00") and claim.lines.count() == 5  # +85 and a third per-diem day


def test_no_per_diem_and_no_rates(world: Any) -> None:
    d = _logged(world, per_diem_basis="none")
    claim = claims.claim_assemble(actor=world["coordinator"], deployment=d)
    assert claim.per_diem_rate == 0 and claim.total_travel == Decimal("120.00")
    assert "No per diem" in claim.pricing_note


def test_without_an_agreement_the_claim_is_unpriced(world: Any) -> None:
    d = deployment(world)
    claims.time_log(actor=world["responder"], deployment=d, day=today(), hours=8, activity="triage")
    claim = claims.claim_assemble(actor=world["coordinator"], deployment=d)
    assert claim.agreement is None and claim.total == 0 and claim.hours == 8
    assert "not priced" in claim.pricing_note


@pytest.mark.parametrize("persona", ["responder", "ingham_admin", "liaison1"])
def test_only_the_coordinators_assemble(world: Any, persona: str) -> None:
    d = _logged(world)
    with pytest.raises(PermissionDenied):
        claims.claim_assemble(actor=world[persona], deployment=d)
    assert not ReimbursementClaim.objects.exists()


CLAIM_LEGAL = {(a, b) for a, targets in claims.CLAIM_TRANSITIONS.items() for b in targets}


def test_the_claim_table() -> None:
    assert {
        (C.COLLECTING, C.SUBMITTED),
        (C.SUBMITTED, C.REVIEWED),
        (C.REVIEWED, C.APPROVED),
        (C.APPROVED, C.PAID),
        (C.COLLECTING, C.WAIVED),
        (C.SUBMITTED, C.WAIVED),
        (C.REVIEWED, C.WAIVED),
        (C.SUBMITTED, C.COLLECTING),
        (C.REVIEWED, C.COLLECTING),
    } == CLAIM_LEGAL


@pytest.mark.parametrize(("source", "target"), [(a, b) for a in C.values for b in C.values])
def test_every_claim_transition(world: Any, source: str, target: str) -> None:
    d = _logged(world)
    claim = claims.claim_assemble(actor=world["coordinator"], deployment=d)
    Deployment.objects.filter(pk=d.pk).update(status=D.RELEASED)
    ReimbursementClaim.objects.filter(pk=claim.pk).update(status=source)
    actor = world["coordinator"] if target in claims.PROVIDER_MOVES else world["ingham_admin"]
    before = AuditEvent.objects.filter(action__startswith="mutualaid.claim.").count()
    if (source, target) in CLAIM_LEGAL:
        done = claims.claim_transition(actor=actor, claim=claim, to=target, note="Fix the hotel receipt.")
        assert ReimbursementClaim.objects.get(pk=claim.pk).status == target == done.status
        assert AuditEvent.objects.filter(action=f"mutualaid.claim.{target}").exists()
        if target != C.COLLECTING:
            assert getattr(done, f"{target}_at") is not None
    else:
        with pytest.raises(ValidationError) as exc:
            claims.claim_transition(actor=actor, claim=claim, to=target, note="x")
        assert "cannot become" in " ".join(exc.value.messages)
        assert ReimbursementClaim.objects.get(pk=claim.pk).status == source
        assert AuditEvent.objects.filter(action__startswith="mutualaid.claim.").count() == before


def test_who_moves_a_claim(world: Any) -> None:
    d = _logged(world)
    claim = claims.claim_assemble(actor=world["coordinator"], deployment=d)
    with pytest.raises(ValidationError, match="once the responder is released"):
        claims.claim_transition(actor=world["coordinator"], claim=claim, to=C.SUBMITTED)
    claims.release(
        actor=world["coordinator"], deployment=d, access_removed=True, equipment_returned=True, handover_notes="Done."
    )
    with pytest.raises(PermissionDenied, match="providing programme's coordinators"):
        claims.claim_transition(actor=world["ingham_admin"], claim=claim, to=C.SUBMITTED)
    claims.claim_transition(actor=world["coordinator"], claim=claim, to=C.SUBMITTED)
    for persona in ("coordinator", "ingham_member", "responder", "liaison1"):
        with pytest.raises(PermissionDenied, match="requesting organisation's admins"):
            claims.claim_transition(actor=world[persona], claim=claim, to=C.REVIEWED)
    with pytest.raises(ValidationError, match="what to correct"):
        claims.claim_transition(actor=world["ingham_admin"], claim=claim, to=C.COLLECTING)
    claims.claim_transition(actor=world["ingham_admin"], claim=claim, to=C.COLLECTING, note="Hotel receipt missing.")
    # Collecting again: logs reopen, then the claim goes all the way.
    claims.expense_log(
        actor=world["responder"], deployment=d, day=today(), category="other", amount=3, description="Parking"
    )
    claims.claim_assemble(actor=world["coordinator"], deployment=d)
    for actor, to in (
        ("coordinator", C.SUBMITTED),
        ("ingham_admin", C.REVIEWED),
        ("ingham_admin", C.APPROVED),
        ("ingham_admin", C.PAID),
    ):
        claim = claims.claim_transition(actor=world[actor], claim=claim, to=to)
    assert claim.status == C.PAID and claim.total_other == Decimal("3.00")
    # A claim that left collecting closes the logs.
    with pytest.raises(ValidationError, match="logs are closed"):
        claims.time_log(actor=world["responder"], deployment=d, day=today(), hours=1, activity="triage")
    with pytest.raises(ValidationError, match="only a claim that is collecting"):
        claims.claim_assemble(actor=world["coordinator"], deployment=d)


def test_an_unknown_status_is_refused(world: Any) -> None:
    d = _logged(world)
    claim = claims.claim_assemble(actor=world["coordinator"], deployment=d)
    with pytest.raises(ValidationError, match="not a claim status"):
        claims.claim_transition(actor=world["coordinator"], claim=claim, to="shredded")


def test_the_claim_pdf_renders_and_is_not_blank(world: Any, as_persona: Any) -> None:
    d = _logged(world)
    claims.claim_assemble(actor=world["coordinator"], deployment=d)
    response = as_persona("ingham_admin").get(reverse("mutualaid:claim-pdf", args=[d.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    pdf = pypdfium2.PdfDocument(response.content)
    page = pdf[0]
    text = page.get_textpage().get_text_range()
    assert "MA-" in text and "2016.00" in text and "Personnel" in text
    image = page.render(scale=1).to_pil().convert("L")
    dark = sum(image.histogram()[:128])
    assert dark > 2000, "the PDF page is (nearly) blank"


def test_the_claim_csv(world: Any, as_persona: Any) -> None:
    d = _logged(world)
    claim = claims.claim_assemble(actor=world["coordinator"], deployment=d)
    response = as_persona("coordinator").get(reverse("mutualaid:claim-csv", args=[d.pk]))
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["claim", "category", "description", "quantity", "rate", "amount"]
    assert rows[-1] == [claim.number, "total", "", "", "", "2016.00"]
    cells = [row[2] for row in rows[1:]]
    assert not any(c.startswith("=") for c in cells)  # a formula in a description is neutralised
    assert any("HYPERLINK" in c for c in cells)


def test_the_claim_page_moves_the_claim(world: Any, as_persona: Any) -> None:
    d = _logged(world)
    client = as_persona("coordinator")
    url = reverse("mutualaid:claim", args=[d.pk])
    assert client.post(url, {"to": "assemble"}).status_code == 302
    page = client.get(url)
    assert b"2016.00" in page.content and b'value="submitted"' in page.content
    response = client.post(url, {"to": "submitted"}, follow=True)
    assert "once the responder is released" in response.content.decode()
    assert ReimbursementClaim.objects.get(deployment=d).status == C.COLLECTING


def test_the_logs_page(world: Any, as_persona: Any) -> None:
    d = deployment(world)
    client = as_persona("responder")
    url = reverse("mutualaid:deployment-logs", args=[d.pk])
    day = (today() - timedelta(days=10)).isoformat()
    response = client.post(url, {"action": "time", "time-day": day, "time-activity": "triage", "time-hours": "2"})
    assert response.status_code == 400 and "outside the deployment" in response.content.decode()
    response = client.post(
        url, {"action": "time", "time-day": today().isoformat(), "time-activity": "triage", "time-hours": "2"}
    )
    assert response.status_code == 302 and TimeLog.objects.filter(deployment=d).count() == 1
    response = client.post(
        url,
        {
            "action": "expense",
            "expense-day": today().isoformat(),
            "expense-category": "travel",
            "expense-amount": "-5",
            "expense-description": "Fuel",
        },
    )
    assert response.status_code == 400 and "cannot be negative" in response.content.decode()
    response = client.post(
        url,
        {
            "action": "expense",
            "expense-day": today().isoformat(),
            "expense-category": "travel",
            "expense-amount": "45.10",
            "expense-description": "Fuel",
            "expense-receipt": receipt("fuel.pdf"),
        },
    )
    assert response.status_code == 302
    assert ExpenseLog.objects.get(deployment=d).receipt_name == "fuel.pdf"
    page = client.get(url).content.decode()
    assert "fuel.pdf" in page and "45.10" in page
    # Someone who may read the deployment but is not on it sees the logs, without the forms.
    page = as_persona("ingham_admin").get(url).content.decode()
    assert "45.10" in page and "Log hours" not in page
