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
