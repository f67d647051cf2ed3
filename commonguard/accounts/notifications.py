"""E-mail about vetting: a join request reaches the people who can decide it, and the decision
reaches the person who asked. Sent by the background worker (django-tasks), after commit.

Each task re-reads its rows and re-checks the read rule for every recipient at send time: a
recipient who can no longer see the request gets nothing."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.urls import reverse
from django_tasks import task

from commonguard.accounts import policies
from commonguard.accounts.models import STATE_STAFF_ROLES, Membership, Role, User


def _approvers(membership: Membership) -> list[User]:
    """Who can decide this request: the organisation's admins, or else its state's liaisons."""
    org = membership.organization
    admins = User.objects.filter(
        memberships__organization=org, memberships__role=Role.ORG_ADMIN, memberships__status="approved", is_active=True
    ).exclude(pk=membership.user_id)
    if admins.exists() or membership.role in STATE_STAFF_ROLES:
        return list(admins)
    return list(
        User.objects.filter(
            memberships__organization__kind="state_agency",
            memberships__organization__state=org.state,
            memberships__organization__status="approved",
            memberships__role=Role.STATE_LIAISON,
            memberships__status="approved",
            is_active=True,
        ).distinct()
    )


def _send(messages: list[EmailMessage]) -> int:
    if not messages:
        return 0
    with get_connection() as connection:
        return connection.send_messages(messages) or 0


@task(queue_name="default")
def send_join_request_notice(membership_id: int) -> int:
    membership = Membership.objects.select_related("organization", "user").filter(pk=membership_id).first()
    if membership is None or membership.status != Membership.Status.PENDING:
        return 0
    link = settings.COMMONGUARD_SITE_URL + reverse("orgs:approvals")
    messages = []
    for approver in _approvers(membership):
        # Re-check at send time: the approver must still see the request and be able to decide it.
        if not Membership.objects.visible_to(approver).filter(pk=membership.pk).exists():
            continue
        if not policies.can_decide_membership(approver, membership):
            continue
        messages.append(
            EmailMessage(
                subject=f"[CommonGuard] {membership.user.full_name} asks to join {membership.organization.name}",
                body=(
                    f"{membership.user.full_name} <{membership.user.email}> asks to join "
                    f"{membership.organization.name} as {membership.get_role_display()}.\n\n"
                    f"Their note: {membership.message or '(none)'}\n\n"
                    f"Approve or decline: {link}\n\n"
                    "If you do not recognise this person, decline: they see nothing until someone approves them.\n"
                ),
                to=[approver.email],
            )
        )
    return _send(messages)


@task(queue_name="default")
def send_membership_decision_notice(membership_id: int) -> int:
    membership = Membership.objects.select_related("organization", "user").filter(pk=membership_id).first()
    if membership is None or membership.status not in {Membership.Status.APPROVED, Membership.Status.REJECTED}:
        return 0
    approved = membership.status == Membership.Status.APPROVED
    body = (
        f"You are now a member of {membership.organization.name} on CommonGuard "
        f"({membership.get_role_display()}).\n\nSign in: {settings.COMMONGUARD_SITE_URL}/\n"
        if approved
        else f"Your request to join {membership.organization.name} on CommonGuard was declined.\n"
        + (f"\nNote: {membership.decision_note}\n" if membership.decision_note else "")
    )
    verb = "approved" if approved else "declined"
    message = EmailMessage(
        subject=f"[CommonGuard] Your request to join {membership.organization.name} was {verb}",
        body=body,
        to=[membership.user.email],
    )
    return _send([message])


def after_commit_notify_request(membership: Membership) -> None:
    pk = membership.pk
    transaction.on_commit(lambda: send_join_request_notice.enqueue(pk))


def after_commit_notify_decision(membership: Membership) -> None:
    pk = membership.pk
    transaction.on_commit(lambda: send_membership_decision_notice.enqueue(pk))
