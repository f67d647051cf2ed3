"""The state dashboard: one layer's value per county for one year, and every layer's trend.
Shown to the state's staff (liaisons, analysts) of the hub state; everyone else gets a 404."""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from commonguard.accounts.viewer import viewer_for
from commonguard.measurement.layers import LAYERS, CountyValue, Layer, LayerContext, layer_breaks
from commonguard.orgs.models import Organization
from commonguard.orgs.states import state_by_postal

YEARS = 5
# The trends (every layer, every year) are the same whichever layer and year is shown: kept for a
# minute per person and per exact set of their memberships, so switching layers does not recount.
TRENDS_SECONDS = 60
# ColorBrewer "Blues", five classes (the campaign map's scale); no value: light grey hatching.
COLOURS = ("#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c")
NO_VALUE = "#f0f0f0"


class NotStateStaff(Exception):
    """The person is not state staff of the state: callers answer 404."""


def may_view_dashboard(user: Any, state: str) -> bool:
    return state in viewer_for(user).staff_states


def dashboard_years(now: Any = None) -> tuple[int, ...]:
    year = (now or timezone.now()).year
    return tuple(range(year - YEARS + 1, year + 1))


@dataclass
class CountyRow:
    fips: str
    name: str
    value: CountyValue
    colour: str
    display: str

    def as_json(self) -> dict[str, Any]:
        v = self.value
        return {
            "fips": self.fips,
            "name": self.name,
            "value": v.value,
            "organisations": v.n,
            "suppressed": v.suppressed,
            "display": self.display,
            "colour": self.colour,
        }


@dataclass
class Dashboard:
    state: str
    state_name: str
    state_fips: str
    layer: Layer
    year: int
    years: tuple[int, ...]
    counties: list[CountyRow]
    breaks: list[float]
    trends: dict[str, dict[int, float | None]]

    def legend(self) -> list[dict[str, Any]]:
        b = self.breaks
        unit = self.layer.unit
        fmt = (lambda x: f"{x:g} %") if unit == "%" else (lambda x: f"{x:g}")
        labels = [f"under {fmt(b[0])}"] + [f"{fmt(b[i])} to under {fmt(b[i + 1])}" for i in range(len(b) - 1)]
        labels.append(f"{fmt(b[-1])} or more")
        return [{"colour": c, "label": label} for c, label in zip(COLOURS, labels, strict=True)]

    def as_json(self) -> dict[str, Any]:
        return {
            "state": {"postal": self.state, "name": self.state_name, "fips": self.state_fips},
            "layer": {
                "key": self.layer.key,
                "label": self.layer.label,
                "description": self.layer.description,
                "unit": self.layer.unit,
                "private": self.layer.private,
            },
            "layers": [{"key": k, "label": v.label, "unit": v.unit} for k, v in LAYERS.items()],
            "year": self.year,
            "years": list(self.years),
            "legend": self.legend(),
            "no_value_colour": NO_VALUE,
            "counties": [c.as_json() for c in self.counties],
            "trends": {k: [{"year": y, "value": v} for y, v in t.items()] for k, t in self.trends.items()},
        }


def _colour(value: float | None, breaks: list[float]) -> str:
    if value is None:
        return NO_VALUE
    index = sum(1 for b in breaks if value >= b)
    return COLOURS[index]


def dashboard_for(*, user: Any, state: str, layer_key: str, year: int, with_trends: bool = True) -> Dashboard:
    """The dashboard as `user` may see it. Raises NotStateStaff, KeyError (unknown layer)."""
    if not may_view_dashboard(user, state):
        raise NotStateStaff
    layer = LAYERS[layer_key]
    years = dashboard_years()
    ctx = LayerContext(user=user, state=state, year=year, years=years)
    values = layer.counties(ctx)
    info = state_by_postal(state)
    names = dict(
        Organization.objects.filter(kind=Organization.Kind.COUNTY, state=state).values_list("county_fips", "name")
    )
    fips_all = sorted(set(names) | set(values))
    breaks = layer_breaks(layer, [v.value for v in values.values() if v.value is not None])
    rows = []
    for fips in fips_all:
        value = values.get(fips) or CountyValue(fips, None if layer.private or layer.unit != "count" else 0.0)
        rows.append(
            CountyRow(
                fips, names.get(fips, f"County {fips}"), value, _colour(value.value, breaks), value.display(layer.unit)
            )
        )
    rows.sort(key=lambda r: r.name)
    trends = _trends(ctx) if with_trends else {}
    return Dashboard(state, info.name, info.fips, layer, year, years, rows, breaks, trends)


def _trends(ctx: LayerContext) -> dict[str, dict[int, float | None]]:
    viewer = viewer_for(ctx.user)
    facts = (viewer.user_id, sorted(viewer.roles_by_org.items()), sorted(viewer.staff_states), ctx.state, ctx.years)
    # A stable digest (Python's hash() of a string differs between processes: a shared cache would miss).
    digest = hashlib.sha256(repr(facts).encode()).hexdigest()[:32]
    key = f"measurement:trends:{digest}:{','.join(sorted(LAYERS))}"
    trends = cache.get(key)
    if trends is None:
        trends = {k: layer.trend(ctx) for k, layer in LAYERS.items()}
        cache.set(key, trends, TRENDS_SECONDS)
    return dict(trends)


def counties_csv(board: Dashboard) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["state", "year", "layer", "unit", "county_fips", "county", "value", "organisations", "note"])
    for row in board.counties:
        v = row.value
        note = "fewer than 5 organisations: not shown" if v.suppressed else ("" if v.value is not None else "no data")
        writer.writerow(
            [
                board.state,
                board.year,
                board.layer.key,
                board.layer.unit,
                row.fips,
                row.name,
                "" if v.value is None else v.value,
                "" if v.n is None else v.n,
                note,
            ]
        )
    return out.getvalue()


def trends_csv(board: Dashboard) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["state", "layer", "unit", "year", "value"])
    for key, trend in board.trends.items():
        for year, value in trend.items():
            writer.writerow([board.state, key, LAYERS[key].unit, year, "" if value is None else value])
    return out.getvalue()
