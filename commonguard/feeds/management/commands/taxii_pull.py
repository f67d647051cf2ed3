"""`commonguard taxii_pull [ID ...] [--due] [--queue] [--every SECONDS]`: `feed_pull` for TAXII
feeds. Without ids or --due it pulls every enabled TAXII feed, each from its `added_after` cursor."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from commonguard.feeds.management.commands import feed_pull
from commonguard.feeds.models import Feed


class Command(feed_pull.Command):
    help = "Pull the configured remote TAXII 2.1 collections (TAXII feeds) from their cursors (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        taxii = Feed.objects.filter(format=Feed.Format.TAXII)
        if options["ids"]:
            other = set(options["ids"]) - set(taxii.filter(pk__in=options["ids"]).values_list("pk", flat=True))
            if other and Feed.objects.filter(pk__in=other).exists():
                raise CommandError(f"Not TAXII feeds: {', '.join(map(str, sorted(other)))} (use feed_pull).")
        elif not options["due"]:
            options["ids"] = list(taxii.filter(enabled=True).values_list("pk", flat=True))
            if not options["ids"]:
                self.stdout.write("No enabled TAXII feed.")
                return
        super().handle(*args, **options)
