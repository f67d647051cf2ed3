"""The deadline engine, and every shipped rule's clock: holidays, weekends, daylight-saving changes.

2026: clocks spring forward on Sunday 8 March and fall back on Sunday 1 November (US).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commonguard.statutes import deadlines
from commonguard.statutes.deadlines import add_business_days, due_at, is_business_day, reminder_times
from commonguard.statutes.models import ReportingRule, RuleRecipient
from commonguard.statutes.shipped import load_shipped_rules, shipped_rules

EASTERN = ZoneInfo("America/New_York")
CENTRAL = ZoneInfo("America/Chicago")


def local(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone)  # type: ignore[misc]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --- The engine ---------------------------------------------------------------------------------


def test_warm_loads_every_states_calendar_for_this_year_and_the_next() -> None:
    """The server warms the calendars at start (asgi.py): a business-day clock over the new year then
    builds none inside a request."""
    deadlines._holidays.cache_clear()
    deadlines.warm(date(2026, 12, 30))
    loaded = deadlines._holidays.cache_info().currsize
    assert loaded >= 2 * 50
    due = due_at(local(EASTERN, 2026, 12, 30, 9, 0), 2, "business_days", state="IN")
    assert due == local(EASTERN, 2027, 1, 5, 0, 0)  # Thu 31 Dec, (Fri 1 Jan New Year's Day), Mon 4 Jan
    assert deadlines._holidays.cache_info().currsize == loaded
    deadlines._holidays.cache_clear()
    due_at(local(EASTERN, 2026, 12, 30, 9, 0), 2, "business_days", state="IN")
    assert deadlines._holidays.cache_info().currsize > 0  # without the warm-up the request builds them


def test_24_hours_across_spring_forward_are_24_real_hours() -> None:
    start = local(EASTERN, 2026, 3, 7, 12, 0)  # 12:00 EST, the day before the change
    due = due_at(start, 24, "hours", state="NC")
    assert due - start == timedelta(hours=24)
    assert due == utc(2026, 3, 8, 17, 0)
    assert due.astimezone(EASTERN).hour == 13  # the wall clock shows 13:00 EDT, not 12:00


def test_24_hours_across_fall_back_are_24_real_hours() -> None:
    start = local(EASTERN, 2026, 10, 31, 12, 0)  # 12:00 EDT
    due = due_at(start, 24, "hours", state="VA")
    assert due - start == timedelta(hours=24)
    assert due.astimezone(EASTERN).hour == 11  # 11:00 EST


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        due_at(datetime(2026, 3, 7, 12, 0), 24, "hours", state="NC")


def test_negative_duration_and_unknown_unit_are_refused() -> None:
    with pytest.raises(ValueError):
        due_at(local(EASTERN, 2026, 3, 7), -1, "hours", state="NC")
    with pytest.raises(ValueError):
        due_at(local(EASTERN, 2026, 3, 7), 1, "fortnights", state="NC")


def test_calendar_days_end_at_local_midnight_across_dst() -> None:
    # Discovered on Friday 6 March, 7 days: the end of Friday 13 March, local (EDT by then).
    due = due_at(local(EASTERN, 2026, 3, 6, 23, 30), 7, "calendar_days", state="OH")
    assert due == utc(2026, 3, 14, 4, 0)
    assert due.astimezone(EASTERN) == local(EASTERN, 2026, 3, 14, 0, 0)


def test_day_rules_use_the_states_zone_not_utc() -> None:
    # 23:30 Central on 1 December is already 2 December in UTC; the day counted is 1 December.
    start = local(CENTRAL, 2026, 12, 1, 23, 30)
    assert due_at(start, 1, "calendar_days", state="TX") == local(CENTRAL, 2026, 12, 3, 0, 0).astimezone(UTC)


def test_business_days_skip_weekends_and_state_holidays() -> None:
    assert not is_business_day(date(2026, 11, 27), "TX")  # Friday after Thanksgiving (Texas)
    assert is_business_day(date(2026, 11, 27), "OH")  # a working day in Ohio
    assert not is_business_day(date(2026, 12, 24), "IN")  # Indiana keeps Washington's Birthday on 24 Dec
    assert add_business_days(date(2026, 11, 25), 1, "TX") == date(2026, 11, 30)
    assert add_business_days(date(2026, 11, 25), 1, "OH") == date(2026, 11, 27)


def test_reminders_fall_at_half_time_and_two_hours_before() -> None:
    start = utc(2026, 5, 1, 0, 0)
    half, soon = reminder_times(start, start + timedelta(hours=24))
    assert half == utc(2026, 5, 1, 12, 0)
    assert soon == utc(2026, 5, 1, 22, 0)
    # A clock shorter than two hours: "two hours before" is the start itself, never before it.
    assert reminder_times(start, start + timedelta(hours=1))[1] == start


# Timezone-aware datetimes are slow to draw, and the machine may be busy: time is not what is tested.
SLOW_OK = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)


@SLOW_OK
@given(
    start=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(EASTERN)),
    hours=st.integers(min_value=1, max_value=24 * 30),
)
def test_hour_clocks_are_always_real_hours(start: datetime, hours: int) -> None:
    assert due_at(start, hours, "hours", state="NY") - start == timedelta(hours=hours)


@SLOW_OK
@given(
    start=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(CENTRAL)),
    days=st.integers(min_value=1, max_value=15),
)
def test_business_day_deadlines_end_a_business_day_at_local_midnight(start: datetime, days: int) -> None:
    due = due_at(start, days, "business_days", state="TX").astimezone(CENTRAL)
    assert (due.hour, due.minute) == (0, 0)
    last_day = due.date() - timedelta(days=1)
    assert is_business_day(last_day, "TX")
    assert last_day > start.astimezone(CENTRAL).date()


# --- Every shipped rule ------------------------------------------------------------------------------

# key -> (clock start, [expected due per recipient, in the rule's recipient order])
SHIPPED_CASES: dict[str, tuple[datetime, list[datetime]]] = {
    # NC: 24 h from confirmation, across spring-forward.
    "nc-incident": (local(EASTERN, 2026, 3, 7, 12, 0), [utc(2026, 3, 8, 17, 0)]),
    # VA: 24 h from discovery, across fall-back.
    "va-incident": (local(EASTERN, 2026, 10, 31, 12, 0), [utc(2026, 11, 1, 16, 0)]),
    # TX: 48 h from discovery (Central), across spring-forward.
    "tx-incident": (local(CENTRAL, 2026, 3, 7, 10, 0), [utc(2026, 3, 9, 16, 0)]),
    # TX election data: to the Secretary of State, 48 h from discovery, across fall-back (one hour more
    # on the wall clock: 10:00 CDT Sat 31 Oct -> 09:00 CST Mon 2 Nov).
    "tx-election": (local(CENTRAL, 2026, 10, 31, 10, 0), [utc(2026, 11, 2, 15, 0)]),
    # TX follow-up: 10th business day after recovery on Friday 20 Nov; Thanksgiving and the day after
    # are Texas holidays: Mon 23 .. Wed 25 (3), Mon 30 .. Fri 4 Dec (8), Mon 7 (9), Tue 8 (10).
    "tx-after-action": (local(CENTRAL, 2026, 11, 20, 15, 0), [utc(2026, 12, 9, 6, 0)]),
    # FL ransomware: 12 h, three recipients, across spring-forward (20:00 EST -> 09:00 EDT).
    "fl-ransomware": (local(EASTERN, 2026, 3, 7, 20, 0), [utc(2026, 3, 8, 13, 0)] * 3),
    # FL incident: 48 h, three recipients.
    "fl-incident": (local(EASTERN, 2026, 10, 30, 9, 0), [utc(2026, 11, 1, 13, 0)] * 3),
    # FL after-action: one week after remediation on Tuesday 27 Oct -> end of Tuesday 3 Nov (EST by then).
    "fl-after-action": (local(EASTERN, 2026, 10, 27, 16, 0), [utc(2026, 11, 4, 5, 0)]),
    # IN: 2 business days from discovery on Wednesday 23 Dec: 24 Dec and 25 Dec are Indiana holidays,
    # then the weekend: Mon 28 (1), Tue 29 (2) -> end of Tuesday 29 Dec, EST.
    "in-incident": (local(EASTERN, 2026, 12, 23, 10, 0), [utc(2026, 12, 30, 5, 0)]),
    # IN water or wastewater utility: 24 h from discovery, across spring-forward (23:00 EST -> 00:00 EDT).
    "in-water-utility": (local(EASTERN, 2026, 3, 7, 23, 0), [utc(2026, 3, 9, 4, 0)]),
    # NY: 72 h from reasonable belief, across fall-back.
    "ny-incident": (local(EASTERN, 2026, 10, 30, 12, 0), [utc(2026, 11, 2, 16, 0)]),
    # NY: 24 h from payment.
    "ny-ransom-payment": (local(EASTERN, 2026, 3, 8, 1, 30), [utc(2026, 3, 9, 6, 30)]),
    # NY: 30 days from payment on 15 Oct (EDT) -> end of 14 Nov (EST).
    "ny-ransom-statement": (local(EASTERN, 2026, 10, 15, 9, 0), [utc(2026, 11, 15, 5, 0)]),
    # MN: 72 h (Central).
    "mn-incident": (local(CENTRAL, 2026, 3, 6, 8, 0), [utc(2026, 3, 9, 14, 0)]),
    # OH: the Cyber Integration Center within 7 days, the Auditor of State within 30, of discovery.
    "oh-incident": (local(EASTERN, 2026, 3, 2, 11, 0), [utc(2026, 3, 10, 4, 0), utc(2026, 4, 2, 4, 0)]),
    # WV: 10 days after determination.
    "wv-incident": (local(EASTERN, 2026, 10, 25, 9, 0), [utc(2026, 11, 5, 5, 0)]),
    # CIRCIA (proposed): 72 h from reasonable belief; 24 h from payment.
    "us-circia-incident": (local(EASTERN, 2026, 3, 7, 0, 0), [utc(2026, 3, 10, 5, 0)]),
    "us-circia-ransom-payment": (local(CENTRAL, 2026, 10, 31, 22, 0), [utc(2026, 11, 2, 3, 0)]),
}


def test_every_shipped_rule_has_a_deadline_case() -> None:
    assert set(SHIPPED_CASES) == {r["key"] for r in shipped_rules()}


@pytest.fixture
def shipped(db: object) -> None:
    """The data migration's rules, again: a transactional test earlier in the run flushes them."""
    load_shipped_rules(ReportingRule, RuleRecipient)


@pytest.mark.usefixtures("shipped")
@pytest.mark.parametrize("key", sorted(SHIPPED_CASES))
def test_shipped_rule_deadline(key: str) -> None:
    rule = ReportingRule.objects.get(key=key)  # loaded by the data migration
    start, expected = SHIPPED_CASES[key]
    recipients = list(rule.recipients.all())
    assert len(recipients) == len(expected)
    state = "NY" if rule.is_federal else rule.state
    got = [due_at(start, *r.effective_duration, state=state) for r in recipients]
    assert got == expected
    if rule.unit == "hours":
        assert all(g - start == timedelta(hours=rule.duration) for g in got)


@pytest.mark.usefixtures("shipped")
def test_shipped_rules_are_as_the_research_says() -> None:
    rules = {r.key: r for r in ReportingRule.objects.prefetch_related("recipients")}
    assert {r.state for r in rules.values()} == {"NC", "VA", "TX", "FL", "IN", "NY", "MN", "OH", "WV", "US"}
    assert [r.name for r in rules["fl-ransomware"].recipients.all()] == [
        "Florida Digital Service Cybersecurity Operations Center (CSOC)",
        "FDLE Cybercrime Office",
        "County sheriff",
    ]
    assert rules["oh-incident"].recipients.count() == 2
    assert not rules["us-circia-incident"].enabled and not rules["us-circia-ransom-payment"].enabled
    assert all(r.enabled for k, r in rules.items() if not k.startswith("us-"))
    assert rules["nc-incident"].guardrail == "ransom_payment_forbidden"
    assert rules["fl-ransomware"].guardrail == "ransom_payment_forbidden"
    assert rules["oh-incident"].guardrail == "resolution_required"
    assert rules["ny-ransom-payment"].trigger == "ransom_payment"
    assert all(r.citation for r in rules.values())
