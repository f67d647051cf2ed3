"""The receiving end of the fan-out benchmark: a real SMTP server (aiosmtpd) and a real HTTP
server, on loopback, each in a process of its own (so a busy SMTP server does not hold up the HTTP
receiver's clock), writing the time each message arrived to a file when told to stop (SIGTERM).

`python sinks.py SMTP_PORT HTTP_PORT OUT` starts both and prints "ready" once both listen."""

from __future__ import annotations

import http.server
import json
import logging
import multiprocessing
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

logging.disable(logging.CRITICAL)


class Sink:
    def __init__(self) -> None:
        self.times: list[float] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.times.append(time.time())
        return "250 OK"


class Hook(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    times: list[float] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Hook.times.append(time.time())
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _until_stopped(ready: Any) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ready.set()
    stop.wait()


def smtp_process(port: int, out: str, ready: Any) -> None:
    import uvloop
    from aiosmtpd.controller import Controller

    # uvloop: the same aiosmtpd server on a faster event loop (the SMTP server is the costliest part
    # of the exchange: ~0.5 ms of CPU per message on the default loop).
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port, loop=uvloop.new_event_loop())
    controller.start()
    _until_stopped(ready)
    controller.stop()
    Path(out).write_text(json.dumps(sink.times))


class Receiver(http.server.ThreadingHTTPServer):
    # socketserver's default backlog of 5 drops the SYNs of a burst of new connections, which the
    # kernel retries after a second: a stall of the receiver, not of the sender.
    request_queue_size = 256


def http_process(port: int, out: str, ready: Any) -> None:
    server = Receiver(("127.0.0.1", port), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _until_stopped(ready)
    server.shutdown()
    Path(out).write_text(json.dumps(Hook.times))


def main() -> None:
    smtp_port, http_port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    ready = [multiprocessing.Event(), multiprocessing.Event()]
    children = [
        multiprocessing.Process(target=smtp_process, args=(smtp_port, out + ".mail", ready[0])),
        multiprocessing.Process(target=http_process, args=(http_port, out + ".hook", ready[1])),
    ]
    for child in children:
        child.start()
    for event in ready:
        event.wait(30)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    for child in children:
        child.terminate()  # SIGTERM: each writes its times and exits
    for child in children:
        child.join(30)
    mail = json.loads(Path(out + ".mail").read_text())
    hook = json.loads(Path(out + ".hook").read_text())
    Path(out).write_text(json.dumps({"mail": mail, "hook": hook}))


if __name__ == "__main__":
    main()
