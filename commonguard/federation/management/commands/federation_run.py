"""Pull from the peers that are due and push what is pending (retries, claims a dead worker left):
`federation_run [--every SECONDS]`. `make run` runs it every 2 s beside the worker."""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from commonguard.core import context
from commonguard.federation.models import Peer
from commonguard.federation.services import peers_due, pull, push_pending


class Command(BaseCommand):
    help = "Pull from due peers and push pending changes to peers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=float, default=0, help="Repeat every N seconds (0: once).")
        parser.add_argument("--no-push", action="store_true")
        parser.add_argument("--no-pull", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        token = context.bind(context.RequestContext(channel="cli"))
        try:
            while True:
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
