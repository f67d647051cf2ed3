"""The live feed as production serves it: uvicorn with the ASGI application in its own process,
streams held open by real HTTP connections, the worker delivering. An AMBER alert reaches the
stream of a member of a named organisation and not the stream of someone outside its audience;
a GREEN alert reaches both. (PostgreSQL: the server process needs a database it can open.)"""

from __future__ import annotations

import json
import queue
import threading
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command

from commonguard.core.tlp import TLP
from tests.servers import uvicorn_on_test_database
from tests.sharing_helpers import make_alert

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
REPO = Path(__file__).resolve().parents[1]


def _session(user) -> str:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def _listen(base: str, key: str, out: queue.Queue, stop: threading.Event) -> None:
    cookies = {settings.SESSION_COOKIE_NAME: key}
    try:
        with (
            httpx.Client(base_url=base, cookies=cookies, timeout=httpx.Timeout(30.0)) as client,
            client.stream("GET", "/alerts/live/") as response,
        ):
            out.put(("status", response.status_code))
            event = ""
            for line in response.iter_lines():
                if stop.is_set():
                    return
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    out.put((event, json.loads(line[6:])))
    except httpx.HTTPError as exc:  # the server stopped at the end of the test: the stream is cut
        out.put(("closed", str(exc)))


@pytest.fixture
def asgi_server():
    with uvicorn_on_test_database("--timeout-graceful-shutdown", "1", COMMONGUARD_LIVE_POLL_SECONDS="0.1") as base:
        yield base


def _next(q: queue.Queue, kind: str, timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            event, data = q.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if event == kind:
            return data
    return None


def test_streams_get_what_their_reader_may_see_within_a_second(world, asgi_server):
    streams = {}
    stop = threading.Event()
    for name in ["washtenaw_member", "lansing_member"]:
        q: queue.Queue = queue.Queue()
        threading.Thread(target=_listen, args=(asgi_server, _session(world[name]), q, stop), daemon=True).start()
        assert _next(q, "status", 10) == 200
        assert _next(q, "hello", 10) is not None
        streams[name] = q
    amber = make_alert(world["ingham_member"], world.ingham, TLP.AMBER, recipient_orgs=[world.washtenaw])
    published = time.monotonic()
    call_command("db_worker", "--batch", "--queue-name", "*", "--no-reload", verbosity=0)
    got = _next(streams["washtenaw_member"], "alert", 5)
    assert got is not None and got["id"] == str(amber.uuid)
    assert time.monotonic() - published < 5
    green = make_alert(world["ingham_member"], world.ingham, TLP.GREEN)
    call_command("db_worker", "--batch", "--queue-name", "*", "--no-reload", verbosity=0)
    assert _next(streams["lansing_member"], "alert", 5)["id"] == str(green.uuid)  # type: ignore[index]
    # The Lansing stream never carried the AMBER alert (it got the GREEN one first and only).
    assert _next(streams["washtenaw_member"], "alert", 5)["id"] == str(green.uuid)  # type: ignore[index]
    stop.set()


def test_the_stream_refuses_people_who_are_not_vetted(world, asgi_server):
    anonymous = httpx.get(f"{asgi_server}/alerts/live/")
    assert anonymous.status_code in {302, 403}
    cookies = {settings.SESSION_COOKIE_NAME: _session(world["unvetted"])}
    assert httpx.get(f"{asgi_server}/alerts/live/", cookies=cookies).status_code == 403
