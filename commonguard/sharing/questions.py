"""Questions to an alert's author: a recipient organisation asks, the author's organisation answers,
in a thread that only those two organisations read (`QuestionQuerySet.visible_to`,
docs/adr/0017-alert-questions-history-forwarding.md).

Writes are transactional, rule-checked and audited; e-mail goes out from the worker after commit,
each recipient re-checked against `visible_to` at send time. On an anonymous alert the asking side
never learns who the author is: the author's side of a thread is shown to them as `author_label`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Prefetch
from django.urls import reverse
from django.utils.safestring import SafeString
from django_tasks import task

from commonguard.accounts.models import User
from commonguard.accounts.viewer import viewer_for
from commonguard.core.audit import audit_record
from commonguard.core.text import render_markdown
from commonguard.core.tlp import TLP
from commonguard.orgs.models import Organization
from commonguard.sharing.models import MAX_QUESTION, Alert, Question, QuestionReply
from commonguard.sharing.services import author_label

OPEN_FOR_QUESTIONS = (Alert.Status.PUBLISHED, Alert.Status.UPDATED)


# --- Writes ----------------------------------------------------------------------------------


def _clean_body(body: str, empty: str) -> str:
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": empty})
    if len(body) > MAX_QUESTION:
        raise ValidationError({"body": f"This text is {len(body):,} characters; keep it under {MAX_QUESTION:,}."})
    return body


def asking_organizations(user: Any, alert: Alert) -> list[Organization]:
    """The organisations `user` may ask for: their own approved ones, except the author's."""
    viewer = viewer_for(user)
    ids = viewer.org_ids - {alert.author_org_id}
    return list(Organization.objects.filter(pk__in=ids).order_by("sort_name")) if ids else []


@transaction.atomic
def question_ask(*, actor: User, alert: Alert, organization: Organization, body: str) -> Question:
    """Ask the author of `alert` a question for `organization` (one the actor is an approved member
    of, not the author's). Starts a thread read by both organisations; e-mails the author's
    organisation after commit."""
    # Read again through the rule: the caller's copy may predate a revocation or a new audience.
    fresh = Alert.objects.visible_to(actor).filter(pk=alert.pk).first()
    if fresh is None:
        raise PermissionDenied("You cannot see this alert.")
    alert = fresh
    if organization.pk not in viewer_for(actor).org_ids:
        raise PermissionDenied("You can ask only for an organisation you are an approved member of.")
    if organization.pk == alert.author_org_id:
        raise ValidationError(
            {"organization": "The author's organisation does not ask itself: talk to your colleagues."}
        )
    if alert.status not in OPEN_FOR_QUESTIONS:
        raise ValidationError(f"A {alert.get_status_display().lower()} alert takes no new questions.")
    question = Question.objects.create(
        alert=alert, organization=organization, asker=actor, body=_clean_body(body, "Write your question.")
    )
    # The alert's title stays out of the summary: the asking organisation's admins read its audit
    # trail, and they may not be able to read the alert (TLP:RED names people, not organisations).
    audit_record(
        actor=actor,
        action="alert.question",
        summary=f"{actor.email} asked the author of alert {alert.uuid} a question for {organization.name}",
        organization=organization,
        target=question,
        data={"alert": str(alert.uuid)},
    )
    pk = question.pk
    transaction.on_commit(lambda: notify_question.enqueue(pk))
    return question


@transaction.atomic
def question_reply(*, actor: User, question: Question, body: str) -> QuestionReply:
    """Answer in a thread: members of the author's organisation and of the asking organisation who
    can read it. E-mails the other side after commit."""
    if not Question.objects.visible_to(actor).filter(pk=question.pk).exists():
        raise PermissionDenied("You cannot see this question.")
    alert = question.alert
    from_author = alert.author_org_id in viewer_for(actor).org_ids
    organization_id = alert.author_org_id if from_author else question.organization_id
    reply = QuestionReply.objects.create(
        question=question,
        organization_id=organization_id,
        from_author=from_author,
        user=actor,
        body=_clean_body(body, "Write your reply."),
    )
    audit_record(
        actor=actor,
        action="alert.question_reply",
        summary=f"{actor.email} replied to question {question.pk} on alert {alert.uuid}",
        organization=Organization.objects.get(pk=organization_id),
        target=reply,
        data={"alert": str(alert.uuid), "question": question.pk, "from_author": from_author},
    )
    pk = reply.pk
    transaction.on_commit(lambda: notify_reply.enqueue(pk))
    return reply


# --- Reads -----------------------------------------------------------------------------------


def knows_author(alert: Alert, user: Any) -> bool:
    """Whether `user` may know which organisation wrote `alert` (the rule of `author_label`)."""
    return not alert.anonymous or author_label(alert, user) == alert.author_org.name


def speaker(alert: Alert, *, from_author: bool, user: User, organization: Organization, viewer_user: Any) -> str:
    """Who wrote a message of a thread, as `viewer_user` may know it. The asking side is named (the
    form tells the asker so); the author's side is named unless the alert is anonymous toward
    the viewer, who then reads only "The author (a county in Region 3)"."""
    if not from_author:
        return f"{user.full_name or user.email}, {organization.name}"
    if knows_author(alert, viewer_user):
        return f"{user.full_name or user.email}, {organization.name} (author)"
    label = author_label(alert, viewer_user)
    return f"The author ({label[:1].lower()}{label[1:]})"


@dataclass
class Post:
    pk: int
    who: str
    from_author: bool
    body_html: SafeString
    body: str
    created_at: datetime


@dataclass
class Thread:
    question: Question
    posts: list[Post]  # the question first, then the replies


def threads_for(user: Any, alert: Alert) -> list[Thread]:
    """The threads on `alert` that `user` may read, each with its messages labelled for them."""
    replies = Prefetch("replies", queryset=QuestionReply.objects.select_related("user", "organization"))
    questions = (
        Question.objects.visible_to(user)
        .filter(alert=alert)
        .select_related("asker", "organization")
        .prefetch_related(replies)
    )
    threads = []
    for q in questions:
        posts = [
            Post(
                q.pk,
                speaker(alert, from_author=False, user=q.asker, organization=q.organization, viewer_user=user),
                False,
                render_markdown(q.body),
                q.body,
                q.created_at,
            )
        ]
        posts += [
            Post(
                r.pk,
                speaker(alert, from_author=r.from_author, user=r.user, organization=r.organization, viewer_user=user),
                r.from_author,
                render_markdown(r.body),
                r.body,
                r.created_at,
            )
            for r in q.replies.all()
        ]
        threads.append(Thread(q, posts))
    return threads


# --- E-mail, from the worker -------------------------------------------------------------------


def _can_read(user: User, question: Question) -> bool:
    return Question.objects.visible_to(user).filter(pk=question.pk).exists()


def _mail(question: Question, recipient: User, *, what: str, who: str, body: str) -> EmailMessage:
    alert = question.alert
    label = TLP(alert.tlp).label
    link = settings.COMMONGUARD_SITE_URL + reverse("sharing:alert", kwargs={"uuid": alert.uuid})
    return EmailMessage(
        subject=f"[{label}] {what} about “{alert.title}”"[:250],
        body=(
            f"{who} wrote, about the alert “{alert.title}”:\n\n{body}\n\n"
            f"Read the thread and answer: {link}#question-{question.pk}\n\n"
            f"{label}: the thread carries the alert's label; share only as the label allows.\n"
        ),
        to=[recipient.email],
        headers={"X-CommonGuard-TLP": label},
    )


def _send(messages: list[EmailMessage]) -> int:
    if not messages:
        return 0
    with get_connection() as connection:
        return connection.send_messages(messages) or 0


def _author_org_members(question: Question) -> list[User]:
    return list(
        User.objects.filter(
            is_active=True,
            memberships__organization_id=question.alert.author_org_id,
            memberships__status="approved",
        ).distinct()
    )


@task(queue_name="default")
def notify_question(question_id: int) -> int:
    """E-mail a new question to the members of the alert's author organisation who may read it now."""
    question = (
        Question.objects.select_related("alert__author_org__region", "asker", "organization")
        .filter(pk=question_id)
        .first()
    )
    if question is None:
        return 0
    messages = []
    for person in _author_org_members(question):
        if person.pk == question.asker_id or not _can_read(person, question):
            continue
        who = speaker(
            question.alert,
            from_author=False,
            user=question.asker,
            organization=question.organization,
            viewer_user=person,
        )
        messages.append(_mail(question, person, what="A question", who=who, body=question.body))
    return _send(messages)


@task(queue_name="default")
def notify_reply(reply_id: int) -> int:
    """E-mail a reply to the other side of the thread: an answer from the author's organisation to
    the asker (and whoever else of the asking organisation wrote in the thread); a follow-up from
    the asking side to the alert's author and whoever of the author's organisation answered (or, if
    none of them may read it any more, to the author's organisation). Each re-checked at send time."""
    reply = (
        QuestionReply.objects.select_related(
            "question__alert__author_org__region", "question__asker", "organization", "user"
        )
        .filter(pk=reply_id)
        .first()
    )
    if reply is None:
        return 0
    question = reply.question
    alert = question.alert
    other_side = question.replies.filter(from_author=not reply.from_author).values_list("user_id", flat=True)
    wanted = {question.asker_id if reply.from_author else alert.author_id, *other_side}
    people = [p for p in User.objects.filter(pk__in=wanted, is_active=True) if _can_read(p, question)]
    if not reply.from_author and not people:
        people = [p for p in _author_org_members(question) if _can_read(p, question)]
    messages = []
    for person in people:
        if person.pk == reply.user_id:
            continue
        who = speaker(
            alert, from_author=reply.from_author, user=reply.user, organization=reply.organization, viewer_user=person
        )
        messages.append(_mail(question, person, what="A reply to a question", who=who, body=reply.body))
    return _send(messages)
