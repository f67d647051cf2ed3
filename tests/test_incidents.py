"""Incident reports: the guided form (3 screens, autosave, stale forms), bad input (clear errors,
nothing half-saved), attachments (limit, quarantine, never inline), supplemental updates, the
signals the statutory clocks listen to, triage, tasks, notes, exports, warning peers, the API."""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from commonguard.core.models import AuditEvent
from commonguard.incidents import services, signals, veris
from commonguard.incidents.models import IncidentReport, ReportAttachment, ReportEvent, ReportTask, ReportUpdate
from commonguard.sharing.models import Alert
from tests.incident_helpers import MINIMAL, make_report, upload

pytestmark = pytest.mark.django_db


def _local(dt: Any) -> str:
    """A datetime as the form's datetime-local input sends it (the organisation's time zone)."""
    from zoneinfo import ZoneInfo

    return dt.astimezone(ZoneInfo("America/Detroit")).strftime("%Y-%m-%dT%H:%M")


# --- The guided form --------------------------------------------------------------------------------


def test_minimal_report_in_three_screens(world, as_persona):
    client = as_persona("ingham_member")
    response = client.post("/incidents/new/")
    assert response.status_code == 302
    report = IncidentReport.objects.get()
    assert response["Location"] == f"/incidents/{report.uuid}/step/1/"
    screens = 0
    page = client.get(response["Location"])
    screens += 1
    assert page.status_code == 200 and b"usa-step-indicator" in page.content
    discovered = timezone.now() - timedelta(hours=2)
    response = client.post(
        f"/incidents/{report.uuid}/step/1/",
        {**MINIMAL, "discovered_at": _local(discovered), "revision": report.revision, "action": "next"},
    )
    assert response["Location"] == f"/incidents/{report.uuid}/step/2/"
    page = client.get(response["Location"])
    screens += 1
    report.refresh_from_db()
    response = client.post(f"/incidents/{report.uuid}/step/2/", {"revision": report.revision, "action": "next"})
    assert response["Location"] == f"/incidents/{report.uuid}/step/3/"
    page = client.get(response["Location"])
    screens += 1
    assert b"Send the report to the state" in page.content
    report.refresh_from_db()
    response = client.post(f"/incidents/{report.uuid}/step/3/", {"revision": report.revision, "action": "submit"})
    assert response["Location"] == f"/incidents/{report.uuid}/"
    assert screens <= 3
    report.refresh_from_db()
    assert report.status == "submitted" and report.submitted_at is not None
    assert report.title == MINIMAL["title"]
    assert abs((report.discovered_at - discovered).total_seconds()) < 60
    assert AuditEvent.objects.filter(action="incident.submit").count() == 1


def test_autosave_saves_a_step_and_returns_the_new_revision(world, as_persona):
    client = as_persona("ingham_member")
    report = make_report(world["ingham_member"], world.ingham, submit=False)
    before = report.revision
    response = client.post(
        f"/incidents/{report.uuid}/step/1/autosave/",
        {**MINIMAL, "title": "Changed by autosave", "revision": before},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    report.refresh_from_db()
    assert report.title == "Changed by autosave"
    assert f'value="{report.revision}"' in response.content.decode() and report.revision == before + 1
    assert 'hx-swap-oob="true"' in response.content.decode()


def test_autosave_of_bad_input_saves_nothing_and_says_why(world, as_persona):
    client = as_persona("ingham_member")
    report = make_report(world["ingham_member"], world.ingham, submit=False)
    future = timezone.now() + timedelta(days=2)
    response = client.post(
        f"/incidents/{report.uuid}/step/1/autosave/",
        {**MINIMAL, "title": "Never saved", "discovered_at": _local(future), "revision": report.revision},
    )
    assert "Not saved" in response.content.decode() and "cannot be in the future" in response.content.decode()
    report.refresh_from_db()
    assert report.title == MINIMAL["title"]


def test_stale_form_is_refused_clearly_and_changes_nothing(world, as_persona):
    client = as_persona("ingham_member")
    report = make_report(world["ingham_member"], world.ingham, submit=False)
    old = report.revision
    services.report_save(actor=world["ingham_admin"], report=report, data={"title": "The admin's title"}, revision=old)
    response = client.post(
        f"/incidents/{report.uuid}/step/1/", {**MINIMAL, "title": "Mine", "revision": old, "action": "save"}
    )
    assert response.status_code == 409
    assert "This form is out of date" in response.content.decode()
    report.refresh_from_db()
    assert report.title == "The admin's title"


def test_save_without_javascript_stays_on_the_step(world, as_persona):
    client = as_persona("ingham_member")
    report = make_report(world["ingham_member"], world.ingham, submit=False)
    response = client.post(
        f"/incidents/{report.uuid}/step/2/",
        {"revision": report.revision, "action": "save", "data_types": ["pii", "cjis"], "estimated_cost": "1200.50"},
    )
    assert response["Location"] == f"/incidents/{report.uuid}/step/2/"
    report.refresh_from_db()
    assert report.data_types == ["pii", "cjis"] and report.estimated_cost == Decimal("1200.50")


# --- Bad input ---------------------------------------------------------------------------------------


BAD = [
    ({"discovered_at": timezone.now() + timedelta(days=1)}, "discovered_at", "cannot be in the future"),
    (
        {"discovered_at": timezone.now() - timedelta(hours=1), "confirmed_at": timezone.now() - timedelta(hours=5)},
        "confirmed_at",
        "Confirmation cannot come before discovery",
    ),
    ({"ransom_demanded": True, "ransom_amount": Decimal("-5")}, "ransom_amount", "cannot be negative"),
    ({"estimated_cost": Decimal("-0.01")}, "estimated_cost", "cannot be negative"),
    ({"records_affected": -3}, "records_affected", "cannot be negative"),
    ({"category": "alien_invasion"}, "category", "Choose one of the options"),
    ({"ransom_paid": True}, "ransom_paid", "only be paid if one was demanded"),
]


@pytest.mark.parametrize(("data", "field", "message"), BAD, ids=[b[1] + "-" + b[2][:12] for b in BAD])
def test_bad_facts_are_refused_with_nothing_saved(world, data, field, message):
    member = world["ingham_member"]
    report = make_report(member, world.ingham, submit=False)
    before = IncidentReport.objects.values().get(pk=report.pk)
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as exc:
        services.report_save(actor=member, report=report, data={"title": "Half", **data}, revision=report.revision)
    assert field in exc.value.message_dict
    assert any(message in m for m in exc.value.message_dict[field])
    assert IncidentReport.objects.values().get(pk=report.pk) == before
    assert AuditEvent.objects.count() == events


def test_bad_input_through_the_page_shows_the_error_on_the_field(world, as_persona):
    client = as_persona("ingham_member")
    report = make_report(world["ingham_member"], world.ingham, submit=False)
    response = client.post(
        f"/incidents/{report.uuid}/step/2/",
        {"revision": report.revision, "action": "next", "ransom_demanded": "on", "ransom_amount": "-100"},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Nothing was saved" in body and "An amount cannot be negative." in body
    report.refresh_from_db()
    assert report.ransom_demanded is False


def test_submit_refuses_an_incomplete_report_and_sends_nothing(world):
    member = world["ingham_member"]
    report = services.report_create(actor=member, organization=world.ingham)
    heard: list[Any] = []
    receiver = _collect(heard)
    signals.report_submitted.connect(receiver, weak=False)
    try:
        with pytest.raises(ValidationError) as exc:
            services.report_submit(actor=member, report=report, revision=report.revision)
    finally:
        signals.report_submitted.disconnect(receiver)
    assert set(exc.value.message_dict) == {"title", "category", "description", "discovered_at"}
    report.refresh_from_db()
    assert report.is_draft and heard == []


def _collect(sink: list[Any]) -> Any:
    def receiver(sender: Any, **kwargs: Any) -> None:
        sink.append((kwargs, connection.in_atomic_block))

    return receiver


# --- Signals for the statutory clocks -------------------------------------------------------------------


def test_submit_sends_report_submitted_inside_its_transaction_once(world):
    heard: list[Any] = []
    receiver = _collect(heard)
    signals.report_submitted.connect(receiver, weak=False)
    try:
        report = make_report(world["ingham_member"], world.ingham)
    finally:
        signals.report_submitted.disconnect(receiver)
    assert len(heard) == 1
    kwargs, in_transaction = heard[0]
    assert kwargs["report"].pk == report.pk and kwargs["by"] == world["ingham_member"] and in_transaction


def test_a_failing_listener_rolls_the_submission_back(world):
    def refuse(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("the clocks could not open the obligations")

    member = world["ingham_member"]
    report = make_report(member, world.ingham, submit=False)
    signals.report_submitted.connect(refuse, weak=False)
    try:
        with pytest.raises(RuntimeError):
            services.report_submit(actor=member, report=report, revision=report.revision)
    finally:
        signals.report_submitted.disconnect(refuse)
    report.refresh_from_db()
    assert report.is_draft and not AuditEvent.objects.filter(action="incident.submit").exists()


def test_supplemental_updates_are_numbered_and_send_report_updated_with_the_changed_fields(world):
    member = world["ingham_member"]
    report = make_report(member, world.ingham)
    heard: list[Any] = []
    receiver = _collect(heard)
    signals.report_updated.connect(receiver, weak=False)
    confirmed = timezone.now() - timedelta(hours=1)
    try:
        first = services.report_update(
            actor=member,
            report=report,
            data={"confirmed_at": confirmed},
            note="Confirmed by our IR firm.",
            revision=report.revision,
        )
        report.refresh_from_db()
        second = services.report_update(
            actor=member, report=report, data={}, note="Restoring from backups.", revision=report.revision
        )
    finally:
        signals.report_updated.disconnect(receiver)
    assert (first.number, second.number) == (1, 2)
    assert first.changes["confirmed_at"][0] is None and first.changes["confirmed_at"][1] == confirmed.isoformat()
    assert heard[0][0]["changed"] == frozenset({"confirmed_at"}) and heard[0][1]
    assert heard[1][0]["changed"] == frozenset()
    report.refresh_from_db()
    assert report.confirmed_at == confirmed


def test_update_with_nothing_new_is_refused(world):
    member = world["ingham_member"]
    report = make_report(member, world.ingham)
    with pytest.raises(ValidationError):
        services.report_update(actor=member, report=report, data={}, note="  ", revision=report.revision)
    assert not ReportUpdate.objects.exists()


def test_update_page_adds_a_version(world, as_persona):
    client = as_persona("ingham_admin")
    report = make_report(world["ingham_member"], world.ingham)
    response = client.post(
        f"/incidents/{report.uuid}/update/",
        {
            **MINIMAL,
            "discovered_at": _local(report.discovered_at),
            "estimated_cost": "50000",
            "note": "Cost estimate in.",
            "revision": report.revision,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    update = ReportUpdate.objects.get()
    assert update.note == "Cost estimate in." and "estimated_cost" in update.changes
    assert "discovered_at" not in update.changes  # the minute-precision round trip changes nothing


# --- Attachments -------------------------------------------------------------------------------------


def test_an_attachment_over_the_limit_is_refused_before_anything_is_stored(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    member = world["ingham_member"]
    report = make_report(member, world.ingham)

    class Huge(io.BytesIO):
        size = 200 * 1024 * 1024 + 1
        name = "disk-image.bin"

    with pytest.raises(ValidationError) as exc:
        services.attachment_add(actor=member, report=report, upload=Huge(b"x"))  # type: ignore[arg-type]
    assert "limited to 200 MB" in exc.value.message_dict["file"][0]
    assert not ReportAttachment.objects.exists() and not list(tmp_path.rglob("*"))


@pytest.mark.parametrize("size", [1024 * 1024 + 1, 3 * 1024 * 1024], ids=["just-over", "declared-length-over"])
def test_an_oversized_upload_through_the_page_is_a_clear_error(world, as_persona, settings, tmp_path, size):
    """Just over the limit: the upload handler stops reading at the limit. Well over: the declared
    length alone refuses it, and the file is never read."""
    settings.MEDIA_ROOT = tmp_path
    settings.COMMONGUARD_INCIDENT_ATTACHMENT_MAX = 1024 * 1024
    client = as_persona("ingham_member")
    for report in (
        make_report(world["ingham_member"], world.ingham),
        make_report(world["ingham_member"], world.ingham, submit=False),
    ):
        big = SimpleUploadedFile("capture.pcap", b"\0" * size)
        response = client.post(f"/incidents/{report.uuid}/attachments/", {"file": big, "description": "pcap"})
        assert response.status_code == 413
        body = response.content.decode()
        assert "are limited to 1 MB. Nothing was stored." in body
        assert not ReportAttachment.objects.exists() and not [p for p in tmp_path.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("invoice.pdf", b"MZ\x90\x00\x03" + b"\0" * 100, "Windows program"),
        ("loader", b"\x7fELF\x02\x01\x01" + b"\0" * 100, "Linux program"),
        ("dropper.js", b"var x = new ActiveXObject('WScript.Shell');", "can run as programs"),
    ],
)
def test_executables_are_quarantined_and_never_served_inline(world, as_persona, settings, tmp_path, name, content, why):
    settings.MEDIA_ROOT = tmp_path
    client = as_persona("ingham_member")
    report = make_report(world["ingham_member"], world.ingham)
    response = client.post(f"/incidents/{report.uuid}/attachments/", {"file": SimpleUploadedFile(name, content)})
    assert response.status_code == 302
    attachment = ReportAttachment.objects.get()
    assert attachment.quarantined and why in attachment.quarantine_reason
    assert name not in str(attachment.file.name)  # stored under a random name
    download = client.get(f"/incidents/{report.uuid}/attachments/{attachment.pk}/")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/octet-stream"
    assert download["Content-Disposition"].startswith("attachment;")
    assert f"{name}.quarantined" in download["Content-Disposition"]
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content) == content
    assert AuditEvent.objects.filter(action__startswith="incident.read.attachment").count() == 1


def test_an_ordinary_file_is_still_a_download(world, as_persona, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client = as_persona("ingham_member")
    report = make_report(world["ingham_member"], world.ingham)
    services.attachment_add(
        actor=world["ingham_member"], report=report, upload=upload("note.html", b"<script>x</script>")
    )
    attachment = ReportAttachment.objects.get()
    assert not attachment.quarantined
    download = client.get(f"/incidents/{report.uuid}/attachments/{attachment.pk}/")
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["Content-Type"] == "application/octet-stream"


# --- The state side ---------------------------------------------------------------------------------


def test_triage_tasks_notes_and_the_timeline(world, as_persona):
    report = make_report(world["ingham_member"], world.ingham)
    analyst = as_persona("analyst")
    response = analyst.post(
        f"/incidents/{report.uuid}/triage/",
        {"phase": "containment", "status": "acknowledged", "assignee": world["analyst"].pk},
    )
    assert response.status_code == 302
    report.refresh_from_db()
    assert (report.phase, report.status, report.assignee) == ("containment", "acknowledged", world["analyst"])
    analyst.post(f"/incidents/{report.uuid}/tasks/", {"title": "Send us the ransom note"})
    analyst.post(f"/incidents/{report.uuid}/notes/", {"text": "Same actor as the Washtenaw case?"})
    task = ReportTask.objects.get()
    assert task.assigned_to == "reporter" and task.created_by == world["analyst"]
    page = analyst.get(f"/incidents/{report.uuid}/").content.decode()
    assert "Same actor as the Washtenaw case?" in page and "assigned to" in page
    console = analyst.get("/incidents/triage/")
    assert console.status_code == 200 and report.title in console.content.decode()

    member = as_persona("ingham_member")
    page = member.get(f"/incidents/{report.uuid}/").content.decode()
    assert "Action required" in page and "Send us the ransom note" in page
    assert "Same actor as the Washtenaw case?" not in page and "internal note" not in page.lower()
    assert "assigned to" not in page and "Phase: Containment" in page
    assert member.post(f"/incidents/{report.uuid}/notes/", {"text": "sneaky"}).status_code == 404
    assert member.get("/incidents/triage/").status_code == 404
    assert member.post(f"/incidents/{report.uuid}/tasks/{task.pk}/close/", {"status": "done"}).status_code == 302
    task.refresh_from_db()
    assert task.status == "done" and task.closed_by == world["ingham_member"]
    member.post(f"/incidents/{report.uuid}/tasks/", {"title": "Can you look at our firewall logs?"})
    assert ReportTask.objects.filter(assigned_to="state").count() == 1
    internal = ReportEvent.objects.filter(report=report, internal=True).count()
    assert internal == 2  # the assignment and the note
    assert ReportEvent.objects.visible_to(world["ingham_member"]).filter(internal=True).count() == 0


def test_the_reporter_cannot_triage_and_the_state_cannot_edit_facts(world, as_persona):
    report = make_report(world["ingham_member"], world.ingham)
    member = as_persona("ingham_member")
    assert member.post(f"/incidents/{report.uuid}/triage/", {"phase": "closed", "status": "closed"}).status_code == 403
    analyst = as_persona("analyst")
    assert analyst.get(f"/incidents/{report.uuid}/update/").status_code == 403
    report.refresh_from_db()
    assert report.phase == "open"


def test_sla_colours(world):
    from commonguard.incidents.views import sla_for

    report = make_report(world["ingham_member"], world.ingham)
    now = report.submitted_at
    assert sla_for(report, now + timedelta(minutes=10))[0] == "ok"
    assert sla_for(report, now + timedelta(hours=2))[0] == "warn"
    assert sla_for(report, now + timedelta(hours=5))[0] == "late"


# --- Exports ----------------------------------------------------------------------------------------


def test_veris_export_validates_against_the_schema(world, as_persona):
    member = world["ingham_member"]
    report = make_report(member, world.ingham)
    classification = {path: values[:2] for path, _, values in veris.choices()}
    services.report_classify(actor=member, report=report, classification=classification, revision=None)
    response = as_persona("analyst").get(f"/incidents/{report.uuid}/export/veris.json")
    record = json.loads(response.content)
    assert veris.validate(record) == []
    assert record["schema_version"] == "1.4.1" and record["victim"]["government"] == ["Local"]
    assert record["actor"]["external"]["variety"] == classification["actor.external.variety"]
    # the validator can fail: a record without its required parts does not validate
    assert veris.validate({k: v for k, v in record.items() if k != "action"})


def test_classification_refuses_values_outside_the_enumerations(world):
    member = world["ingham_member"]
    report = make_report(member, world.ingham)
    with pytest.raises(ValidationError):
        services.report_classify(
            actor=member,
            report=report,
            classification={"action.malware.variety": ["Ransomware", "Gremlins"]},
            revision=None,
        )
    report.refresh_from_db()
    assert report.veris == {}


def test_cisa_export(world, as_persona):
    report = make_report(
        world["ingham_member"],
        world.ingham,
        extra={
            "functional_impact": "denial_critical",
            "ransom_demanded": True,
            "ransom_amount": Decimal("75000"),
            "ransom_currency": "BTC",
            "indicators": "91.92.251.10\nevil.example",
        },
    )
    data = json.loads(as_persona("ingham_official").get(f"/incidents/{report.uuid}/export/cisa.json").content)
    assert data["impact"]["functional_impact"] == "Denial of critical services / loss of control"
    assert data["ransom"] == {"demanded": True, "amount": "75000.00", "currency": "BTC", "paid": False, "paid_at": None}
    assert data["indicators"] == ["91.92.251.10", "evil.example"]
    assert data["impacted_entity"]["name"] == "Ingham County"


def test_pdf_summary(world, as_persona):
    pypdfium2 = pytest.importorskip("pypdfium2")
    report = make_report(world["ingham_member"], world.ingham)
    response = as_persona("analyst").get(f"/incidents/{report.uuid}/export/summary.pdf")
    assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")
    pdf = pypdfium2.PdfDocument(response.content)
    text = pdf[0].get_textpage().get_text_range()
    assert "Ransomware on the file servers" in text and "CONFIDENTIAL" in text


# --- Warn peers ----------------------------------------------------------------------------------------


def test_warn_peers_preview_then_an_anonymous_alert_draft(world, as_persona):
    report = make_report(
        world["ingham_member"],
        world.ingham,
        extra={
            "indicators": "91.92.251.10\nhxxp://evil.example/pay\nnot an indicator",
            "attack_vector": "email",
            "description": "Jane Roe in payroll opened it on PAYROLL-PC-07.",
        },
    )
    client = as_persona("ingham_member")
    page = client.get(f"/incidents/{report.uuid}/warn-peers/").content.decode()
    assert "Jane Roe" not in page and "PAYROLL-PC-07" not in page
    from commonguard.incidents.peers import default_text

    title, summary = default_text(report)
    form = {"title": title, "summary": summary, "tlp": "green", "carry_indicators": "on"}
    preview = client.post(f"/incidents/{report.uuid}/warn-peers/", {**form, "action": "preview"}).content.decode()
    assert "A county in Region 1" in preview and "Ingham County</strong>" not in preview
    assert "91[.]92[.]251[.]10" in preview and "not an indicator" in preview
    assert not Alert.objects.exists()
    response = client.post(f"/incidents/{report.uuid}/warn-peers/", {**form, "action": "create"})
    assert response.status_code == 302
    alert = Alert.objects.get()
    assert alert.status == "draft" and alert.anonymous and alert.tlp == "green"
    assert alert.author_org == world.ingham and alert.indicators.count() == 2
    assert "Jane Roe" not in alert.summary


def test_the_state_warns_peers_as_its_agency(world, as_persona):
    report = make_report(world["ingham_member"], world.ingham)
    client = as_persona("analyst")
    form = {"title": "Ransomware wave", "summary": "Watch for it.", "tlp": "green", "include_identity": "on"}
    assert client.post(f"/incidents/{report.uuid}/warn-peers/", {**form, "action": "create"}).status_code == 302
    assert Alert.objects.get().author_org == world.state_it


# --- API -----------------------------------------------------------------------------------------------


def test_api_create_submit_update(world, as_persona):
    client = as_persona("ingham_member")
    discovered = (timezone.now() - timedelta(hours=1)).isoformat()
    response = client.post(
        "/api/v1/incident-reports/",
        {"organization": world.ingham.pk, "title": "BEC", "category": "bec"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    url = f"/api/v1/incident-reports/{body['uuid']}/"
    response = client.post(url + "submit/", {"revision": body["revision"]}, content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"description", "discovered_at"}
    response = client.patch(
        url,
        {"revision": body["revision"], "description": "Payroll diverted.", "discovered_at": discovered},
        content_type="application/json",
    )
    assert response.status_code == 200
    revision = response.json()["revision"]
    response = client.post(url + "submit/", {"revision": revision - 1}, content_type="application/json")
    assert response.status_code == 400 and "revision" in response.json()["error"]["fields"]
    response = client.post(url + "submit/", {"revision": revision}, content_type="application/json")
    assert response.status_code == 200 and response.json()["status"] == "submitted"
    response = client.post(
        url + "updates/",
        {"revision": response.json()["revision"], "note": "Bank recalled the wire."},
        content_type="application/json",
    )
    assert response.status_code == 201 and response.json()["number"] == 1
    assert client.get(url).json()["updates"][0]["note"] == "Bank recalled the wire."


def test_api_bad_input_and_foreign_organisation(world, as_persona):
    client = as_persona("ingham_member")
    response = client.post(
        "/api/v1/incident-reports/",
        {"organization": world.ingham.pk, "estimated_cost": "-1", "discovered_at": "2999-01-01T00:00:00Z"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) >= {"estimated_cost", "discovered_at"}
    response = client.post(
        "/api/v1/incident-reports/", {"organization": world.washtenaw.pk}, content_type="application/json"
    )
    assert response.status_code == 403
    assert not IncidentReport.objects.exists()


def test_a_random_uuid_is_a_404_everywhere(world, as_persona):
    client = as_persona("ingham_member")
    missing = uuid.uuid4()
    for url in (
        f"/incidents/{missing}/",
        f"/api/v1/incident-reports/{missing}/",
        f"/incidents/{missing}/export/veris.json",
    ):
        assert client.get(url).status_code == 404


# --- Demo data -------------------------------------------------------------------------------------------


def test_demo_reports_are_seeded_once(db, settings, tmp_path):
    from django.core.management import call_command

    settings.COMMONGUARD_SHARED_DATA = tmp_path
    call_command("demo", "--state", "MI", verbosity=0)
    reports = IncidentReport.objects.all()
    assert reports.count() == 3
    assert reports.filter(status="draft").count() == 1
    assert ReportUpdate.objects.count() == 1 and ReportTask.objects.count() == 1
    call_command("demo", "--state", "MI", verbosity=0)
    assert IncidentReport.objects.count() == 3
