"""`commonguard mutualaid_reminders [--every SECONDS] [--today YYYY-MM-DD]`: warn responders and their
coordinators 30 days before a credential expires; lapse responders whose credentials expired."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from commonguard.core import context
from commonguard.mutualaid.reminders import credentials_remind


class Command(BaseCommand):
    help = "Credential expiry reminders (30 days ahead) and lapses for the mutual-aid roster."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=float, default=0, help="Repeat every N seconds (0: once).")
        parser.add_argument("--today", type=date.fromisoformat, default=None, help="Run as of this day (tests).")

    def handle(self, *args: Any, **options: Any) -> None:
        token = context.bind(context.RequestContext(channel="cli"))
        try:
            while True:
                result = credentials_remind(options["today"] or timezone.localdate())
                self.stdout.write(result.summary() + ".")
                if not options["every"]:
                    return
                time.sleep(options["every"])
        finally:
            context.reset(token)
