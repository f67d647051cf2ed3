"""Import benchmark: the 51,000 URLhaus + ThreatFox indicators (../shared/data/indicators) pulled as
two plain feeds, through the same code as the worker (`feeds.services.feed_pull`): read, validate in
one pass, diff, bulk write, one transaction per feed. Then the same two pulls again (nothing to
write). Objects/s = valid indicators / wall-clock seconds of the pulls. Prints one JSON object last.

Run on PostgreSQL by run.sh (DATABASE_URL of a throwaway cluster); works on SQLite too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commonguard.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from commonguard.accounts.models import Membership, Role, User  # noqa: E402
from commonguard.core.tlp import TLP  # noqa: E402
from commonguard.feeds.models import Feed  # noqa: E402
from commonguard.feeds.services import FeedInput, feed_pull, feed_save  # noqa: E402
from commonguard.orgs.models import Organization  # noqa: E402
from commonguard.sharing.warninglists import warm  # noqa: E402

DATA = settings.COMMONGUARD_SHARED_DATA / "indicators"


def seed() -> tuple[User, Organization]:
    call_command("migrate", verbosity=0)
    run = int(time.time())
    org = Organization.objects.create(
        name=f"Bench County {run}", kind="county", state="MI", status="approved", source_key=f"bench-import:{run}"
    )
    admin = User.objects.create(email=f"admin.{run}@bench.example", full_name="Bench admin")
    Membership.objects.create(user=admin, organization=org, role=Role.ORG_ADMIN, status="approved")
    return admin, org


CPU: dict[str, float] = {}


def pull_all(feeds: list[Feed], label: str) -> tuple[int, float, list[dict]]:
    started, cpu = time.perf_counter(), time.process_time()
    results = [feed_pull(feed) for feed in feeds]
    seconds = time.perf_counter() - started
    CPU[label] = time.process_time() - cpu  # this process only (not the PostgreSQL server)
    return sum(r.valid for r in results), seconds, [r.as_dict() for r in results]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    admin, org = seed()
    feeds = [
        feed_save(
            actor=admin,
            data=FeedInput(
                name="URLhaus", source=str(DATA / "urlhaus-filter.txt"), format="text", owner=org, tlp=TLP.GREEN
            ),
        ),
        feed_save(
            actor=admin,
            data=FeedInput(
                name="ThreatFox",
                source=str(DATA / "threatfox-ips.txt"),
                format="text",
                owner=org,
                tlp=TLP.GREEN,
                kind="ipv4",
            ),
        ),
    ]
    warm()  # the worker builds the warning-list index once at start-up, not per import
    load = os.getloadavg()[0]
    objects, first_s, first = pull_all(feeds, "first")
    again, re_s, second = pull_all(feeds, "again")
    assert again == objects and all(r["added"] == 0 and r["removed"] == 0 for r in second), second
    # ATT&CK Enterprise (STIX 2.0, 24,771 objects) into the TAXII reference collection, through the
    # same code as `stix_load_attack` (all or nothing, idempotent): first into an empty collection,
    # then again (nothing to write). Reading and parsing the file is not counted.
    from commonguard.interop.collections import reference_collection
    from commonguard.interop.management.commands.stix_load_attack import read_bundle
    from commonguard.interop.models import StixObject
    from commonguard.interop.services import objects_add

    # Three rounds (the collection emptied before each): a one-second import is at the mercy of one
    # hiccup of a shared VM, so the figures are the medians, and every round is reported.
    bundle = read_bundle(settings.COMMONGUARD_SHARED_DATA / "attack" / "enterprise-attack-18.1-stix20.json.gz")
    collection = reference_collection("attack-enterprise")
    attack_rounds: list[tuple[float, float]] = []
    for _ in range(3):
        StixObject.objects.filter(collection=collection).delete()
        started = time.perf_counter()
        attack_first = objects_add(collection, bundle)
        first_round_s = time.perf_counter() - started
        started = time.perf_counter()
        attack_again = objects_add(collection, bundle)
        attack_rounds.append((first_round_s, time.perf_counter() - started))
        assert len(attack_first.added) == len(bundle) and not attack_again.added
    attack_s = statistics.median(first for first, _ in attack_rounds)
    attack_re_s = statistics.median(again for _, again in attack_rounds)
    figures = {
        "objects": objects,
        "objects_per_s": round(objects / first_s),
        "seconds": round(first_s, 3),
        "reimport_objects_per_s": round(objects / re_s),
        "reimport_seconds": round(re_s, 3),
        "invalid": sum(r["invalid"] for r in first),
        "python_cpu_s": round(CPU["first"], 3),
        "reimport_python_cpu_s": round(CPU["again"], 3),
        "load_average_before": round(load, 2),
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "attack_objects": len(bundle),
        "attack_objects_per_s": round(len(bundle) / attack_s),
        "attack_reimport_objects_per_s": round(len(bundle) / attack_re_s),
        "attack_rounds_objects_per_s": [round(len(bundle) / first) for first, _ in attack_rounds],
        "attack_rounds_reimport_objects_per_s": [round(len(bundle) / again) for _, again in attack_rounds],
        "target_objects_per_s": 20_000,
        "target_reimport_objects_per_s": 100_000,
    }
    figures["pass"] = (
        min(figures["objects_per_s"], figures["attack_objects_per_s"]) >= 20_000
        and min(figures["reimport_objects_per_s"], figures["attack_reimport_objects_per_s"]) >= 100_000
    )
    for r in first:
        print(f"feed {r['feed']}: {r['valid']:,} valid, {r['invalid']} invalid, {r['added']:,} added, {r['seconds']} s")
    if args.out:
        Path(args.out).write_text(json.dumps(figures))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
