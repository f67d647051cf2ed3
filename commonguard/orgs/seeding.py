"""Seeding a state's directory from Census records: idempotent upserts keyed by `source_key`,
plus state-defined regions formed from the counties' geography (editable afterwards)."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import transaction

from commonguard.orgs.census import CensusRecord, load_state
from commonguard.orgs.models import Organization, Region
from commonguard.orgs.states import COUNTY_TIME_ZONES, State

DEFAULT_REGION_COUNT = 8
_BATCH = 2000


@dataclass
class SeedResult:
    state: str
    source: str
    counties: int
    municipalities: int
    created: int
    updated: int


def _centroids(records: list[CensusRecord]) -> dict[str, tuple[float, float]]:
    """A county's centre: the population-weighted mean of its places' coordinates."""
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for r in records:
        if r.kind == "county" or r.county_fips.endswith("000") or r.latitude is None or r.longitude is None:
            continue
        weight = float(max(r.population or 0, 1))
        acc = sums[r.county_fips]
        acc[0] += r.latitude * weight
        acc[1] += r.longitude * weight
        acc[2] += weight
    return {code: (a[0] / a[2], a[1] / a[2]) for code, a in sums.items() if a[2]}


def _regions_by_geography(points: dict[str, tuple[float, float]], k: int) -> dict[str, int]:
    """Group counties into k compact regions (k-means, deterministic start), numbered north to south."""
    codes = sorted(points)
    if not codes:
        return {}
    k = max(1, min(k, len(codes)))
    by_lat = sorted(codes, key=lambda c: (-points[c][0], points[c][1]))
    centres = [points[by_lat[int((i + 0.5) * len(by_lat) / k)]] for i in range(k)]
    assignment: dict[str, int] = {}
    for _ in range(50):
        changed = False
        for code in codes:
            lat, lng = points[code]
            scale = math.cos(math.radians(lat))
            best = min(range(k), key=lambda i: (lat - centres[i][0]) ** 2 + ((lng - centres[i][1]) * scale) ** 2)
            if assignment.get(code) != best:
                assignment[code] = best
                changed = True
        for i in range(k):
            members = [points[c] for c in codes if assignment[c] == i]
            if members:
                centres[i] = (sum(p[0] for p in members) / len(members), sum(p[1] for p in members) / len(members))
        if not changed:
            break
    order = sorted(range(k), key=lambda i: (-centres[i][0], centres[i][1]))
    number = {old: new + 1 for new, old in enumerate(order)}
    return {code: number[i] for code, i in assignment.items()}


def _nearest_county(lat: float | None, lng: float | None, centroids: dict[str, tuple[float, float]]) -> str:
    """For a place the Census lists under county 000 (it spans several counties): the county whose
    centre is nearest. An approximation of its principal county, correctable by a liaison."""
    if lat is None or lng is None or not centroids:
        return ""
    scale = math.cos(math.radians(lat))
    return min(centroids, key=lambda c: (lat - centroids[c][0]) ** 2 + ((lng - centroids[c][1]) * scale) ** 2)


def _decimal(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(round(value, 6)))


@transaction.atomic
def seed_state(state: State, *, shared_data: Path, region_count: int = DEFAULT_REGION_COUNT) -> SeedResult:
    """Create or update the state's counties and municipalities. Running it twice changes nothing.

    Regions are created only when the state has none: once a liaison has edited them, a re-seed
    keeps their work (a county's region is set only where it is empty)."""
    records, source = load_state(state, shared_data)
    centroids = _centroids(records)
    records = [
        replace(r, county_fips=_nearest_county(r.latitude, r.longitude, centroids))
        if r.kind != "county" and r.county_fips.endswith("000")
        else r
        for r in records
    ]
    counties = [r for r in records if r.kind == "county"]
    places = [r for r in records if r.kind != "county"]

    regions = {r.number: r for r in Region.objects.filter(state=state.postal)}
    if not regions:
        numbers = _regions_by_geography(centroids, region_count)
        for n in sorted(set(numbers.values())):
            regions[n] = Region.objects.create(state=state.postal, number=n, name=f"Region {n}")
    else:
        numbers = {}

    existing = {
        o.source_key: o for o in Organization.objects.filter(state=state.postal, source_key__startswith="census:")
    }
    created = updated = 0

    def upsert(record: CensusRecord, county: Organization | None) -> Organization | None:
        nonlocal created, updated
        lat, lng = (record.latitude, record.longitude)
        if record.kind == "county" and record.county_fips in centroids:
            lat, lng = centroids[record.county_fips]
        values: dict[str, Any] = {
            "name": record.name,
            "kind": record.kind,
            "state": state.postal,
            "county_fips": record.county_fips,
            "place_fips": record.place_fips,
            "population": record.population,
            "latitude": _decimal(lat),
            "longitude": _decimal(lng),
            "county": county,
        }
        org = existing.get(record.source_key)
        if org is None:
            org = Organization(source_key=record.source_key, status=Organization.Status.APPROVED, **values)
            region_number = numbers.get(record.county_fips)
            org.region = regions.get(region_number) if region_number else (county.region if county else None)
            org.time_zone = COUNTY_TIME_ZONES.get(record.county_fips, state.time_zone)
            org.refresh_search_fields()
            created += 1
            return org
        dirty = False
        for field, value in values.items():
            current = getattr(org, field)
            if field == "county":
                if org.county_id != (value.pk if value else None):
                    org.county = value
                    dirty = True
            elif current != value:
                setattr(org, field, value)
                dirty = True
        if dirty:
            org.refresh_search_fields()
            _to_update.append(org)
            updated += 1
        return None

    _to_update: list[Organization] = []
    new_counties = [o for o in (upsert(r, None) for r in counties) if o is not None]
    Organization.objects.bulk_create(new_counties, batch_size=_BATCH)
    county_by_code = {o.county_fips: o for o in Organization.objects.filter(state=state.postal, kind="county")}
    new_places = [o for o in (upsert(r, county_by_code.get(r.county_fips)) for r in places) if o is not None]
    Organization.objects.bulk_create(new_places, batch_size=_BATCH)
    if _to_update:
        Organization.objects.bulk_update(
            _to_update,
            [
                "name",
                "kind",
                "county_fips",
                "place_fips",
                "population",
                "latitude",
                "longitude",
                "county",
                "search_name",
                "sort_name",
            ],
            batch_size=_BATCH,
        )
    return SeedResult(
        state=state.postal,
        source=source,
        counties=len(counties),
        municipalities=len(places),
        created=created,
        updated=updated,
    )
