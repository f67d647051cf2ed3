"""Fan-out benchmark: publish one critical TLP:GREEN alert to N recipient organisations (one person
each: one e-mail and one live-feed delivery each; every tenth organisation also has a webhook) and
measure when each delivery arrived, relative to the publish's commit.

Real parts: PostgreSQL (DATABASE_URL), the project's own workers (`db_worker` processes), a real
SMTP server (aiosmtpd) and a real HTTP server in a separate process (sinks.py). E-mail and webhook
times are the receivers' clocks; live-feed times are when the worker handed the event to the web
processes (`Delivery.sent_at`). Prints one JSON object as its last line; draws the curve as a PNG.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commonguard.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from commonguard.accounts.models import Membership, Role, User  # noqa: E402
from commonguard.orgs.models import Organization  # noqa: E402
from commonguard.sharing.models import Alert, Delivery, Webhook  # noqa: E402
from commonguard.sharing.services import AlertInput, alert_publish, alert_save_draft  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(n: int, hook_url: str) -> tuple[User, Organization]:
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:  # a fresh run each time
        cursor.execute("TRUNCATE sharing_delivery, sharing_liveevent, django_tasks_database_dbtaskresult CASCADE")
    # Each run its own organisations and people; earlier runs' stay (their alerts refer to them), silenced.
    User.objects.filter(email__endswith="@bench.example").update(is_active=False)
    Webhook.objects.filter(organization__source_key__startswith="bench:").update(active=False)
    run = int(time.time())
    password = make_password(None)
    orgs = Organization.objects.bulk_create(
        Organization(
            name=f"Bench Township {run}-{i}",
            kind="township",
            state="MI",
            status="approved",
            source_key=f"bench:{run}:{i}",
            county_fips="26065",
        )
        for i in range(n + 1)
    )
    people = User.objects.bulk_create(
        User(email=f"p{i}.{run}@bench.example", full_name=f"Person {i}", password=password) for i in range(n + 1)
    )
    Membership.objects.bulk_create(
        Membership(user=u, organization=o, role=Role.MEMBER, status="approved")
        for u, o in zip(people, orgs, strict=True)
    )
    Webhook.objects.bulk_create(
        Webhook(organization=o, name="SIEM", url=hook_url, secret="s" * 64, max_tlp="green") for o in orgs[1::10]
    )
    if connection.vendor == "postgresql":  # what autovacuum would have done by the time anyone publishes
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return people[0], orgs[0]


def _raw_process(port: int, count: int, size: int, lanes: int) -> None:
    """One process sending `count` messages over `lanes` connections, a thread each (as a worker)."""
    import smtplib
    import threading

    body = b"From: bench@bench.example\r\nTo: r@bench.example\r\nSubject: calibration\r\n\r\n"
    body += (b"x" * 76 + b"\r\n") * max(1, size // 78)

    def lane(n: int) -> None:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for i in range(n):
                smtp.sendmail("bench@bench.example", [f"r{i}@bench.example"], body)

    threads = [threading.Thread(target=lane, args=(count // lanes,)) for _ in range(lanes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def smtp_ceiling(processes: int, lanes: int, messages: int = 8000, size: int = 6000) -> float:
    """Messages/s of a bare smtplib loop against the same sink, with as many processes and
    connections as the workers use and nothing else running: what this machine allows at all."""
    from concurrent.futures import ProcessPoolExecutor

    port = free_port()
    out = REPO / "var" / "bench" / "fanout-calibration.json"
    sink = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("sinks.py")), str(port), str(free_port()), str(out)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout is not None and sink.stdout.readline().strip() == "ready"
    per_process = messages // processes // lanes * lanes
    try:
        with ProcessPoolExecutor(processes) as pool:
            start = time.time()
            list(pool.map(_raw_process, *zip(*[(port, per_process, size, lanes)] * processes, strict=True)))
            elapsed = time.time() - start
    finally:
        sink.send_signal(signal.SIGTERM)
        sink.wait(30)
    return per_process * processes / elapsed


def png_curve(path: Path, times: list[float], title_total: int) -> None:
    """Deliveries over time (a step curve), drawn with the standard library only."""
    width, height, pad = 800, 400, 40
    t_max = max(times) or 1.0
    img = [[(255, 255, 255)] * width for _ in range(height)]
    for x in range(pad, width - pad):  # axes
        img[height - pad][x] = (0, 0, 0)
    for y in range(pad, height - pad + 1):
        img[y][pad] = (0, 0, 0)
    for s in range(int(t_max) + 1):  # a tick per second
        x = pad + int((width - 2 * pad) * s / t_max)
        for y in range(height - pad, height - pad + 6):
            img[y][min(x, width - 1)] = (0, 0, 0)
    ordered = sorted(times)
    n = len(ordered)
    for i, t in enumerate(ordered):
        x = pad + int((width - 2 * pad - 1) * t / t_max)
        y = height - pad - int((height - 2 * pad) * (i + 1) / n)
        for dy in range(2):
            img[max(pad, y - dy)][x] = (0, 94, 162)
    raw = b"".join(b"\x00" + b"".join(struct.pack("BBB", *px) for px in row) for row in img)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    png += chunk(b"tEXt", f"Title\x00{title_total} deliveries over {t_max:.1f} s (x: 1 s ticks)".encode())
    png += chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
    path.write_bytes(png)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=1700)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--png", default="")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    ceiling = smtp_ceiling(args.workers, int(os.environ.get("COMMONGUARD_SMTP_CONNECTIONS", "4")))
    smtp_port, http_port = free_port(), free_port()
    times_file = REPO / "var" / "bench" / f"fanout-sinks-{args.recipients}.json"
    sinks = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("sinks.py")), str(smtp_port), str(http_port), str(times_file)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sinks.stdout is not None and sinks.stdout.readline().strip() == "ready"
    author, author_org = seed(args.recipients, f"http://127.0.0.1:{http_port}/hook")
    hooks_of_bench = Webhook.objects.filter(active=True, organization__source_key__startswith="bench:")
    hooked = hooks_of_bench.latest("pk").organization
    env = {
        **os.environ,
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "COMMONGUARD_WEBHOOK_ALLOW_PRIVATE": "1",
        "COMMONGUARD_FANOUT_PARALLEL": str(args.workers),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
    }
    worker_cmd = [sys.executable, str(REPO / "manage.py"), "db_worker", "--queue-name", "*"]
    workers = [
        subprocess.Popen([*worker_cmd, "--interval", "0.05", "--no-reload"], env=env, cwd=REPO)
        for _ in range(args.workers)
    ]
    time.sleep(3)  # the workers are up and polling
    try:
        draft = alert_save_draft(
            actor=author,
            author_org=author_org,
            data=AlertInput(
                title="Benchmark: wiper spreading by e-mail",
                summary="Attachments named *invoice.pdf.exe*; block and report.",
                category=Alert.Category.MALWARE,
                severity=Alert.Severity.CRITICAL,
                tlp="green",
                indicators=[(None, "hxxp://bench-wiper[.]example/a.exe")],
            ),
        )
        # Web processes and workers run for days: one publish first (to one organisation with a
        # webhook: one delivery per channel) so that the measured one finds them warm.
        warm = alert_save_draft(
            actor=author,
            author_org=author_org,
            data=AlertInput(
                title="Warm-up",
                summary="Warm-up.",
                category=Alert.Category.OTHER,
                tlp="amber",
                recipient_orgs=[hooked],
            ),
        )
        alert_publish(actor=author, alert=warm)
        time.sleep(1)
        clicked = time.time()
        alert = alert_publish(actor=author, alert=draft)
        t0 = time.time()  # the publish has committed: the alert exists for its readers from here
        publish_s = t0 - clicked
        total = Delivery.objects.filter(alert=alert).count()
        deadline = time.time() + 300
        done = Delivery.objects.filter(alert=alert, status="sent")
        while time.time() < deadline and done.count() < total:
            time.sleep(0.05)
        finished = done.count()
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        sinks.send_signal(signal.SIGTERM)
        sinks.wait(30)
        for w in workers:
            w.wait(30)
    received = json.loads(times_file.read_text())
    app = [
        ts.timestamp() - t0
        for ts in Delivery.objects.filter(alert=alert, channel="app", status="sent").values_list("sent_at", flat=True)
    ]
    mail = [t - t0 for t in received["mail"] if t >= clicked]  # not the warm-up's
    hooks = [t - t0 for t in received["hook"] if t >= clicked]
    from django_tasks_db.models import DBTaskResult

    tasks = [
        {
            "channel": args_kwargs["args"][-1],
            "start_s": round(started.timestamp() - t0, 3) if started else None,
            "end_s": round(finished.timestamp() - t0, 3) if finished else None,
        }
        for args_kwargs, started, finished in DBTaskResult.objects.filter(args_kwargs__args__0=alert.pk)
        .order_by("started_at")
        .values_list("args_kwargs", "started_at", "finished_at")
    ]
    every = sorted(mail + hooks + app)
    median = every[len(every) // 2] if every else None
    report = {
        # From the publish's commit; the "_from_click" figures add the publish itself (`publish_s`).
        "recipients": args.recipients,
        "deliveries": total,
        "publish_s": round(publish_s, 3),
        "delivered": finished,
        "emails_received": len(mail),
        "webhooks_received": len(hooks),
        "live_feed": len(app),
        "last_delivery_s": round(every[-1], 3) if every else None,
        "median_delivery_s": round(median, 3) if median is not None else None,
        "last_from_click_s": round(every[-1] + publish_s, 3) if every else None,
        "median_from_click_s": round(median + publish_s, 3) if median is not None else None,
        "last_email_s": round(max(mail), 3) if mail else None,
        "last_webhook_s": round(max(hooks), 3) if hooks else None,
        "last_live_s": round(max(app), 3) if app else None,
        "workers": args.workers,
        "tasks": tasks,  # when each worker task started and ended, from the commit
        # What the e-mail alone would take at the bare smtplib → aiosmtpd rate of this machine.
        "smtp_ceiling_msgs_per_s": round(ceiling),
        "smtp_floor_s": round(len(mail) / ceiling, 3) if mail else None,
        "database": connection.vendor,
    }
    if args.png and every:
        png_curve(Path(args.png), every, len(every))
        report["curve_png"] = args.png
    Path(args.out).write_text(json.dumps(report))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
