"""Reads of measurement: an organisation's own results, and k-anonymous aggregates (kanon.py)
for everyone else. Private rows are read only here, and leave only as `Cell`s."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from commonguard.measurement import hooks
from commonguard.measurement.kanon import Cell, K, cell, partition, protect
from commonguard.measurement.models import (
    DIMENSIONS,
    RECOMMENDED_MINIMUM,
    Assessment,
    CsfCategory,
    CsfFunction,
    Rating,
    SizeBand,
    SurveyResponse,
)
from commonguard.orgs.models import Organization, Region
from commonguard.orgs.states import hub_state as hub_state_of_orgs

# --- The CSF catalogue ------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalogue:
    functions: list[tuple[str, str]]  # (code, title)
    categories: list[tuple[str, str, str]]  # (code, title, function code)
    subcategories: dict[str, list[tuple[str, str]]]  # category code -> [(code, statement)]

    @property
    def category_titles(self) -> dict[str, str]:
        return {code: title for code, title, _ in self.categories}

    @property
    def function_titles(self) -> dict[str, str]:
        return dict(self.functions)


_catalogue: Catalogue | None = None


def _catalogue_load() -> Catalogue:
    functions = list(CsfFunction.objects.values_list("code", "title"))
    categories = list(CsfCategory.objects.values_list("code", "title", "function_id"))
    subs: dict[str, list[tuple[str, str]]] = {}
    from commonguard.measurement.models import CsfSubcategory

    for code, statement, category in CsfSubcategory.objects.values_list("code", "statement", "category_id"):
        subs.setdefault(category, []).append((code, statement))
    return Catalogue(functions, categories, subs)


def catalogue() -> Catalogue:
    """The CSF Core, read once per process (three queries) and then from memory: a results page asks
    for it several times. Never kept while empty; `csf_load` calls `catalogue_reset()` after a load
    (items are only ever added)."""
    global _catalogue
    if _catalogue is None:
        loaded = _catalogue_load()
        if not loaded.subcategories:
            return loaded
        _catalogue = loaded
    return _catalogue


def catalogue_reset() -> None:
    global _catalogue
    _catalogue = None


# --- An organisation's own results ------------------------------------------------------------


@dataclass
class Row:
    code: str
    title: str
    mean: float | None
    scored: int
    total: int
    peer: float | None = None
    previous: float | None = None

    @property
    def gap(self) -> float | None:
        return None if self.mean is None else round(self.mean - RECOMMENDED_MINIMUM, 2)

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "title": self.title,
            "mean": self.mean,
            "scored": self.scored,
            "total": self.total,
            "gap_to_minimum": self.gap,
            "peer_mean": self.peer,
            "previous_year_mean": self.previous,
        }


@dataclass
class Results:
    assessment: Assessment
    overall: float | None
    functions: list[Row]
    categories: list[Row]
    peers: Cell
    previous: Assessment | None
    scored: int = 0
    total: int = 0
    weakest: list[Row] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "organization": self.assessment.organization_id,
            "year": self.assessment.year,
            "status": self.assessment.status,
            "overall": self.overall,
            "recommended_minimum": RECOMMENDED_MINIMUM,
            "scored": self.scored,
            "total": self.total,
            "functions": [r.as_json() for r in self.functions],
            "categories": [r.as_json() for r in self.categories],
            "peers": self.peers.as_json() | {"k": K},
            "previous_year": self.previous.year if self.previous else None,
        }


def _peer_assessments(organization: Organization, year: int) -> list[tuple[int, dict[str, float]]]:
    rows = (
        Assessment.objects.filter(
            year=year,
            status=Assessment.Status.SUBMITTED,
            organization__state=organization.state,
            organization__kind__in=Organization.LOCAL_GOVERNMENT_KINDS,
        )
        .exclude(organization_id=organization.pk)
        .values_list("organization_id", "means", "overall")
    )
    return [(org, {**means, "overall": overall}) for org, means, overall in rows]


def _mean_of(rows: list[dict[str, float]], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return round(sum(values) / len(values), 2) if values else None


def peer_benchmark(organization: Organization, year: int) -> Cell:
    """The mean of the other local governments of the state that submitted for `year`, by
    category and function: only when at least K organisations (the asking one not counted)."""
    cat = catalogue()
    keys = [c for c, _ in cat.functions] + [c for c, _, _ in cat.categories] + ["overall"]
    return cell(
        "peers",
        f"Other local governments of {organization.state}",
        _peer_assessments(organization, year),
        lambda rows: {key: _mean_of(rows, key) for key in keys},
    )


def assessment_results(assessment: Assessment) -> Results:
    """The organisation's own results (read only by its members: pass an assessment read through
    Assessment.objects.visible_to), with peers (k-anonymous) and last year for comparison."""
    cat = catalogue()
    scores = dict(assessment.scores.values_list("subcategory_id", "score"))
    from commonguard.measurement.services import assessment_means

    overall, means = assessment_means(list(scores.items()))
    previous = (
        Assessment.objects.filter(organization_id=assessment.organization_id, year__lt=assessment.year)
        .exclude(overall=None)
        .order_by("-year")
        .first()
    )
    prev_means = previous.means if previous else {}
    peers = peer_benchmark(assessment.organization, assessment.year)
    peer_values = peers.values

    def count(codes: list[str]) -> int:
        return sum(1 for c in codes if c in scores)

    categories = []
    for code, title, _fn in cat.categories:
        codes = [c for c, _ in cat.subcategories.get(code, [])]
        categories.append(
            Row(code, title, means.get(code), count(codes), len(codes), peer_values.get(code), prev_means.get(code))
        )
    functions = []
    for code, title in cat.functions:
        codes = [s for c, _t, f in cat.categories if f == code for s, _ in cat.subcategories.get(c, [])]
        functions.append(
            Row(code, title, means.get(code), count(codes), len(codes), peer_values.get(code), prev_means.get(code))
        )
    total = sum(len(v) for v in cat.subcategories.values())
    scored_rows = [r for r in categories if r.mean is not None]
    weakest = sorted(scored_rows, key=lambda r: (r.mean, r.code))[:5]
    return Results(assessment, overall, functions, categories, peers, previous, len(scores), total, weakest)


@dataclass
class PlanItem:
    category: Row
    lowest: list[tuple[str, str, int]]  # (subcategory, statement, score)
    resources: list[hooks.Resource] | None


def improvement_plan(results: Results, user: Any, *, limit: int = 5) -> list[PlanItem]:
    """The weakest categories (lowest mean first; those under the recommended minimum of 5), each
    with its lowest-scored subcategories and, when the library is installed, its resources."""
    weak = [r for r in results.weakest if r.mean is not None and r.mean < RECOMMENDED_MINIMUM][:limit]
    if not weak:
        weak = results.weakest[:3]
    scores = dict(results.assessment.scores.values_list("subcategory_id", "score"))
    cat = catalogue()
    library = hooks.library_resources_for([r.code for r in weak], user)
    items = []
    for row in weak:
        subs = [(c, s, scores[c]) for c, s in cat.subcategories.get(row.code, []) if c in scores]
        subs.sort(key=lambda t: (t[2], t[0]))
        items.append(PlanItem(row, subs[:3], None if library is None else library.get(row.code, [])))
    return items


def year_over_year(organization: Organization) -> list[Assessment]:
    """The organisation's assessments with scores, oldest first (caller has checked membership)."""
    return list(Assessment.objects.filter(organization=organization).exclude(overall=None).order_by("year"))


# --- State-wide posture (k-anonymous) ---------------------------------------------------------


def _posture_rows(state: str, year: int | None = None) -> list[tuple[int, int, str, Any]]:
    qs = Assessment.objects.filter(
        status=Assessment.Status.SUBMITTED,
        organization__state=state,
        organization__kind__in=Organization.LOCAL_GOVERNMENT_KINDS,
    ).exclude(overall=None)
    if year is not None:
        qs = qs.filter(year=year)
    return list(qs.values_list("year", "organization_id", "organization__county_fips", "overall"))


def _posture_compute(items: list[float]) -> dict[str, Any]:
    return {
        "mean": round(sum(items) / len(items), 2),
        "below_minimum_pct": round(100 * sum(1 for o in items if o < RECOMMENDED_MINIMUM) / len(items)),
    }


@dataclass
class PostureResults:
    state: str
    year: int
    total: Cell
    by_county: list[Cell]


def posture_results(state: str, year: int) -> PostureResults:
    """Submitted self-assessments of the state's local governments in `year`: the mean overall
    score state-wide and by county, k-anonymous and protected together (kanon.protect)."""
    rows = _posture_rows(state, year)
    total = cell(year, str(year), ((org, overall) for _y, org, _f, overall in rows), _posture_compute)
    by_county = partition(((fips, fips, org, overall) for _y, org, fips, overall in rows if fips), _posture_compute)
    protect(total, [by_county])
    return PostureResults(state, year, total, by_county)


def posture_by_year(state: str) -> list[Cell]:
    """Each year's mean overall score of the state's submitted local-government assessments."""
    by_year: dict[int, list[tuple[int, float]]] = {}
    for year, org, _fips, overall in _posture_rows(state):
        by_year.setdefault(year, []).append((org, overall))
    return [cell(year, str(year), by_year[year], _posture_compute) for year in sorted(by_year)]


# --- The relationship survey ------------------------------------------------------------------

# The national baseline, from the research notes (../shared/research/reporting-and-mutual-aid.md §5.3).
BASELINE: list[dict[str, Any]] = [
    {
        "label": "Rated the state relationship poor",
        "rating": Rating.POOR,
        "pct": 39,
        "source": "CompTIA Public Technology Institute, National Survey of Local Government Cybersecurity "
        "Programs, released December 2022 (local IT executives; information sharing, resource sharing, "
        "education and training provided by the state)",
        "verified": True,
    },
    {
        "label": "Rated it excellent / fair / poor (31 % / 44 % / 25 %)",
        "rating": None,
        "pct": None,
        "split": {"excellent": 31, "fair": 44, "poor": 25},
        "source": "Reported for CompTIA PTI's 2021 national survey (75 local IT professionals); not found in the "
        "published release — shown for reference only, not verified",
        "verified": False,
    },
]


def _survey_compute(rows: list[SurveyResponseRow]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for fieldname, _label in DIMENSIONS:
        counts = {r: 0 for r in Rating.values}
        for row in rows:
            counts[getattr(row, fieldname)] += 1
        out[fieldname] = {r: round(100 * c / len(rows)) for r, c in counts.items()}
    out["excellent_pct"] = round(sum(out[f]["excellent"] for f, _ in DIMENSIONS) / len(DIMENSIONS))
    out["poor_pct"] = round(sum(out[f]["poor"] for f, _ in DIMENSIONS) / len(DIMENSIONS))
    return out


@dataclass(frozen=True)
class SurveyResponseRow:
    organization_id: int
    region_id: int | None
    size_band: str
    county_fips: str
    information_sharing: str
    resource_sharing: str
    education_training: str


def _survey_rows(state: str, year: int | None = None) -> list[tuple[int, SurveyResponseRow]]:
    qs = SurveyResponse.objects.filter(state=state)
    if year is not None:
        qs = qs.filter(year=year)
    fields = [f for f, _ in DIMENSIONS]
    return [
        (row[0], SurveyResponseRow(row[1], row[2], row[3], row[4], *row[5:]))
        for row in qs.values_list("year", "organization_id", "region_id", "size_band", "county_fips", *fields)
    ]


@dataclass
class SurveyResults:
    state: str
    year: int
    total: Cell
    by_region: list[Cell]
    by_size: list[Cell]
    by_county: list[Cell]

    @property
    def by_total(self) -> list[Cell]:
        return [self.total]

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "year": self.year,
            "k": K,
            "total": self.total.as_json(),
            "by_region": [c.as_json() for c in self.by_region],
            "by_size": [c.as_json() for c in self.by_size],
            "by_county": [c.as_json() for c in self.by_county],
            "baseline": BASELINE,
        }


def survey_results(state: str, year: int) -> SurveyResults:
    """The state's answers of `year`: all, by region, by size band and by county (the dashboard),
    each cell with at least K organisations, protected together (kanon.protect)."""
    rows = [(r.organization_id, r) for _y, r in _survey_rows(state, year)]
    regions = {r.pk: r.name for r in Region.objects.filter(state=state)}
    region_order = {pk: i for i, pk in enumerate(sorted(regions, key=lambda p: regions[p]))}
    total = cell("all", "All local governments", rows, _survey_compute)
    by_region = partition(
        ((r.region_id or 0, regions.get(r.region_id or 0, "No region"), org, r) for org, r in rows),
        _survey_compute,
        order=region_order,
    )
    size_order = {v: i for i, v in enumerate(SizeBand.values)}
    labels = dict(SizeBand.choices)
    by_size = partition(
        ((r.size_band, labels[r.size_band], org, r) for org, r in rows), _survey_compute, order=size_order
    )
    by_county = partition(((r.county_fips, r.county_fips, org, r) for org, r in rows if r.county_fips), _survey_compute)
    protect(total, [by_region, by_size, by_county])
    return SurveyResults(state, year, total, by_region, by_size, by_county)


def survey_trend(state: str) -> list[Cell]:
    """Each year's state-wide result (k-anonymous)."""
    by_year: dict[int, list[tuple[int, SurveyResponseRow]]] = {}
    for year, row in _survey_rows(state):
        by_year.setdefault(year, []).append((row.organization_id, row))
    return [cell(year, str(year), by_year[year], _survey_compute) for year in sorted(by_year)]


def survey_years(state: str) -> list[int]:
    return sorted(set(SurveyResponse.objects.filter(state=state).values_list("year", flat=True)), reverse=True)


def hub_state() -> str:
    """The postal code of the hub's state (one definition: orgs.states.hub_state)."""
    return hub_state_of_orgs().postal
