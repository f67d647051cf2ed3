"""Shared fixtures: a small world of organisations and one persona per kind of caller."""

from __future__ import annotations

import email
import json
import os
import socket
from dataclasses import dataclass
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from hypothesis import settings as hypothesis_settings

from commonguard.accounts.models import Membership, Role, User
from commonguard.orgs.models import ContactAssignment, Organization, Region
from tests.factories import ContactFactory, MembershipFactory, OrganizationFactory, RegionFactory, UserFactory

IN_CI = os.environ.get("CI") == "true"

# In CI, hypothesis explores the same examples every run: a red build must be reproducible, and
# never the luck of the draw. Locally it keeps searching new ones (and remembers failures).
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if IN_CI:
    hypothesis_settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _fast_hashing_and_plain_static(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.AXES_ENABLED = True


@pytest.fixture(autouse=True)
def _fresh_rule_tables() -> None:
    """The statutory rule tables are cached per process (statutes/cache.py): each test's database
    starts from the migrations' rules, so each test starts with an empty cache."""
    from commonguard.statutes import cache

    cache.invalidate()


_STIX_VALID: set[str] = set()


@pytest.fixture(autouse=True)
def _every_stix_export_is_valid(monkeypatch: Any) -> None:
    """stix2-validator on every STIX export the test suite makes (downloads, TAXII collections):
    the real export runs, and each object it returns must pass (identical objects checked once)."""
    from stix2validator import ValidationOptions, validate_instance

    from commonguard.interop import export, sync

    real = export.alert_stix_objects
    options = ValidationOptions(version="2.1")

    def validated(alert: Any) -> Any:
        shared, own = real(alert)
        for obj in shared + own:
            text = json.dumps(obj, sort_keys=True)
            if text not in _STIX_VALID:
                result = validate_instance(obj, options)
                assert result.is_valid, [str(e) for e in result.errors]
                _STIX_VALID.add(text)
        return shared, own

    monkeypatch.setattr(export, "alert_stix_objects", validated)
    monkeypatch.setattr(sync, "alert_stix_objects", validated)


def _is_transactional(request: Any) -> bool:
    marker = request.node.get_closest_marker("django_db")
    by_marker = bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    return by_marker or bool({"transactional_db", "live_server"} & set(request.fixturenames))


@pytest.fixture(autouse=True)
def _empty_audit_trail_after_transactional_tests(request: Any) -> Any:
    """Transactional tests (live server, worker, threads) end with a flush, which the append-only
    triggers refuse on SQLite. The database is set up first (so this fixture is torn down before the
    flush), then the audit table is emptied with its triggers briefly lifted, and they are restored."""
    if not _is_transactional(request):
        yield
        return
    request.getfixturevalue("_django_db_helper")
    yield
    import importlib

    from django.db import connection

    migration = importlib.import_module("commonguard.core.migrations.0002_audit_append_only")
    with connection.schema_editor() as editor:
        migration.backwards(None, editor)
        editor.execute("DELETE FROM core_auditevent")
        migration.forwards(None, editor)


@dataclass
class World:
    """Two regions; Ingham (region 1) with a city inside it; Washtenaw (region 2); the state IT
    agency, the Guard unit; a pending organisation; and a person in every role."""

    region1: Region
    region2: Region
    ingham: Organization
    lansing: Organization
    washtenaw: Organization
    state_it: Organization
    guard: Organization
    pending_org: Organization
    people: dict[str, User]
    memberships: dict[str, Membership]
    contacts: dict[str, ContactAssignment]

    def __getitem__(self, name: str) -> User:
        return self.people[name]


PERSONAS = [
    "anonymous",
    "unvetted",  # signed up, asked to join Ingham, not approved
    "ingham_member",
    "ingham_admin",
    "ingham_official",
    "lansing_member",  # a city inside Ingham County
    "washtenaw_member",
    "washtenaw_admin",
    "liaison1",  # state liaison assigned to region 1 (Ingham)
    "liaison2",  # state liaison assigned to region 2 (Washtenaw)
    "analyst",
    "coordinator",
    "responder",
    "removed_member",  # was in Ingham, removed
    "operator",  # runs the hub
]
# Approved members of approved organisations, and the operator.
VETTED_PERSONAS = [p for p in PERSONAS if p not in {"anonymous", "unvetted", "removed_member"}]


@pytest.fixture
def world(db: Any) -> World:
    r1 = RegionFactory(number=1, name="Region 1")
    r2 = RegionFactory(number=2, name="Region 2")
    ingham = OrganizationFactory(name="Ingham County", county_fips="26065", region=r1, population=284900)
    lansing = OrganizationFactory(
        name="City of Lansing", kind="city", county=ingham, county_fips="26065", place_fips="2646000", region=r1
    )
    washtenaw = OrganizationFactory(name="Washtenaw County", county_fips="26161", region=r2)
    state_it = OrganizationFactory(name="State IT", kind="state_agency", county_fips="")
    guard = OrganizationFactory(name="Guard Cyber Unit", kind="guard_unit", county_fips="")
    people: dict[str, User] = {}
    memberships: dict[str, Membership] = {}

    def person(
        name: str, org: Organization | None, role: str = Role.MEMBER, status: str = "approved", **kw: Any
    ) -> User:
        user = UserFactory(email=f"{name}@example.test", full_name=name.replace("_", " ").title(), **kw)
        people[name] = user
        if org is not None:
            memberships[name] = MembershipFactory(user=user, organization=org, role=role, status=status)
        return user

    person("unvetted", ingham, status="pending")
    person("ingham_member", ingham)
    person("ingham_admin", ingham, Role.ORG_ADMIN)
    person("ingham_official", ingham, Role.OFFICIAL)
    person("lansing_member", lansing)
    person("washtenaw_member", washtenaw)
    person("washtenaw_admin", washtenaw, Role.ORG_ADMIN)
    person("liaison1", state_it, Role.STATE_LIAISON)
    person("liaison2", state_it, Role.STATE_LIAISON)
    person("analyst", state_it, Role.ANALYST)
    person("coordinator", guard, Role.COORDINATOR)
    person("responder", guard, Role.RESPONDER)
    person("removed_member", ingham, status="removed")
    person("operator", None, is_superuser=True, is_staff=True)
    r1.liaison = people["liaison1"]
    r1.save()
    r2.liaison = people["liaison2"]
    r2.save()
    pending_org = OrganizationFactory(
        name="Ingham Drain District",
        kind="special_district",
        status="pending",
        county=ingham,
        county_fips="26065",
        region=r1,
        requested_by=people["unvetted"],
    )
    contacts = {
        "ingham_cio": ContactFactory(organization=ingham, role="cio", holder=people["ingham_admin"]),
        "ingham_after_hours": ContactFactory(
            organization=ingham, role="after_hours", holder=people["ingham_member"], phone="+1 517 555 0199"
        ),
        "ingham_old_cio": ContactFactory(
            organization=ingham, role="cio", holder=people["removed_member"], ended_at=ingham.created_at
        ),
        "washtenaw_cio": ContactFactory(organization=washtenaw, role="cio", holder=people["washtenaw_admin"]),
    }
    return World(r1, r2, ingham, lansing, washtenaw, state_it, guard, pending_org, people, memberships, contacts)


def sign_in(client: Client, user: User | None) -> Client:
    """Sign `user` in, with their second factor verified (as after a real TOTP step)."""
    if user is None:
        return client
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def as_persona(world: World, client: Client) -> Any:
    def _as(name: str) -> Client:
        client.logout()
        return sign_in(client, None if name == "anonymous" else world.people[name])

    return _as


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """PostgreSQL-only tests are deselected (not skipped) on SQLite: run-tests.sh always runs the
    suite a second time on a real PostgreSQL server, where they run."""
    from django.conf import settings

    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    if on_postgres:
        return
    keep, drop = [], []
    for item in items:
        (drop if item.get_closest_marker("postgres") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# --- A real SMTP server on loopback (aiosmtpd) that keeps what it receives --------------------


class _Sink:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp(settings: Any) -> Any:
    sink = _Sink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    yield sink
    controller.stop()


# --- A real HTTP receiver on loopback that keeps what it receives (webhooks) -------------------


class Receiver:
    """A threaded HTTP server on 127.0.0.1 that records each POST and answers `status`."""

    def __init__(self) -> None:
        import http.server
        import threading

        received = self.requests = []  # type: list[dict[str, Any]]
        outer = self
        self.status = 204

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Any:
    server = Receiver()
    yield server
    server.close()
