"""The read rule of incident reports, as a persona x object matrix on every channel (pages, API list
and detail, exports, attachments, tasks, timeline, notes, the triage console), absent-identical 404s,
every read audited, and a hypothesis property test against a plain-Python statement of the policy."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commonguard.accounts.models import Membership, Role, User
from commonguard.core.models import AuditEvent
from commonguard.incidents import services
from commonguard.incidents.models import (
    IncidentReport,
    ReportAttachment,
    ReportEvent,
    ReportNote,
    ReportTask,
    ReportUpdate,
)
from commonguard.orgs.models import Organization
from tests.conftest import PERSONAS, sign_in
from tests.incident_helpers import make_report, upload

pytestmark = pytest.mark.django_db

# Who reads what, written plainly (ADR 27).
SUBMITTED_READERS = {"ingham_member", "ingham_admin", "ingham_official", "liaison1", "liaison2", "analyst"}
DRAFT_READERS = {"ingham_member", "ingham_admin"}
STATE_STAFF = {"liaison1", "liaison2", "analyst"}
UNVETTED = {"unvetted", "removed_member"}


@pytest.fixture
def case(world: Any, settings: Any, tmp_path: Any) -> dict[str, Any]:
    """A submitted Ingham report with everything under it, an Ingham draft, and a Washtenaw report."""
    settings.MEDIA_ROOT = tmp_path
    member = world["ingham_member"]
    report = make_report(member, world.ingham, extra={"indicators": "91.92.251.10"})
    services.attachment_add(actor=member, report=report, upload=upload("ransom-note.txt"))
    report.refresh_from_db()
    services.report_update(actor=member, report=report, data={}, note="Backups are clean.", revision=report.revision)
    services.task_create(actor=world["analyst"], report=report, title="Send the ransom note")
    services.note_add(actor=world["analyst"], report=report, text="Probably the same crew as last month.")
    draft = make_report(member, world.ingham, submit=False, extra={"title": "Half-written draft"})
    services.attachment_add(actor=member, report=draft, upload=upload("draft-file.txt"))
    other = make_report(world["washtenaw_member"], world.washtenaw, extra={"title": "Washtenaw phishing"})
    return {"report": report, "draft": draft, "other": other}


def _urls(report: IncidentReport) -> dict[str, str]:
    attachment = ReportAttachment.objects.filter(report=report).first()
    u = report.uuid
    urls = {
        "page": f"/incidents/{u}/",
        "api": f"/api/v1/incident-reports/{u}/",
        "veris": f"/incidents/{u}/export/veris.json",
        "cisa": f"/incidents/{u}/export/cisa.json",
        "classify": f"/incidents/{u}/classify/",
        "warn": f"/incidents/{u}/warn-peers/",
    }
    if attachment is not None:
        urls["attachment"] = f"/incidents/{u}/attachments/{attachment.pk}/"
    return urls


def _missing_urls() -> dict[str, str]:
    u = uuid.uuid4()
    return {
        "page": f"/incidents/{u}/",
        "api": f"/api/v1/incident-reports/{u}/",
        "veris": f"/incidents/{u}/export/veris.json",
        "cisa": f"/incidents/{u}/export/cisa.json",
        "classify": f"/incidents/{u}/classify/",
        "warn": f"/incidents/{u}/warn-peers/",
        "attachment": f"/incidents/{u}/attachments/1/",
    }


def _body(response: Any) -> str:
    """The body without the per-render CSRF token."""
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    return re.sub(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+', r"\1", raw.decode())


@pytest.mark.parametrize("persona", PERSONAS)
def test_matrix_every_channel(case: dict[str, Any], as_persona: Any, persona: str) -> None:
    client = as_persona(persona)
    report, draft, other = case["report"], case["draft"], case["other"]
    user = None if persona == "anonymous" else client.session.get("_auth_user_id")
    for target, readers in (
        (report, SUBMITTED_READERS),
        (draft, DRAFT_READERS),
        (other, {"washtenaw_member", "washtenaw_admin", *STATE_STAFF}),
    ):
        may = persona in readers
        for channel, url in _urls(target).items():
            if channel == "warn" and target.is_draft:
                continue  # a draft's writers are sent back to the form (with a flash message)
            response = client.get(url)
            if persona == "anonymous":
                assert response.status_code in {302, 401, 403}, (channel, url)
                continue
            if channel in {"classify", "warn"} and may:
                # writing actions: open to the reporting organisation's writers and the state staff
                writer = persona in {"ingham_member", "ingham_admin", "washtenaw_member", "washtenaw_admin"}
                staff = persona in STATE_STAFF
                assert response.status_code == (200 if writer or staff else 403), (persona, channel, url)
                continue
            if may:
                assert response.status_code == 200, (persona, channel, url, response.status_code)
            else:
                missing = client.get(_missing_urls()[channel])
                # the unvetted are sent home from every page before anything is looked up
                assert response.status_code == (302 if persona in UNVETTED and channel != "api" else 404), (
                    persona,
                    channel,
                    url,
                    response.status_code,
                )
                assert response.status_code == missing.status_code and _body(response) == _body(missing)
    if user is None:
        return
    viewer = User.objects.get(pk=user)
    # querysets of everything under a report
    expect = {r.pk for r, readers in ((report, SUBMITTED_READERS), (draft, DRAFT_READERS)) if persona in readers}
    if persona in {"washtenaw_member", "washtenaw_admin", *STATE_STAFF}:
        expect.add(other.pk)
    ingham_side = {r.pk for r in (report, draft, other) if r.pk in expect}
    assert set(IncidentReport.objects.visible_to(viewer).values_list("pk", flat=True)) == ingham_side
    assert {a.report_id for a in ReportAttachment.objects.visible_to(viewer)} == ingham_side & {report.pk, draft.pk}
    assert {u.report_id for u in ReportUpdate.objects.visible_to(viewer)} == ingham_side & {report.pk}
    assert {t.report_id for t in ReportTask.objects.visible_to(viewer)} == ingham_side & {report.pk}
    assert {e.report_id for e in ReportEvent.objects.visible_to(viewer)} == ingham_side
    notes = set(ReportNote.objects.visible_to(viewer).values_list("report_id", flat=True))
    assert notes == ({report.pk} if persona in STATE_STAFF else set())
    internal = ReportEvent.objects.visible_to(viewer).filter(internal=True).exists()
    assert internal == (persona in STATE_STAFF)
    # the API list
    listed = {r["uuid"] for r in client.get("/api/v1/incident-reports/", {"page_size": 100}).json()["results"]}
    assert listed == {str(r.uuid) for r in (report, draft, other) if r.pk in expect}
    # the triage console: the state's staff only, drafts never
    console = client.get("/incidents/triage/")
    if persona in STATE_STAFF:
        body = console.content.decode()
        assert "Ransomware on the file servers" in body and "Washtenaw phishing" in body
        assert "Half-written draft" not in body
    else:
        assert console.status_code == (302 if persona in UNVETTED else 404)
    # the report's page: notes and the internal timeline only to the state
    page = client.get(f"/incidents/{report.uuid}/")
    if page.status_code == 200:
        shown = page.content.decode()
        assert ("Probably the same crew" in shown) == (persona in STATE_STAFF)
        assert "Send the ransom note" in shown and "Backups are clean." in shown


def test_writes_through_hidden_reports_answer_like_absent(case: dict[str, Any], as_persona: Any) -> None:
    report = case["report"]
    task = ReportTask.objects.get(report=report)
    attempts = [
        (f"/incidents/{report.uuid}/tasks/", {"title": "x"}),
        (f"/incidents/{report.uuid}/tasks/{task.pk}/close/", {"status": "done"}),
        (f"/incidents/{report.uuid}/notes/", {"text": "x"}),
        (f"/incidents/{report.uuid}/triage/", {"phase": "closed", "status": "closed"}),
        (f"/incidents/{report.uuid}/attachments/", {"file": upload()}),
        (f"/incidents/{report.uuid}/update/", {"note": "x"}),
    ]
    for persona in ("washtenaw_admin", "lansing_member", "coordinator", "responder", "operator", "unvetted"):
        client = as_persona(persona)
        for url, data in attempts:
            response = client.post(url, data)
            assert response.status_code in {404, 302}, (persona, url, response.status_code)
            if response.status_code == 302:  # the unvetted are sent home before anything is looked up
                assert persona in UNVETTED
        response = client.patch(
            f"/api/v1/incident-reports/{report.uuid}/", {"revision": report.revision}, content_type="application/json"
        )
        assert response.status_code == 404
    report.refresh_from_db()
    assert report.phase == "open" and ReportTask.objects.count() == 1 and ReportNote.objects.count() == 1


def test_every_read_is_audited(case: dict[str, Any], as_persona: Any) -> None:
    report = case["report"]
    client = as_persona("analyst")
    before = AuditEvent.objects.filter(kind="read").count()
    for url in _urls(report).values():
        client.get(url)
    client.get("/api/v1/incident-reports/")
    client.get("/incidents/")
    client.get("/incidents/triage/")
    reads = AuditEvent.objects.filter(kind="read").order_by("id")[before:]
    actions = [e.action for e in reads]
    assert actions.count("incident.read.report") == 1
    assert "incident.read.report (API)" in actions
    assert "incident.read.VERIS export" in actions and "incident.read.CISA export" in actions
    assert any(a.startswith("incident.read.attachment") for a in actions)
    assert actions.count("incident.read.list") == 3
    assert all(e.actor == AuditEvent.objects.filter(kind="read").last().actor for e in reads)


# --- Property test ---------------------------------------------------------------------------------------

ORG_SPECS = [
    # key, kind, status, state
    ("county_a", "county", "approved", "MI"),
    ("county_b", "county", "approved", "MI"),
    ("state_it", "state_agency", "approved", "MI"),
    ("ohio_it", "state_agency", "approved", "OH"),
    ("ohio_county", "county", "approved", "OH"),
    ("pending_mi", "special_district", "pending", "MI"),
]
ROLES = [r.value for r in Role]
STATUSES = [s.value for s in Membership.Status]
membership_choice = st.one_of(st.none(), st.tuples(st.sampled_from(ROLES), st.sampled_from(STATUSES)))
people = st.lists(
    st.tuples(st.lists(membership_choice, min_size=len(ORG_SPECS), max_size=len(ORG_SPECS)), st.booleans()),
    min_size=2,
    max_size=3,
)
reports = st.lists(
    st.tuples(st.sampled_from(["county_a", "county_b", "ohio_county", "state_it"]), st.booleans()),
    min_size=1,
    max_size=4,
)


def _oracle(user: User, report: IncidentReport) -> bool:
    """The policy, plainly: the reporting organisation's approved members, admins and officials (drafts:
    members and admins), and the approved analysts and liaisons of a state agency of the report's state
    (not drafts). Nobody else, the operator included."""
    for m in Membership.objects.filter(user=user, status="approved", organization__status="approved"):
        org = m.organization
        if org.pk == report.organization_id:
            if report.status == "draft" and m.role in {"member", "org_admin"}:
                return True
            if report.status != "draft" and m.role in {"member", "org_admin", "official"}:
                return True
        if (
            org.kind == "state_agency"
            and m.role in {"analyst", "state_liaison"}
            and org.state == report.state
            and report.status != "draft"
        ):
            return True
    return False


class _Rollback(Exception):
    pass


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec_people=people, spec_reports=reports)
def test_visible_to_matches_the_policy(db: Any, spec_people: Any, spec_reports: Any) -> None:
    try:
        with transaction.atomic():
            orgs = {
                key: Organization.objects.create(name=key, kind=kind, status=status, state=state, time_zone="UTC")
                for key, kind, status, state in ORG_SPECS
            }
            author = User.objects.create_user(email="author@example.test", password=None, full_name="Author")
            for org in orgs.values():
                Membership.objects.create(user=author, organization=org, role="member", status="approved")
            made = []
            for key, submitted in spec_reports:
                made.append(
                    IncidentReport.objects.create(
                        organization=orgs[key],
                        state=orgs[key].state,
                        created_by=author,
                        title=f"{key} report",
                        status="submitted" if submitted else "draft",
                        submitted_at=timezone.now() - timedelta(hours=1) if submitted else None,
                    )
                )
            for i, (memberships, operator) in enumerate(spec_people):
                user = User.objects.create_user(
                    email=f"p{i}@example.test", password=None, full_name=f"P {i}", is_superuser=operator
                )
                for (key, *_), choice in zip(ORG_SPECS, memberships, strict=True):
                    if choice is not None:
                        Membership.objects.create(user=user, organization=orgs[key], role=choice[0], status=choice[1])
                fresh = User.objects.get(pk=user.pk)
                expected = {r.pk for r in made if _oracle(fresh, r)}
                assert set(IncidentReport.objects.visible_to(fresh).values_list("pk", flat=True)) == expected
                client = sign_in(Client(), fresh)
                api = {r["uuid"] for r in client.get("/api/v1/incident-reports/").json()["results"]}
                assert api == {str(r.uuid) for r in made if r.pk in expected}
                for r in made:
                    status = client.get(f"/api/v1/incident-reports/{r.uuid}/").status_code
                    assert status == (200 if r.pk in expected else 404)
            raise _Rollback
    except _Rollback:
        pass
