"""Rules that depend on facts the first report did not collect: Florida's severity levels, Texas
election data (to the Secretary of State instead of DIR), Indiana's water and wastewater utilities,
and New York City's exemption; the rules screen shows who sets a recipient's contact channel; the
rule tables are cached per state and forgotten when a rule changes."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from commonguard.incidents import services as incident_services
from commonguard.statutes.models import Obligation, ReportingRule
from commonguard.statutes.rules import rule_save
from commonguard.statutes.services import wanted_obligations
from tests.incident_helpers import make_report
from tests.statutes_helpers import keys, member_of, state_org, submit_report, update_report

pytestmark = pytest.mark.django_db

FL_ALL = {"fl-incident#0", "fl-incident#1", "fl-incident#2"}


def _opened(report: Any) -> set[str]:
    return {k for k, status in keys(report).items() if status != "not_applicable"}


def test_florida_48_hour_rule_opens_from_severity_level_3_and_when_no_level_is_given() -> None:
    org = state_org("FL", "12086", kind="county")
    user = member_of(org)
    # Levels 1 and 2 owe no 48-hour report (Florida consolidates them): the default report to the
    # state, delivered by the submission itself, is all.
    assert keys(submit_report(org, user, severity_level=2)) == {"default": "sent"}
    assert _opened(submit_report(org, user, severity_level=3)) == FL_ALL
    assert _opened(submit_report(org, user, severity_level=5)) == FL_ALL
    assert _opened(submit_report(org, user)) == FL_ALL  # not assessed: the cautious reading


def test_florida_a_later_lower_severity_sets_the_open_clock_aside() -> None:
    org = state_org("FL", "12086", kind="county")
    user = member_of(org)
    report = submit_report(org, user, severity_level=4)
    update_report(report, user, severity_level=1)
    assert {status for key, status in keys(report).items() if key.startswith("fl-")} == {"not_applicable"}


def test_texas_election_data_goes_to_the_secretary_of_state_instead_of_dir() -> None:
    org = state_org("TX", "48453", kind="county")
    user = member_of(org)
    assert _opened(submit_report(org, user, data_types=["pii"])) == {"tx-incident#0"}
    election = submit_report(org, user, data_types=["pii", "election"])
    assert _opened(election) == {"tx-election#0"}
    obligation = Obligation.objects.get(report=election)
    assert obligation.recipient_name.startswith("Texas Secretary of State")
    assert (obligation.due_at - obligation.clock_started_at).total_seconds() == 48 * 3600


def test_indiana_water_utility_operations_affected_opens_a_24_hour_clock() -> None:
    org = state_org("IN", "18097", kind="city")
    user = member_of(org)
    assert _opened(submit_report(org, user)) == {"in-incident#0"}
    water = submit_report(org, user, water_utility_affected=True)
    assert _opened(water) == {"in-incident#0", "in-water-utility#0"}
    obligation = Obligation.objects.get(report=water, rule__key="in-water-utility")
    assert (obligation.due_at - obligation.clock_started_at).total_seconds() == 24 * 3600


def test_new_york_city_is_exempt_and_other_new_york_governments_are_not() -> None:
    city = state_org("NY", "36061", kind="city", place_fips="3651000", name="City of New York")
    borough_county = state_org("NY", "36047", kind="county")
    albany = state_org("NY", "36001", kind="county")
    paid = {"category": "ransomware", "ransom_demanded": True, "ransom_paid": True}
    for org in (city, borough_county):
        assert _opened(submit_report(org, member_of(org), **paid)) == {"default"}
    assert _opened(submit_report(albany, member_of(albany), **paid)) == {
        "ny-incident#0",
        "ny-ransom-payment#0",
        "ny-ransom-statement#0",
    }


def test_the_report_collects_the_new_facts_and_refuses_a_bad_level(world: Any) -> None:
    user = world["ingham_member"]
    report = make_report(user, world.ingham, submit=False)
    saved = incident_services.report_save(
        actor=user,
        report=report,
        data={"severity_level": 3, "water_utility_affected": True},
        revision=report.revision,
    )
    saved.refresh_from_db()
    assert saved.severity_level == 3 and saved.water_utility_affected is True
    with pytest.raises(ValidationError) as caught:
        incident_services.report_save(actor=user, report=saved, data={"severity_level": 9}, revision=saved.revision)
    assert "severity_level" in caught.value.message_dict
    saved.refresh_from_db()
    assert saved.severity_level == 3


def test_the_rule_table_is_cached_and_forgotten_when_a_rule_is_saved(world: Any) -> None:
    org = state_org("FL", "12086", kind="county")
    user = member_of(org)
    submit_report(org, user)  # fills Florida's table
    report = submit_report(org, user, severity_level=2)
    with CaptureQueriesContext(connection) as queries:
        wanted_obligations(report, report.submitted_at)
    assert not [q for q in queries.captured_queries if "statutes_" in q["sql"]]
    rule = ReportingRule.objects.get(key="fl-incident")
    actor = world["operator"]
    data = {f: getattr(rule, f) for f in ("state", "name", "citation", "trigger", "clock_start", "duration", "unit")}
    data.update(kinds=rule.kinds, min_severity=None, enabled=True)
    recipients = [{"name": r.name, "portal_url": r.portal_url} for r in rule.recipients.order_by("position")]
    rule_save(actor=actor, rule=rule, data=data, recipients=recipients)
    assert {w.key.split(":")[0] for w in wanted_obligations(report, report.submitted_at)} == {str(rule.pk)}


def test_recipients_without_a_channel_say_who_sets_it_and_a_saved_address_is_used_to_send(
    world: Any, as_persona: Any, smtp: Any
) -> None:
    from commonguard.statutes.services import obligation_send_email

    org = state_org("VA", "51059")
    user = member_of(org)
    report = submit_report(org, user)
    obligation = Obligation.objects.get(report=report)
    assert obligation.recipient_email == ""
    rule = ReportingRule.objects.get(key="va-incident")
    page = as_persona("ingham_member").get(f"/statutes/rules/{rule.pk}/").content.decode()
    assert "contact channel set by the operator" in page
    nc = ReportingRule.objects.get(key="nc-incident")
    nc_page = as_persona("ingham_member").get(f"/statutes/rules/{nc.pk}/").content.decode()
    assert "https://it.nc.gov/" in nc_page and "set by the operator" not in nc_page
    data = {f: getattr(rule, f) for f in ("state", "name", "citation", "trigger", "clock_start", "duration", "unit")}
    data.update(kinds=rule.kinds, enabled=True)
    recipient = rule.recipients.get()
    rule_save(
        actor=world["operator"],
        rule=rule,
        data=data,
        recipients=[{"name": recipient.name, "email": "vfc@virginia-soc.example"}],
    )
    obligation.refresh_from_db()
    assert obligation.recipient_email == "vfc@virginia-soc.example"
    obligation_send_email(actor=user, obligation=obligation)
    assert [m["To"] for m in smtp.messages] == ["vfc@virginia-soc.example"]
