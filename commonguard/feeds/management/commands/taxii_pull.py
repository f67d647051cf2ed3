"""`commonguard taxii_pull [ID ...] [--queue] [--every SECONDS]` (also `commonguard taxii-pull`):
`feed_pull` for TAXII feeds. Without ids it pulls every enabled TAXII feed, each from its
`added_after` cursor. The schedule is `feed_pull --due`, which pulls TAXII feeds with the others."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from commonguard.feeds.management.commands import feed_pull
from commonguard.feeds.models import Feed


class Command(feed_pull.Command):
    help = "Pull the configured remote TAXII 2.1 collections (TAXII feeds) from their cursors (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        if options["due"]:
            raise CommandError("The schedule is `feed_pull --due`: it pulls TAXII feeds with the others.")
        taxii = Feed.objects.filter(format=Feed.Format.TAXII)
        if options["ids"]:
            other = set(options["ids"]) - set(taxii.filter(pk__in=options["ids"]).values_list("pk", flat=True))
            if other and Feed.objects.filter(pk__in=other).exists():
                raise CommandError(f"Not TAXII feeds: {', '.join(map(str, sorted(other)))} (use feed_pull).")
        else:
            options["ids"] = list(taxii.filter(enabled=True).values_list("pk", flat=True))
            if not options["ids"]:
                self.stdout.write("No enabled TAXII feed.")
                return
        super().handle(*args, **options)
