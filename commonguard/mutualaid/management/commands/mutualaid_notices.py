"""`commonguard mutualaid_notices [--every SECONDS]`: send what is due in the mutual-aid e-mail
outbox (`AidNotice`), including rows a stopped worker had claimed (after the 2-minute lease) and
failed sends (up to five attempts). The worker sends new notices right after commit; this catches
what a crash left behind (ADR 32)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from commonguard.core import context
from commonguard.mutualaid.offers import notices_send


class Command(BaseCommand):
    help = "Send the mutual-aid e-mail outbox (offers, counter-offers, signatures, accept/decline links)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=float, default=0, help="Repeat every N seconds (0: once).")

    def handle(self, *args: Any, **options: Any) -> None:
        token = context.bind(context.RequestContext(channel="cli"))
        try:
            while True:
                try:
                    sent = notices_send()
                except OSError as exc:  # the mail server is down: try again on the next round
                    self.stderr.write(f"Mail server unreachable: {exc}")
                    sent = 0
                self.stdout.write(f"{sent} mutual-aid notice(s) sent.")
                if not options["every"]:
                    return
                time.sleep(options["every"])
        finally:
            context.reset(token)
