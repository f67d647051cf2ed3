"""Live-feed benchmark: N signed-in people hold a server-sent-events stream open to a real uvicorn
server; one critical alert is published; measure when each stream receives it, relative to the
publish's commit. Real parts: PostgreSQL (DATABASE_URL), the project's worker (`db_worker`),
uvicorn with the project's ASGI application, N HTTP connections from httpx. Prints one JSON object
as its last line."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commonguard.settings")

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
from asgiref.sync import sync_to_async  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.core.management import call_command  # noqa: E402

from commonguard.accounts.models import Membership, Role, User  # noqa: E402
from commonguard.orgs.models import Organization  # noqa: E402
from commonguard.sharing.models import Alert  # noqa: E402
from commonguard.sharing.services import AlertInput, alert_publish, alert_save_draft  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(n: int) -> tuple[User, Organization, list[str]]:
    call_command("migrate", verbosity=0)
    Organization.objects.filter(source_key__startswith="live-bench:").delete()
    User.objects.filter(email__endswith="@live-bench.example").delete()
    password = make_password("not-used-here")
    home = Organization.objects.create(
        name="Live Bench County", kind="county", state="MI", status="approved", source_key="live-bench:home"
    )
    author_org = Organization.objects.create(
        name="Live Bench City", kind="city", state="MI", status="approved", source_key="live-bench:author"
    )
    people = User.objects.bulk_create(
        User(email=f"l{i}@live-bench.example", full_name=f"Listener {i}", password=password) for i in range(n + 1)
    )
    Membership.objects.bulk_create(
        Membership(user=u, organization=author_org if i == 0 else home, role=Role.MEMBER, status="approved")
        for i, u in enumerate(people)
    )
    keys = []
    for user in people[1:]:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        keys.append(session.session_key)
    return people[0], author_org, keys


async def listen(base: str, key: str, ready: asyncio.Event, counter: list[int], arrivals: list[float], n: int) -> None:
    cookies = {settings.SESSION_COOKIE_NAME: key}
    timeout = httpx.Timeout(120.0, connect=30.0)
    async with (
        httpx.AsyncClient(base_url=base, cookies=cookies, timeout=timeout) as client,
        client.stream("GET", "/alerts/live/") as response,
    ):
        if response.status_code != 200:
            raise RuntimeError(f"stream refused: {response.status_code}")
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "hello":
                counter[0] += 1
                if counter[0] == n:
                    ready.set()
            elif line.startswith("data: ") and event == "alert":
                arrivals.append(time.time())
                return


report_t0 = [0.0]


def handoff() -> list[float]:
    """When the worker handed the alert to the web processes (LiveEvent rows), after the publish."""
    from commonguard.sharing.models import LiveEvent

    events = LiveEvent.objects.exclude(alert__title="Warm-up")
    return sorted(e.timestamp() - report_t0[0] for e in events.values_list("created_at", flat=True))


def warm_up(author: User, author_org: Organization) -> None:
    """Workers and web processes run for days: one alert to everyone before the listeners connect
    (new streams start after it), so that the measured publish finds the worker warm."""
    from commonguard.sharing.models import Delivery

    draft = alert_save_draft(
        actor=author,
        author_org=author_org,
        data=AlertInput(title="Warm-up", summary="Warm-up.", category=Alert.Category.OTHER, tlp="green"),
    )
    alert = alert_publish(actor=author, alert=draft)
    deadline = time.time() + 60
    while time.time() < deadline and Delivery.objects.filter(alert=alert).exclude(status="sent").exists():
        time.sleep(0.1)


async def run(base: str, keys: list[str], author: User, author_org: Organization) -> dict:
    await sync_to_async(warm_up)(author, author_org)
    ready = asyncio.Event()
    counter = [0]
    arrivals: list[float] = []
    tasks = [asyncio.create_task(listen(base, k, ready, counter, arrivals, len(keys))) for k in keys]
    await asyncio.wait_for(ready.wait(), timeout=120)

    def publish() -> float:
        draft = alert_save_draft(
            actor=author,
            author_org=author_org,
            data=AlertInput(
                title="Live benchmark: credential phishing",
                summary="A look-alike sign-in page.",
                category=Alert.Category.PHISHING,
                severity=Alert.Severity.CRITICAL,
                tlp="green",
            ),
        )
        t = time.time()
        alert_publish(actor=author, alert=draft)
        return t

    t0 = await sync_to_async(publish)()
    report_t0[0] = t0
    done, pending = await asyncio.wait(tasks, timeout=30)
    for task in pending:
        task.cancel()
    failures = [t.exception() for t in done if t.exception() is not None]
    delays = sorted(a - t0 for a in arrivals)
    return {
        "clients": len(keys),
        "received": len(delays),
        "errors": len(failures),
        "median_s": round(delays[len(delays) // 2], 3) if delays else None,
        "p95_s": round(delays[int(len(delays) * 0.95) - 1], 3) if delays else None,
        "last_s": round(delays[-1], 3) if delays else None,
        "target_s": 1.0,
        "pass": bool(delays) and len(delays) == len(keys) and delays[-1] < 1.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    author, author_org, keys = seed(args.clients)
    port = free_port()
    env = {**os.environ, "LOG_LEVEL": "WARNING", "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend"}
    uvicorn = [str(REPO / ".venv/bin/uvicorn"), "commonguard.asgi:application", "--host", "127.0.0.1"]
    server = subprocess.Popen(
        [*uvicorn, "--port", str(port), "--log-level", "warning", "--no-access-log", "--backlog", "4096"],
        env=env,
        cwd=REPO,
    )
    manage = [sys.executable, str(REPO / "manage.py")]
    worker = subprocess.Popen(
        [*manage, "db_worker", "--queue-name", "*", "--interval", "0.05", "--no-reload"],
        env=env,
        cwd=REPO,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        report = asyncio.run(run(f"http://127.0.0.1:{port}", keys, author, author_org))
    finally:
        for process in (server, worker):
            process.send_signal(signal.SIGTERM)
        for process in (server, worker):
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
    marks = handoff()
    report["worker_handoff_s"] = round(marks[-1], 3) if marks else None
    Path(args.out).write_text(json.dumps(report))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
