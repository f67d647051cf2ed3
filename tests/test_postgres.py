"""What only a real PostgreSQL server shows: the append-only triggers, the trigram index behind
directory search, and the partial unique constraints under concurrent writers."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.db.utils import DatabaseError

from commonguard.accounts.models import Membership
from commonguard.core.models import AuditEvent
from commonguard.orgs.selectors import organization_list

pytestmark = pytest.mark.postgres


def test_running_on_postgresql(db):
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        assert int(cursor.fetchone()[0]) >= 130000


def test_audit_trail_refuses_update_and_delete(db):
    AuditEvent.objects.create(kind="write", action="x", summary="kept")
    table = AuditEvent._meta.db_table
    for sql in [f"UPDATE {table} SET summary='changed'", f"DELETE FROM {table}"]:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as c:
            c.execute(sql)
    assert AuditEvent.objects.get().summary == "kept"


def test_directory_search_uses_the_trigram_index(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'org_search_name_trgm'")
        row = cursor.fetchone()
    assert row is not None and "gin_trgm_ops" in row[0]


def test_directory_search_matches_words_anywhere(world):
    names = [o.name for o in organization_list(user=world["ingham_member"], q="lans")]
    assert names == ["City of Lansing"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_join_requests_leave_one(world):
    """Two simultaneous join requests by the same person: the partial unique index keeps one."""
    user, org = world["washtenaw_member"], world.ingham
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def attempt() -> None:
        try:
            barrier.wait()
            with transaction.atomic():
                Membership.objects.create(user=user, organization=org, status="pending")
        except IntegrityError as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Membership.objects.filter(user=user, organization=org, status="pending").count() == 1
    assert len(errors) == 1
