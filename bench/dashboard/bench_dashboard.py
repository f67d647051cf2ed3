"""State dashboard benchmark: server time of the dashboard (every layer, page, JSON, CSV, API) and
the time Chromium takes to draw the county map, for a state of 1,700 local governments with five
years of data.

    bench_dashboard.py measure --label sqlite --out var/bench/dashboard-sqlite.json
    bench_dashboard.py summary var/bench/dashboard-sqlite.json [var/bench/dashboard-postgresql.json]

`measure` prepares the database named by the environment (COMMONGUARD_SQLITE_PATH or DATABASE_URL):
migrate; seed Michigan from the Census files (1,662 local governments) and pad to exactly 1,700
with synthetic special districts; then five years of data, deterministic: 1,200 alerts a year with
sightings, an approved member in 60 % of local governments (participation), relationship-survey
answers from about half of them each year, and CSF self-assessments (106 scores each) from 60 %.
It signs in a state liaison, times every dashboard request in-process (Django's test client: the
server's time, without the network), then starts uvicorn and opens the dashboard in headless
Chromium, reading when the map was drawn (performance.now() at the draw, from navigation start).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TARGET_LOCAL_GOVERNMENTS = 1_700
YEARS = 5
ALERTS_PER_YEAR = 1_200
TARGET_SERVER_MS = 500.0
TARGET_MAP_MS = 1_000.0
SEED_MARK = "bench:dashboard:seeded"
LIAISON = "dashboard.bench@bench.invalid"
REPEATS = 5
LAYERS = ("alerts", "sightings", "participation", "survey", "posture")
CHROMIUM = Path("/usr/bin/chromium")


def setup_django() -> None:
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commonguard.settings")
    import django

    django.setup()


def seed() -> dict[str, Any]:
    from django.conf import settings
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from commonguard.accounts.models import Membership, Role, User
    from commonguard.measurement.models import (
        Assessment,
        AssessmentScore,
        CsfSubcategory,
        SurveyResponse,
        size_band_for,
    )
    from commonguard.measurement.services import assessment_means
    from commonguard.orgs.models import Organization
    from commonguard.orgs.seeding import seed_state
    from commonguard.orgs.states import state_by_postal
    from commonguard.sharing.models import Alert, Sighting

    call_command("migrate", verbosity=0)
    if Organization.objects.filter(source_key=SEED_MARK).exists():
        return {"seeded": False}
    started = time.perf_counter()
    state = state_by_postal("MI")
    seed_state(state, shared_data=settings.COMMONGUARD_SHARED_DATA)
    local_kinds = Organization.LOCAL_GOVERNMENT_KINDS
    counties = list(Organization.objects.filter(state="MI", kind="county").order_by("county_fips"))
    have = Organization.objects.filter(state="MI", kind__in=local_kinds).count()
    rng = random.Random(1700)
    pad = [
        Organization(
            name=f"Bench Special District {i}",
            kind=Organization.Kind.SPECIAL_DISTRICT,
            state="MI",
            status=Organization.Status.APPROVED,
            county=(c := rng.choice(counties)),
            county_fips=c.county_fips,
            region_id=c.region_id,
            population=rng.randint(500, 30_000),
            source_key=f"bench:dashboard:district:{i}",
            search_name=f"bench special district {i}",
            sort_name=f"bench special district {i:05d}",
        )
        for i in range(max(0, TARGET_LOCAL_GOVERNMENTS - have))
    ]
    Organization.objects.bulk_create(pad)
    Organization.objects.filter(state="MI", kind__in=local_kinds).update(status=Organization.Status.APPROVED)
    local = list(Organization.objects.filter(state="MI", kind__in=local_kinds).order_by("id"))
    assert len(local) == TARGET_LOCAL_GOVERNMENTS, len(local)
    agency = Organization.objects.create(
        name="Bench State IT Agency", kind="state_agency", state="MI", status="approved", source_key=SEED_MARK
    )
    liaison = User.objects.create_user(email=LIAISON, password=None, full_name="Bench Liaison")
    Membership.objects.create(user=liaison, organization=agency, role=Role.STATE_LIAISON, status="approved")
    now = timezone.now()
    this_year = now.year
    years = list(range(this_year - YEARS + 1, this_year + 1))
    with transaction.atomic():
        members = [o for o in local if rng.random() < 0.6]
        users = User.objects.bulk_create(
            [User(email=f"member{o.pk}@bench.invalid", full_name=f"Member {o.pk}", password="!") for o in members]
        )
        Membership.objects.bulk_create(
            [
                Membership(
                    user=u,
                    organization=o,
                    role=Role.ORG_ADMIN,
                    status="approved",
                    requested_at=datetime(rng.choice(years), rng.randint(1, 12), 1, tzinfo=UTC),
                )
                for u, o in zip(users, members, strict=True)
            ]
        )
        user_of = {o.pk: u for u, o in zip(users, members, strict=True)}
        alerts = []
        for year in years:
            for _ in range(ALERTS_PER_YEAR):
                org = rng.choice(members)
                published = datetime(year, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 364 * 86400))
                if published > now:
                    published = now - timedelta(minutes=rng.randint(1, 100_000))
                alerts.append(
                    Alert(
                        title="Bench alert",
                        summary="Synthetic.",
                        category="phishing",
                        severity=rng.choice(["low", "medium", "high", "critical"]),
                        tlp=rng.choice(["clear", "green", "green", "amber"]),
                        author=user_of[org.pk],
                        author_org=org,
                        status="published",
                        version=1,
                        published_at=published,
                    )
                )
        alerts = Alert.objects.bulk_create(alerts, batch_size=2000)
        sightings = []
        for alert in alerts:
            for _ in range(rng.randint(0, 12)):
                org = rng.choice(members)
                sightings.append(
                    Sighting(
                        alert=alert,
                        organization=org,
                        user=user_of[org.pk],
                        kind="seen",
                        seen_at=alert.published_at + timedelta(hours=rng.randint(1, 400)),
                    )
                )
        Sighting.objects.bulk_create(sightings, batch_size=5000)
        answers = []
        for index, year in enumerate(years):
            for org in local:
                if rng.random() < 0.5:
                    answers.append(
                        SurveyResponse(
                            organization=org,
                            year=year,
                            state="MI",
                            region_id=org.region_id,
                            size_band=size_band_for(org.population),
                            county_fips=org.county_fips,
                            submitted_at=datetime(year, 2, 1, tzinfo=UTC),
                            **{
                                f: rng.choices(
                                    ["excellent", "fair", "poor"], [0.31 + 0.03 * index, 0.44, 0.25 - 0.03 * index]
                                )[0]
                                for f in ("information_sharing", "resource_sharing", "education_training")
                            },
                        )
                    )
        SurveyResponse.objects.bulk_create(answers, batch_size=5000)
    codes = list(CsfSubcategory.objects.values_list("code", flat=True))
    n_assessments = n_scores = 0
    for year in years:
        with transaction.atomic():
            batch = [o for o in local if rng.random() < 0.6]
            rows = Assessment.objects.bulk_create(
                [
                    Assessment(
                        organization=o, year=year, status="submitted", submitted_at=datetime(year, 6, 1, tzinfo=UTC)
                    )
                    for o in batch
                ]
            )
            scores = []
            for a in rows:
                level = rng.uniform(2.5, 5.0) + 0.2 * (year - years[0])
                pairs = [(c, max(1, min(7, round(level + rng.gauss(0, 0.8))))) for c in codes]
                a.overall, a.means = assessment_means(pairs)
                scores.extend(AssessmentScore(assessment=a, subcategory_id=c, score=s) for c, s in pairs)
            Assessment.objects.bulk_update(rows, ["overall", "means"], batch_size=1000)
            AssessmentScore.objects.bulk_create(scores, batch_size=10_000)
            n_assessments += len(rows)
            n_scores += len(scores)
    return {
        "seeded": True,
        "seconds": round(time.perf_counter() - started, 1),
        "alerts": len(alerts),
        "sightings": len(sightings),
        "survey_answers": len(answers),
        "assessments": n_assessments,
        "scores": n_scores,
    }


def signed_in_client() -> tuple[Any, str]:
    from django.conf import settings
    from django.test import Client
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from commonguard.accounts.models import User

    user = User.objects.get(email=LIAISON)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="bench", confirmed=True
    )
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    return client, client.cookies[settings.SESSION_COOKIE_NAME].value


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 1)


def measure_server(client: Any) -> dict[str, Any]:
    from commonguard.measurement.dashboard import dashboard_years

    years = dashboard_years()
    channels = {
        "page": "/measurement/dashboard/?layer={layer}&year={year}",
        "json": "/measurement/dashboard/data.json?layer={layer}&year={year}",
        "csv": "/measurement/dashboard/counties.csv?layer={layer}&year={year}",
        "api": "/api/v1/measurement/dashboard/?layer={layer}&year={year}",
    }
    timings: dict[str, list[float]] = {name: [] for name in channels}
    by_layer: dict[str, list[float]] = {layer: [] for layer in LAYERS}
    for layer in LAYERS:  # warm-up: first request of each kind
        client.get(channels["page"].format(layer=layer, year=years[-1]))
    for _ in range(REPEATS):
        for layer in LAYERS:
            for year in (years[0], years[-1]):
                for name, url in channels.items():
                    started = time.perf_counter()
                    response = client.get(url.format(layer=layer, year=year))
                    elapsed = (time.perf_counter() - started) * 1000
                    assert response.status_code == 200, (url, response.status_code)
                    timings[name].append(elapsed)
                    if name == "page":
                        by_layer[layer].append(elapsed)
    every = [t for v in timings.values() for t in v]
    # The first dashboard page a person opens also counts every trend (later ones reuse them for a minute).
    from django.core.cache import cache

    first: list[float] = []
    for layer in LAYERS:
        cache.clear()
        started = time.perf_counter()
        client.get(channels["page"].format(layer=layer, year=years[-1]))
        first.append((time.perf_counter() - started) * 1000)
    return {
        "first_page_max_ms": round(max(first), 1),
        "requests": len(every),
        "p50_ms": pct(every, 0.5),
        "p95_ms": pct(every, 0.95),
        "max_ms": round(max(every), 1),
        "by_channel": {
            k: {"p50_ms": pct(v, 0.5), "p95_ms": pct(v, 0.95), "max_ms": round(max(v), 1)} for k, v in timings.items()
        },
        "page_by_layer_p95_ms": {k: pct(v, 0.95) for k, v in by_layer.items()},
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure_map(session_cookie: str) -> dict[str, Any]:
    from django.conf import settings
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        return {"skipped": f"{CHROMIUM} not found"}
    subprocess.run(
        [str(REPO / ".venv" / "bin" / "python"), "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=REPO,
        check=True,
    )
    port = free_port()
    server = subprocess.Popen(
        [
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
        ],
        cwd=REPO,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        import urllib.request

        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        drawn: dict[str, list[float]] = {layer: [] for layer in LAYERS}
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
            ctx = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
            ctx.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session_cookie, "url": base}])
            ctx.set_default_timeout(60_000)
            ctx.set_default_navigation_timeout(60_000)
            page = ctx.new_page()
            page.goto("/measurement/dashboard/")  # warm: the atlas in the browser's cache, as for a returning user
            page.wait_for_selector("#dashboard-map.cg-map--drawn", timeout=20_000)
            for _ in range(REPEATS):
                for layer in LAYERS:
                    page.goto(f"/measurement/dashboard/?layer={layer}")
                    page.wait_for_selector("#dashboard-map.cg-map--drawn", timeout=20_000)
                    drawn[layer].append(float(page.locator("#dashboard-map").get_attribute("data-drawn-ms") or "nan"))
            cold_ctx = browser.new_context(base_url=base)
            cold_ctx.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session_cookie, "url": base}])
            cold = cold_ctx.new_page()
            cold.goto("/measurement/dashboard/")
            cold.wait_for_selector("#dashboard-map.cg-map--drawn", timeout=20_000)
            cold_ms = float(cold.locator("#dashboard-map").get_attribute("data-drawn-ms") or "nan")
            paths = cold.locator("#dashboard-map path.cg-county").count()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    every = [t for v in drawn.values() for t in v]
    return {
        "loads": len(every),
        "p50_ms": pct(every, 0.5),
        "p95_ms": pct(every, 0.95),
        "max_ms": round(max(every), 1),
        "cold_cache_ms": round(cold_ms, 1),
        "counties_drawn": paths,
        "by_layer_p50_ms": {k: pct(v, 0.5) for k, v in drawn.items()},
    }


def command_measure(args: argparse.Namespace) -> None:
    setup_django()
    from django.db import connection

    seeded = seed()
    if args.analyze and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    print(f"seed: {seeded}", flush=True)
    client, cookie = signed_in_client()
    server = measure_server(client)
    print(f"server: {json.dumps(server)}", flush=True)
    chromium = measure_map(cookie)
    print(f"map: {json.dumps(chromium)}", flush=True)
    report = {
        "label": args.label,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "database": connection.vendor,
        "local_governments": TARGET_LOCAL_GOVERNMENTS,
        "years": YEARS,
        "seed": seeded,
        "server": server,
        "map": chromium,
    }
    Path(args.out).write_text(json.dumps(report, indent=2))


def command_summary(args: argparse.Namespace) -> None:
    out: dict[str, Any] = {
        "bench": "dashboard",
        "local_governments": TARGET_LOCAL_GOVERNMENTS,
        "years": YEARS,
        "target_server_ms": TARGET_SERVER_MS,
        "target_map_ms": TARGET_MAP_MS,
    }
    ok = True
    for path in args.reports:
        report = json.loads(Path(path).read_text())
        label = report["label"]
        server, chromium = report["server"], report["map"]
        out[f"{label}_server_p95_ms"] = server["p95_ms"]
        out[f"{label}_server_max_ms"] = server["max_ms"]
        out[f"{label}_first_page_max_ms"] = server["first_page_max_ms"]
        out[f"{label}_load_average_1m"] = report.get("load_average_1m")
        ok = ok and server["p95_ms"] < TARGET_SERVER_MS
        if "skipped" not in chromium:
            out[f"{label}_map_p50_ms"] = chromium["p50_ms"]
            out[f"{label}_map_max_ms"] = chromium["max_ms"]
            out[f"{label}_map_cold_ms"] = chromium["cold_cache_ms"]
            ok = ok and chromium["p95_ms"] < TARGET_MAP_MS
    for i in range(0, len(args.skipped), 2):
        out[f"{args.skipped[i]}_skipped"] = args.skipped[i + 1]
    out["pass"] = ok
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--label", required=True)
    m.add_argument("--out", required=True)
    m.add_argument("--analyze", action="store_true")
    s = sub.add_parser("summary")
    s.add_argument("reports", nargs="*")
    s.add_argument("--skipped", nargs=2, action="extend", default=[])
    args = parser.parse_args()
    {"measure": command_measure, "summary": command_summary}[args.command](args)


if __name__ == "__main__":
    main()
