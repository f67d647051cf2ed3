"""The receiving end of the fan-out benchmark, in its own process: a real SMTP server (aiosmtpd)
and a real HTTP server, both on loopback, writing the time each message arrived to a file when
told to stop (SIGTERM)."""

from __future__ import annotations

import http.server
import json
import logging
import signal
import sys
import threading
import time
from typing import Any

import uvloop
from aiosmtpd.controller import Controller

logging.disable(logging.CRITICAL)
mail_times: list[float] = []
hook_times: list[float] = []


class Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail_times.append(time.time())
        return "250 OK"


class Hook(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        hook_times.append(time.time())
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def main() -> None:
    smtp_port, http_port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    # uvloop: the sink is the same aiosmtpd server, on a faster event loop (it is the costliest part
    # of the exchange: ~0.5 ms of CPU per message on the default loop).
    controller = Controller(Sink(), hostname="127.0.0.1", port=smtp_port, loop=uvloop.new_event_loop())
    controller.start()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", http_port), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    with open(out, "w") as f:
        json.dump({"mail": mail_times, "hook": hook_times}, f)
    controller.stop()
    server.shutdown()


if __name__ == "__main__":
    main()
