"""TAXII read benchmark: page the whole ATT&CK Enterprise collection (24,771 objects) with limit=1000
over HTTP from the real server (uvicorn, one worker, loopback, a real API token), and the OASIS
reference server medallion 3.0.0 (memory backend) side by side on the same data.

Subcommands:
  measure  --label L --out F     load ATT&CK into the configured database (DATABASE_URL or SQLite),
                                 time the load and an idempotent re-load, serve, page, write a report
  medallion --out F              medallion on the ICS bundle (and Enterprise with --enterprise-timeout)
  summary  REPORT...             print the table and the JSON headline (last line)

The client is a plain httpx client that follows `next` and parses every page completely, as a consumer
would; objects/s = objects received / wall time of the full pass, first request to the last page
parsed. The headline parses with orjson (a fast consumer); the same passes parsed with the standard
library's json.loads are reported beside it, and the server's share (parse left out) too.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "attack"
ENTERPRISE = DATA / "enterprise-attack-18.1-stix20.json.gz"
ICS = DATA / "ics-attack-18.1.json"
TAXII = "application/taxii+json;version=2.1"
logging.getLogger("httpx").setLevel(logging.WARNING)
TARGET_OBJECTS_PER_S = 50_000
TARGET_P50_MS = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, auth: httpx.Auth | None = None, headers: dict | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, auth=auth, headers=headers, timeout=5).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"server at {url} did not come up")


def page_all(
    client: httpx.Client, url: str, limit: int = 1000, first_timeout: float = 60, loads: Any = orjson.loads
) -> dict:
    """One full pass: every page, parsed with `loads`; per-page latency (request to last byte, parse excluded)."""
    params: dict = {"limit": limit}
    latencies, ids = [], []
    started = time.perf_counter()
    first = True
    while True:
        t = time.perf_counter()
        r = client.get(url, params=params, timeout=first_timeout if first else 60)
        raw = r.content
        latencies.append(time.perf_counter() - t)
        first = False
        if r.status_code != 200:
            raise SystemExit(f"{url}: HTTP {r.status_code} {raw[:200]!r}")
        body = loads(raw)
        ids += [o["id"] for o in body.get("objects", [])]
        if not body.get("more"):
            break
        params = {"limit": limit, "next": body["next"]}
    total = time.perf_counter() - started
    return {"objects": len(ids), "unique": len(set(ids)), "seconds": total, "page_ms": [x * 1000 for x in latencies]}


def page_all_pipelined(client: httpx.Client, url: str, limit: int = 1000, loads: Any = orjson.loads) -> dict:
    """One full pass as a consumer that overlaps its parsing with the server's next page: the cursor
    is the previous page's `X-TAXII-Date-Added-Last` header sent as `added_after` (TAXII 2.1 §3.4.1,
    the paging that needs no body read), so a fetching thread asks for page N+1 while this thread
    parses page N. Every page is still parsed completely; the pass ends at the first empty page."""
    bodies: queue.Queue[bytes | None] = queue.Queue()
    failure: list[BaseException] = []

    def fetch() -> None:
        params: dict = {"limit": limit}
        try:
            while True:
                r = client.get(url, params=params)
                if r.status_code != 200:
                    raise SystemExit(f"{url}: HTTP {r.status_code} {r.content[:200]!r}")
                last = r.headers.get("X-TAXII-Date-Added-Last")
                if last is None:  # `{}`: nothing after the cursor
                    return
                bodies.put(r.content)
                params = {"limit": limit, "added_after": last}
        except BaseException as exc:  # handed to the parsing thread, which raises it
            failure.append(exc)
        finally:
            bodies.put(None)

    ids: list[str] = []
    started = time.perf_counter()
    fetcher = threading.Thread(target=fetch, name="taxii-fetch")
    fetcher.start()
    more = True
    while (raw := bodies.get()) is not None:
        body = loads(raw)
        ids += [o["id"] for o in body["objects"]]
        more = body["more"]
    fetcher.join()
    total = time.perf_counter() - started
    if failure:
        raise failure[0]
    assert not more, "the last page said more"
    return {"objects": len(ids), "unique": len(set(ids)), "seconds": total}


def _passes(client: httpx.Client, url: str, repeat: int) -> dict:
    page_all(client, url)  # warm-up
    runs = [page_all(client, url) for _ in range(repeat)]
    stdlib = [page_all(client, url, loads=json.loads) for _ in range(max(1, repeat // 2))]
    pipelined = [page_all_pipelined(client, url) for _ in range(repeat)]
    pages = [ms for run in runs for ms in run["page_ms"]]
    rates = [run["objects"] / run["seconds"] for run in runs]
    return {
        "objects": runs[0]["objects"],
        "unique": runs[0]["unique"],
        "pages": len(runs[0]["page_ms"]),
        "objects_per_s": statistics.median(rates),
        "objects_per_s_runs": [round(r) for r in rates],
        # The same passes parsed with the standard library's json.loads (a slower consumer).
        "objects_per_s_stdlib_json": statistics.median(run["objects"] / run["seconds"] for run in stdlib),
        "objects_per_s_pipelined": statistics.median(run["objects"] / run["seconds"] for run in pipelined),
        "pipelined_unique": min(run["unique"] for run in pipelined),
        # The server's share: objects / time from request to last byte, the client's json.loads left out.
        "objects_per_s_server": statistics.median(run["objects"] / (sum(run["page_ms"]) / 1000) for run in runs),
        "p50_page_ms": statistics.median(pages),
        "p95_page_ms": sorted(pages)[int(0.95 * (len(pages) - 1))],
    }


def reader_token(name: str) -> str:
    """The reader of the TAXII benchmarks (this one and cpu_probe.py): the planner's statistics for the
    loaded objects (PostgreSQL), and an API token of a vetted member of a bench county."""
    from django.db import connection

    from commonguard.accounts.models import Membership, Role, User
    from commonguard.accounts.services import token_create
    from commonguard.orgs.models import Organization

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE interop_stixobject")
    org, _ = Organization.objects.get_or_create(
        name="Bench County", defaults={"kind": "county", "state": "MI", "status": "approved"}
    )
    user, _ = User.objects.get_or_create(email="taxii-bench@example.test", defaults={"full_name": "TAXII bench"})
    Membership.objects.get_or_create(
        user=user, organization=org, defaults={"role": Role.MEMBER, "status": Membership.Status.APPROVED}
    )
    return token_create(actor=user, name=name)[1]


def measure(args: argparse.Namespace) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commonguard.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from commonguard.interop.collections import reference_collection
    from commonguard.interop.management.commands.stix_load_attack import load

    call_command("migrate", interactive=False, verbosity=0)
    loads = {}
    for alias, path in (("attack-enterprise", ENTERPRISE), ("attack-ics", ICS)):
        added, unchanged, seconds = load(alias, path)
        again_added, again_unchanged, again_seconds = load(alias, path)
        assert again_added == 0, "re-load wrote objects"
        loads[alias] = {
            "added": added,
            "already_held": unchanged,
            "load_s": round(seconds, 2),
            "reload_s": round(again_seconds, 2),
            "reload_objects_per_s": round((again_added + again_unchanged) / again_seconds),
        }
    secret = reader_token("bench")
    collections = {alias: str(reference_collection(alias).uuid) for alias in ("attack-enterprise", "attack-ics")}
    connection.close()

    port = _free_port()
    env = {**os.environ}
    server = subprocess.Popen(
        [
            str(REPO / ".venv/bin/uvicorn"),
            "commonguard.asgi:application",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{base}/healthz")
        # The client is a process of its own, as a consumer is: this one holds what the load left in
        # its heap, which the collector would walk again and again while the pages are parsed.
        reader = subprocess.run(
            [sys.executable, __file__, "read", "--base", base, "--repeat", str(args.repeat)]
            + [f"{alias}={cid}" for alias, cid in collections.items()],
            env={**os.environ, "BENCH_TAXII_TOKEN": secret},
            check=True,
            capture_output=True,
            text=True,
        )
        results = json.loads(reader.stdout.splitlines()[-1])
    finally:
        server.terminate()
        server.wait(10)
    report = {"label": args.label, "load": loads, "read": results}
    Path(args.out).write_text(json.dumps(report, indent=2))
    _print_report(report)


def read(args: argparse.Namespace) -> None:
    """The passes over each collection (`alias=uuid`), as one JSON object on stdout."""
    headers = {"Accept": TAXII, "Authorization": f"Bearer {os.environ['BENCH_TAXII_TOKEN']}"}
    with httpx.Client(base_url=args.base, headers=headers, timeout=60) as client:
        results = {
            alias: _passes(client, f"/taxii2/api/collections/{cid}/objects/", args.repeat)
            for alias, cid in (pair.split("=", 1) for pair in args.collections)
        }
    print(json.dumps(results))


def _medallion_data(bundle: Path, base: str, collection_id: str) -> dict:
    opener = gzip.open if bundle.suffix == ".gz" else open
    with opener(bundle, "rt", encoding="utf-8") as handle:
        objects = json.load(handle)["objects"]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    manifest = []
    for i, obj in enumerate(objects):
        obj.setdefault("spec_version", "2.1")  # medallion serves 2.1 only; enough for a read benchmark
        added = (start + timedelta(microseconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        manifest.append(
            {
                "id": obj["id"],
                "date_added": added,
                "version": obj.get("modified", obj.get("created", added)),
                "media_type": "application/stix+json;version=2.1",
            }
        )
    return {
        "/discovery": {"title": "medallion bench", "default": f"{base}/api1/", "api_roots": [f"{base}/api1/"]},
        "api1": {
            "information": {"title": "bench", "versions": [TAXII], "max_content_length": 104857600},
            "status": [],
            "collections": [
                {
                    "id": collection_id,
                    "title": bundle.name,
                    "can_read": True,
                    "can_write": False,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": objects,
                    "manifest": manifest,
                }
            ],
        },
    }


def _medallion_run(bundle: Path, repeat: int, first_timeout: float) -> dict:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    collection_id = "365fed99-08fa-4dcd-a1b3-fb247eb41d01"
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.json"
        data.write_text(json.dumps(_medallion_data(bundle, base, collection_id)))
        config = Path(tmp) / "config.json"
        config.write_text(
            json.dumps(
                {
                    "backend": {
                        "module": "medallion.backends.memory_backend",
                        "module_class": "MemoryBackend",
                        "filename": str(data),
                    },
                    "users": {"bench": "bench-password"},
                    "taxii": {"max_page_size": 1000},
                }
            )
        )
        server = subprocess.Popen(
            [str(REPO / ".venv/bin/medallion"), "--host", "127.0.0.1", "--port", str(port), str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        auth = httpx.BasicAuth("bench", "bench-password")
        try:
            _wait(f"{base}/taxii2/", auth=auth, headers={"Accept": TAXII})
            with httpx.Client(base_url=base, auth=auth, headers={"Accept": TAXII}, timeout=60) as client:
                url = f"/api1/collections/{collection_id}/objects/"
                try:
                    runs = [page_all(client, url, first_timeout=first_timeout) for _ in range(repeat)]
                except httpx.TimeoutException:
                    return {"finished": False, "timeout_s": first_timeout}
        finally:
            server.terminate()
            server.wait(10)
    pages = [ms for run in runs for ms in run["page_ms"]]
    return {
        "finished": True,
        "objects": runs[0]["objects"],
        "objects_per_s": statistics.median(run["objects"] / run["seconds"] for run in runs),
        "p50_page_ms": statistics.median(pages),
        "first_page_ms": statistics.median(run["page_ms"][0] for run in runs),
    }


def medallion(args: argparse.Namespace) -> None:
    report = {"ics": _medallion_run(ICS, args.repeat, first_timeout=300)}
    if args.enterprise_timeout > 0:
        report["enterprise"] = _medallion_run(ENTERPRISE, 1, first_timeout=args.enterprise_timeout)
    Path(args.out).write_text(json.dumps(report, indent=2))
    for name, result in report.items():
        if result["finished"]:
            print(
                f"medallion {name}: {result['objects']} objects, {result['objects_per_s']:,.0f} objects/s, "
                f"first page {result['first_page_ms']:.0f} ms, p50 page {result['p50_page_ms']:.1f} ms"
            )
        else:
            print(f"medallion {name}: no first page within {result['timeout_s']:.0f} s (not finished)")


def _print_report(report: dict) -> None:
    print(f"-- {report['label']}")
    for alias, load in report["load"].items():
        print(
            f"   load {alias}: {load['added']} added in {load['load_s']} s; "
            f"re-load {load['reload_s']} s ({load['reload_objects_per_s']:,} objects/s, nothing written)"
        )
    for alias, read in report["read"].items():
        print(
            f"   read {alias}: {read['objects']} objects ({read['unique']} unique) in {read['pages']} pages: "
            f"{read['objects_per_s']:,.0f} objects/s (runs {read['objects_per_s_runs']}), "
            f"p50 page {read['p50_page_ms']:.1f} ms, p95 {read['p95_page_ms']:.1f} ms; "
            f"{read.get('objects_per_s_server', 0):,.0f} objects/s without the client's parse, "
            f"{read.get('objects_per_s_stdlib_json', 0):,.0f} objects/s parsed with json.loads, "
            f"{read.get('objects_per_s_pipelined', 0):,.0f} objects/s pipelined on added_after"
        )


def summary(args: argparse.Namespace) -> None:
    ours = {}
    med = None
    for path in args.reports:
        report = json.loads(Path(path).read_text())
        if "label" in report:
            ours[report["label"]] = report
        else:
            med = report
    for report in ours.values():
        _print_report(report)
    headline: dict = {}
    if ours:
        worst = min(ours.values(), key=lambda r: r["read"]["attack-enterprise"]["objects_per_s"])
        enterprise = worst["read"]["attack-enterprise"]
        headline = {
            "objects": enterprise["objects"],
            "objects_per_s": round(enterprise["objects_per_s"]),
            "p50_page_ms": round(max(r["read"]["attack-enterprise"]["p50_page_ms"] for r in ours.values()), 1),
            "slowest_database": worst["label"],
        }
        for label, report in ours.items():
            headline[f"{label}_objects_per_s"] = round(report["read"]["attack-enterprise"]["objects_per_s"])
            headline[f"{label}_p50_page_ms"] = round(report["read"]["attack-enterprise"]["p50_page_ms"], 1)
            headline[f"{label}_objects_per_s_server"] = round(
                report["read"]["attack-enterprise"].get("objects_per_s_server", 0)
            )
            headline[f"{label}_objects_per_s_stdlib_json"] = round(
                report["read"]["attack-enterprise"].get("objects_per_s_stdlib_json", 0)
            )
            headline[f"{label}_objects_per_s_pipelined"] = round(
                report["read"]["attack-enterprise"].get("objects_per_s_pipelined", 0)
            )
    if med is not None and med["ics"]["finished"] and ours:
        ours_ics = min(r["read"]["attack-ics"]["objects_per_s"] for r in ours.values())
        headline["medallion_collection"] = "ics (1,826 objects)"
        headline["medallion_objects_per_s"] = round(med["ics"]["objects_per_s"])
        headline["ours_ics_objects_per_s"] = round(ours_ics)
        headline["ratio"] = round(ours_ics / med["ics"]["objects_per_s"], 1)
        if "enterprise" in med:
            headline["medallion_enterprise_finished"] = med["enterprise"]["finished"]
        print(
            f"medallion on ICS: {med['ics']['objects_per_s']:,.0f} objects/s vs ours {ours_ics:,.0f}: "
            f"ratio {headline['ratio']}"
        )
    if args.skipped:
        headline["skipped"] = args.skipped
    headline["pass"] = bool(ours) and (
        headline["objects_per_s"] >= TARGET_OBJECTS_PER_S and headline["p50_page_ms"] < TARGET_P50_MS
    )
    print(json.dumps(headline))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--label", required=True)
    m.add_argument("--out", required=True)
    m.add_argument("--repeat", type=int, default=5)
    r = sub.add_parser("read")
    r.add_argument("--base", required=True)
    r.add_argument("--repeat", type=int, default=5)
    r.add_argument("collections", nargs="+", help="alias=uuid")
    md = sub.add_parser("medallion")
    md.add_argument("--out", required=True)
    md.add_argument("--repeat", type=int, default=3)
    md.add_argument(
        "--enterprise-timeout",
        type=float,
        default=0,
        help="also try medallion on Enterprise, giving its first page this many seconds (0: skip)",
    )
    s = sub.add_parser("summary")
    s.add_argument("reports", nargs="+")
    s.add_argument("--skipped", default="")
    args = parser.parse_args()
    {"measure": measure, "read": read, "medallion": medallion, "summary": summary}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
