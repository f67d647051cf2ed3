from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from commonguard.partnerships.services import event_send_reminders


class Command(BaseCommand):
    help = "E-mail registered people the day before their event (once each)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=int, default=0, help="Repeat every N seconds (0: once).")

    def handle(self, *args: Any, every: int = 0, **options: Any) -> None:
        while True:
            sent = event_send_reminders()
            self.stdout.write(f"event reminders sent: {sent}")
            if not every:
                return
            time.sleep(every)
