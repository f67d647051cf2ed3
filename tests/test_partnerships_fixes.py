"""Correctness fixes: the pass-through names only organisations whose sub-award the reader may see;
the grant list's queries do not grow with the number of programmes; the library's CSF filter is exact;
the CSF catalogue is read once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from commonguard.measurement import stats
from commonguard.partnerships import selectors, services
from commonguard.partnerships.models import GrantProgram
from tests.measurement_helpers import ensure_csf
from tests.test_partnerships_library import make_resource
from tests.test_partnerships_programmes import _award

pytestmark = pytest.mark.django_db


def _program(world, name="State and Local Cybersecurity Grant Program", year=2024):
    return services.grant_program_create(
        actor=world["liaison1"],
        name=name,
        fiscal_year=year,
        federal_award=Decimal("1000000"),
        cost_share_rate=Decimal("30"),
        administrator=world.state_it,
    )


def test_pass_through_names_only_sub_awards_the_reader_may_see(world):
    program = _program(world)
    world.washtenaw.population = None
    world.washtenaw.save()
    _award(world, program, world.ingham, "500000")  # short of the 30 % match
    _award(world, program, world.washtenaw, "300000")  # short, and population unknown
    staff = selectors.pass_through(program, user=world["liaison1"])
    assert [name for name, _gap in staff.match_shortfalls] == ["Ingham County", "Washtenaw County"]
    assert staff.unknown_population == ["Washtenaw County"]
    county = selectors.pass_through(program, user=world["ingham_member"])
    # The totals count every committed sub-award; the names are the reader's own only.
    assert county.local_total == staff.local_total == Decimal("800000")
    assert [name for name, _gap in county.match_shortfalls] == ["Ingham County"]
    assert county.unknown_population == []


def test_the_grant_list_reads_in_the_same_number_of_queries_for_any_number_of_programmes(world, as_persona):
    client = as_persona("liaison1")

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/partnerships/grants/").status_code == 200
        return len(ctx.captured_queries)

    first = _program(world, "Programme A")
    _award(world, first, world.ingham, "100000")
    few = queries()
    for i in range(6):
        program = _program(world, f"Programme {i}", 2020 + i)
        _award(world, program, world.washtenaw, "100000")
        _award(world, program, world.ingham, "50000")
    assert queries() == few
    # The API's list also reads the checks for the whole page at once.
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/api/v1/grant-programs/").status_code == 200
    many = len(ctx.captured_queries)
    GrantProgram.objects.exclude(name="Programme A").delete()
    with CaptureQueriesContext(connection) as ctx:
        client.get("/api/v1/grant-programs/")
    assert len(ctx.captured_queries) == many


def test_the_csf_filter_is_exact_on_the_category_code(world, as_persona):
    make_resource(world, title="Access and risk", data={"csf_categories": ["PR.AA", "ID.RA", "RS.MA"]})
    make_resource(world, title="Data security", data={"csf_categories": ["PR.DS"]})
    user = world["washtenaw_member"]

    def titles(code: str) -> list[str]:
        return sorted(r.title for r in selectors.resource_search(user=user, csf_category=code))

    assert titles("PR.AA") == titles("pr.aa") == titles("ID.RA") == titles("RS.MA") == ["Access and risk"]
    assert titles("PR.DS") == ["Data security"]
    assert titles("PR") == titles("AA") == titles("PR.A") == titles("A ID") == []
    page = as_persona("washtenaw_member").get("/partnerships/library/?csf=PR").content.decode()
    assert "Access and risk" not in page and "Data security" not in page


def test_the_csf_catalogue_is_read_once(world, django_assert_num_queries):
    ensure_csf()
    stats.catalogue_reset()
    first = stats.catalogue()
    assert first.subcategories
    with django_assert_num_queries(0):
        assert stats.catalogue() is first
