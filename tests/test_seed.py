"""Seeding the directory from real Census data: counts, idempotence, the shipped fallback."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from commonguard.accounts.models import Membership, User
from commonguard.orgs.census import SHIPPED_DIR, read_counties, read_extract, read_places, shared_census_dir
from commonguard.orgs.models import Organization, Region
from commonguard.orgs.states import STATES
from tests.conftest import IN_CI

SHARED = Path(settings.COMMONGUARD_SHARED_DATA)
HAVE_SHARED = (shared_census_dir(SHARED) / "cities.csv").exists()


def _need_shared() -> None:
    if not HAVE_SHARED:
        if IN_CI:
            pytest.fail(f"CI must have the shared data at {SHARED}")
        pytest.skip("../shared/data is not beside the project")


def _counts(state: str) -> dict[str, int]:
    qs = Organization.objects.filter(state=state)
    return {
        "counties": qs.filter(kind="county").count(),
        "municipalities": qs.filter(kind__in=["city", "village", "township", "town", "borough"]).count(),
        "total": qs.count(),
    }


def test_demo_from_the_shipped_extract_is_the_real_michigan(db, settings, tmp_path):
    settings.COMMONGUARD_SHARED_DATA = tmp_path / "absent"
    call_command("demo", "--state", "MI", verbosity=0)
    counts = _counts("MI")
    assert counts["counties"] == 83
    assert counts["municipalities"] == 1579
    lansing = Organization.objects.get(place_fips="2646000")
    assert lansing.name == "City of Lansing"
    assert lansing.county.name == "Ingham County"
    assert 100_000 < lansing.population < 130_000
    assert Organization.objects.get(county_fips="26163", kind="county").name == "Wayne County"
    assert Organization.objects.filter(kind="township", name="Meridian Charter Township").exists()
    assert Organization.objects.get(county_fips="26053", kind="county").time_zone == "America/Menominee"
    assert Region.objects.filter(state="MI").count() == 8
    assert not Organization.objects.filter(state="MI", kind="county", region__isnull=True).exists()
    # Demo people in every role, two-step sign-in ready for the privileged ones.
    roles = set(Membership.objects.values_list("role", flat=True))
    assert roles >= {"member", "org_admin", "state_liaison", "analyst", "responder", "coordinator", "official"}
    assert User.objects.filter(is_superuser=True).count() == 1
    # Published demo alerts (fictional indicators without the shared data; no KEV entry then).
    from commonguard.sharing.models import Alert

    assert sorted(Alert.objects.exclude(source_key__startswith="stix:").values_list("tlp", flat=True)) == [
        "amber",
        "green",
    ]
    # The demo STIX bundle's indicators (interop/demo.py): one imported alert.
    assert Alert.objects.filter(source_key__startswith="stix:").count() == 1

    # Idempotent: a second run adds nothing.
    def counts() -> tuple[int, ...]:
        return tuple(m.objects.count() for m in (Organization, User, Membership, Region, Alert))

    before = counts()
    call_command("demo", "--state", "MI", verbosity=0)
    assert counts() == before


def test_shipped_extract_is_faithful_to_the_census_files():
    _need_shared()
    state = STATES["MI"]
    census = read_counties(shared_census_dir(SHARED), state) + read_places(shared_census_dir(SHARED), state)
    shipped = list(read_extract(SHIPPED_DIR / "census-MI.csv"))
    assert shipped == census


def test_any_state_can_be_seeded_from_the_census_files(db):
    _need_shared()
    call_command("demo", "--state", "OH", "--no-people", verbosity=0)
    counts = _counts("OH")
    assert counts["counties"] == 88
    assert counts["total"] == 88 + len(read_places(shared_census_dir(SHARED), STATES["OH"]))
    call_command("demo", "--state", "OH", "--no-people", verbosity=0)
    assert _counts("OH") == counts


def test_edited_regions_survive_a_reseed(db, settings, tmp_path):
    settings.COMMONGUARD_SHARED_DATA = tmp_path / "absent"
    call_command("demo", "--state", "MI", "--no-people", verbosity=0)
    region = Region.objects.get(state="MI", number=1)
    region.name = "Upper Peninsula"
    region.save()
    county = Organization.objects.filter(kind="county", region=region).first()
    assert county is not None
    call_command("demo", "--state", "MI", "--no-people", verbosity=0)
    county.refresh_from_db()
    assert county.region.name == "Upper Peninsula"


def test_unknown_state_and_missing_data_are_clear_errors(db, settings, tmp_path):
    with pytest.raises(CommandError, match="Unknown state 'ZZ'"):
        call_command("demo", "--state", "ZZ", verbosity=0)
    settings.COMMONGUARD_SHARED_DATA = tmp_path / "absent"
    with pytest.raises(CommandError, match="ships an extract only for Michigan"):
        call_command("demo", "--state", "OH", verbosity=0)
    assert Organization.objects.count() == 0
