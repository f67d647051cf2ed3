"""`commonguard seed_directory --state ALL`: the directory of every state (for benchmarks)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from commonguard.orgs.seeding import seed_state
from commonguard.orgs.states import STATES, state_by_postal


class Command(BaseCommand):
    help = "Seed the Census directory (no people) of one state or of ALL states with Census data."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--state", default="ALL")

    def handle(self, *args: Any, **options: Any) -> None:
        states = list(STATES.values()) if options["state"].upper() == "ALL" else [state_by_postal(options["state"])]
        for state in states:
            result = seed_state(state, shared_data=settings.COMMONGUARD_SHARED_DATA)
            self.stdout.write(f"{state.postal}: {result.counties} counties, {result.municipalities} municipalities")
