"""k-anonymity, by property: for generated states (local governments in regions, size bands and
counties; some answer the survey, some submit a self-assessment), no aggregate the hub publishes
— API, CSV, dashboard, briefing — can be traced to fewer than 5 organisations.

The oracle knows who is behind each published cell (from the generated world, not from the code
under test) and checks, for each audience:
  * every shown cell stands for at least 5 organisations, and says so truthfully;
  * within one publication, no shown cell is another shown cell (or the total) minus 1 to 4
    organisations the audience does not already know (its own);
  * for each partition shown with a total (regions, size bands, counties), the organisations of
    the total not covered by shown cells number 0 or at least 5.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commonguard.measurement.models import SizeBand, size_band_for
from tests.conftest import sign_in
from tests.measurement_helpers import answer, cities, ensure_csf, submitted

K = 5
YEAR = timezone.now().year
COUNTIES = ["26065", "26161", "26001", "26003", ""]
POPULATIONS = [3_000, 20_000, 90_000, 400_000]
RATINGS = ["excellent", "fair", "poor"]

org_spec = st.fixed_dictionaries(
    {
        "region": st.sampled_from([0, 1, 2]),
        "county": st.sampled_from(COUNTIES),
        "population": st.sampled_from(POPULATIONS),
        "rating": st.sampled_from(RATINGS),
        "answered": st.booleans(),
        "score": st.one_of(st.none(), st.integers(1, 7)),
    }
)
worlds = st.lists(org_spec, min_size=0, max_size=28)


class _Rollback(Exception):
    pass


def _check_publication(
    total: frozenset[int] | None, partitions: list[list[frozenset[int]]], known: frozenset[int], where: str
) -> None:
    cells = [c for part in partitions for c in part]
    for c in cells:
        assert len(c) >= K, f"{where}: a cell of {len(c)} organisations is shown"
    if total is None:
        return
    assert len(total) >= K, f"{where}: a total of {len(total)} organisations is shown"
    for part in partitions:
        uncovered = total - frozenset().union(*part) - known
        assert len(uncovered) == 0 or len(uncovered) >= K, f"{where}: total minus shown cells = {len(uncovered)}"
    shown = [total, *cells]
    for big in shown:
        for small in shown:
            if small is not big and small <= big:
                diff = big - small - known
                assert len(diff) == 0 or len(diff) >= K, f"{where}: two cells differ by {len(diff)} organisations"


def _build(world: Any, specs: list[dict[str, Any]]) -> list[tuple[Any, dict[str, Any]]]:
    regions = [world.region1, world.region2, None]
    out = []
    for spec in specs:
        org = cities(1, county_fips=spec["county"], region=regions[spec["region"]], population=spec["population"])[0]
        if spec["answered"]:
            answer(org, YEAR, spec["rating"])
        if spec["score"] is not None:
            submitted(org, YEAR, spec["score"])
        out.append((org, spec))
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=worlds, ingham_score=st.one_of(st.none(), st.integers(1, 7)))
def test_no_published_aggregate_traces_to_fewer_than_five(
    world: Any, specs: list[dict[str, Any]], ingham_score: int | None
) -> None:
    ensure_csf()
    cache.clear()  # the dashboard keeps trends a minute per person: not across generated worlds
    try:
        with transaction.atomic():
            built = _build(world, specs)
            answered = {o.pk: (o, s) for o, s in built if s["answered"]}
            assessed = {o.pk for o, s in built if s["score"] is not None}
            if ingham_score is not None:
                submitted(world.ingham, YEAR, ingham_score)
                assessed.add(world.ingham.pk)
            region_of = {world.region1.pk: 0, world.region2.pk: 1}

            def survey_set(group: str, key: Any) -> frozenset[int]:
                def matches(o: Any, s: dict[str, Any]) -> bool:
                    if group == "region":
                        return (region_of.get(o.region_id, 2) if o.region_id else 2) == key
                    if group == "size":
                        return size_band_for(s["population"]) == key
                    return s["county"] == key

                return frozenset(pk for pk, (o, s) in answered.items() if matches(o, s))

            # --- State staff: survey results (API, CSV), dashboard layers (API, CSV) ---------
            staff = sign_in(Client(), world["analyst"])
            body = staff.get(f"/api/v1/measurement/survey/results/?year={YEAR}").json()
            all_answered = frozenset(answered)
            total = all_answered if body["total"]["n"] is not None else None
            if total is not None:
                assert body["total"]["n"] == len(total)
            region_keys = {world.region1.pk: 0, world.region2.pk: 1, 0: 2}
            parts = []
            for group, cells_json, to_key in (
                ("region", body["by_region"], lambda k: region_keys[k]),
                ("size", body["by_size"], lambda k: k),
                ("county", body["by_county"], lambda k: k),
            ):
                part = []
                for c in cells_json:
                    if c["n"] is None:
                        continue
                    members = survey_set(group, to_key(c["key"]))
                    assert c["n"] == len(members), f"survey {group} {c['key']}: n is not the truth"
                    part.append(members)
                parts.append(part)
            _check_publication(total, parts, frozenset(), "survey (API)")
            rows = list(
                csv.DictReader(io.StringIO(staff.get(f"/measurement/survey/results.csv?year={YEAR}").content.decode()))
            )
            for row in rows:
                assert row["organisations"] == "" or int(row["organisations"]) >= K, f"survey CSV: {row}"
            for layer in ("survey", "posture"):
                board = staff.get(f"/api/v1/measurement/dashboard/?layer={layer}&year={YEAR}").json()
                for c in board["counties"]:
                    assert c["organisations"] is None or c["organisations"] >= K, f"dashboard {layer}: {c}"
                    assert (c["value"] is None) == (c["organisations"] is None), f"dashboard {layer}: {c}"
                county_csv = staff.get(
                    f"/measurement/dashboard/counties.csv?layer={layer}&year={YEAR}"
                ).content.decode()
                for row in csv.DictReader(io.StringIO(county_csv)):
                    assert row["organisations"] == "" or int(row["organisations"]) >= K, f"dashboard CSV: {row}"
                    assert (row["value"] == "") == (row["organisations"] == ""), row
            # Posture: the state total (trend, briefing) and the counties, as one publication.
            posture_board = staff.get(f"/api/v1/measurement/dashboard/?layer=posture&year={YEAR}").json()
            trend_value = next(p["value"] for p in posture_board["trends"]["posture"] if p["year"] == YEAR)
            local_assessed = frozenset(assessed)
            posture_total = local_assessed if trend_value is not None else None
            fips_of = {o.pk: s["county"] for o, s in built}
            fips_of[world.ingham.pk] = world.ingham.county_fips
            county_cells = [
                frozenset(pk for pk in local_assessed if fips_of[pk] == c["fips"])
                for c in posture_board["counties"]
                if c["organisations"] is not None
            ]
            for c in posture_board["counties"]:
                if c["organisations"] is not None:
                    assert c["organisations"] == len([pk for pk in local_assessed if fips_of[pk] == c["fips"]])
            _check_publication(posture_total, [county_cells], frozenset(), "posture (dashboard)")
            # --- An organisation's member: its peer benchmark and its briefing's state average ---
            if ingham_score is not None:
                member = sign_in(Client(), world["ingham_member"])
                listing = member.get("/api/v1/measurement/assessments/").json()["results"]
                results = member.get(f"/api/v1/measurement/assessments/{listing[0]['id']}/results/").json()
                peers = local_assessed - {world.ingham.pk}
                if results["peers"]["n"] is not None:
                    assert results["peers"]["n"] == len(peers)
                    _check_publication(posture_total or peers, [[peers]], frozenset({world.ingham.pk}), "peers")
                else:
                    assert all(c["peer_mean"] is None for c in results["categories"])
                from commonguard.measurement.briefing import briefing_for_org

                briefing = briefing_for_org(world.ingham, YEAR, 1, user=world["ingham_member"])
                for _y, _ours, state_avg in briefing.posture:
                    if state_avg[0].isdigit():
                        assert len(local_assessed) >= K
            raise _Rollback
    except _Rollback:
        pass


def test_the_oracle_catches_a_differencing_leak() -> None:
    """The check itself can fail: a region of 6 shown next to a total of 8 gives away 2."""
    total = frozenset(range(8))
    with pytest.raises(AssertionError, match="total minus shown cells = 2"):
        _check_publication(total, [[frozenset(range(6))]], frozenset(), "example")
    with pytest.raises(AssertionError, match="a cell of 3"):
        _check_publication(None, [[frozenset(range(3))]], frozenset(), "example")


def test_sizes_cover_every_band() -> None:
    assert {size_band_for(p) for p in POPULATIONS} == set(SizeBand.values) - {SizeBand.UNKNOWN}
