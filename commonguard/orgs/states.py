"""US states and territories: FIPS code, postal code, name and the time zone most of it keeps.

Counties that keep another zone than their state's main one are listed in COUNTY_TIME_ZONES
(only where the demo needs them; the directory lets a liaison correct any organisation's zone).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class State:
    fips: str
    postal: str
    name: str
    time_zone: str


_STATES = [
    ("01", "AL", "Alabama", "America/Chicago"),
    ("02", "AK", "Alaska", "America/Anchorage"),
    ("04", "AZ", "Arizona", "America/Phoenix"),
    ("05", "AR", "Arkansas", "America/Chicago"),
    ("06", "CA", "California", "America/Los_Angeles"),
    ("08", "CO", "Colorado", "America/Denver"),
    ("09", "CT", "Connecticut", "America/New_York"),
    ("10", "DE", "Delaware", "America/New_York"),
    ("11", "DC", "District of Columbia", "America/New_York"),
    ("12", "FL", "Florida", "America/New_York"),
    ("13", "GA", "Georgia", "America/New_York"),
    ("15", "HI", "Hawaii", "Pacific/Honolulu"),
    ("16", "ID", "Idaho", "America/Boise"),
    ("17", "IL", "Illinois", "America/Chicago"),
    ("18", "IN", "Indiana", "America/Indiana/Indianapolis"),
    ("19", "IA", "Iowa", "America/Chicago"),
    ("20", "KS", "Kansas", "America/Chicago"),
    ("21", "KY", "Kentucky", "America/New_York"),
    ("22", "LA", "Louisiana", "America/Chicago"),
    ("23", "ME", "Maine", "America/New_York"),
    ("24", "MD", "Maryland", "America/New_York"),
    ("25", "MA", "Massachusetts", "America/New_York"),
    ("26", "MI", "Michigan", "America/Detroit"),
    ("27", "MN", "Minnesota", "America/Chicago"),
    ("28", "MS", "Mississippi", "America/Chicago"),
    ("29", "MO", "Missouri", "America/Chicago"),
    ("30", "MT", "Montana", "America/Denver"),
    ("31", "NE", "Nebraska", "America/Chicago"),
    ("32", "NV", "Nevada", "America/Los_Angeles"),
    ("33", "NH", "New Hampshire", "America/New_York"),
    ("34", "NJ", "New Jersey", "America/New_York"),
    ("35", "NM", "New Mexico", "America/Denver"),
    ("36", "NY", "New York", "America/New_York"),
    ("37", "NC", "North Carolina", "America/New_York"),
    ("38", "ND", "North Dakota", "America/Chicago"),
    ("39", "OH", "Ohio", "America/New_York"),
    ("40", "OK", "Oklahoma", "America/Chicago"),
    ("41", "OR", "Oregon", "America/Los_Angeles"),
    ("42", "PA", "Pennsylvania", "America/New_York"),
    ("44", "RI", "Rhode Island", "America/New_York"),
    ("45", "SC", "South Carolina", "America/New_York"),
    ("46", "SD", "South Dakota", "America/Chicago"),
    ("47", "TN", "Tennessee", "America/Chicago"),
    ("48", "TX", "Texas", "America/Chicago"),
    ("49", "UT", "Utah", "America/Denver"),
    ("50", "VT", "Vermont", "America/New_York"),
    ("51", "VA", "Virginia", "America/New_York"),
    ("53", "WA", "Washington", "America/Los_Angeles"),
    ("54", "WV", "West Virginia", "America/New_York"),
    ("55", "WI", "Wisconsin", "America/Chicago"),
    ("56", "WY", "Wyoming", "America/Denver"),
    ("72", "PR", "Puerto Rico", "America/Puerto_Rico"),
]

STATES: dict[str, State] = {postal: State(fips, postal, name, tz) for fips, postal, name, tz in _STATES}
STATES_BY_FIPS: dict[str, State] = {s.fips: s for s in STATES.values()}
STATE_CHOICES = [(s.postal, s.name) for s in STATES.values()]

# Michigan's four Upper Peninsula counties on the Wisconsin border keep Central time.
COUNTY_TIME_ZONES: dict[str, str] = {
    "26053": "America/Menominee",  # Gogebic
    "26071": "America/Menominee",  # Iron
    "26043": "America/Menominee",  # Dickinson
    "26109": "America/Menominee",  # Menominee
}


def state_by_postal(postal: str) -> State:
    try:
        return STATES[postal.upper()]
    except KeyError:
        raise ValueError(f"Unknown state {postal!r}: use a two-letter postal code such as MI or OH.") from None


def hub_state() -> State:
    """The state this hub serves (settings.COMMONGUARD_STATE)."""
    from django.conf import settings

    return state_by_postal(settings.COMMONGUARD_STATE)
