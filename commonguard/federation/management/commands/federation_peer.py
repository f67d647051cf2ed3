"""Configure a peer hub: `federation_peer add NAME --url URL [--token T] [--community] ...`,
`federation_peer list`, `federation_peer backfill NAME [--since DATE]` (queue the already-published
alerts the peer may receive, or those published since DATE; a new peer gets them when added). One
secret per link: the same token is configured on both hubs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_date, parse_datetime

from commonguard.federation.models import Peer
from commonguard.federation.services import backfill, peer_save
from commonguard.orgs.models import Organization


class Command(BaseCommand):
    help = "Add, change or list the peer hubs this hub federates with."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["add", "list", "backfill"])
        parser.add_argument("name", nargs="?")
        parser.add_argument("--url", help="The peer hub's base URL.")
        parser.add_argument("--token", default="", help="The link's secret (default for a new peer: a fresh one).")
        parser.add_argument("--community", action="store_true", help="Part of the community: GREEN goes there.")
        parser.add_argument("--disabled", action="store_true")
        parser.add_argument("--no-push", action="store_true", help="Do not push; the peer pulls.")
        parser.add_argument("--no-pull", action="store_true", help="Do not pull from this peer.")
        parser.add_argument("--pull-interval", type=float, default=60.0, help="Seconds between pulls (60).")
        parser.add_argument(
            "--since",
            help="backfill: only alerts first published at or after this date or time (ISO 8601, UTC if no zone).",
        )
        parser.add_argument(
            "--amber-org", type=int, action="append", default=None, help="Organisation id reading its AMBER alerts."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "list":
            for peer in Peer.objects.all():
                self.stdout.write(
                    f"{peer.pk}\t{peer.name}\t{peer.url}\thub={peer.hub_id or '?'}\tcommunity={peer.community}\t"
                    f"enabled={peer.enabled}\tcursor={peer.cursor}\t{peer.last_error[:80]}"
                )
            return
        if options["action"] == "backfill":
            found = Peer.objects.filter(name=options["name"] or "").first()
            if found is None:
                raise CommandError("backfill needs the NAME of a configured peer.")
            queued = backfill(found, since=_since(options["since"]))
            self.stdout.write(f"queued {queued} alert(s) for {found.name}")
            return
        if not options["name"] or not options["url"]:
            raise CommandError("add needs NAME and --url.")
        orgs = None
        if options["amber_org"] is not None:
            orgs = list(Organization.objects.filter(pk__in=options["amber_org"]))
            if len(orgs) != len(set(options["amber_org"])):
                raise CommandError("Unknown organisation id in --amber-org.")
        try:
            peer, token = peer_save(
                actor=None,
                name=options["name"],
                url=options["url"],
                token=options["token"],
                community=options["community"],
                enabled=not options["disabled"],
                push=not options["no_push"],
                pull=not options["no_pull"],
                pull_interval=options["pull_interval"],
                amber_organizations=orgs,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"peer {peer.pk} {peer.name} ({peer.changes.count()} change(s) queued)")
        if token and not options["token"]:
            self.stdout.write(f"token (configure the same on {peer.name}): {token}")


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parse_datetime(value)
        day = parse_date(value) if parsed is None else None
    except ValueError:  # well formed, but no such day or time
        parsed = day = None
    if parsed is None and day is not None:
        parsed = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if parsed is None:
        raise CommandError(f"--since {value!r} is not a date (2026-01-31) or a time (2026-01-31T08:00Z).")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
