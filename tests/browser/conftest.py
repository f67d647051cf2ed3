"""Browser tests: real headless Chromium (Playwright, sync API) against pytest-django's live server.

Playwright's sync API runs an event loop in the main thread, which makes Django refuse ORM calls
from that thread; the test code is ordinary synchronous code, so that guard is switched off here.
"""

from __future__ import annotations

import os

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import sync_playwright

from commonguard.accounts.models import Membership, Role, User
from commonguard.orgs.models import Organization, Region
from tests.conftest import IN_CI, sign_in
from tests.factories import PASSWORD, ContactFactory, MembershipFactory, OrganizationFactory, RegionFactory, UserFactory

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
AXE_JS = REPO / "assets" / "node_modules" / "axe-core" / "axe.min.js"
SCREENS = REPO / "test-artifacts" / "screens"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Playwright waits up to 30 s by default; a broken page here should fail in seconds instead.
TIMEOUT_MS = 10_000
VIEWPORT = {"width": 1280, "height": 900}

# A fixed TOTP secret (hex, as django_otp stores it) so the tests can compute codes like a phone.
ADMIN_TOTP_KEY = "3132333435363738393031323334353637383930"


def missing_prerequisite(message: str) -> None:
    """Skip on a developer's machine; in CI (CI=true) a missing browser is a failure, not a skip
    (pytest reports it as an error in the test's setup, and the run fails)."""
    if IN_CI:
        pytest.fail(f"{message} (CI=true: browser tests must run in CI)", pytrace=False)
    pytest.skip(message)


class InFlight:
    """The live server's WSGI application, counting the requests it has not finished answering (a
    response counts until the server closes it), so that a test's teardown can wait for the server
    to be idle before the database is emptied."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.count = 0
        self.changed = threading.Condition()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self._add(1)
        try:
            result = self.app(environ, start_response)
        except BaseException:
            self._add(-1)
            raise
        return _Closing(result, lambda: self._add(-1))

    def _add(self, n: int) -> None:
        with self.changed:
            self.count += n
            self.changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.count == 0, timeout)


class _Closing:
    def __init__(self, result: Iterable[bytes], done: Callable[[], None]) -> None:
        self.result = result
        self.done: Callable[[], None] | None = done

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.result)

    def close(self) -> None:
        try:
            if hasattr(self.result, "close"):
                self.result.close()
        finally:
            if self.done:
                self.done, done = None, self.done
                done()


@pytest.fixture(scope="session")
def in_flight(live_server: Any) -> InFlight:
    httpd = live_server.thread.httpd
    tracker = InFlight(httpd.get_app())
    httpd.set_app(tracker)
    return tracker


def _share_live_server_connections(live_server: Any) -> None:
    """Give this thread the database connection the live server shares. Once Playwright's sync API
    runs its event loop in this thread, asgiref keeps Django's connections per async context instead
    of per thread, and the test code would open a second connection to the shared-cache in-memory
    test database. There, one connection's unfinished read makes the other's write fail at once
    ("database table is locked") instead of waiting: a flush at teardown could fail while the server
    was still answering. One connection, as Django's live server intends, avoids that."""
    for alias, conn in live_server.thread.connections_override.items():
        connections[alias] = conn


@pytest.fixture(scope="session")
def browser(live_server: Any) -> Iterator[Any]:
    """One Chromium per test process. It asks for the live server so that it closes first: no
    request is left half-served when the server stops."""
    if not CHROMIUM.exists():
        missing_prerequisite(f"Chromium is not installed at {CHROMIUM}")
    with sync_playwright() as playwright:
        _share_live_server_connections(live_server)
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def _plain_http_live_server(settings: Any) -> None:
    """The live server speaks plain HTTP on localhost: cookies must not need HTTPS."""
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False


class BrowserErrors(list[str]):
    """Console errors and uncaught exceptions seen by a page (e.g. a script the CSP refused)."""

    def assert_none(self) -> None:
        assert not self, "the browser reported errors:\n" + "\n".join(self)


def _session_context(browser: Any, live_server: Any, **kwargs: Any) -> Iterator[Any]:
    # One browser context per test process keeps the HTTP cache (USWDS is half a megabyte);
    # each test gets a new page and no cookies, so nothing else carries over.
    ctx = browser.new_context(base_url=live_server.url, viewport=VIEWPORT, **kwargs)
    ctx.set_default_timeout(TIMEOUT_MS)
    yield ctx
    ctx.close()


def _fresh_page(ctx: Any) -> Iterator[Any]:
    ctx.clear_cookies()
    page = ctx.new_page()
    errors = BrowserErrors()
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.errors = errors
    yield page
    page.close()
    ctx.clear_cookies()


@pytest.fixture(scope="session")
def _csp_context(browser: Any, live_server: Any) -> Iterator[Any]:
    yield from _session_context(browser, live_server)


@pytest.fixture(scope="session")
def _axe_context(browser: Any, live_server: Any) -> Iterator[Any]:
    # The site's CSP forbids inline scripts and Playwright's add_script_tag inserts an inline
    # one, so the context used for the axe-core run (and only that one) bypasses the CSP.
    yield from _session_context(browser, live_server, bypass_csp=True)


@pytest.fixture
def page(_csp_context: Any) -> Iterator[Any]:
    """A new page, signed out, with the site's Content-Security-Policy enforced."""
    yield from _fresh_page(_csp_context)


@pytest.fixture
def context(page: Any) -> Any:
    """The context of `page`, for its cookies."""
    return page.context


@pytest.fixture
def axe_page(_axe_context: Any) -> Iterator[Any]:
    """A new page, signed out, on which axe-core can be injected."""
    if not AXE_JS.exists():
        missing_prerequisite(f"axe-core is not installed at {AXE_JS} (run npm ci in assets/)")
    yield from _fresh_page(_axe_context)


# --- Data -----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def browser_db(transactional_db: Any, in_flight: InFlight) -> Iterator[None]:
    """Real commits, so the live server's thread sees the test's data and the test sees the
    server's writes. (tests/conftest.py empties the append-only audit trail before each flush.)
    At the end it waits for the server to finish what the closed page last asked of it (a favicon,
    a fetch) before the database is emptied under it."""
    if connection.vendor != "sqlite":
        pytest.skip("browser tests run on SQLite only (scripts/run-tests.sh runs them there)")
    yield
    assert in_flight.wait_idle(timeout=15), f"the live server is still answering {in_flight.count} request(s)"


@dataclass
class Hub:
    region: Region
    ingham: Organization
    lansing: Organization
    washtenaw: Organization
    state_it: Organization
    guard: Organization
    admin: User  # org admin of Ingham County, with a confirmed authenticator (ADMIN_TOTP_KEY)
    admin_device: TOTPDevice
    member: User  # approved member of Ingham County, no second factor
    unvetted: User  # asked to join Ingham County, not yet approved
    liaison: User  # state liaison for the region


@pytest.fixture
def hub(browser_db: None) -> Hub:
    """A small directory and the people the browser tests sign in as."""
    region = RegionFactory(number=1, name="Region 1")
    ingham = OrganizationFactory(name="Ingham County", county_fips="26065", region=region, population=284900)
    lansing = OrganizationFactory(
        name="City of Lansing", kind="city", county=ingham, county_fips="26065", place_fips="2646000", region=region
    )
    washtenaw = OrganizationFactory(name="Washtenaw County", county_fips="26161", region=region)
    state_it = OrganizationFactory(name="State IT", kind="state_agency", county_fips="")
    guard = OrganizationFactory(name="Guard Cyber Unit", kind="guard_unit", county_fips="")

    admin = UserFactory(email="ada.admin@example.test", full_name="Ada Admin", title="IT Director")
    MembershipFactory(user=admin, organization=ingham, role=Role.ORG_ADMIN)
    device = TOTPDevice.objects.create(user=admin, name="Phone", key=ADMIN_TOTP_KEY, confirmed=True)
    member = UserFactory(email="max.member@example.test", full_name="Max Member")
    MembershipFactory(user=member, organization=ingham, role=Role.MEMBER)
    unvetted = UserFactory(email="una.unvetted@example.test", full_name="Una Unvetted")
    MembershipFactory(
        user=unvetted,
        organization=ingham,
        role=Role.MEMBER,
        status=Membership.Status.PENDING,
        decided_at=None,
        message="I run the county's backups.",
    )
    liaison = UserFactory(email="lee.liaison@example.test", full_name="Lee Liaison", title="State liaison")
    MembershipFactory(user=liaison, organization=state_it, role=Role.STATE_LIAISON)
    region.liaison = liaison
    region.save()
    ContactFactory(organization=ingham, role="cio", holder=admin)
    ContactFactory(organization=ingham, role="after_hours", holder=member, phone="+1 517 555 0199")
    return Hub(region, ingham, lansing, washtenaw, state_it, guard, admin, device, member, unvetted, liaison)


# --- Helpers --------------------------------------------------------------------------------


def totp_code(key_hex: str, drift: int = 0) -> str:
    """The code an authenticator app with this secret shows now (or `drift` time steps away)."""
    return f"{totp(bytes.fromhex(key_hex), drift=drift):06d}"


def sign_in_by_cookie(context: Any, live_server: Any, user: User, *, second_factor: bool = True) -> None:
    """Give the browser a session for `user` without typing (the sign-in itself is tested in
    test_sign_in.py). With second_factor=False the session stops after the password step."""
    client = Client()
    if second_factor:
        sign_in(client, user)
    else:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}])


def sign_in_with_password(page: Any, email: str, password: str = PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page: Any) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/")


def screenshot(page: Any, name: str) -> Path:
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE_JS))
    return page.evaluate(
        "options => axe.run(document, options).then(results => results.violations)",
        {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]},
    )


def describe_violations(name: str, url: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"{len(violations)} accessibility violation(s) on {name} ({url}):"]
    for v in violations:
        lines.append(f"- {v['id']} [{v.get('impact')}] {v['help']} ({v['helpUrl']})")
        for node in v["nodes"]:
            lines.append(f"    target: {json.dumps(node['target'])}")
            if node.get("failureSummary"):
                lines.extend(f"      {row}" for row in node["failureSummary"].splitlines())
    return "\n".join(lines)


def assert_axe_clean(page: Any, name: str) -> None:
    """Run axe-core on the page, keep a screenshot, and fail the test listing any violation."""
    violations = axe_violations(page)
    screenshot(page, name)
    if violations:
        pytest.fail(describe_violations(name, page.url, violations), pytrace=False)


def run_worker() -> None:
    """Drain the task queue (`db_worker --batch`) while the live server runs, on the connection the
    server shares (see _share_live_server_connections)."""
    call_command("db_worker", "--batch", "--queue-name", "*", "--no-reload", verbosity=0)
