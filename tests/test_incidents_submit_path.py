"""The API's one-call report (`POST /api/v1/incident-reports/` with `"submit": true`, the load
benchmark's path): the same records as the form's three steps (report, timeline, audit trail,
obligations, guardrail notices) in one short transaction; bad input stores nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from commonguard.accounts.services import token_create
from commonguard.core.models import AuditEvent
from commonguard.incidents.models import IncidentReport, ReportEvent
from commonguard.statutes.models import GuardrailNotice, Obligation
from tests.statutes_helpers import member_of, state_org

pytestmark = pytest.mark.django_db


def _post(client: Client, key: str, body: dict[str, Any]) -> Any:
    return client.post(
        "/api/v1/incident-reports/",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


def _body(org: Any, **extra: Any) -> dict[str, Any]:
    return {
        "organization": org.pk,
        "submit": True,
        "title": "File server encrypted",
        "category": "ransomware",
        "description": "Every share renamed to .lock.",
        "discovered_at": (timezone.now() - timedelta(hours=2)).isoformat(),
        **extra,
    }


def _setup(state: str = "NC", fips: str = "37183") -> tuple[Any, Any, str]:
    org = state_org(state, fips, kind="county")
    user = member_of(org)
    _token, key = token_create(actor=user, name="test")
    return org, user, key


def test_one_call_report_writes_what_the_three_steps_write(world: Any) -> None:
    org, user, key = _setup()
    response = _post(Client(), key, _body(org, ransom_demanded=True, ransom_paid=True, severity_level=4))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "submitted" and body["updates"] == [] and body["severity_level"] == 4
    report = IncidentReport.objects.get(uuid=body["uuid"])
    assert report.revision == 3 and report.submitted_at is not None and report.created_by == user
    assert list(ReportEvent.objects.filter(report=report).values_list("kind", flat=True)) == ["created", "submitted"]
    actions = set(AuditEvent.objects.filter(target_id=str(report.pk)).values_list("action", flat=True))
    assert {"incident.create", "incident.save_draft", "incident.submit", "obligation.open", "guardrail.record"} <= (
        actions
    )
    assert [o.rule.key for o in Obligation.objects.filter(report=report)] == ["nc-incident"]
    notice = GuardrailNotice.objects.get(report=report)
    assert notice.kind == "ransom_payment_forbidden" and "143-800" in notice.legal_basis


def test_one_call_report_with_bad_input_stores_nothing(world: Any) -> None:
    org, _user, key = _setup()
    before = (IncidentReport.objects.count(), AuditEvent.objects.count(), ReportEvent.objects.count())
    future = (timezone.now() + timedelta(days=1)).isoformat()
    response = _post(Client(), key, _body(org, discovered_at=future))
    assert response.status_code == 400
    assert "discovered_at" in response.json()["error"]["fields"]
    missing = _post(Client(), key, _body(org, title=""))
    assert missing.status_code == 400 and "title" in missing.json()["error"]["fields"]
    after = (IncidentReport.objects.count(), AuditEvent.objects.count(), ReportEvent.objects.count())
    assert after == before
    assert not Obligation.objects.exists() or not Obligation.objects.filter(report__organization=org).exists()


def test_one_call_report_for_another_organisation_is_refused(world: Any) -> None:
    _org, _user, key = _setup()
    other = state_org("NC", "37063", kind="county")
    response = _post(Client(), key, _body(other))
    assert response.status_code == 403
    assert not IncidentReport.objects.filter(organization=other).exists()


@pytest.mark.postgres
def test_one_call_report_costs_ten_queries_on_postgresql(world: Any) -> None:
    """Token, its last use, the viewer (1), the organisation; then BEGIN, the report, its timeline lines,
    its obligations, its audit rows, COMMIT: the obligations' rules come from the per-state table, and
    nothing reads a field of the organisation that the view did not load (that would be a query more)."""
    org, _user, key = _setup()
    client = Client()
    _post(client, key, _body(org))  # fills the rule table; the token's last use is now recent
    _token, key = token_create(actor=_user, name="second")
    with CaptureQueriesContext(connection) as queries:
        response = _post(client, key, _body(org, title="Second incident"))
    assert response.status_code == 201
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert len(statements) <= 10, "\n".join(q["sql"][:120] for q in queries.captured_queries)
    assert statements.count("SELECT") <= 4
