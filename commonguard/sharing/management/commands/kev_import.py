"""`commonguard kev_import [--source URL-OR-FILE] [--every SECONDS]`: import the CISA KEV catalogue
(ADR 16). Run it from cron, or with --every as a small loop (the first run is at once)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from commonguard.core import context
from commonguard.sharing.kev import KevError, kev_import_run


class Command(BaseCommand):
    help = "Import the CISA Known Exploited Vulnerabilities catalogue as TLP:CLEAR alerts (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", default=None, help="URL or file (default: COMMONGUARD_KEV_SOURCE).")
        parser.add_argument("--every", type=float, default=0, help="Repeat every N seconds (0: once).")
        parser.add_argument(
            "--backfill-days",
            type=int,
            default=None,
            help="Record entries added longer ago than this without sending them (default: "
            "COMMONGUARD_KEV_BACKFILL_DAYS).",
        )
        parser.add_argument("--newest", type=int, default=None, help="Only the N entries added last.")

    def handle(self, *args: Any, **options: Any) -> None:
        token = context.bind(context.RequestContext(channel="cli"))
        try:
            while True:
                try:
                    result = kev_import_run(
                        options["source"], backfill_days=options["backfill_days"], newest=options["newest"]
                    )
                except KevError as exc:
                    if not options["every"]:
                        raise CommandError(str(exc)) from exc
                    self.stderr.write(f"KEV import failed: {exc}")  # try again next time
                else:
                    self.stdout.write(result.summary())
                    for error in result.errors[:20]:
                        self.stderr.write(f"  {error}")
                    if result.failed and not options["every"]:
                        raise CommandError(f"{result.failed} entr{'y' if result.failed == 1 else 'ies'} failed.")
                if not options["every"]:
                    return
                time.sleep(options["every"])
        finally:
            context.reset(token)
