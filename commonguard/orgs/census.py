"""Reading real Census records of a state's counties and municipalities.

Two sources, one shape:
- `../shared/data/census/` (the US Census Bureau files, any state), when it is there;
- otherwise the extract this project ships for Michigan, `orgs/data/census-MI.csv`, made from
  those same files by `commonguard census_extract --state MI` (see orgs/data/README.md).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from commonguard.orgs.states import STATES_BY_FIPS, State

SHIPPED_DIR = Path(__file__).resolve().parent / "data"

# Census place NAME suffix -> (kind, how the name is written).
_PLACE_FORMS: dict[str, tuple[str, str]] = {
    "city": ("city", "City of {name}"),
    "Town city": ("city", "City of {name}"),
    "municipality": ("city", "Municipality of {name}"),
    "city and borough": ("city", "City and Borough of {name}"),
    "village": ("village", "Village of {name}"),
    "town": ("town", "Town of {name}"),
    "borough": ("borough", "Borough of {name}"),
}
_MCD_FORMS: dict[str, tuple[str, str]] = {
    "township": ("township", "{name} Township"),
    "charter township": ("township", "{name} Charter Township"),
    "town": ("town", "Town of {name}"),
    "plantation": ("town", "{name} Plantation"),
}


@dataclass(frozen=True)
class CensusRecord:
    source_key: str
    kind: str
    name: str
    state_fips: str
    county_fips: str  # 5 digits
    place_fips: str  # 7 digits, or "" for townships and towns (minor civil divisions)
    population: int | None
    latitude: float | None
    longitude: float | None


class CensusDataMissing(Exception):
    pass


def shared_census_dir(shared_data: Path) -> Path:
    return shared_data / "census"


def _float(value: str) -> float | None:
    try:
        return round(float(value), 6)
    except (TypeError, ValueError):
        return None


def _int(value: str) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def read_counties(census_dir: Path, state: State) -> list[CensusRecord]:
    path = census_dir / "co-est2021-alldata.csv"
    records = []
    with path.open(encoding="latin-1", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["SUMLEV"] != "050" or row["STATE"] != state.fips:
                continue
            code = row["STATE"] + row["COUNTY"]
            records.append(
                CensusRecord(
                    source_key=f"census:county:{code}",
                    kind="county",
                    name=row["CTYNAME"],
                    state_fips=state.fips,
                    county_fips=code,
                    place_fips="",
                    population=_int(row["POPESTIMATE2021"]),
                    latitude=None,
                    longitude=None,
                )
            )
    return records


def place_record(row: dict[str, str]) -> CensusRecord:
    short, full, sumlev = row["name"], row["NAME"], row["SUMLEV"]
    suffix = full[len(short) :].strip() if full.startswith(short) else None
    is_mcd = sumlev == "061"
    forms = _MCD_FORMS if is_mcd else _PLACE_FORMS
    if suffix is not None and suffix in forms:
        kind, pattern = forms[suffix]
        name = pattern.format(name=short)
    else:  # consolidated governments and other one-offs keep the Census name
        kind, name = ("township" if is_mcd else "city"), full
    county = row["STATE"] + row["COUNTY"]
    if is_mcd or row["PLACE"] == "00000":
        place_fips = ""
        key = f"census:mcd:{county}:{full}"
    else:
        place_fips = row["STATE"] + row["PLACE"]
        key = f"census:place:{place_fips}"
    return CensusRecord(
        source_key=key,
        kind=kind,
        name=name,
        state_fips=row["STATE"],
        county_fips=county,
        place_fips=place_fips,
        population=_int(row["population"]),
        latitude=_float(row["latitude"]),
        longitude=_float(row["longitude"]),
    )


def read_places(census_dir: Path, state: State) -> list[CensusRecord]:
    with (census_dir / "cities.csv").open(encoding="utf-8", newline="") as handle:
        return [place_record(row) for row in csv.DictReader(handle) if row["STATE"] == state.fips]


def write_extract(records: Iterable[CensusRecord], path: Path) -> int:
    names = [f.name for f in fields(CensusRecord)]
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        for record in records:
            writer.writerow({k: ("" if v is None else v) for k, v in asdict(record).items()})
            count += 1
    return count


def read_extract(path: Path) -> Iterator[CensusRecord]:
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            yield CensusRecord(
                source_key=row["source_key"],
                kind=row["kind"],
                name=row["name"],
                state_fips=row["state_fips"],
                county_fips=row["county_fips"],
                place_fips=row["place_fips"],
                population=_int(row["population"]),
                latitude=_float(row["latitude"]),
                longitude=_float(row["longitude"]),
            )


def load_state(state: State, shared_data: Path) -> tuple[list[CensusRecord], str]:
    """The state's counties then municipalities, and a line saying where they came from."""
    census_dir = shared_census_dir(shared_data)
    if (census_dir / "cities.csv").exists() and (census_dir / "co-est2021-alldata.csv").exists():
        return read_counties(census_dir, state) + read_places(census_dir, state), f"Census files in {census_dir}"
    extract = SHIPPED_DIR / f"census-{state.postal}.csv"
    if extract.exists():
        return list(
            read_extract(extract)
        ), f"the extract shipped in {extract.relative_to(SHIPPED_DIR.parent.parent.parent)}"
    raise CensusDataMissing(
        f"No Census data for {state.name}: {census_dir} is absent and the project ships an extract "
        f"only for Michigan. Put the shared data beside the project or set COMMONGUARD_SHARED_DATA."
    )


def state_from_fips(code: str) -> State:
    return STATES_BY_FIPS[code[:2]]
