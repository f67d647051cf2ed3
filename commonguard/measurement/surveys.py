"""The relationship survey's cycle: a survey owner opens a year's survey (every local government's
IT lead is invited by e-mail), asks for reminders to those who have not answered, and closes it.

E-mail goes through an outbox (`SurveyMail`), as alerts do (sharing/delivery.py): the rows are
written in the same transaction as the opening or the reminder request, and `survey_mail_send`
(run by `manage.py survey_mail --every 60`) claims a batch with a conditional UPDATE, re-checks
each row at send time (survey still open, not yet answered, recipient still the IT lead), sends,
and records. A worker killed mid-batch leaves rows `sending`; after the lease they are claimed
again, so nothing is lost (a message may then go twice, with the same Message-ID).

The answer link in the e-mail is a signed reference to the invitation (no secret is stored): it
works for its recipient, signed in, and only once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from commonguard.accounts.models import Membership, Role
from commonguard.core.audit import audit_record
from commonguard.core.outbox import Outbox, mail_connection
from commonguard.measurement.kanon import K
from commonguard.measurement.models import SizeBand, Survey, SurveyInvitation, SurveyMail, SurveyResponse, size_band_for
from commonguard.measurement.querysets import survey_owner_states
from commonguard.orgs.models import Organization

LINK_SALT = "commonguard.measurement.survey-link"
LEASE = timedelta(minutes=10)
BATCH = 100
MAX_ATTEMPTS = 5
REMIND_AFTER = timedelta(days=7)  # the periodic reminder: a week after the last e-mail
MAX_REMINDERS = 3


class SurveyClosed(ValidationError):
    """No survey of that state and year is open: answers are refused, nothing stored."""


def require_survey_owner(user: Any, state: str) -> None:
    if state not in survey_owner_states(user):
        raise PermissionDenied("Only the state's survey owners can run the survey.")


def open_survey(state: str, year: int) -> Survey | None:
    return Survey.objects.filter(state=state, year=year, status=Survey.Status.OPEN).first()


def require_open(organization: Organization, year: int) -> Survey:
    survey = open_survey(organization.state, year)
    if survey is None:
        raise SurveyClosed(f"The {year} relationship survey is not open; answers are taken only while it is.")
    return survey


def it_lead_memberships(state: str | None = None) -> QuerySet[Membership]:
    """The IT leads the survey goes to: approved admins of approved local governments (of `state`)."""
    rows = Membership.objects.filter(
        status=Membership.Status.APPROVED,
        role=Role.ORG_ADMIN,
        user__is_active=True,
        user__is_service=False,
        organization__status=Organization.Status.APPROVED,
        organization__kind__in=Organization.LOCAL_GOVERNMENT_KINDS,
    ).order_by()
    return rows.filter(organization__state=state) if state else rows


def _queue(invitations: list[SurveyInvitation], kind: str) -> int:
    """Outbox rows, keyed by invitation and the number of the mail (the invitation; reminder 1, 2...
    counted from the reminder rows already written), so asking twice for the same one writes it once."""
    written = dict(
        SurveyMail.objects.filter(invitation__in=invitations, kind=kind)
        .values_list("invitation_id")
        .annotate(n=Count("id"))
        .values_list("invitation_id", "n")
    )
    rows = [
        SurveyMail(invitation=i, kind=kind, key=f"survey:{i.pk}:{kind}:{written.get(i.pk, 0) + 1}")
        for i in invitations
        if kind == SurveyMail.Kind.REMINDER or not written.get(i.pk)
    ]
    SurveyMail.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


@transaction.atomic
def survey_open(*, actor: Any, state: str, year: int) -> Survey:
    """Open (or reopen) the `year` survey of `state` and invite every IT lead not yet invited."""
    require_survey_owner(actor, state)
    if year < 2000 or year > timezone.now().year + 1:
        raise ValidationError({"year": "Give this year or next year."})
    survey, _ = Survey.objects.select_for_update().get_or_create(
        state=state, year=year, defaults={"opened_at": timezone.now(), "opened_by": actor}
    )
    if survey.status != Survey.Status.OPEN:
        survey.status, survey.closed_at = Survey.Status.OPEN, None
        survey.save(update_fields=["status", "closed_at"])
    invited = _invite_new(survey)
    audit_record(
        actor=actor,
        action="survey.open",
        summary=f"Opened the {year} relationship survey ({invited} invitations)",
        target=survey,
        data={"state": state, "year": year, "invited": invited},
    )
    return survey


def _invite_new(survey: Survey) -> int:
    answered = set(SurveyResponse.objects.filter(state=survey.state, year=survey.year).values_list("organization_id"))
    have = set(survey.invitations.values_list("organization_id", "recipient_id"))
    new = [
        SurveyInvitation(survey=survey, organization_id=org, recipient_id=user)
        for org, user in it_lead_memberships(survey.state).values_list("organization_id", "user_id")
        if (org, user) not in have and (org,) not in answered
    ]
    SurveyInvitation.objects.bulk_create(new, ignore_conflicts=True)
    fresh = list(survey.invitations.filter(mails__isnull=True))
    _queue(fresh, SurveyMail.Kind.INVITATION)
    return len(fresh)


@transaction.atomic
def survey_close(*, actor: Any, survey: Survey) -> Survey:
    require_survey_owner(actor, survey.state)
    survey = Survey.objects.select_for_update().get(pk=survey.pk)
    if survey.status == Survey.Status.CLOSED:
        raise ValidationError(f"The {survey.year} survey is already closed.")
    survey.status, survey.closed_at = Survey.Status.CLOSED, timezone.now()
    survey.save(update_fields=["status", "closed_at"])
    skipped = SurveyMail.objects.filter(invitation__survey=survey, status=SurveyMail.Status.PENDING).update(
        status=SurveyMail.Status.SKIPPED
    )
    audit_record(
        actor=actor,
        action="survey.close",
        summary=f"Closed the {survey.year} relationship survey",
        target=survey,
        data={"unsent_mail_dropped": skipped},
    )
    return survey


def _unanswered(survey: Survey) -> QuerySet[SurveyInvitation]:
    answered = SurveyResponse.objects.filter(state=survey.state, year=survey.year).values("organization_id")
    return survey.invitations.filter(used_at__isnull=True).exclude(organization_id__in=answered)


@transaction.atomic
def survey_remind(*, actor: Any | None, survey: Survey, before: datetime | None = None) -> int:
    """Queue a reminder to every invited IT lead whose organisation has not answered. `actor` None is
    the periodic run: then only invitations last mailed before `before`, at most MAX_REMINDERS each."""
    if actor is not None:
        require_survey_owner(actor, survey.state)
    survey = Survey.objects.select_for_update().get(pk=survey.pk)
    if survey.status != Survey.Status.OPEN:
        raise ValidationError(f"The {survey.year} survey is closed; reopen it to send reminders.")
    _invite_new(survey)  # IT leads named since the survey opened are invited, not reminded
    due = _unanswered(survey).exclude(mails__status__in=[SurveyMail.Status.PENDING, SurveyMail.Status.SENDING])
    if actor is None:
        due = due.filter(last_mailed_at__lt=before or timezone.now() - REMIND_AFTER, reminders__lt=MAX_REMINDERS)
    queued = _queue(list(due.distinct()), SurveyMail.Kind.REMINDER)
    if queued:
        audit_record(
            actor=actor,
            action="survey.remind",
            summary=f"Queued {queued} reminders for the {survey.year} relationship survey",
            target=survey,
            data={"reminders": queued, "periodic": actor is None},
        )
    return queued


def survey_remind_due(*, now: datetime | None = None) -> int:
    """The periodic reminders of every open survey (a week after the last e-mail, three at most)."""
    now = now or timezone.now()
    return sum(
        survey_remind(actor=None, survey=s, before=now - REMIND_AFTER)
        for s in Survey.objects.filter(status=Survey.Status.OPEN)
    )


# --- The answer link -------------------------------------------------------------------------


def answer_token(invitation: SurveyInvitation) -> str:
    return signing.dumps({"i": invitation.pk}, salt=LINK_SALT, compress=True)


def answer_url(invitation: SurveyInvitation) -> str:
    path = reverse("measurement:survey-link", kwargs={"token": answer_token(invitation)})
    return settings.COMMONGUARD_SITE_URL + path


def invitation_for(token: str, user: Any) -> SurveyInvitation | None:
    """The invitation a link names, if it was sent to `user`; else None (answers like absent)."""
    try:
        pk = signing.loads(token, salt=LINK_SALT)["i"]
    except (signing.BadSignature, KeyError, TypeError):
        return None
    return (
        SurveyInvitation.objects.filter(pk=pk, recipient_id=getattr(user, "pk", None))
        .select_related("survey", "organization")
        .first()
    )


def mark_used(organization: Organization, year: int) -> None:
    """After an answer every invitation of the organisation for that year stops working, the link
    that was used and any other (one answer a year, whichever way it came)."""
    SurveyInvitation.objects.filter(
        survey__state=organization.state, survey__year=year, organization=organization, used_at__isnull=True
    ).update(used_at=timezone.now())


# --- The outbox worker -----------------------------------------------------------------------


OUTBOX = Outbox(pending=SurveyMail.Status.PENDING, retry=SurveyMail.Status.RETRY, sending=SurveyMail.Status.SENDING)


def _claim() -> str | None:
    """Claim a batch of due rows (core/outbox.py): pending ones, failed ones whose retry time has come,
    and those a dead worker held longer than the lease."""
    return OUTBOX.claim(SurveyMail.objects.all(), limit=BATCH, lease=LEASE)


def _still_wanted(mail: SurveyMail, answered: set[int], leads: set[tuple[int, int]]) -> bool:
    inv = mail.invitation
    return (
        inv.survey.status == Survey.Status.OPEN
        and inv.used_at is None
        and inv.organization_id not in answered
        and (inv.organization_id, inv.recipient_id) in leads
    )


def _message(mail: SurveyMail) -> EmailMessage:
    inv = mail.invitation
    survey, org = inv.survey, inv.organization
    first = mail.kind == SurveyMail.Kind.INVITATION
    subject = (
        f"The {survey.year} state relationship survey: {org.name}"
        if first
        else f"Reminder: {org.name} has not yet answered the {survey.year} relationship survey"
    )
    body = (
        f"{'Hello' if first else 'A reminder'}: as the IT lead of {org.name}, please rate the state's partnership "
        "with you on information sharing, resource sharing, and education and training (excellent, fair or poor).\n"
        "It takes two minutes. Your answer is read only by the state's survey owners; everything published is "
        f"combined from at least {K} local governments.\n\n"
        f"Answer here (sign in first; the link works once): {answer_url(inv)}\n"
    )
    message = EmailMessage(subject, body, None, [inv.recipient.email])
    message.extra_headers["Message-ID"] = f"<survey-{mail.pk}-{mail.key.replace(':', '.')}@commonguard>"
    return message


def survey_mail_send() -> dict[str, int]:
    """Work off the outbox: claim, re-check, send, record. Returns counts by outcome."""
    counts = {"sent": 0, "skipped": 0, "failed": 0, "retry": 0}
    while True:
        claim = _claim()
        if claim is None:
            return counts
        mails = list(
            SurveyMail.objects.filter(claim=claim, status=SurveyMail.Status.SENDING).select_related(
                "invitation__survey", "invitation__organization", "invitation__recipient"
            )
        )
        states_years = {(m.invitation.survey.state, m.invitation.survey.year) for m in mails}
        answered = set(
            SurveyResponse.objects.filter(
                Q(*[Q(state=s, year=y) for s, y in states_years], _connector=Q.OR)
            ).values_list("organization_id", flat=True)
        )
        leads = set(
            it_lead_memberships()
            .filter(organization_id__in={m.invitation.organization_id for m in mails})
            .values_list("organization_id", "user_id")
        )
        with mail_connection() as connection:
            for mail in mails:
                _send_one(mail, connection, answered, leads, counts)


def _send_one(
    mail: SurveyMail, connection: Any, answered: set[int], leads: set[tuple[int, int]], counts: dict[str, int]
) -> None:
    if not _still_wanted(mail, answered, leads):
        SurveyMail.objects.filter(pk=mail.pk, claim=mail.claim).update(status=SurveyMail.Status.SKIPPED)
        counts["skipped"] += 1
        return
    try:
        message = _message(mail)
        message.connection = connection
        message.send()
    except Exception as exc:  # SMTP and socket errors alike: retried, then recorded
        failure = OUTBOX.failure(mail.attempts + 1, max_attempts=MAX_ATTEMPTS, failed=SurveyMail.Status.FAILED)
        SurveyMail.objects.filter(pk=mail.pk, claim=mail.claim).update(**failure, error=str(exc)[:300])
        counts["failed" if failure["status"] == SurveyMail.Status.FAILED else "retry"] += 1
        return
    sent_at = timezone.now()
    with transaction.atomic():
        SurveyMail.objects.filter(pk=mail.pk, claim=mail.claim).update(
            status=SurveyMail.Status.SENT, sent_at=sent_at, attempts=mail.attempts + 1, error=""
        )
        reminded = F("reminders") + (1 if mail.kind == SurveyMail.Kind.REMINDER else 0)
        SurveyInvitation.objects.filter(pk=mail.invitation_id).update(last_mailed_at=sent_at, reminders=reminded)
    counts["sent"] += 1


# --- Response rate ---------------------------------------------------------------------------


@dataclass
class Rate:
    label: str
    invited: int
    answered: int | None  # None: fewer than K answers, not shown to this reader

    @property
    def percent(self) -> int | None:
        if self.answered is None or not self.invited:
            return None
        return round(100 * self.answered / self.invited)


@dataclass
class ResponseRates:
    total: Rate
    by_region: list[Rate]
    by_size: list[Rate]


def response_rates(survey: Survey, *, exact: bool) -> ResponseRates:
    """Invited and answering local governments, overall, by region and by size band. `exact` is for
    the survey owners. Anyone else gets the total only, and its answers only when at least K
    answered: cuts by region or size would sit beside the k-protected results (stats.py) and could
    be differenced against them, so they are not published at all."""
    invited = set(survey.invitations.values_list("organization_id", flat=True))
    answered = set(
        SurveyResponse.objects.filter(state=survey.state, year=survey.year).values_list("organization_id", flat=True)
    )
    orgs = invited | answered

    def rate(label: str, members: set[int]) -> Rate:
        yes = len(members & answered)
        return Rate(label, len(members), yes if exact or yes >= K else None)

    total = rate("All local governments", orgs)
    if not exact:
        return ResponseRates(total, [], [])
    regions: dict[str, set[int]] = {}
    sizes: dict[str, set[int]] = {}
    for org_id, region, pop in Organization.objects.filter(pk__in=orgs).values_list("pk", "region__name", "population"):
        regions.setdefault(region or "No region", set()).add(org_id)
        sizes.setdefault(size_band_for(pop), set()).add(org_id)
    labels = dict(SizeBand.choices)
    return ResponseRates(
        total,
        [rate(name, members) for name, members in sorted(regions.items())],
        [rate(labels[band], sizes[band]) for band in SizeBand.values if band in sizes],
    )
