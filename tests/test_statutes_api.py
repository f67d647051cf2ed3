"""The statutory clocks' read-only API: a report's obligations with their sendings (the report's read
rule: anyone else gets the same 404 as for a missing report), the reporting rules; every read of a
report through the statutes pages and the report's forms is audited."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.utils import timezone

from commonguard.core.models import AuditEvent
from commonguard.statutes.models import Obligation
from commonguard.statutes.services import obligation_record_sending
from tests.conftest import PERSONAS
from tests.incident_helpers import make_report

pytestmark = pytest.mark.django_db

STATE_STAFF = {"liaison1", "liaison2", "analyst"}
READERS = {"ingham_member", "ingham_admin", "ingham_official", *STATE_STAFF}


@pytest.fixture
def report(world: Any) -> Any:
    member = world["ingham_member"]
    report = make_report(member, world.ingham)  # Michigan: no rule, the default report to the state
    return report


def _reads(report: Any, what: str) -> int:
    return AuditEvent.objects.filter(
        kind=AuditEvent.Kind.READ, target_id=str(report.pk), action=f"incident.read.{what}"
    ).count()


@pytest.mark.parametrize("persona", PERSONAS)
def test_obligations_api_follows_the_reports_read_rule(report: Any, as_persona: Any, persona: str) -> None:
    client = as_persona(persona)
    response = client.get(f"/api/v1/incident-reports/{report.uuid}/obligations/")
    if persona == "anonymous":
        assert response.status_code in {401, 403}
        return
    missing = client.get(f"/api/v1/incident-reports/{uuid.uuid4()}/obligations/")
    if persona in READERS:
        assert response.status_code == 200, persona
        [obligation] = response.json()
        assert obligation["rule"] is None and obligation["status"] == "sent"
        assert obligation["sendings"][0]["channel"] == "hub"
        assert len(obligation["sendings"][0]["evidence_sha256"]) == 64
        assert _reads(report, "obligations (API)") == 1
    else:
        assert response.status_code == missing.status_code == 404, persona
        assert response.json() == missing.json()
        assert _reads(report, "obligations (API)") == 0


def test_obligations_api_lists_sendings_recorded_by_hand(world: Any, client: Any) -> None:
    from tests.conftest import sign_in
    from tests.statutes_helpers import member_of, state_org, submit_report

    org = state_org("VA", "51059")
    user = member_of(org)
    report = submit_report(org, user)
    obligation = Obligation.objects.get(report=report)
    obligation_record_sending(
        actor=user,
        obligation=obligation,
        channel="phone",
        sent_at=timezone.now(),
        reference="VFC-1",
        evidence="Called the Fusion Center.",
    )
    body = sign_in(client, user).get(f"/api/v1/incident-reports/{report.uuid}/obligations/").json()
    assert [o["recipient_name"] for o in body] == [obligation.recipient_name]
    assert body[0]["rule"] == "va-incident" and body[0]["status"] == "sent"
    assert [(s["channel"], s["reference"], s["recorded_by"]) for s in body[0]["sendings"]] == [
        ("phone", "VFC-1", user.email)
    ]
    assert "evidence" not in body[0]["sendings"][0]


def test_obligations_api_refuses_a_malformed_id_like_a_missing_report(world: Any, as_persona: Any) -> None:
    client = as_persona("ingham_member")
    assert client.get("/api/v1/incident-reports/not-a-uuid/obligations/").status_code == 404


def test_reporting_rules_api_is_read_only_and_for_the_vetted(world: Any, as_persona: Any) -> None:
    client = as_persona("ingham_member")
    rules = client.get("/api/v1/reporting-rules/", {"page_size": 100}).json()["results"]
    by_key = {r["key"]: r for r in rules}
    assert by_key["fl-incident"]["min_severity"] == 3
    assert by_key["tx-election"]["data_types"] == ["election"]
    assert by_key["in-water-utility"]["required_facts"] == ["water_utility_affected"]
    assert [r["name"] for r in by_key["oh-incident"]["recipients"]][1] == "Auditor of State"
    texas = client.get("/api/v1/reporting-rules/", {"state": "tx"}).json()["results"]
    assert {r["state"] for r in texas} == {"TX"}
    one = client.get(f"/api/v1/reporting-rules/{by_key['nc-incident']['id']}/").json()
    assert one["recipients"][0]["portal_url"] == "https://it.nc.gov/"
    assert client.post("/api/v1/reporting-rules/", {}, content_type="application/json").status_code == 405
    assert as_persona("unvetted").get("/api/v1/reporting-rules/").json()["results"] == []


def test_the_schema_documents_the_new_endpoints(world: Any, as_persona: Any) -> None:
    text = as_persona("ingham_member").get("/api/schema/").content.decode()
    assert "/api/v1/incident-reports/{report_uuid}/obligations/" in text
    assert "/api/v1/reporting-rules/" in text


def test_every_read_of_a_report_through_statutes_pages_and_forms_is_audited(world: Any, as_persona: Any) -> None:
    member, analyst = world["ingham_member"], world["analyst"]
    report = make_report(member, world.ingham)
    draft = make_report(member, world.ingham, submit=False)
    obligation = Obligation.objects.get(report=report)
    client = as_persona("ingham_member")
    for url in (
        f"/statutes/reports/{report.uuid}/",
        f"/statutes/obligations/{obligation.pk}/",
        f"/incidents/{draft.uuid}/step/1/",
        f"/incidents/{draft.uuid}/step/3/",
        f"/incidents/{report.uuid}/update/",
        f"/incidents/{report.uuid}/classify/",
        f"/incidents/{report.uuid}/warn-peers/",
    ):
        assert client.get(url).status_code == 200, url
    assert _reads(report, "obligations") == 1
    assert _reads(report, f"obligation {obligation.pk}") == 1
    assert _reads(draft, "draft form (step 1)") == 1 and _reads(draft, "draft form (step 3)") == 1
    assert _reads(report, "update form") == 1 and _reads(report, "classification form") == 1
    assert _reads(report, "warn-peers form") == 1
    before = AuditEvent.objects.filter(action="incident.read.health", actor=analyst).count()
    assert as_persona("analyst").get("/statutes/health/MI/").status_code == 200
    assert AuditEvent.objects.filter(action="incident.read.health", actor=analyst).count() == before + 1
