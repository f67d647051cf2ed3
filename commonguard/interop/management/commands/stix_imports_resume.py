"""`commonguard stix_imports_resume [--every SECONDS]`: queue again the STIX import jobs whose worker
died mid-import (lease `COMMONGUARD_STIX_IMPORT_LEASE_SECONDS`, default 600), failing those
interrupted three times. Run it from cron, or with --every as a small loop."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from commonguard.interop.imports import stix_imports_resume


class Command(BaseCommand):
    help = "Queue again STIX import jobs whose worker stopped (crash recovery)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=float, default=0, help="Repeat every N seconds (0: once).")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            count = stix_imports_resume()
            if count or not options["every"]:
                self.stdout.write(f"queued {count} interrupted STIX import(s) again")
            if not options["every"]:
                return
            time.sleep(options["every"])
