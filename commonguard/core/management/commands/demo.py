"""`commonguard demo --state MI`: seed the directory of a state and the demo people (idempotent)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from commonguard.orgs.census import CensusDataMissing
from commonguard.orgs.seeding import seed_state
from commonguard.orgs.states import state_by_postal

# The demo's first KEV import: the catalogue's newest entries (about 13 ms each).
DEMO_KEV_ENTRIES = 60


class Command(BaseCommand):
    help = "Seed a state's real counties and municipalities, the hub's organisations and demo people."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--state", default=settings.COMMONGUARD_STATE, help="Two-letter postal code (default: %(default)s)"
        )
        parser.add_argument("--no-people", action="store_true", help="Seed only the directory.")

    def handle(self, *args: Any, **options: Any) -> None:
        from commonguard.demo import DEMO_PASSWORD, seed_demo_alerts, seed_demo_people
        from commonguard.partnerships.demo import seed_demo as seed_demo_partnerships
        from commonguard.measurement import demo as measurement_demo

        try:
            state = state_by_postal(options["state"])
            result = seed_state(state, shared_data=settings.COMMONGUARD_SHARED_DATA)
        except (ValueError, CensusDataMissing) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{state.name}: {result.counties} counties and {result.municipalities} municipalities "
            f"from {result.source} ({result.created} added, {result.updated} updated)."
        )
        if options["no_people"]:
            return
        people = seed_demo_people(state)
        self.stdout.write(f"Demo people ({len(people)}), password “{DEMO_PASSWORD}”:")
        alerts = seed_demo_alerts(state, settings.COMMONGUARD_SHARED_DATA)
        self.stdout.write(f"Demo alerts: {alerts} published.")
        from commonguard.statutes.demo import seed_demo as seed_statutes

        self.stdout.write(f"Reporting rules: {seed_statutes(state)} shipped rules added.")
        from commonguard.incidents.demo import seed_demo as seed_incidents

        self.stdout.write(f"Demo incident reports: {seed_incidents(state)} added.")
        self.stdout.write(f"Demo partnerships: {seed_demo_partnerships(state)}")
        self.stdout.write(import_module("commonguard.interop.demo").seed_demo(state))
        from commonguard.mutualaid.demo import seed_demo as seed_mutualaid

        self.stdout.write(f"Mutual aid: {seed_mutualaid(state)} responders on the roster.")
        self.stdout.write(f"Demo measurement (surveys, self-assessments): {measurement_demo.seed_demo(state)}")
        for person in people:
            self.stdout.write(f"  {person.email:32} {person.role}{' (pending)' if person.status == 'pending' else ''}")
        self._import_kev()

    def _import_kev(self) -> None:
        """The newest entries of the CISA KEV catalogue from the shared data, when it is there: a
        second or two. `make run` imports the rest in the background (ADR 16)."""
        from commonguard.sharing.kev import CATALOGUE_FILE, KevError, kev_import_run

        path = settings.COMMONGUARD_SHARED_DATA / "kev" / CATALOGUE_FILE
        if not path.exists():
            self.stdout.write("KEV catalogue: not in the shared data, not imported.")
            return
        try:
            result = kev_import_run(str(path), newest=DEMO_KEV_ENTRIES)
        except KevError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(result.summary() + ".")
