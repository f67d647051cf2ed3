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

# Each capability's demo content, in order (each `seed_demo(state)` is idempotent): the reporting
# rules before the incident reports (submitting one opens its obligations), the reports before the
# mutual-aid requests that may come from them.
CAPABILITY_SEEDS = [
    ("commonguard.statutes.demo", "Reporting rules (shipped rules added)"),
    ("commonguard.incidents.demo", "Demo incident reports (added)"),
    ("commonguard.interop.demo", "STIX import"),
    ("commonguard.partnerships.demo", "Demo partnerships"),
    ("commonguard.mutualaid.demo", "Mutual aid (responders on the roster)"),
    ("commonguard.measurement.demo", "Demo measurement (surveys, self-assessments)"),
]


class Command(BaseCommand):
    help = "Seed a state's real counties and municipalities, the hub's organisations and demo people."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--state", default=settings.COMMONGUARD_STATE, help="Two-letter postal code (default: %(default)s)"
        )
        parser.add_argument("--no-people", action="store_true", help="Seed only the directory.")

    def handle(self, *args: Any, **options: Any) -> None:
        from commonguard.demo import DEMO_PASSWORD, seed_demo_alerts, seed_demo_people

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
        for module, said in CAPABILITY_SEEDS:
            self.stdout.write(f"{said}: {import_module(module).seed_demo(state)}")
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
