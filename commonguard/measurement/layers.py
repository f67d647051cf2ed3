"""The state dashboard's map layers: a registry. A layer says, for one year, a value per county
and a value per year for the trend chart. Adding a layer (the incidents app does, in its ready()) is one
`register_layer(Layer(...))` call; the page, the CSV and the API list whatever is registered.

Every layer reads through the read rules (`visible_to`) of the viewer, or — for private data —
through k-anonymous cells (kanon.py): a county with answers from fewer than K organisations has
no value, and is shown as "fewer than 5".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import Count, Min, Q

from commonguard.measurement.kanon import Cell, K
from commonguard.orgs.models import Organization
from commonguard.orgs.states import state_by_postal


@dataclass(frozen=True)
class LayerContext:
    user: Any
    state: str  # postal code
    year: int
    years: tuple[int, ...]  # the years of the trend, oldest first

    @property
    def state_fips(self) -> str:
        return state_by_postal(self.state).fips


@dataclass
class CountyValue:
    fips: str
    value: float | None  # None: nothing to show (no data, or fewer than K organisations)
    n: int | None = None  # organisations behind a value of private data; None for counts
    suppressed: bool = False

    def display(self, unit: str) -> str:
        if self.suppressed:
            return f"fewer than {K} organisations"
        if self.value is None:
            return "no data"
        if unit == "%":
            return f"{self.value:.0f} %"
        if unit == "score":
            return f"{self.value:.1f}"
        return f"{self.value:.0f}"


@dataclass(frozen=True)
class Layer:
    key: str
    label: str
    description: str
    unit: str  # "count", "%", "score"
    counties: Callable[[LayerContext], dict[str, CountyValue]]
    trend: Callable[[LayerContext], dict[int, float | None]]
    private: bool = False  # built from private data: k-anonymous cells only
    breaks: tuple[float, ...] | None = None  # fixed class breaks; None: quantiles of the data


LAYERS: dict[str, Layer] = {}


def register_layer(layer: Layer) -> None:
    LAYERS[layer.key] = layer


def layer_breaks(layer: Layer, values: list[float]) -> list[float]:
    """Five colour classes: the layer's fixed breaks, or the quintiles of this year's values."""
    if layer.breaks is not None:
        return list(layer.breaks)
    ordered = sorted(v for v in values if v is not None and v > 0)
    if not ordered:
        return [1, 2, 3, 4]
    qs = [ordered[min(len(ordered) - 1, int(len(ordered) * q))] for q in (0.2, 0.4, 0.6, 0.8)]
    out: list[float] = []
    for q in qs:
        out.append(max(q, (out[-1] + 1) if out else 1))
    return out


def year_range(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)


def _counts(rows: Any) -> dict[str, CountyValue]:
    return {fips: CountyValue(fips, float(n)) for fips, n in rows if fips}


# --- alerts: alerts written by organisations in the county (what the viewer may read) -----------


def _alerts_qs(ctx: LayerContext) -> Any:
    from commonguard.sharing.models import Alert

    return Alert.objects.visible_to(ctx.user).filter(
        status__in=Alert.LIVE_STATUSES, author_org__county_fips__startswith=ctx.state_fips
    )


def _alerts_counties(ctx: LayerContext) -> dict[str, CountyValue]:
    start, end = year_range(ctx.year)
    rows = (
        _alerts_qs(ctx)
        .filter(published_at__gte=start, published_at__lt=end)
        .values_list("author_org__county_fips")
        .annotate(n=Count("pk"))
    )
    return _counts(rows)


def counts_by_year(qs: Any, field: str, ctx: LayerContext) -> dict[int, float | None]:
    """Rows per year of the trend, in one query (range filters: no per-row date function)."""
    counts = qs.aggregate(
        **{
            f"y{year}": Count(
                "pk", filter=Q(**{f"{field}__gte": year_range(year)[0], f"{field}__lt": year_range(year)[1]})
            )
            for year in ctx.years
        }
    )
    return {year: float(counts[f"y{year}"] or 0) for year in ctx.years}


def _alerts_trend(ctx: LayerContext) -> dict[int, float | None]:
    return counts_by_year(_alerts_qs(ctx), "published_at", ctx)


# --- sightings: sightings reported by organisations in the county ------------------------------


def _sightings_qs(ctx: LayerContext) -> Any:
    from commonguard.sharing.models import Sighting

    return Sighting.objects.visible_to(ctx.user).filter(
        kind=Sighting.Kind.SEEN, organization__county_fips__startswith=ctx.state_fips
    )


def _sightings_counties(ctx: LayerContext) -> dict[str, CountyValue]:
    start, end = year_range(ctx.year)
    rows = (
        _sightings_qs(ctx)
        .filter(seen_at__gte=start, seen_at__lt=end)
        .values_list("organization__county_fips")
        .annotate(n=Count("pk"))
    )
    return _counts(rows)


def _sightings_trend(ctx: LayerContext) -> dict[int, float | None]:
    return counts_by_year(_sightings_qs(ctx), "seen_at", ctx)


# --- participation: share of the county's local governments with an approved member -----------


def _local_governments(ctx: LayerContext) -> Any:
    return Organization.objects.filter(
        state=ctx.state, kind__in=Organization.LOCAL_GOVERNMENT_KINDS, county_fips__startswith=ctx.state_fips
    )


def _joined(ctx: LayerContext) -> list[tuple[str, datetime | None]]:
    """(county FIPS, when it first had an approved member or None) for each local government
    (approved organisations only count as joined). One query for every year of the trend."""
    from commonguard.accounts.models import Membership

    approved = Q(memberships__status=Membership.Status.APPROVED, status=Organization.Status.APPROVED)
    rows = _local_governments(ctx).annotate(since=Min("memberships__requested_at", filter=approved))
    return list(rows.values_list("county_fips", "since"))


def _participation(rows: list[tuple[str, datetime | None]], year: int) -> tuple[dict[str, int], dict[str, int]]:
    _, end = year_range(year)
    totals: dict[str, int] = {}
    joined_by: dict[str, int] = {}
    for fips, since in rows:
        totals[fips] = totals.get(fips, 0) + 1
        if since is not None and since < end:
            joined_by[fips] = joined_by.get(fips, 0) + 1
    return totals, joined_by


def _participation_counties(ctx: LayerContext) -> dict[str, CountyValue]:
    totals, joined = _participation(_joined(ctx), ctx.year)
    return {f: CountyValue(f, round(100 * joined.get(f, 0) / t, 1)) for f, t in totals.items() if t}


def _participation_trend(ctx: LayerContext) -> dict[int, float | None]:
    out: dict[int, float | None] = {}
    rows = _joined(ctx)
    for year in ctx.years:
        totals, joined = _participation(rows, year)
        total = sum(totals.values())
        out[year] = round(100 * sum(joined.values()) / total, 1) if total else None
    return out


# --- survey and posture: private data, k-anonymous per county ----------------------------------


def _cells_to_counties(cells: list[Cell], key: str) -> dict[str, CountyValue]:
    return {
        str(c.key): CountyValue(
            str(c.key), None if c.suppressed else c.values[key], None if c.suppressed else c.n, c.suppressed
        )
        for c in cells
    }


def _survey_counties(ctx: LayerContext) -> dict[str, CountyValue]:
    from commonguard.measurement.stats import survey_results

    return _cells_to_counties(survey_results(ctx.state, ctx.year).by_county, "excellent_pct")


def _survey_trend(ctx: LayerContext) -> dict[int, float | None]:
    from commonguard.measurement.stats import survey_trend

    cells = {c.key: c for c in survey_trend(ctx.state)}
    return {y: (None if y not in cells or cells[y].suppressed else cells[y].values["excellent_pct"]) for y in ctx.years}


def _posture_counties(ctx: LayerContext) -> dict[str, CountyValue]:
    from commonguard.measurement.stats import posture_results

    return _cells_to_counties(posture_results(ctx.state, ctx.year).by_county, "mean")


def _posture_trend(ctx: LayerContext) -> dict[int, float | None]:
    from commonguard.measurement.stats import posture_by_year

    cells = {c.key: c for c in posture_by_year(ctx.state)}
    return {y: (None if y not in cells or cells[y].suppressed else cells[y].values["mean"]) for y in ctx.years}


register_layer(
    Layer(
        "alerts",
        "Alerts",
        "Alerts published by organisations in the county (those you may read).",
        "count",
        _alerts_counties,
        _alerts_trend,
    )
)
register_layer(
    Layer(
        "sightings",
        "Sightings",
        "Sightings of an alert's indicators reported by organisations in the county.",
        "count",
        _sightings_counties,
        _sightings_trend,
    )
)
register_layer(
    Layer(
        "participation",
        "Participation",
        "Share of the county's local governments with at least one approved member on the hub (by the year's end).",
        "%",
        _participation_counties,
        _participation_trend,
        breaks=(20, 40, 60, 80),
    )
)
register_layer(
    Layer(
        "survey",
        "Relationship survey",
        f"Share of answers rating the state relationship excellent (mean of the three questions); "
        f"counties with answers from fewer than {K} local governments are not shown.",
        "%",
        _survey_counties,
        _survey_trend,
        private=True,
        breaks=(20, 30, 40, 50),
    )
)
register_layer(
    Layer(
        "posture",
        "Cyber posture",
        f"Mean CSF 2.0 self-assessment score (1–7; 5 is the recommended minimum) of submitted assessments; "
        f"counties with fewer than {K} assessments are not shown.",
        "score",
        _posture_counties,
        _posture_trend,
        private=True,
        breaks=(3, 3.5, 4, 5),
    )
)
