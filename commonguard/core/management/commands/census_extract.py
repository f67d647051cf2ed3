"""`commonguard census_extract --state MI`: write the shipped fallback extract from the Census files."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from commonguard.orgs.census import SHIPPED_DIR, read_counties, read_places, shared_census_dir, write_extract
from commonguard.orgs.states import state_by_postal


class Command(BaseCommand):
    help = "Write orgs/data/census-<STATE>.csv from ../shared/data/census (the demo's offline fallback)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--state", default="MI")

    def handle(self, *args: Any, **options: Any) -> None:
        state = state_by_postal(options["state"])
        census_dir = shared_census_dir(settings.COMMONGUARD_SHARED_DATA)
        records = read_counties(census_dir, state) + read_places(census_dir, state)
        path = SHIPPED_DIR / f"census-{state.postal}.csv"
        count = write_extract(records, path)
        self.stdout.write(f"Wrote {count} records to {path}")
