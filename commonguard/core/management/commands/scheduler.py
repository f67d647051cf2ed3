"""`commonguard scheduler [--only NAME ...] [--once] [--list]`: run the hub's periodic commands
(commonguard/core/schedule.py) in one process, a thread per command, each at its own interval.

A command that fails is logged and tried again at its next time; it never stops the others. SIGTERM or
Ctrl-C stops the loop after the commands that are running finish (docs/adr/0035-one-scheduler.md)."""

from __future__ import annotations

import signal
import threading
import time
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections, connections

from commonguard.core.schedule import SCHEDULE, Job


class _Out(Protocol):
    def write(self, text: str, /) -> Any: ...

    def flush(self) -> Any: ...


class _Prefixed:
    """A file-like object that writes each line as `time [job] line`, one whole line at a time."""

    def __init__(self, out: _Out, name: str, lock: threading.Lock) -> None:
        self.out, self.name, self.lock = out, name, lock
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if line.strip():
                stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                with self.lock:
                    self.out.write(f"{stamp} [{self.name}] {line}\n")
                    self.out.flush()
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def run_job_once(job: Job, out: _Prefixed) -> bool:
    """Run one job; True when it finished without an error. Errors are written, never raised."""
    close_old_connections()
    try:
        call_command(job.command, *job.args, stdout=out, stderr=out)
        return True
    except Exception as exc:  # one failing job must not stop the scheduler
        detail = str(exc) if isinstance(exc, CommandError) else traceback.format_exc()
        out.write(f"failed: {detail}\n")
        return False
    finally:
        close_old_connections()


def run_schedule(jobs: Iterable[Job], stop: threading.Event, out: _Out, *, once: bool = False) -> dict[str, int]:
    """Run each job in its own thread until `stop` is set (or once each). Returns failures per job."""
    lock = threading.Lock()
    failures: dict[str, int] = {}

    def loop(job: Job) -> None:
        writer = _Prefixed(out, job.label, lock)
        failures[job.label] = 0
        try:
            while not stop.is_set():
                started = time.monotonic()
                if not run_job_once(job, writer):
                    failures[job.label] += 1
                if once:
                    return
                stop.wait(max(0.0, job.every - (time.monotonic() - started)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=loop, args=(job,), name=f"scheduler-{job.label}") for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=0.5)
    return failures


class Command(BaseCommand):
    help = "Run the hub's periodic commands (deliveries, KEV, feeds, clocks, reminders, federation) in one process."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--only", nargs="+", default=None, metavar="COMMAND", help="Run only these commands.")
        parser.add_argument("--once", action="store_true", help="Run each command once, then exit.")
        parser.add_argument("--list", action="store_true", help="Print the timetable and exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        jobs = list(SCHEDULE)
        if options["only"]:
            unknown = sorted(set(options["only"]) - {job.label for job in jobs})
            if unknown:
                raise CommandError(f"Not in the timetable: {', '.join(unknown)}. See `scheduler --list`.")
            jobs = [job for job in jobs if job.label in options["only"]]
        if options["list"]:
            for job in jobs:
                command = " ".join((job.command, *job.args))
                self.stdout.write(f"every {job.every:>8g} s  {command:<34} {job.what}")
            return
        stop = threading.Event()
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, lambda *_: stop.set())
        try:
            failures = run_schedule(jobs, stop, self.stdout, once=options["once"])
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if options["once"] and any(failures.values()):
            failed = ", ".join(name for name, count in failures.items() if count)
            raise CommandError(f"Failed: {failed}.")
