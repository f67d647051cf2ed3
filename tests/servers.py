"""A real uvicorn process serving the project's ASGI application on loopback, on the test database
(for what only ASGI does: server-sent events, the TAXII body limit, the acceptance clients)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from django.db import connection

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def uvicorn_on_test_database(*args: str, **env: str) -> Iterator[str]:
    """Start uvicorn (extra command-line `args`, extra environment `env`) on the test database, wait
    for `/healthz`, yield its base URL, stop it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    command = [sys.executable, "-m", "uvicorn", "commonguard.asgi:application", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--log-level", "warning", *args], env={**os.environ, "DATABASE_URL": url, **env}, cwd=REPO
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    try:
        yield base
    finally:
        server.terminate()  # open streams are cut after the grace period
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
