"""Publishing while a big import runs: time `alert_publish` of a TLP:GREEN alert (its outbox write to
a few hundred organisations included) N times alone, then N times while another process pulls a
100,000-indicator feed over and over (each pull replaces all 100,000: the heaviest write an import
does). Prints p50/p95 both ways and the ratio; the last line is one JSON object.

Real parts: PostgreSQL (DATABASE_URL from run.sh), the project's own services and feed pull.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commonguard.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.core.management import call_command  # noqa: E402

from commonguard.accounts.models import Membership, Role, User  # noqa: E402
from commonguard.core.tlp import TLP  # noqa: E402
from commonguard.feeds.models import Feed  # noqa: E402
from commonguard.feeds.services import FeedInput, feed_pull, feed_save  # noqa: E402
from commonguard.orgs.models import Organization  # noqa: E402
from commonguard.sharing.models import Alert  # noqa: E402
from commonguard.sharing.services import AlertInput, alert_publish, alert_save_draft  # noqa: E402
from commonguard.sharing.warninglists import warm  # noqa: E402

OUT = REPO / "var" / "bench"


def indicator_files(n: int) -> tuple[Path, Path]:
    """Two lists of n valid indicators with nothing in common (half domains, half public IPv4s):
    alternating them makes every pull delete n rows and insert n rows."""
    paths = []
    for variant in (0, 1):
        path = OUT / f"import-{n}-{variant}.txt"
        if not path.exists():
            half = n // 2
            lines = [f"host{i}-{variant}.bench-malware.example" for i in range(half)]
            # 45.137.0.0/16 and 91.92.0.0/16 (variant 0 / 1) hold 65,536 addresses each; go on in the next /16s.
            base = (45 << 24 | 137 << 16) if variant == 0 else (91 << 24 | 92 << 16)
            lines += [".".join(str((base + i) >> s & 255) for s in (24, 16, 8, 0)) for i in range(n - half)]
            path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths[0], paths[1]


def seed(orgs: int) -> tuple[User, Organization, User, Organization]:
    call_command("migrate", verbosity=0)
    run = int(time.time())
    password = make_password(None)
    created = Organization.objects.bulk_create(
        Organization(
            name=f"Bench Town {run}-{i}", kind="township", state="MI", status="approved", source_key=f"bpi:{run}:{i}"
        )
        for i in range(orgs + 1)
    )
    people = User.objects.bulk_create(
        User(email=f"p{i}.{run}@bench.example", full_name=f"Person {i}", password=password) for i in range(orgs + 1)
    )
    Membership.objects.bulk_create(
        Membership(user=u, organization=o, role=Role.ORG_ADMIN if i == 0 else Role.MEMBER, status="approved")
        for i, (u, o) in enumerate(zip(people, created, strict=True))
    )
    return people[0], created[0], people[1], created[1]


def burner(files: list[str], ready: str) -> None:
    """The control: the same Python work as a pull (read and validate 100,000 values) with no
    database writes, so that CPU contention on a small machine can be told apart from locking."""
    from commonguard.feeds import sources
    from commonguard.sharing.imports import parse_bulk

    warm()
    n = 0
    while True:
        parse_bulk(sources.text_rows(Path(files[n % 2]).read_text(), None))
        n += 1
        Path(ready).write_text(str(n))


def importer(feed_id: int, files: list[str], ready: str) -> None:
    """Pull the feed again and again, alternating the two lists, until killed."""
    warm()
    feed = Feed.objects.get(pk=feed_id)
    n = 0
    while True:
        Feed.objects.filter(pk=feed_id).update(source=files[n % 2])
        feed.refresh_from_db()
        started = time.perf_counter()
        result = feed_pull(feed)
        n += 1
        Path(ready).write_text(str(n))
        print(f"import {n}: +{result.added:,} -{result.removed:,} in {time.perf_counter() - started:.2f} s", flush=True)


def publish_times(author: User, org: Organization, count: int) -> list[float]:
    times = []
    for i in range(count):
        draft = alert_save_draft(
            actor=author,
            author_org=org,
            data=AlertInput(
                title=f"Bench alert {i}",
                summary="Spear-phishing wave.",
                category=Alert.Category.PHISHING,
                tlp=TLP.GREEN,
                indicators=[("domain", f"lure{i}.bench-phish.example")],
            ),
        )
        started = time.perf_counter()
        alert_publish(actor=author, alert=draft)
        times.append(time.perf_counter() - started)
    return times


LOCK_WAITS: dict[str, int] = {}


class LockSampler(threading.Thread):
    """Every 5 ms, asks PostgreSQL whether any backend is waiting for a lock (pg_stat_activity):
    the direct evidence of lock contention between the publisher and the importer."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.waits = 0

    def run(self) -> None:
        import psycopg

        with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
            while not self.stop.is_set():
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                ).fetchone()
                self.waits += int(row[0]) if row else 0
                time.sleep(0.005)


def alongside(
    role: str, feed: Feed, files: tuple[Path, Path], author: User, org: Organization, count: int, nice: int = 0
) -> tuple[list[float], int]:
    """Publish `count` times while another process runs `role` (importer or burner) in a loop, at
    CPU priority `nice` (as `make run` starts the worker that takes imports)."""
    ready = OUT / f"publish-import.{role}.ready"
    ready.unlink(missing_ok=True)
    command = ["nice", "-n", str(nice), sys.executable, __file__, "--role", role, "--feed", str(feed.pk)]
    command += ["--ready", str(ready)]
    proc = subprocess.Popen([*command, "--files", *map(str, files)])
    try:
        while not ready.exists():  # importer: its first pull (100,000 inserts) is done; from now on each
            time.sleep(0.05)  # pull deletes and inserts 100,000 rows in one transaction
            if proc.poll() is not None:
                raise SystemExit(f"the {role} stopped")
        sampler = LockSampler()
        sampler.start()
        times = publish_times(author, org, count)
        sampler.stop.set()
        sampler.join()
        LOCK_WAITS[role] = sampler.waits
        return times, int(ready.read_text() or 0)
    finally:
        proc.terminate()
        proc.wait()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", default="main")
    parser.add_argument("--feed", type=int, default=0)
    parser.add_argument("--files", nargs=2, default=[])
    parser.add_argument("--ready", default="")
    parser.add_argument("--indicators", type=int, default=100_000)
    parser.add_argument("--orgs", type=int, default=300)
    parser.add_argument("--publishes", type=int, default=40)
    args = parser.parse_args()
    if args.role == "importer":
        importer(args.feed, args.files, args.ready)
        return
    if args.role == "burner":
        burner(args.files, args.ready)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    files = indicator_files(args.indicators)
    admin, admin_org, author, org = seed(args.orgs)
    feed = feed_save(
        actor=admin,
        data=FeedInput(name=f"Bench {time.time()}", source=str(files[0]), format="text", owner=admin_org, tlp="green"),
    )
    warm()
    publish_times(author, org, 5)  # warm-up (connections, caches)
    alone = publish_times(author, org, args.publishes)
    control, _ = alongside("burner", feed, files, author, org, args.publishes)
    during, pulls_during = alongside("importer", feed, files, author, org, args.publishes)
    niced, _ = alongside("importer", feed, files, author, org, args.publishes, nice=10)
    figures = {
        "publishes": args.publishes,
        "recipient_orgs": args.orgs,
        "import_indicators": args.indicators,
        "alone_p50_ms": round(pct(alone, 0.5) * 1000, 1),
        "alone_p95_ms": round(pct(alone, 0.95) * 1000, 1),
        "during_import_p50_ms": round(pct(during, 0.5) * 1000, 1),
        "during_import_p95_ms": round(pct(during, 0.95) * 1000, 1),
        "ratio_p50": round(pct(during, 0.5) / pct(alone, 0.5), 2),
        "ratio_p95": round(pct(during, 0.95) / pct(alone, 0.95), 2),
        "cpu_only_p50_ms": round(pct(control, 0.5) * 1000, 1),
        "cpu_only_p95_ms": round(pct(control, 0.95) * 1000, 1),
        "ratio_p50_vs_cpu_only": round(pct(during, 0.5) / pct(control, 0.5), 2),
        "during_niced_import_p50_ms": round(pct(niced, 0.5) * 1000, 1),
        "during_niced_import_p95_ms": round(pct(niced, 0.95) * 1000, 1),
        "ratio_p50_niced": round(pct(niced, 0.5) / pct(alone, 0.5), 2),
        "ratio_p95_niced": round(pct(niced, 0.95) / pct(alone, 0.95), 2),
        "import_pulls_completed": pulls_during,
        "lock_wait_samples_during_import": LOCK_WAITS.get("importer", 0),
        "max_during_ms": round(max(during) * 1000, 1),
        "mean_alone_ms": round(statistics.mean(alone) * 1000, 1),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
