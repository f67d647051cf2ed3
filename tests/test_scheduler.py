"""The one-process scheduler (commonguard/core/schedule.py, ADR 35): every job runs, a failing job is
logged and does not stop the others, and a stop request ends the loop."""

from __future__ import annotations

import io
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from commonguard.core.management.commands.scheduler import run_schedule
from commonguard.core.schedule import SCHEDULE, Job

pytestmark = pytest.mark.django_db


def test_every_job_in_the_timetable_is_a_real_command() -> None:
    from django.core.management import get_commands

    commands = get_commands()
    assert [job.command for job in SCHEDULE if job.command not in commands] == []


def test_once_runs_the_named_jobs_and_prefixes_their_output() -> None:
    out = io.StringIO()
    call_command("scheduler", "--once", "--only", "obligations_tick", "event_reminders", stdout=out)
    lines = out.getvalue().splitlines()
    assert any("[obligations_tick] reminders:" in line for line in lines), lines
    assert all(line.split(" ", 1)[1].startswith(("[obligations_tick]", "[event_reminders]")) for line in lines)


def test_a_failing_job_is_logged_and_the_others_still_run() -> None:
    out = io.StringIO()
    jobs = [Job("no_such_command", (), 1, ""), Job("obligations_tick", (), 1, "")]
    failures = run_schedule(jobs, threading.Event(), out, once=True)
    assert failures == {"no_such_command": 1, "obligations_tick": 0}
    text = out.getvalue()
    assert "[no_such_command] failed: Unknown command" in text
    assert "[obligations_tick] reminders:" in text


def test_jobs_repeat_until_stopped() -> None:
    out = io.StringIO()
    stop = threading.Event()
    timer = threading.Timer(0.6, stop.set)
    timer.start()
    run_schedule([Job("obligations_tick", (), 0.05, "")], stop, out, once=False)
    assert stop.is_set()
    assert out.getvalue().count("[obligations_tick] reminders:") >= 2


def test_unknown_names_are_a_clear_error() -> None:
    with pytest.raises(CommandError, match="Not in the timetable: bogus"):
        call_command("scheduler", "--only", "bogus")


def test_two_jobs_of_one_command_are_told_apart_by_name() -> None:
    labels = [job.label for job in SCHEDULE]
    assert len(labels) == len(set(labels))
    out = io.StringIO()
    call_command("scheduler", "--once", "--only", "federation_prune", stdout=out)
    assert '[federation_prune] {"pruned": 0}' in out.getvalue()
