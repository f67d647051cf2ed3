"""Token calls on lanes (commonguard/core/lanes.py, ADR 36), driven through the project's ASGI
application in-process: which calls take the lanes, that they answer as the full stack does (status,
body, audit trail, security headers), that a streamed body with database reads works, that a lane
keeps its database connection between requests, and that session calls still get CSRF."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.db import connections
from django.utils import timezone

from commonguard.accounts.services import token_create
from commonguard.core.lanes import LaneHandler, is_token_call, route
from commonguard.core.models import AuditEvent
from commonguard.incidents.models import IncidentReport
from commonguard.statutes.models import Obligation
from tests.statutes_helpers import member_of, state_org

pytestmark = pytest.mark.django_db(transaction=True)


def _run(make: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """asyncio.run in a thread of its own: a browser test before this one may have left its event loop
    running in the main thread (Playwright's sync API)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def _scope(path: str, *headers: tuple[bytes, bytes], kind: str = "http") -> dict[str, Any]:
    return {"type": kind, "path": path, "headers": list(headers)}


@pytest.mark.parametrize(
    ("path", "headers", "expected"),
    [
        ("/api/v1/incident-reports/", [(b"authorization", b"Bearer cg_a_b")], True),
        ("/taxii2/", [(b"authorization", b"Basic eDp5")], True),
        ("/feeds/misp/hashes.csv", [(b"authorization", b"bearer cg_a_b")], True),
        ("/api/v1/incident-reports/", [(b"cookie", b"sessionid=x")], False),  # a browser: full stack
        ("/api/v1/incident-reports/", [(b"authorization", b"Token abc")], False),  # not a scheme we take
        ("/alerts/", [(b"authorization", b"Bearer cg_a_b")], False),  # pages never
        ("/apiary/", [(b"authorization", b"Bearer cg_a_b")], False),
    ],
)
def test_only_token_calls_to_the_api_take_the_lanes(path: str, headers: list, expected: bool) -> None:
    assert is_token_call(_scope(path, *headers)) is expected


def test_other_scopes_never_take_the_lanes() -> None:
    assert not is_token_call(_scope("/api/v1/", (b"authorization", b"Bearer x"), kind="lifespan"))
    assert not is_token_call(_scope("/api/v1/", (b"authorization", b"Bearer x"), kind="websocket"))


def test_route_sends_each_call_to_its_handler() -> None:
    seen: list[str] = []

    def app(name: str) -> Any:
        async def handler(scope: Any, receive: Any, send: Any) -> None:
            seen.append(name)

        return handler

    application = route(app("pages"), app("lanes"))
    _run(lambda: application(_scope("/api/v1/x/", (b"authorization", b"Bearer k")), None, None))
    _run(lambda: application(_scope("/api/v1/x/", (b"cookie", b"sessionid=s")), None, None))
    assert seen == ["lanes", "pages"]


@pytest.fixture
def lanes() -> Iterator[LaneHandler]:
    handler = LaneHandler(settings.API_MIDDLEWARE, lanes=2)
    yield handler
    for lane in handler.lanes:  # the lanes' connections, so the test database can be flushed
        lane.executor.submit(lane.context.run, connections.close_all).result()
        lane.executor.shutdown()


def _call(app: Any, method: str, url: str, times: int = 1, **kwargs: Any) -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return [await client.request(method, url, **kwargs) for _ in range(times)]

    return _run(go)


def _reporter() -> tuple[Any, str]:
    org = state_org("NC", "37183")
    _token, key = token_create(actor=member_of(org), name="lanes")
    return org, key


def test_a_report_filed_on_a_lane_is_stored_with_its_obligations_and_audited(lanes: LaneHandler) -> None:
    org, key = _reporter()
    body = {
        "organization": org.pk,
        "submit": True,
        "title": "Encrypted file server",
        "category": "ransomware",
        "description": "Every share renamed to .lock.",
        "discovered_at": (timezone.now() - timedelta(hours=1)).isoformat(),
    }
    (response,) = _call(
        lanes, "POST", "/api/v1/incident-reports/", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 201, response.text
    report = IncidentReport.objects.get(uuid=response.json()["uuid"])
    assert report.status == "submitted" and Obligation.objects.filter(report=report).exists()
    # The request context rode along: the audit rows carry the API channel and the request's id.
    audit = AuditEvent.objects.filter(action="incident.submit", target_id=str(report.pk)).get()
    assert audit.request_id == response.headers["X-Request-ID"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "set-cookie" not in response.headers


def test_a_bad_token_on_a_lane_is_the_api_s_401_and_bad_input_its_400(lanes: LaneHandler) -> None:
    (refused,) = _call(lanes, "GET", "/api/v1/incident-reports/", headers={"Authorization": "Bearer cg_no_such"})
    assert refused.status_code == 401 and refused.headers["content-type"].startswith("application/json")
    org, key = _reporter()
    bad = {"organization": org.pk, "category": "not-a-category"}
    (invalid,) = _call(lanes, "POST", "/api/v1/incident-reports/", json=bad, headers={"Authorization": f"Bearer {key}"})
    assert invalid.status_code == 400 and "category" in json.dumps(invalid.json())
    assert not IncidentReport.objects.filter(organization=org).exists()


def test_a_streamed_body_reads_the_database_on_its_lane(lanes: LaneHandler) -> None:
    from tests.sharing_helpers import make_alert

    org, key = _reporter()
    alert = make_alert(org.memberships.get().user, org, tlp="clear", indicators=[("ipv4", "91.92.251.77")])
    basic = base64.b64encode(f"misp:{key}".encode()).decode()
    (response,) = _call(lanes, "GET", "/feeds/misp/hashes.csv", headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200, response.text
    assert str(alert.uuid) in response.text


def test_a_lane_keeps_its_database_connection_between_requests(lanes: LaneHandler) -> None:
    _org, key = _reporter()
    auth = {"Authorization": f"Bearer {key}"}
    lane = lanes.lanes[0]  # one call at a time: each takes the first of the idle lanes

    def held() -> Any:
        return connections["default"].connection

    (first,) = _call(lanes, "GET", "/api/v1/incident-reports/", headers=auth)
    connection = lane.executor.submit(lane.context.run, held).result()
    later = _call(lanes, "GET", "/api/v1/incident-reports/", headers=auth, times=3)
    assert {r.status_code for r in [first, *later]} == {200}
    # Like a WSGI thread's: the same connection served every call (CONN_MAX_AGE), none left queued.
    assert connection is not None and lane.executor.submit(lane.context.run, held).result() is connection
    assert all(each.queued == 0 for each in lanes.lanes)


def test_session_calls_to_the_api_still_go_through_csrf() -> None:
    from commonguard.asgi import application

    (response,) = _call(
        application,
        "POST",
        "/api/v1/incident-reports/",
        json={"organization": 1},
        headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}=not-a-session"},
    )
    # No token: the full stack answers (not signed in), never the lanes.
    assert response.status_code in (401, 403)
