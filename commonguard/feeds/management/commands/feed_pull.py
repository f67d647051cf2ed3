"""`commonguard feed_pull [ID ...] [--due] [--queue] [--every SECONDS]`: pull feeds now (in this
process), or queue them for the worker's bulk queue. `--due --every 60` is the scheduler: every
minute it queues the enabled feeds whose interval has passed."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from commonguard.core import context
from commonguard.feeds.models import Feed
from commonguard.feeds.services import FeedError, feed_pull, feed_request_pull, feeds_due


class Command(BaseCommand):
    help = "Pull configured feeds (text, CSV, MISP) into imported alerts (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ids", nargs="*", type=int, help="Feed ids (default with --due: the feeds due).")
        parser.add_argument("--due", action="store_true", help="The enabled feeds whose interval has passed.")
        parser.add_argument("--queue", action="store_true", help="Queue for the worker instead of pulling here.")
        parser.add_argument("--every", type=float, default=0, help="Repeat every N seconds (0: once).")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["ids"] and not options["due"]:
            raise CommandError("Name feed ids, or --due.")
        token = context.bind(context.RequestContext(channel="cli"))
        try:
            while True:
                failed = self._run(options)
                if not options["every"]:
                    if failed:
                        raise CommandError(f"{failed} feed(s) failed.")
                    return
                time.sleep(options["every"])
        finally:
            context.reset(token)

    def _run(self, options: dict[str, Any]) -> int:
        feeds = list(Feed.objects.filter(pk__in=options["ids"])) if options["ids"] else []
        missing = set(options["ids"]) - {f.pk for f in feeds}
        if missing:
            raise CommandError(f"No feed with id {', '.join(map(str, sorted(missing)))}.")
        if options["due"]:
            feeds += [f for f in feeds_due() if f.pk not in {g.pk for g in feeds}]
        failed = 0
        for feed in feeds:
            if options["queue"]:
                feed_request_pull(actor=None, feed=feed)
                self.stdout.write(f"{feed.pk} {feed.name}: queued")
                continue
            try:
                result = feed_pull(feed)
            except FeedError as exc:
                failed += 1
                self.stderr.write(f"{feed.pk} {feed.name}: failed: {exc}")
            else:
                self.stdout.write(f"{feed.pk} {feed.name}: {result.summary()} in {result.seconds:.2f} s")
                for error in result.errors[:5]:
                    self.stdout.write(f"  {error}")
        return failed
