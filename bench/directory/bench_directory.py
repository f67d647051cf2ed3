"""Directory search benchmark: p50/p95/p99 of directory searches over 30,000 organisations.

    bench_directory.py measure --label sqlite --out var/bench/directory-sqlite.json
    bench_directory.py profile        # in-process: where the time goes (SQL, COUNT(*), page)
    bench_directory.py summary var/bench/directory-sqlite.json [var/bench/directory-postgresql.json]

`measure` prepares the database named by the environment (COMMONGUARD_SQLITE_PATH or
DATABASE_URL): migrate, seed every state from the Census files unless already seeded, pad to
exactly 30,000 organisations with synthetic special districts, and a vetted member to sign in
as. Then it starts the real server (uvicorn, one worker, loopback), signs in through the login
form, and sends a fixed, deterministic mix of directory searches one at a time: the full HTML
page, the htmx partial and the REST API (with a personal API token). `summary` prints the
headline of the reports as one JSON line. bench/directory/run.sh runs it all.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import math
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TARGET_ORGANIZATIONS = 30_000
TARGET_P95_MS = 100.0
SYNTHETIC_PREFIX = "bench:synthetic:"
SYNTHETIC_KINDS = (
    "Water Authority",
    "Fire Protection District",
    "Library District",
    "Transit Authority",
    "Drainage District",
    "Park District",
)
BENCH_EMAIL = "directory.bench@bench.invalid"
BENCH_PASSWORD = "directory-bench-only-password"  # a throwaway user in a throwaway database
SCENARIOS = ("html", "htmx", "api")
BUSY_WARNING_PCT = 10.0  # other processes' share of the CPUs above which figures are suspect
QUIET_PCT = 15.0  # total CPU use under which the machine counts as quiet before a scenario

# Name fragments people type into the search box, and common two-word searches.
WORDS = [
    "spring",
    "lake",
    "wash",
    "mount",
    "green",
    "port",
    "ville",
    "field",
    "wood",
    "river",
    "creek",
    "north",
    "saint",
    "fort",
    "mill",
    "grand",
    "oak",
    "union",
    "center",
    "frank",
]
PHRASES = [
    "grand rapids",
    "salt lake",
    "new york",
    "city of lans",
    "port hur",
    "green bay",
    "lake city",
    "mount pleasant",
    "san jose",
    "spring township",
    "west chester",
    "ann arbor",
    "water authority",
]
KINDS = ["city", "village", "township", "town", "county", "borough", "special_district"]
LETTERS = list("aeimnostz")


# --- preparing the database (runs inside Django) -----------------------------------------------


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commonguard.settings")
    sys.path.insert(0, str(REPO))
    import django

    django.setup()


def prepare(*, reseed: bool, analyze: bool) -> dict[str, Any]:
    """Migrate, seed (unless seeded), pad to 30,000, make the vetted bench user. Idempotent."""
    from django.core.management import call_command
    from django.db import connection

    from commonguard.orgs.models import Organization

    call_command("migrate", interactive=False, verbosity=0)
    census = Organization.objects.filter(source_key__startswith="census:")
    marker = seed_marker()
    fingerprint = seed_fingerprint()
    stale = marker is not None and census.exists() and (not marker.exists() or marker.read_text() != fingerprint)
    seeded = False
    if reseed or stale or not census.exists():
        why = "--reseed" if reseed else "the seeding code changed" if stale else "empty database"
        print(f"seeding every state from the Census files ({why}; 10-15 s)...", flush=True)
        started = time.perf_counter()
        call_command("seed_directory", state="ALL", stdout=io.StringIO())
        print(f"  {census.count()} Census organisations in {time.perf_counter() - started:.1f} s", flush=True)
        seeded = True
    else:
        print(f"reusing the seeded database ({census.count()} Census organisations)", flush=True)
    if marker is not None:
        marker.write_text(fingerprint)
    padded = pad_to_target()
    user = bench_user()
    token = bench_token(user)
    if analyze:
        # What PostgreSQL's autovacuum does within a minute or two of a bulk load (visibility map,
        # planner statistics): done here so that it does not run in the middle of the measurement.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    return {"seeded_now": seeded, "synthetic": padded, "token": token, "mix_inputs": mix_inputs()}


def seed_marker() -> Path | None:
    """Beside a kept SQLite database: the fingerprint of what seeded it (None for PostgreSQL)."""
    from django.db import connection

    if connection.vendor != "sqlite":
        return None
    return Path(f"{connection.settings_dict['NAME']}.seeded")


def seed_fingerprint() -> str:
    """Changes when the seeding code or the Census files change: the kept database is then
    seeded again (an idempotent upsert), so it never lags behind the code it benchmarks."""
    from django.conf import settings

    digest = hashlib.sha256()
    code = REPO / "commonguard" / "orgs"
    for path in [code / "seeding.py", code / "census.py", code / "states.py"]:
        digest.update(path.read_bytes())
    census = settings.COMMONGUARD_SHARED_DATA / "census"
    for path in sorted(census.glob("*")) if census.is_dir() else []:
        digest.update(f"{path.name}:{path.stat().st_size}:{path.stat().st_mtime_ns}".encode())
    return digest.hexdigest()


def pad_to_target() -> int:
    """Add (or remove) synthetic special districts so the directory holds exactly 30,000."""
    from django.db import transaction

    from commonguard.orgs.models import Organization

    synthetic = Organization.objects.filter(source_key__startswith=SYNTHETIC_PREFIX)
    with transaction.atomic():
        missing = TARGET_ORGANIZATIONS - Organization.objects.count()
        if missing < 0:
            extra = list(synthetic.order_by("-id").values_list("id", flat=True)[:-missing])
            if len(extra) < -missing:
                raise SystemExit(f"more than {TARGET_ORGANIZATIONS} real organisations: cannot pad down")
            Organization.objects.filter(id__in=extra).delete()
        elif missing > 0:
            counties = list(Organization.objects.filter(kind="county").order_by("county_fips"))
            taken = set(synthetic.values_list("source_key", flat=True))
            rows: list[Organization] = []
            n = 0
            while len(rows) < missing:
                if n >= len(counties) * len(SYNTHETIC_KINDS):
                    raise SystemExit(f"not enough synthetic names to pad {missing} organisations")
                county = counties[n % len(counties)]
                label = SYNTHETIC_KINDS[(n // len(counties)) % len(SYNTHETIC_KINDS)]
                key = f"{SYNTHETIC_PREFIX}{county.county_fips}:{label.lower().replace(' ', '-')}"
                n += 1
                if key in taken:
                    continue
                org = Organization(
                    name=f"{county.name} {label} (synthetic)",
                    kind=Organization.Kind.SPECIAL_DISTRICT,
                    status=Organization.Status.APPROVED,
                    state=county.state,
                    county=county,
                    county_fips=county.county_fips,
                    region=county.region,
                    time_zone=county.time_zone,
                    source_key=key,
                )
                org.refresh_search_fields()  # bulk_create does not call save()
                rows.append(org)
            Organization.objects.bulk_create(rows, batch_size=1000)
    total = Organization.objects.count()
    if total != TARGET_ORGANIZATIONS:
        raise SystemExit(f"padding failed: {total} organisations")
    return synthetic.count()


def bench_user() -> Any:
    """A vetted person: an approved member (role member: no second factor) of an approved county."""
    from django.conf import settings
    from django.utils import timezone

    from commonguard.accounts.models import Membership, Role, User
    from commonguard.orgs.models import Organization

    state = settings.COMMONGUARD_STATE
    org = Organization.objects.filter(kind="county", status="approved", state=state).order_by("county_fips").first()
    if org is None:
        raise SystemExit(f"no approved county of {state} to join: was the directory seeded?")
    user = User.objects.filter(email=BENCH_EMAIL).first()
    if user is None:
        user = User.objects.create_user(BENCH_EMAIL, BENCH_PASSWORD, full_name="Directory Bench")
    Membership.objects.get_or_create(
        user=user,
        organization=org,
        status=Membership.Status.APPROVED,
        defaults={"role": Role.MEMBER, "decided_at": timezone.now()},
    )
    return user


def bench_token(user: Any) -> str:
    """A fresh personal API token (the secret is shown once); earlier bench tokens are revoked."""
    from commonguard.accounts.models import ApiToken
    from commonguard.accounts.services import token_create, token_revoke

    for old in ApiToken.objects.filter(user=user, revoked_at__isnull=True):
        token_revoke(actor=user, token=old)
    _, secret = token_create(actor=user, name="directory bench")
    return secret


def mix_inputs() -> dict[str, list[Any]]:
    """Real ids and FIPS codes to search for, picked deterministically from the database."""
    from django.conf import settings

    from commonguard.orgs.models import Organization

    counties = Organization.objects.filter(kind="county")
    home = counties.filter(state=settings.COMMONGUARD_STATE).order_by("county_fips")
    places = Organization.objects.exclude(place_fips="").order_by("place_fips")
    return {
        # The page's county filter offers the deployment state's counties only.
        "county_ids": list(home.values_list("id", flat=True))[::7],
        "county_fips": list(counties.order_by("county_fips").values_list("county_fips", flat=True))[::157],
        "place_fips": list(places.values_list("place_fips", flat=True))[::997],
    }


def query_mix(inputs: dict[str, list[Any]], count: int, seed: int = 20_240_601) -> list[tuple[str, dict[str, Any]]]:
    """`count` (category, params) pairs. The same seed gives the same mix on every run and backend."""
    rng = random.Random(seed)  # a fixed, reproducible mix
    categories: list[tuple[str, int]] = [
        ("word", 30),
        ("two_words", 14),
        ("word_kind", 14),
        ("county", 10),
        ("letter", 10),
        ("fips", 10),
        ("next_page", 7),
        ("browse", 5),
    ]
    names = [c for c, _ in categories]
    weights = [w for _, w in categories]
    mix: list[tuple[str, dict[str, Any]]] = []
    for _ in range(count):
        category = rng.choices(names, weights)[0]
        params: dict[str, Any]
        if category == "word":
            params = {"q": rng.choice(WORDS)}
        elif category == "two_words":
            params = {"q": rng.choice(PHRASES)}
        elif category == "word_kind":
            params = {"q": rng.choice(WORDS), "kind": rng.choice(KINDS)}
        elif category == "county":
            params = {"county": rng.choice(inputs["county_ids"])}
            if rng.random() < 0.6:
                params["q"] = rng.choice(WORDS + LETTERS)
        elif category == "letter":
            params = {"q": rng.choice(LETTERS)}
        elif category == "fips":
            params = {"q": rng.choice(inputs["county_fips"] + inputs["place_fips"])}
        elif category == "next_page":
            params = {"q": rng.choice(LETTERS[:4] + WORDS[:6]), "page": rng.choice([2, 3])}
        else:
            params = {}
        mix.append((category, params))
    return mix


# --- the server and the client ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, log: Path) -> subprocess.Popen[bytes]:
    import httpx

    command = [
        str(REPO / ".venv" / "bin" / "uvicorn"),
        "commonguard.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(
        command, cwd=REPO, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}: see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_server(server)
    raise SystemExit(f"the server did not answer /healthz within 60 s: see {log}")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def sign_in(client: Any) -> None:
    page = client.get("/accounts/login/")
    page.raise_for_status()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if match is None:
        raise SystemExit("no CSRF token on the sign-in page")
    answer = client.post(
        "/accounts/login/",
        data={"username": BENCH_EMAIL, "password": BENCH_PASSWORD, "csrfmiddlewaretoken": match.group(1)},
        headers={"Referer": f"{client.base_url}accounts/login/"},
    )
    if answer.status_code != 302 or "sessionid" not in client.cookies:
        raise SystemExit(f"sign-in failed ({answer.status_code})")


_COUNT = re.compile(r'class="cg-count">([\d,]+) organisation')


def one_request(client: Any, scenario: str, params: dict[str, Any]) -> tuple[float, int]:
    """Send one search; return (milliseconds until the whole body is in, number of matches).
    Anything but the expected 200 answer stops the run: an error page must not pass for speed."""
    headers = {"HX-Request": "true"} if scenario == "htmx" else {}
    path = "/api/v1/organizations/" if scenario == "api" else "/organizations/"
    started = time.perf_counter()
    response = client.get(path, params=params, headers=headers)
    body = response.content
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{scenario} {params}: HTTP {response.status_code}")
    if scenario == "api":
        return elapsed, int(json.loads(body)["count"])
    found = _COUNT.search(response.text)
    if found is None or (scenario == "htmx") == (b"<html" in body):
        raise SystemExit(f"{scenario} {params}: not the expected page")
    return elapsed, int(found.group(1).replace(",", ""))


def stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pct(p: float) -> float:  # nearest rank
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    return {
        "n": len(ordered),
        "p50_ms": round(pct(50), 1),
        "p95_ms": round(pct(95), 1),
        "p99_ms": round(pct(99), 1),
        "max_ms": round(ordered[-1], 1),
        "mean_ms": round(statistics.fmean(ordered), 1),
    }


class CpuMeter:
    """How much of the machine's CPU went to processes other than the system under test (this
    client, the server, the PostgreSQL cluster and their children) while measuring: on a 2-core
    box a concurrent test run shows up straight in the tail."""

    def __init__(self, own_pids: list[int]) -> None:
        self.own_pids = set(own_pids)
        self.hz = os.sysconf("SC_CLK_TCK")
        self.cpus = os.cpu_count() or 1

    def own_cpu_s(self) -> float:
        """CPU seconds of the server and database processes and their children (reaped ones too)."""
        ticks = 0
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(entry.name) in self.own_pids:
                ticks += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
            elif int(fields[1]) in self.own_pids:
                ticks += int(fields[11]) + int(fields[12])
        return ticks / self.hz

    def snapshot(self) -> tuple[float, float, float, float] | None:
        try:
            with open("/proc/stat") as f:
                jiffies = [int(v) for v in f.readline().split()[1:9]]
        except OSError:
            return None
        busy = (sum(jiffies) - jiffies[3] - jiffies[4]) / self.hz
        return time.monotonic(), busy, self.own_cpu_s(), time.process_time()

    def wait_until_quiet(self, max_wait_s: float) -> float:
        """Wait (at most max_wait_s) for two quiet seconds in a row; return how long it waited."""
        started = last = time.monotonic()
        quiet_since = None
        previous = self.snapshot()
        while previous is not None and time.monotonic() - started < max_wait_s:
            time.sleep(0.5)
            current = self.snapshot()
            if current is None:
                break
            busy_pct = (current[1] - previous[1]) / ((current[0] - previous[0]) * self.cpus) * 100
            previous, last = current, time.monotonic()
            if busy_pct > QUIET_PCT:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = last
            elif last - quiet_since >= 2:
                break
        return round(last - started, 1)

    def other_pct(self, before: Any, after: Any) -> float | None:
        if before is None or after is None:
            return None
        wall, busy, server, client = (a - b for a, b in zip(after, before, strict=True))
        return round(max(0.0, busy - server - client) / (wall * self.cpus) * 100, 1)


def run_scenario(client: Any, scenario: str, mix: list[tuple[str, dict[str, Any]]], warmup: int) -> dict[str, Any]:
    for _, params in mix[:warmup]:
        one_request(client, scenario, params)
    samples: list[float] = []
    by_category: dict[str, list[float]] = {}
    matches = 0
    for category, params in mix[warmup:]:
        ms, found = one_request(client, scenario, params)
        samples.append(ms)
        by_category.setdefault(category, []).append(ms)
        matches += found
    return {
        **stats(samples),
        "mean_matches": round(matches / len(samples), 1),
        "by_category_p95_ms": {c: stats(v)["p95_ms"] for c, v in sorted(by_category.items())},
    }


def measure(args: argparse.Namespace) -> None:
    django_setup()
    import httpx
    from django.db import connection, connections

    from commonguard.orgs.models import Organization

    logging.getLogger("httpx").setLevel(logging.WARNING)
    started = time.perf_counter()
    prepared = prepare(reseed=args.reseed, analyze=args.analyze)
    organizations = Organization.objects.count()
    vendor = connection.vendor
    connections.close_all()
    prepare_s = time.perf_counter() - started

    mix = query_mix(prepared["mix_inputs"], args.requests + args.warmup)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = Path(args.out).with_suffix(".server.log")
    server = start_server(port, log)
    own = [server.pid]
    if args.db_pidfile:  # the postmaster's pid is the first line of postmaster.pid
        own.append(int(Path(args.db_pidfile).read_text().split()[0]))
    meter = CpuMeter(own)
    results: dict[str, Any] = {}
    try:
        # A person in a browser (session cookie, CSRF, sign-in form) and a machine with a token.
        browser = httpx.Client(base_url=base, timeout=30)
        machine = httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {prepared['token']}"})
        with browser, machine:
            sign_in(browser)
            for scenario in SCENARIOS:
                waited = meter.wait_until_quiet(args.max_wait)
                if waited > 3:
                    print(f"  waited {waited} s for other processes to quieten before {scenario}", flush=True)
                before = meter.snapshot()
                results[scenario] = run_scenario(machine if scenario == "api" else browser, scenario, mix, args.warmup)
                results[scenario]["other_cpu_pct"] = meter.other_pct(before, meter.snapshot())
    finally:
        stop_server(server)

    report = {
        "label": args.label,
        "vendor": vendor,
        "organizations": organizations,
        "synthetic": prepared["synthetic"],
        "seeded_now": prepared["seeded_now"],
        "analyzed": args.analyze,
        "prepare_s": round(prepare_s, 1),
        "measure_s": round(time.perf_counter() - started - prepare_s, 1),
        "scenarios": results,
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print_report(report)


def profile(args: argparse.Namespace) -> None:
    """Where a request's time goes, in-process (Django's test client, no HTTP): per scenario, the
    mean time, the SQL time and count, split into the paginator's COUNT(*), the page of results
    and everything else (session, user, MFA devices, viewer, form choices)."""
    django_setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from commonguard.accounts.models import User

    prepared = prepare(reseed=args.reseed, analyze=args.analyze)
    mix = query_mix(prepared["mix_inputs"], args.requests + args.warmup)
    browser = Client(HTTP_HOST="127.0.0.1")
    browser.force_login(User.objects.get(email=BENCH_EMAIL))
    machine = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {prepared['token']}")
    print(f"\n{connection.vendor}, in-process, {args.requests} requests per scenario (mean ms per request)")
    print(f"  {'scenario':<9}{'total':>8}{'sql':>8}{'count(*)':>10}{'page':>8}{'other':>8}{'queries':>9}")
    for scenario in SCENARIOS:
        client = machine if scenario == "api" else browser
        path = "/api/v1/organizations/" if scenario == "api" else "/organizations/"
        extra = {"HTTP_HX_REQUEST": "true"} if scenario == "htmx" else {}
        for _, params in mix[: args.warmup]:
            client.get(path, params, **extra)
        split = {"count": 0.0, "page": 0.0, "other": 0.0}
        queries = 0
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            for _, params in mix[args.warmup :]:
                if client.get(path, params, **extra).status_code != 200:
                    raise SystemExit(f"{scenario} {params}: not a 200")
        total = (time.perf_counter() - started) * 1000 / args.requests
        for query in captured.captured_queries:
            sql = query["sql"]
            part = "other"
            if '"orgs_organization"' in sql.split(" FROM ", 1)[-1][:40]:
                part = "count" if sql.startswith("SELECT COUNT(*)") else "page" if " LIMIT " in sql else "other"
            split[part] += float(query["time"]) * 1000 / args.requests
            queries += 1
        sql_ms = sum(split.values())
        print(
            f"  {scenario:<9}{total:>8.1f}{sql_ms:>8.1f}{split['count']:>10.1f}{split['page']:>8.1f}"
            f"{split['other']:>8.1f}{queries / args.requests:>9.1f}"
        )


def print_report(report: dict[str, Any]) -> None:
    print(
        f"\n{report['label']} ({report['vendor']}): {report['organizations']} organisations "
        f"({report['synthetic']} synthetic), prepared in {report['prepare_s']} s, measured in {report['measure_s']} s"
    )
    print(f"  {'scenario':<9}{'n':>5}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}{'mean':>8}  (ms)  other CPU")
    for name, s in report["scenarios"].items():
        other = "n/a" if s["other_cpu_pct"] is None else f"{s['other_cpu_pct']}%"
        print(
            f"  {name:<9}{s['n']:>5}{s['p50_ms']:>8}{s['p95_ms']:>8}{s['p99_ms']:>8}{s['max_ms']:>8}{s['mean_ms']:>8}"
            f"        {other}"
        )
    for name, s in report["scenarios"].items():
        slowest = sorted(s["by_category_p95_ms"].items(), key=lambda kv: -kv[1])
        print(f"  {name} p95 by kind of query (ms): " + ", ".join(f"{c} {v}" for c, v in slowest))
    busy = [s["other_cpu_pct"] for s in report["scenarios"].values() if s["other_cpu_pct"] is not None]
    if busy and max(busy) > BUSY_WARNING_PCT:
        print(
            f"  !! other processes used up to {max(busy)}% of the CPUs while measuring: "
            "these figures are pessimistic, measure again on a quiet machine"
        )


def summary(args: argparse.Namespace) -> None:
    headline: dict[str, Any] = {"benchmark": "directory", "organizations": None}
    passed = bool(args.reports)
    for path in args.reports:
        report = json.loads(Path(path).read_text())
        headline["organizations"] = report["organizations"]
        passed = passed and report["organizations"] == TARGET_ORGANIZATIONS
        figures: dict[str, Any] = {}
        for name, s in report["scenarios"].items():
            for key in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms"):
                figures[f"{name}_{key}"] = s[key]
            passed = passed and s["p95_ms"] < TARGET_P95_MS
        figures["requests_per_scenario"] = min(s["n"] for s in report["scenarios"].values())
        busy = [s["other_cpu_pct"] for s in report["scenarios"].values() if s["other_cpu_pct"] is not None]
        figures["other_cpu_pct_max"] = max(busy) if busy else None
        headline[report["label"]] = figures
    for label, reason in args.skipped or []:
        headline[label] = {"skipped": reason}
    headline["target_p95_ms"] = TARGET_P95_MS
    headline["pass"] = passed
    print(json.dumps(headline, separators=(",", ":")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure", help="prepare the database named by the environment, serve it, measure")
    m.add_argument("--label", required=True, help="sqlite or postgresql: the key in the summary")
    m.add_argument("--out", required=True, help="where to write the JSON report")
    m.add_argument("--requests", type=int, default=320, help="measured requests per scenario (default 320)")
    m.add_argument("--warmup", type=int, default=20, help="unmeasured requests per scenario first (default 20)")
    m.add_argument(
        "--max-wait", type=float, default=20, help="seconds to wait for a quiet machine before each scenario"
    )
    m.add_argument("--db-pidfile", help="postmaster.pid of the PostgreSQL cluster, to count its CPU as ours")
    m.add_argument("--reseed", action="store_true", help="seed again even if the database is seeded")
    m.add_argument("--analyze", action="store_true", help="gather planner statistics (ANALYZE) before measuring")
    m.set_defaults(func=measure)
    p = sub.add_parser("profile", help="in-process: SQL time per request, COUNT(*) and page split")
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--reseed", action="store_true")
    p.add_argument("--analyze", action="store_true")
    p.set_defaults(func=profile)
    s = sub.add_parser("summary", help="print the headline of one or more reports as one JSON line")
    s.add_argument("reports", nargs="*")
    s.add_argument("--skipped", nargs=2, action="append", metavar=("LABEL", "REASON"))
    s.set_defaults(func=summary)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
