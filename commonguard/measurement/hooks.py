"""What other apps provide to measurement, each registered once in the providing app's AppConfig.ready()
(incidents/measurement.py, partnerships/measurement.py).

- Library resources for the improvement plan (partnerships): `register_library_provider(fn)`,
  where fn(category_codes, user) returns {category code: [Resource, ...]} the user may read.
- Grant money received, for the briefing (partnerships/grants): `register_grants_provider(fn)`,
  fn(organization or None, state, start, end, user) -> GrantSummary or None (read as user may).
- Incident costs, for the briefing (incidents): `register_incidents_provider(fn)`,
  fn(organization or None, state, start, end, user) -> IncidentSummary or None (read as user may).

Until a provider is registered the improvement plan lists no resources and the briefing says,
in so many words, that the section is not yet available.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Resource:
    title: str
    url: str
    kind: str = ""


@dataclass(frozen=True)
class GrantSummary:
    received: float  # dollars received in the period
    awards: list[tuple[str, float]] = field(default_factory=list)  # (programme / project, amount)
    note: str = ""


@dataclass(frozen=True)
class IncidentSummary:
    reported: int
    estimated_cost: float | None
    lines: list[str] = field(default_factory=list)  # plain-language sentences


LibraryProvider = Callable[[Sequence[str], Any], dict[str, list[Resource]]]
GrantsProvider = Callable[[Any, str, date, date, Any], GrantSummary | None]
IncidentsProvider = Callable[[Any, str, date, date, Any], IncidentSummary | None]

_providers: dict[str, Any] = {}


def register_library_provider(fn: LibraryProvider | None) -> None:
    _providers["library"] = fn


def register_grants_provider(fn: GrantsProvider | None) -> None:
    _providers["grants"] = fn


def register_incidents_provider(fn: IncidentsProvider | None) -> None:
    _providers["incidents"] = fn


def library_resources_for(category_codes: Sequence[str], user: Any) -> dict[str, list[Resource]] | None:
    """Resources the library holds for the weak categories, or None when no library is installed."""
    fn = _providers.get("library")
    return None if fn is None else fn(list(category_codes), user)


def grants_received(organization: Any, state: str, start: date, end: date, user: Any) -> GrantSummary | None:
    """Grant money of the period, as `user` (the briefing's reader) may read it."""
    fn = _providers.get("grants")
    return None if fn is None else fn(organization, state, start, end, user)


def incidents_in(organization: Any, state: str, start: date, end: date, user: Any) -> IncidentSummary | None:
    """Incident reports of the period, as `user` (the briefing's reader) may read them."""
    fn = _providers.get("incidents")
    return None if fn is None else fn(organization, state, start, end, user)
