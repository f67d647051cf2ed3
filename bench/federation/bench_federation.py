"""Federation benchmark: an alert published on hub A, how long until hub B's REST API serves it to a
reader of B. Two real hubs on loopback, each uvicorn on its own database (two databases of one
throwaway PostgreSQL cluster, or SQLite files), driven through their own services
(tests/hub_control.py). First by pull (B's scheduler `federation_run`, peer pull interval 2 s),
then by push (A's django-tasks worker sends as the publish commits). Prints one JSON object last.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.hubs import Hub, _env, free_port  # noqa: E402

WORK = REPO / "var" / "bench" / "federation"
TOKEN = "bench-link-a-b-0123456789abcdefghijklmnop"
PULL_INTERVAL = 2.0
ALERTS = 12


def databases() -> tuple[str, str, str]:
    """(engine, database of A, database of B): B is a copy of A's migrated, empty database."""
    pg = os.environ.get("BENCH_PG_URL")
    if pg:
        import psycopg

        base = pg.rsplit("/", 1)[0]
        with psycopg.connect(pg, autocommit=True) as conn:
            for name in ("hub_a", "hub_b"):
                conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute("CREATE DATABASE hub_a")
        a = f"{base}/hub_a"
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=_env(a, "hub-a"), cwd=REPO, check=True)
        with psycopg.connect(pg, autocommit=True) as conn:
            conn.execute("CREATE DATABASE hub_b TEMPLATE hub_a")
        return "postgresql", a, f"{base}/hub_b"
    a, b = WORK / "hub_a.sqlite3", WORK / "hub_b.sqlite3"
    for path in (a, b):
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=_env(a, "hub-a"), cwd=REPO, check=True)
    shutil.copy(a, b)
    return "sqlite", str(a), str(b)


def start(command: list[str], env: dict[str, str], log: str) -> subprocess.Popen:
    out = open(WORK / log, "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(command, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)


def serve(db: str, hub_id: str, procs: list[subprocess.Popen]) -> str:
    port = free_port()
    procs.append(
        start(
            [sys.executable, "-m", "uvicorn", "commonguard.asgi:application", "--port", str(port)],
            _env(db, hub_id),
            f"{hub_id}-uvicorn.log",
        )
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return url
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"{hub_id} did not start")


PUBLISH_SECONDS: list[float] = []


def readable_after(a: Hub, client: httpx.Client, b_url: str, title: str, timeout: float = 30.0) -> float:
    """Publish on A; seconds from the publish's commit (the control answers right after it) until
    B's API answers 200 for the alert to B's reader."""
    started = time.perf_counter()
    alert_uuid = a.call("publish", author="author@hub.example", title=title, tlp="green")["uuid"]
    t0 = time.perf_counter()
    PUBLISH_SECONDS.append(t0 - started)
    while time.perf_counter() - t0 < timeout:
        if client.get(f"{b_url}/api/v1/alerts/{alert_uuid}/").status_code == 200:
            return time.perf_counter() - t0
        time.sleep(0.01)
    return float("inf")


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_s": round(statistics.median(values), 3),
        "max_s": round(max(values), 3),
        "min_s": round(min(values), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=WORK / "result.json")
    parser.add_argument("--alerts", type=int, default=ALERTS)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    engine, db_a, db_b = databases()
    procs: list[subprocess.Popen] = []
    hubs: list[Hub] = []
    try:
        a_url, b_url = serve(db_a, "hub-a", procs), serve(db_b, "hub-b", procs)
        a = Hub("hub-a", Path("."), a_url, env=_env(db_a, "hub-a"))
        b = Hub("hub-b", Path("."), b_url, env=_env(db_b, "hub-b"))
        hubs += [a, b]
        a.call("seed")
        b.call("seed")
        reader_token = b.call("token", email="reader@hub.example")["token"]
        a.call("peer", name="B", url=b_url, token=TOKEN, community=True, push=False, pull=False)
        b.call("peer", name="A", url=a_url, token=TOKEN, community=True, pull_interval=PULL_INTERVAL, push=False)
        # B's scheduler looks every 0.1 s for peers due (each pulled every 2 s); A's worker pushes.
        procs.append(
            start(
                [sys.executable, "manage.py", "federation_run", "--every", "0.1", "--no-push"],
                _env(db_b, "hub-b"),
                "hub-b-federation-run.log",
            )
        )
        procs.append(
            start(
                [sys.executable, "manage.py", "db_worker", "--queue-name", "*", "--interval", "0.05", "--no-reload"],
                _env(db_a, "hub-a"),
                "hub-a-worker.log",
            )
        )
        client = httpx.Client(headers={"authorization": f"Bearer {reader_token}"}, timeout=10)
        readable_after(a, client, b_url, "warm-up")  # first requests import and warm both hubs

        pulled = []
        for i in range(args.alerts):
            time.sleep((i * 0.37) % PULL_INTERVAL)  # publish at different points of the pull cycle
            pulled.append(readable_after(a, client, b_url, f"pull {i}"))
            print(f"pull {i}: {pulled[-1]:.3f} s", flush=True)

        # Push: A sends as it publishes; B stops pulling, so only the push can bring it.
        a.call("peer", name="B", url=b_url, community=True, push=True, pull=False)
        b.call("peer", name="A", url=a_url, community=True, pull=False, push=False)
        time.sleep(PULL_INTERVAL + 0.5)
        readable_after(a, client, b_url, "push warm-up")
        pushed = []
        for i in range(args.alerts):
            time.sleep(0.2)
            pushed.append(readable_after(a, client, b_url, f"push {i}"))
            print(f"push {i}: {pushed[-1]:.3f} s", flush=True)
        result: dict[str, Any] = {
            "database": engine,
            "alerts": args.alerts,
            "pull_interval_s": PULL_INTERVAL,
            **{f"pull_{k}": v for k, v in summary(pulled).items()},
            **{f"push_{k}": v for k, v in summary(pushed).items()},
            "publish_p50_s": round(statistics.median(PUBLISH_SECONDS), 3),
            "load_average_1m": round(os.getloadavg()[0], 1),
        }
        result["pass"] = result["pull_max_s"] <= 5.0 and result["push_max_s"] <= 1.0
        args.out.write_text(json.dumps(result, indent=2))
        print(json.dumps(result))
    finally:
        for hub in hubs:
            hub.close()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
