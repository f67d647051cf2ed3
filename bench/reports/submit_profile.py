"""The submit path without a server or a client: submissions through Django's test client with the
middleware a token call gets when served (the lanes' chain, ADR 36), token authentication and DRF,
on the database of DATABASE_URL (use a fresh one: the benchmark's seed deletes its earlier rows,
which the append-only audit trail refuses). Prints the
queries of one submission, the query counts, the Python CPU per submission next to an authenticated
GET that answers 404 (the framework's floor), and optionally a cProfile (`--profile N` rows).

    source scripts/pg-throwaway.sh; pg_throwaway_start
    DATABASE_URL=$PG_THROWAWAY_URL COMMONGUARD_DEMO=1 .venv/bin/python bench/reports/submit_profile.py --show-queries
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reports
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=22)
    parser.add_argument("--show-queries", action="store_true")
    parser.add_argument("--profile", type=int, default=0, help="print the top N functions by cumulative time")
    args = parser.parse_args()
    settings.ALLOWED_HOSTS = ["*"]
    settings.MIDDLEWARE = settings.API_MIDDLEWARE  # what token calls run through under uvicorn
    warm_n = 11  # one per state of the mix: fills each state's rule table
    work = reports.seed(warm_n + 2 * args.submissions)
    client = Client()

    def post(key: str, body: dict) -> int:
        response = client.post(
            "/api/v1/incident-reports/",
            data=json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {key}",
        )
        return int(response.status_code)

    for key, body in work[:warm_n]:
        assert post(key, body) == 201
    counts, cpu, wall = set(), [], []
    measured = work[warm_n : warm_n + args.submissions]
    for i, (key, body) in enumerate(measured):
        with CaptureQueriesContext(connection) as queries:
            t, c = time.perf_counter(), time.thread_time()
            assert post(key, body) == 201
            cpu.append(time.thread_time() - c)
            wall.append(time.perf_counter() - t)
        counts.add(len(queries.captured_queries))
        if args.show_queries and i == 0:
            for q in queries.captured_queries:
                print(q["time"], q["sql"][:160])
    floor = []
    for _ in range(30):
        c = time.thread_time()
        client.get(
            "/api/v1/incident-reports/00000000-0000-0000-0000-000000000000/",
            HTTP_AUTHORIZATION=f"Bearer {work[0][0]}",
        )
        floor.append(time.thread_time() - c)
    result = {
        "queries_per_submission": sorted(counts),
        "python_cpu_ms_median": round(statistics.median(cpu) * 1000, 2),
        "wall_ms_median": round(statistics.median(wall) * 1000, 2),
        "floor_get_404_cpu_ms_median": round(statistics.median(floor) * 1000, 2),
    }
    if args.profile:
        profiler = cProfile.Profile(time.thread_time)  # CPU, not the wait for PostgreSQL
        profiler.enable()
        for key, body in work[warm_n + args.submissions :]:
            post(key, body)
        profiler.disable()
        pstats.Stats(profiler).sort_stats(__import__("os").environ.get("SORT", "cumulative")).print_stats(args.profile)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
