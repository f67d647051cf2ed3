"""The deadline engine: when a statutory clock runs out. Pure functions, no database.

Three units (ADR 0028):
- hours: real elapsed time. 24 hours across the spring-forward night are 24 hours of the sun, not
  23 or 25 hours of the wall clock, so the arithmetic is done in UTC.
- calendar days: "within N days" of an event ends at the end of the Nth day after the day of the event
  (the day of the event does not count), in the state's time zone.
- business days: the same, counting only Monday–Friday that are not holidays of the state (the
  `holidays` package, the state as subdivision of the US: federal plus state holidays).

"End of a day" is the first instant of the next local day (00:00), which is what a person reading
"by the end of Tuesday" means, and what a countdown can count down to.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

UTC = ZoneInfo("UTC")


class Unit(StrEnum):
    HOURS = "hours"
    CALENDAR_DAYS = "calendar_days"
    BUSINESS_DAYS = "business_days"


# The time zone a state's day-based clocks run in: the zone most of the state keeps (orgs/states.py).
def state_time_zone(state: str) -> ZoneInfo:
    from commonguard.orgs.states import STATES

    info = STATES.get(state)
    return ZoneInfo(info.time_zone if info else "America/New_York")


@lru_cache(maxsize=256)
def _holidays(state: str, year: int) -> frozenset[date]:
    import holidays

    subdiv = state if state and state != "US" else None
    try:
        calendar = holidays.country_holidays("US", subdiv=subdiv, years=year)
    except NotImplementedError:  # a territory the package does not know: federal holidays only
        calendar = holidays.country_holidays("US", years=year)
    return frozenset(calendar.keys())


def warm(today: date | None = None) -> None:
    """Load the holiday calendars of every state for this year and the next, now.

    The first business-day clock in a process otherwise imports `holidays` and builds its calendar
    inside a request: 0.1 s of CPU with compiled bytecode, 0.5 s without, which a server pays at
    start (`asgi.py`) rather than in the middle of the first burst of reports (bench/reports/README.md).
    """
    from commonguard.orgs.states import STATES

    year = (today or datetime.now(UTC).date()).year
    for state in STATES:
        for each in (year, year + 1):
            _holidays(state, each)


def is_business_day(day: date, state: str) -> bool:
    return day.weekday() < 5 and day not in _holidays(state, day.year)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("clock starts must be timezone-aware")
    return moment


def _end_of_local_day(day: date, zone: ZoneInfo) -> datetime:
    # 00:00 of the next day, local; US zones change at 02:00, so midnight always exists once.
    return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=zone).astimezone(UTC)


def add_business_days(day: date, count: int, state: str) -> date:
    """The `count`th business day after `day` (`day` itself does not count)."""
    if count < 0:
        raise ValueError("a duration cannot be negative")
    current = day
    remaining = count
    while remaining:
        current += timedelta(days=1)
        if is_business_day(current, state):
            remaining -= 1
    return current


def due_at(start: datetime, duration: int, unit: str, *, state: str, zone: ZoneInfo | None = None) -> datetime:
    """When a clock that started at `start` (aware) and runs `duration` `unit`s runs out, in UTC.

    `state` picks the holiday calendar (and, unless `zone` is given, the time zone) of day-based rules.
    """
    _aware(start)
    if duration < 0:
        raise ValueError("a duration cannot be negative")
    unit = Unit(unit)
    if unit is Unit.HOURS:
        return start.astimezone(UTC) + timedelta(hours=duration)
    zone = zone or state_time_zone(state)
    local_day = start.astimezone(zone).date()
    if unit is Unit.CALENDAR_DAYS:
        return _end_of_local_day(local_day + timedelta(days=duration), zone)
    return _end_of_local_day(add_business_days(local_day, duration, state), zone)


def reminder_times(start: datetime, due: datetime) -> tuple[datetime, datetime]:
    """(half-time, two hours before): when the reporting organisation is reminded."""
    _aware(start)
    _aware(due)
    half = start + (due - start) / 2
    soon = due - timedelta(hours=2)
    return half, max(soon, start)


def describe_duration(duration: int, unit: str) -> str:
    """ "24 hours", "2 business days", "1 calendar day"."""
    unit = Unit(unit)
    if unit is Unit.HOURS:
        return f"{duration} hour{'s' if duration != 1 else ''}"
    word = "business day" if unit is Unit.BUSINESS_DAYS else "calendar day"
    return f"{duration} {word}{'s' if duration != 1 else ''}"
