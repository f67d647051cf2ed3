"""The hub's periodic work as data: which management command runs how often.

`manage.py scheduler` runs every entry in ONE process, a thread per entry (docs/adr/0029-one-scheduler.md),
instead of one `--every` loop process per command. Each command still runs on its own with `--every` or from
cron; the table is only the default timetable `make run` and a production unit use."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Job:
    command: str
    args: tuple[str, ...]
    every: float
    what: str
    name: str = ""

    @property
    def label(self) -> str:
        """The job's name in the log and for `scheduler --only` (the command's unless two jobs share it)."""
        return self.name or self.command


SCHEDULE: tuple[Job, ...] = (
    Job("deliveries_resume", (), 30, "re-enqueues deliveries a stopped worker left, retries failed ones, digests"),
    Job("stix_imports_resume", (), 60, "queues again the STIX imports a stopped worker left running (lease ran out)"),
    Job("kev_import", (), 86400, "the CISA KEV catalogue (daily)"),
    Job("feed_pull", ("--due", "--queue"), 60, "queues the pulls of feeds whose interval has passed"),
    Job("obligations_tick", (), 60, "reporting reminders at half-time and two hours before; OVERDUE after"),
    Job("event_reminders", (), 900, "e-mails event reminders the day before"),
    Job("federation_run", ("--prune-every", "0"), 2, "pulls due peer hubs, pushes what is pending"),
    Job("federation_run", ("--prune-only",), 3600, "prunes delivered federation outbox rows", "federation_prune"),
    Job("mutualaid_reminders", (), 86400, "credential expiry reminders (30 days ahead) and lapses"),
    Job("survey_mail", (), 60, "relationship survey invitations and reminders (outbox), weekly reminders queued"),
    Job("mutualaid_notices", (), 60, "mutual-aid e-mails (offers, accept/decline links) a stopped worker left"),
)
