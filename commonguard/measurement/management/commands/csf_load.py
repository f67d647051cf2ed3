"""`commonguard csf_load [--source FILE]`: (re)load the NIST CSF 2.0 Core from its JSON catalogue."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from commonguard.measurement.csf import CATALOGUE_FILE, CsfCatalogueError, read_catalogue, sync_catalogue
from commonguard.measurement.models import CsfCategory, CsfFunction, CsfSubcategory
from commonguard.measurement.stats import catalogue_reset


class Command(BaseCommand):
    help = "Load the NIST CSF 2.0 Core (functions, categories, subcategories) from a JSON catalogue."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", default=str(CATALOGUE_FILE), help="The catalogue (default: %(default)s)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            data = read_catalogue(options["source"])
        except CsfCatalogueError as exc:
            raise CommandError(str(exc)) from exc
        with transaction.atomic():
            counts = sync_catalogue(
                data, function_model=CsfFunction, category_model=CsfCategory, sub_model=CsfSubcategory
            )
        transaction.on_commit(catalogue_reset)
        self.stdout.write(
            f"CSF 2.0: {counts.functions} functions, {counts.categories} categories, "
            f"{counts.subcategories} subcategories."
        )
