"""Pages of the statutory clocks: who sees a report's obligations (only its readers; everyone else gets
the same 404 as for a missing one), the rules screen and its bad input, the overdue list (the
organisation and its liaison only), the state's reporting health (aggregates, k >= 5)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from commonguard.statutes.models import Obligation, ReportingRule, RuleRecipient, Sending
from commonguard.statutes.shipped import load_shipped_rules
from tests.conftest import PERSONAS
from tests.statutes_helpers import keys, member_of, state_org, submit_report

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _shipped_rules(db: Any) -> None:
    """The data migration's rules, again: a transactional test earlier in the run flushes them."""
    load_shipped_rules(ReportingRule, RuleRecipient)


def _page(content: bytes) -> str:
    """A page without its per-request CSRF token, to compare two answers."""
    return re.sub(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+', r"\1", content.decode())


# The report's own read rule (incidents/querysets.py): the hub operator runs the hub, not the state's cases.
READERS = {"ingham_member", "ingham_admin", "ingham_official", "liaison1", "liaison2", "analyst"}


@pytest.fixture
def ingham_report(world: Any) -> Any:
    return submit_report(world.ingham, world["ingham_member"], title="Phishing at the treasurer's office")


@pytest.mark.parametrize("persona", PERSONAS)
def test_a_reports_obligations_are_seen_only_by_its_readers(
    persona: str, world: Any, ingham_report: Any, as_persona: Any
) -> None:
    client = as_persona(persona)
    obligation = Obligation.objects.get(report=ingham_report)
    missing = client.get("/statutes/obligations/999999/")
    for url in (f"/statutes/obligations/{obligation.pk}/", f"/statutes/reports/{ingham_report.uuid}/"):
        response = client.get(url)
        if persona == "anonymous":
            assert response.status_code == 302
        elif persona in READERS:
            assert response.status_code == 200, url
            assert b"Michigan state recipients" in response.content
        elif persona in {"unvetted", "removed_member"}:
            assert response.status_code == 302  # not vetted: sent home
        else:
            assert response.status_code == 404
            assert _page(response.content) == _page(missing.content)
            assert b"treasurer" not in response.content


def test_strangers_cannot_record_or_email_or_waive(world: Any, as_persona: Any) -> None:
    report = submit_report(world.ingham, world["ingham_member"])
    obligation = Obligation.objects.get(report=report)
    client = as_persona("washtenaw_admin")
    post = {"channel": "portal", "sent_at": "2026-11-21T10:00", "evidence": "x"}
    assert client.post(f"/statutes/obligations/{obligation.pk}/", post).status_code == 404
    assert client.post(f"/statutes/obligations/{obligation.pk}/email/").status_code == 404
    assert (
        client.post(f"/statutes/obligations/{obligation.pk}/close/", {"status": "waived", "reason": "x"}).status_code
        == 404
    )
    assert Sending.objects.filter(obligation=obligation).count() == 1  # only the hub delivery


def test_the_reporter_records_a_sending_on_the_page(world: Any, as_persona: Any) -> None:
    rule = ReportingRule.objects.create(
        key="mi-test", state="MI", name="Test clock", citation="MCL 1.1", duration=24, unit="hours"
    )
    RuleRecipient.objects.create(rule=rule, name="Michigan Cyber Command Center")
    report = submit_report(world.ingham, world["ingham_member"])
    obligation = Obligation.objects.get(report=report)
    client = as_persona("ingham_member")
    page = client.get(f"/statutes/obligations/{obligation.pk}/")
    assert b"data-cg-due" in page.content and b"app/countdown.js" in page.content
    response = client.post(
        f"/statutes/obligations/{obligation.pk}/",
        {"channel": "portal", "sent_at": "2999-01-01T10:00", "evidence": "Form text"},
    )
    assert response.status_code == 400 and b"cannot be in the future" in response.content
    assert not obligation.sendings.exists()
    # The form reads the time in the organisation's zone (Detroit).
    now_local = timezone.now().astimezone(ZoneInfo("America/Detroit")).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        f"/statutes/obligations/{obligation.pk}/",
        {"channel": "portal", "sent_at": now_local, "reference": "MC3-1", "evidence": "Form text"},
    )
    assert response.status_code == 302
    obligation.refresh_from_db()
    assert obligation.status == "sent"
    assert obligation.sendings.get().reference == "MC3-1"


def test_report_page_include_shows_countdown_for_readers_only(world: Any, ingham_report: Any) -> None:
    from django.template import Context, Template
    from django.test import RequestFactory

    template = Template("{% load statutes_tags %}{% report_obligations report %}")
    request = RequestFactory().get("/")
    request.user = world["ingham_member"]
    html = template.render(Context({"request": request, "report": ingham_report}))
    assert "Michigan state recipients" in html
    request.user = world["washtenaw_member"]
    html = template.render(Context({"request": request, "report": ingham_report}))
    assert "Michigan state recipients" not in html and "No reporting obligations" in html


# --- The rules screen --------------------------------------------------------------------------


def _rule_post(**changes: Any) -> dict[str, Any]:
    data = {
        "state": "MI",
        "key": "mi-incident",
        "name": "Incident report",
        "citation": "MCL 18.1 (test)",
        "trigger": "incident",
        "clock_start": "discovery",
        "duration": "48",
        "unit": "hours",
        "enabled": "on",
        "kinds": ["county", "city"],
        "recipients-TOTAL_FORMS": "2",
        "recipients-INITIAL_FORMS": "0",
        "recipients-MIN_NUM_FORMS": "0",
        "recipients-MAX_NUM_FORMS": "12",
        "recipients-0-name": "Michigan Cyber Command Center",
        "recipients-0-email": "mc3@michigan-soc.example",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_a_liaison_adds_a_rule_for_their_state_and_reports_follow_it(world: Any, as_persona: Any) -> None:
    client = as_persona("liaison1")
    response = client.post("/statutes/rules/new/", _rule_post())
    assert response.status_code == 302
    rule = ReportingRule.objects.get(key="mi-incident")
    assert rule.recipients.get().email == "mc3@michigan-soc.example"
    report = submit_report(world.ingham, world["ingham_member"])
    assert keys(report) == {"mi-incident#0": "pending"}


@pytest.mark.parametrize(
    ("case", "changes", "message"),
    [
        ("zero duration", {"duration": "0"}, b"greater than or equal to 1"),
        ("year-long hours", {"duration": "10000"}, b"At most 8784 hours"),
        ("ends before it starts", {"effective_from": "2026-05-01", "effective_to": "2026-04-01"}, b"cannot end before"),
        ("payment clock on an incident", {"clock_start": "payment"}, b"Only a ransom-payment rule"),
        ("payment rule from discovery", {"trigger": "ransom_payment"}, b"clock starts at the payment"),
        ("guardrail without basis", {"guardrail": "ransom_payment_forbidden"}, b"legal basis"),
        ("no recipient", {"recipients-0-name": "", "recipients-0-email": ""}, b"at least one recipient"),
        ("recipient without name", {"recipients-0-name": ""}, b"give its name"),
        ("bad e-mail", {"recipients-0-email": "not an address"}, b"valid email"),
        ("duration without unit", {"recipients-0-duration": "30"}, b"both a duration and its unit"),
        ("another state", {"state": "FL"}, b"Select a valid choice"),
        ("unknown kind", {"kinds": ["castle"]}, b"Select a valid choice"),
        ("bad key", {"key": "no spaces allowed"}, b"Enter a valid"),
    ],
)
def test_bad_rules_are_refused_with_a_clear_error(
    case: str, changes: dict[str, Any], message: bytes, world: Any, as_persona: Any
) -> None:
    before = ReportingRule.objects.count()
    response = as_persona("liaison1").post("/statutes/rules/new/", _rule_post(**changes))
    assert response.status_code == 400, case
    assert message in response.content, case
    assert ReportingRule.objects.count() == before


def test_a_states_staff_cannot_edit_another_states_rule(world: Any, as_persona: Any) -> None:
    rule = ReportingRule.objects.get(key="fl-ransomware")
    client = as_persona("liaison1")  # Michigan staff
    page = client.get(f"/statutes/rules/{rule.pk}/")
    assert page.status_code == 200 and b"Only the staff of Florida" in page.content
    client.post(f"/statutes/rules/{rule.pk}/", _rule_post(state="FL", duration="1"))
    rule.refresh_from_db()
    assert rule.duration == 12
    # A member of a local government reads the rules but has no editing form.
    assert b"Add a rule" not in as_persona("ingham_member").get("/statutes/rules/").content
    assert as_persona("ingham_member").get("/statutes/rules/new/").status_code == 404


def test_the_operator_edits_a_rule_and_the_recipients_keep_their_obligations(world: Any, as_persona: Any) -> None:
    rule = ReportingRule.objects.get(key="oh-incident")
    org = state_org("OH", "39035")
    report = submit_report(org, member_of(org))
    recipient_ids = list(rule.recipients.values_list("pk", flat=True))
    client = as_persona("operator")
    data = _rule_post(
        state="OH",
        key=None,
        name=rule.name,
        citation=rule.citation,
        duration="5",
        unit="calendar_days",
        guardrail="resolution_required",
        guardrail_basis=rule.guardrail_basis,
        **{
            "recipients-0-name": "Ohio Cyber Integration Center",
            "recipients-0-email": "ocic@ohio-soc.example",
            "recipients-0-duration": "7",
            "recipients-0-unit": "calendar_days",
            "recipients-1-name": "Auditor of State",
            "recipients-1-duration": "30",
            "recipients-1-unit": "calendar_days",
        },
    )
    assert client.post(f"/statutes/rules/{rule.pk}/", data).status_code == 302
    assert list(rule.recipients.values_list("pk", flat=True)) == recipient_ids, list(rule.recipients.values())
    assert rule.recipients.get(position=0).email == "ocic@ohio-soc.example"
    assert set(keys(report).values()) == {"pending"}


# --- Overdue and health ------------------------------------------------------------------------


def test_overdue_obligations_are_shown_to_the_organisation_and_its_liaison_only(world: Any, as_persona: Any) -> None:
    rule = ReportingRule.objects.create(key="mi-t", state="MI", name="T", citation="MCL 2.2", duration=1, unit="hours")
    RuleRecipient.objects.create(rule=rule, name="Michigan Cyber Command Center")
    submit_report(world.ingham, world["ingham_member"], discovered_at=timezone.now() - timedelta(hours=3))
    assert Obligation.objects.get().status == "overdue"
    for persona, shown in [
        ("ingham_member", True),
        ("ingham_admin", True),
        ("liaison1", True),  # region 1's liaison
        ("liaison2", False),  # another region's liaison
        ("analyst", False),  # reads the report as a recipient, but the list is not a league table
        ("lansing_member", False),
        ("washtenaw_admin", False),
    ]:
        content = as_persona(persona).get("/statutes/overdue/").content
        assert (b"Michigan Cyber Command Center" in content) is shown, persona


def test_health_is_for_the_states_staff_and_hides_small_cells(world: Any, as_persona: Any) -> None:
    from tests.factories import OrganizationFactory

    orgs = [OrganizationFactory(region=world.region1, population=20000) for _ in range(5)]
    orgs.append(world.washtenaw)
    for org in orgs:
        submit_report(org, member_of(org), discovered_at=timezone.now() - timedelta(hours=10))
    page = as_persona("analyst").get("/statutes/health/mi/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Region 1" in text and "Region 2" in text
    region2 = text[text.index("Region 2") :]
    assert "Fewer than 5 organisations: not shown" in region2.split("</tr>")[0]
    assert "10.0 h" in text  # five of six sent after ten hours: the median of the shown cells
    for org in orgs:
        assert org.name not in text  # nobody is named
    for persona in ("ingham_admin", "coordinator", "washtenaw_member"):
        missing = as_persona(persona).get("/statutes/health/zz/")
        response = as_persona(persona).get("/statutes/health/mi/")
        assert response.status_code == 404 and _page(response.content) == _page(missing.content)


def test_ohio_asks_for_the_governing_bodys_resolution(world: Any, client: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from commonguard.statutes.models import GuardrailNotice
    from tests.conftest import sign_in
    from tests.statutes_helpers import update_report

    org = state_org("OH", "39061")
    admin = member_of(org, role="org_admin")
    report = submit_report(org, admin, category="ransomware")
    update_report(report, admin, ransom_paid=True)
    notice = GuardrailNotice.objects.get(report=report)
    assert notice.kind == "resolution_required" and "§9.64" in notice.legal_basis
    sign_in(client, admin)
    page = client.get(f"/statutes/reports/{report.uuid}/")
    assert b"Attach the resolution" in page.content and b"Ohio Rev. Code" in page.content
    url = f"/statutes/guardrails/{notice.pk}/document/"
    exe = SimpleUploadedFile("resolution.exe", b"MZ\x90\x00", content_type="application/x-msdownload")
    client.post(url, {"document": exe})
    notice.refresh_from_db()
    assert not notice.document
    stranger = member_of(state_org("OH", "39063"))
    sign_in(client, stranger)
    pdf = SimpleUploadedFile("resolution.pdf", b"%PDF-1.4 resolution", content_type="application/pdf")
    assert client.post(url, {"document": pdf}).status_code == 404
    sign_in(client, admin)
    pdf = SimpleUploadedFile("resolution.pdf", b"%PDF-1.4 resolution", content_type="application/pdf")
    assert client.post(url, {"document": pdf}).status_code == 302
    notice.refresh_from_db()
    assert notice.document_name == "resolution.pdf" and notice.document_uploaded_by == admin
    assert b"Resolution attached: resolution.pdf" in client.get(f"/statutes/reports/{report.uuid}/").content


def test_the_report_form_warns_before_paid_is_saved_and_the_report_page_shows_its_clocks(
    world: Any, as_persona: Any
) -> None:
    """Merge wiring: the incident form's ransom step names the law that forbids payment, and the
    report's page shows its obligations (a draft says when they will open)."""
    from tests.incident_helpers import make_report

    rule = ReportingRule.objects.create(
        key="mi-ransom",
        state="MI",
        name="Test ransom rule",
        citation="MCL 9.9",
        duration=24,
        unit="hours",
        guardrail="ransom_payment_forbidden",
        guardrail_basis="MCL 9.9(2): no public money for ransoms",
    )
    RuleRecipient.objects.create(rule=rule, name="Michigan Cyber Command Center")
    client = as_persona("ingham_member")
    draft = make_report(world["ingham_member"], world.ingham, submit=False)
    step = client.get(f"/incidents/{draft.uuid}/step/2/")
    assert step.status_code == 200 and b"no public money for ransoms" in step.content
    page = client.get(f"/incidents/{draft.uuid}/")
    assert b"When you send the report" in page.content
    sent = make_report(world["ingham_member"], world.ingham)
    page = client.get(f"/incidents/{sent.uuid}/")
    assert b"Michigan Cyber Command Center" in page.content and b"data-cg-due" in page.content
    # Someone who may not read the report sees neither.
    assert as_persona("lansing_member").get(f"/incidents/{sent.uuid}/").status_code == 404
