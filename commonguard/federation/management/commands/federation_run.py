"""Pull from the peers that are due and push what is pending (retries, claims a dead worker left):
`federation_run [--every SECONDS]`. `make run` runs it every 2 s beside the worker. Delivered
outbox rows older than COMMONGUARD_FEDERATION_OUTBOX_RETENTION_DAYS are pruned on the first round
and then every `--prune-every` seconds (`federation_run --prune-only` prunes once and stops)."""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from commonguard.core import context
from commonguard.federation.models import Peer
from commonguard.federation.services import outbox_prune, peers_due, pull, push_pending


class Command(BaseCommand):
    help = "Pull from due peers and push pending changes to peers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=float, default=0, help="Repeat every N seconds (0: once).")
        parser.add_argument("--no-push", action="store_true")
        parser.add_argument("--no-pull", action="store_true")
        parser.add_argument(
            "--prune-every", type=float, default=3600, help="Seconds between outbox prunes (3600; 0: never)."
        )
        parser.add_argument("--prune-only", action="store_true", help="Prune delivered outbox rows once and stop.")

    def handle(self, *args: Any, **options: Any) -> None:
        token = context.bind(context.RequestContext(channel="cli"))
        try:
            if options["prune_only"]:
                self.stdout.write(json.dumps({"pruned": outbox_prune()}))
                return
            pruned_at = float("-inf")
            while True:
                if options["prune_every"] and time.monotonic() - pruned_at >= options["prune_every"]:
                    pruned = outbox_prune()
                    pruned_at = time.monotonic()
                    if pruned:
                        self.stdout.write(json.dumps({"pruned": pruned}))
                self._run(options)
                if not options["every"]:
                    return
                time.sleep(options["every"])
        finally:
            context.reset(token)

    def _run(self, options: dict[str, Any]) -> None:
        if not options["no_pull"]:
            for peer in peers_due():
                result = pull(peer)
                if result["applied"] or result["error"]:
                    self.stdout.write(json.dumps(result))
        if not options["no_push"]:
            for peer in Peer.objects.filter(enabled=True, push=True):
                while sum(push_pending(peer).values()):
                    pass
