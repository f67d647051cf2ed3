from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from commonguard.measurement.surveys import survey_mail_send, survey_remind_due


class Command(BaseCommand):
    help = "Send the relationship survey's outbox (invitations, reminders); queue the weekly reminders."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=int, default=0, help="Repeat every N seconds (0: once).")
        parser.add_argument("--no-reminders", action="store_true", help="Only send what is queued.")

    def handle(self, *args: Any, every: int = 0, no_reminders: bool = False, **options: Any) -> None:
        while True:
            queued = 0 if no_reminders else survey_remind_due()
            counts = survey_mail_send()
            outcome = ", ".join(f"{k} {v}" for k, v in counts.items())
            self.stdout.write(f"survey mail: {queued} reminders queued, {outcome}")
            if not every:
                return
            time.sleep(every)
