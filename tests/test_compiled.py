"""core/compiled.py: a hot query compiled once gives what the ORM gives, for any argument values."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import CharField, Value
from django.test.utils import CaptureQueriesContext

from commonguard.accounts.models import Membership
from commonguard.accounts.viewer import _memberships_and_asked_for
from commonguard.core.compiled import CompiledQuery
from commonguard.orgs.models import Organization

pytestmark = pytest.mark.django_db


def test_rows_match_the_orm_for_every_person(world):
    query = CompiledQuery(_memberships_and_asked_for)
    for user in world.people.values():
        if user is None:
            continue
        expected = sorted(_memberships_and_asked_for(user.pk))
        with CaptureQueriesContext(connection) as queries:
            assert sorted(query.rows(user.pk)) == expected
        assert len(queries) == 1


def test_two_arguments_each_in_its_place(world):
    def build(org_pk: int, user_pk: int):
        return (
            Membership.objects.filter(organization_id=org_pk, user_id=user_pk)
            .annotate(tag=Value("x", output_field=CharField()))
            .values_list("role", "tag")
        )

    query = CompiledQuery(build, arguments=2)
    member = world["ingham_member"]
    assert query.rows(world.ingham.pk, member.pk) == list(build(world.ingham.pk, member.pk))
    assert query.rows(world.washtenaw.pk, member.pk) == []


def test_an_argument_that_does_not_reach_the_sql_as_a_parameter_is_refused(db):
    query = CompiledQuery(lambda pk: Organization.objects.filter(status="approved").values_list("pk"))
    with pytest.raises(ValueError, match="every argument"):
        query.rows(1)


def test_the_token_and_its_person_come_back_as_the_orm_builds_them(world):
    from commonguard.accounts.models import ApiToken
    from commonguard.accounts.services import _token_columns, _token_with_user, token_create, token_revoke

    person = world["ingham_admin"]
    token, _ = token_create(actor=person, name="compiled")
    token_revoke(actor=person, token=token)
    found = _token_with_user(token.key_id)
    expected = ApiToken.objects.select_related("user").get(key_id=token.key_id)
    token_columns, user_columns = _token_columns()
    assert [getattr(found, c) for c in token_columns] == [getattr(expected, c) for c in token_columns]
    assert [getattr(found.user, c) for c in user_columns] == [getattr(expected.user, c) for c in user_columns]
    assert found.revoked_at is not None and not found.is_active  # a date, converted on SQLite as well
    assert found.user.is_active is True and found.user == person
    assert _token_with_user("no-such-key") is None


def test_an_instance_is_built_as_only_builds_it_whatever_order_the_fields_were_selected_in(world):
    """from_db takes values in the model's field order: selecting them in another order must not
    put one field's value in another (this once gave a county the state's rules of its kind)."""
    fields = ("time_zone", "population", "state", "kind", "name", "status", "county_fips")
    query = CompiledQuery(lambda pk: Organization.objects.filter(pk=pk).values_list(*fields, "id"))
    org = world.ingham
    found = query.instance(Organization, org.pk)
    expected = Organization.objects.only(*fields).get(pk=org.pk)
    assert found.pk == org.pk and found.get_deferred_fields() == expected.get_deferred_fields()
    assert [getattr(found, f) for f in fields] == [getattr(expected, f) for f in fields]
    assert query.instance(Organization, -1) is None
    by_foreign_key = CompiledQuery(lambda pk: Membership.objects.filter(pk=pk).values_list("organization", "id"))
    membership = Membership.objects.filter(organization=org).first()
    assert by_foreign_key.instance(Membership, membership.pk).organization_id == org.pk
    not_its_own = CompiledQuery(lambda pk: Membership.objects.filter(pk=pk).values_list("id", "organization__name"))
    with pytest.raises(ValueError, match="own fields"):
        not_its_own.instance(Membership, membership.pk)


def _events(report, actor, n):
    from commonguard.incidents.models import ReportEvent

    return [ReportEvent(report=report, actor=actor, kind=f"k{i}", summary=f"line {i} — ünïcode") for i in range(n)]


def test_compiled_insert_stores_what_bulk_create_stores(world):
    from django.utils import timezone

    from commonguard.core.compiled import CompiledInsert
    from commonguard.incidents.models import IncidentReport, ReportEvent

    member = world["ingham_member"]
    report = IncidentReport(organization=world.ingham, state="MI", created_by=member, title="Compiled")
    insert = CompiledInsert(IncidentReport)
    before = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        assert insert.insert([report]) == [report]
    assert len(queries) == 1
    assert report.pk is not None and not report._state.adding and report._state.db == "default"
    stored = IncidentReport.objects.get(pk=report.pk)
    assert stored.uuid == report.uuid and stored.title == "Compiled" and stored.created_by == member
    assert stored.created_at >= before  # auto_now_add filled in, as save() fills it in

    ours, theirs = _events(report, member, 3), _events(report, member, 3)
    CompiledInsert(ReportEvent).insert(ours)
    ReportEvent.objects.bulk_create(theirs)
    columns = ("report_id", "actor_id", "kind", "summary", "internal")
    assert [o.pk for o in ours] == sorted(o.pk for o in ours)  # each object got its own row's key
    for a, b in zip(ours, theirs, strict=True):
        assert ReportEvent.objects.filter(pk=a.pk).values_list(*columns).get() == (
            ReportEvent.objects.filter(pk=b.pk).values_list(*columns).get()
        )
        assert ReportEvent.objects.get(pk=a.pk).kind == a.kind


def test_compiled_insert_refuses_a_saved_object_and_hands_large_batches_to_bulk_create(world):
    from commonguard.core.compiled import CompiledInsert
    from commonguard.incidents.models import IncidentReport, ReportEvent

    member = world["ingham_member"]
    report = IncidentReport.objects.create(organization=world.ingham, state="MI", created_by=member)
    insert = CompiledInsert(ReportEvent)
    with pytest.raises(ValueError, match="already saved"):
        insert.insert([*_events(report, member, 1), report.events.create(kind="x", summary="saved")])
    assert report.events.count() == 1  # nothing of the refused batch was written
    many = _events(report, member, CompiledInsert.MAX_ROWS + 1)
    assert insert.insert(many) and all(e.pk for e in many)
    assert report.events.count() == 2 + CompiledInsert.MAX_ROWS
    unsaved = IncidentReport(organization=world.ingham, state="MI")
    with pytest.raises(ValueError, match="unsaved related object"):
        insert.insert([ReportEvent(report=unsaved, kind="x", summary="orphan")])
