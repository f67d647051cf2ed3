"""`commonguard deliveries_resume [--every SECONDS]`: re-enqueue alert deliveries left due by a
crashed worker or waiting for a retry, and send the daily digests when their hour has come. Run it
from cron, or with --every as a small loop."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from commonguard.sharing.delivery import deliveries_resume, digest_send


class Command(BaseCommand):
    help = "Re-enqueue alert deliveries that are still due (crash recovery and retries)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=float, default=0, help="Repeat every N seconds (0: once).")
        parser.add_argument("--older-than", type=float, default=30, help="Seconds a pending delivery may wait.")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            count = deliveries_resume(timedelta(seconds=options["older_than"]))
            if count or not options["every"]:
                self.stdout.write(f"re-enqueued {count} alert fan-out(s)")
            digests = digest_send()
            if digests:
                self.stdout.write(f"sent {digests} daily digest(s)")
            if not options["every"]:
                return
            time.sleep(options["every"])
