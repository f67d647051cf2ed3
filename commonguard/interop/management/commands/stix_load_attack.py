"""Load the MITRE ATT&CK bundles (Enterprise, ICS) into the hub's reference collections.

Idempotent: objects already held (same id and version) are not written again.
"""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from commonguard.interop.collections import reference_collection
from commonguard.interop.services import objects_add
from commonguard.interop.stix import StixInputError

DEFAULT_DIR = Path(settings.BASE_DIR).parent / "shared" / "data" / "attack"
FILES = {
    "attack-enterprise": ["enterprise-attack-18.1.json", "enterprise-attack-18.1-stix20.json.gz"],
    "attack-ics": ["ics-attack-18.1.json", "ics-attack-18.1.json.gz"],
}


def read_bundle(path: Path) -> list[dict[str, Any]]:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        bundle = json.load(handle)
    if not isinstance(bundle, dict) or not isinstance(bundle.get("objects"), list):
        raise CommandError(f"{path} is not a STIX bundle.")
    return bundle["objects"]


def load(alias: str, path: Path) -> tuple[int, int, float]:
    objects = read_bundle(path)
    started = time.perf_counter()
    try:
        result = objects_add(reference_collection(alias), objects)
    except StixInputError as exc:
        raise CommandError(f"{path}: {exc} ({exc.object_id})") from None
    return len(result.added), len(result.unchanged), time.perf_counter() - started


class Command(BaseCommand):
    help = "Load MITRE ATT&CK (Enterprise and ICS) into the reference collections."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dir", default=str(DEFAULT_DIR), help="Folder holding the ATT&CK bundles.")
        parser.add_argument("--only", choices=sorted(FILES), help="Load one collection only.")
        parser.add_argument("--enterprise", help="Path of the Enterprise bundle (.json or .json.gz).")
        parser.add_argument("--ics", help="Path of the ICS bundle.")

    def handle(self, *args: Any, **options: Any) -> None:
        folder = Path(options["dir"])
        explicit = {"attack-enterprise": options["enterprise"], "attack-ics": options["ics"]}
        for alias, names in FILES.items():
            if options["only"] and options["only"] != alias:
                continue
            path = (
                Path(explicit[alias])
                if explicit[alias]
                else next((folder / n for n in names if (folder / n).exists()), None)
            )
            if path is None or not path.exists():
                raise CommandError(f"No ATT&CK bundle for {alias} in {folder} (looked for {', '.join(names)}).")
            added, unchanged, seconds = load(alias, path)
            self.stdout.write(
                f"{alias}: {added} added, {unchanged} already held, {seconds:.2f} s "
                f"({(added + unchanged) / max(seconds, 1e-9):,.0f} objects/s)"
            )
