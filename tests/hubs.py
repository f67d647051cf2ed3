"""Other CommonGuard hubs for federation tests: each a real uvicorn process on loopback with its own
SQLite database (a copy of one migrated template) and its own hub id, driven through
`tests/hub_control.py` (its real services, in its own process)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(db: Path | str, hub_id: str) -> dict[str, str]:
    """The environment of a hub on `db`: a SQLite file, or a PostgreSQL URL."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        COMMONGUARD_DEMO="1",
        COMMONGUARD_PLAIN_STATIC="1",
        COMMONGUARD_HUB_ID=hub_id,
        DJANGO_SETTINGS_MODULE="commonguard.settings",
    )
    if str(db).startswith("postgres"):
        env["DATABASE_URL"] = str(db)
    else:
        env["COMMONGUARD_SQLITE_PATH"] = str(db)
    return env


def migrated_template(directory: Path) -> Path:
    template = directory / "template.sqlite3"
    if not template.exists():
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0", "--noinput"],
            env=_env(template, "template"),
            cwd=REPO,
            check=True,
        )
    return template


class Hub:
    """A hub's URL and a control process on its database (`tests/hub_control.py --serve`)."""

    def __init__(self, hub_id: str, db: Path, url: str, env: dict[str, str] | None = None) -> None:
        self.hub_id, self.db, self.url = hub_id, db, url
        self.control = subprocess.Popen(
            [sys.executable, "-m", "tests.hub_control", "--serve"],
            env=env or _env(db, hub_id),
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def call(self, action: str, **args: Any) -> Any:
        assert self.control.stdin is not None and self.control.stdout is not None
        self.control.stdin.write(f"{action} {json.dumps(args)}\n")
        self.control.stdin.flush()
        line = self.control.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.hub_id}: the control process ended")
        answer = json.loads(line)
        if isinstance(answer, dict) and "error" in answer and "trace" in answer:
            raise RuntimeError(f"{self.hub_id} {action} failed: {answer['error']}\n{answer['trace']}")
        return answer

    def close(self) -> None:
        if self.control.stdin:
            self.control.stdin.close()
        try:
            self.control.wait(10)
        except subprocess.TimeoutExpired:
            self.control.kill()
            self.control.wait(10)


@contextmanager
def hub_process(hub_id: str, template: Path, directory: Path) -> Iterator[Hub]:
    """A hub on its own copy of the template database, served by uvicorn on a free port."""
    db = directory / f"{hub_id}.sqlite3"
    shutil.copy(template, db)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "commonguard.asgi:application", "--port", str(port), "--log-level", "error"],
        env=_env(db, hub_id),
        cwd=REPO,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    hub = Hub(hub_id, db, base)
    try:
        yield hub
    finally:
        hub.close()
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
