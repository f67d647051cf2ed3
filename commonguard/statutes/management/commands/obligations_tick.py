"""`commonguard obligations_tick [--every SECONDS]`: send the reporting reminders that are due (half-time,
two hours before) and mark passed deadlines OVERDUE. Idempotent: run it from cron, or with --every as a
small loop (scripts/run-demo.sh does)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from commonguard.core import context
from commonguard.statutes.services import obligations_tick


class Command(BaseCommand):
    help = "Send due reporting reminders and mark passed deadlines overdue."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=float, default=0, help="Repeat every N seconds (0: once).")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            token = context.bind(context.RequestContext(channel="system"))
            try:
                counts = obligations_tick()
            finally:
                context.reset(token)
            if any(counts.values()) or not options["every"]:
                self.stdout.write(
                    f"reminders: {counts['half']} half-time, {counts['soon']} two-hours; {counts['overdue']} overdue"
                )
            if not options["every"]:
                return
            time.sleep(options["every"])
