"""Credential reminders: 30 days before a credential expires, the responder and the coordinators
of their programme get one e-mail (per expiry date); on expiry an active responder becomes
inactive (lapsed credentials) until a coordinator renews the credential and reactivates them.

Run by `commonguard mutualaid_reminders [--every SECONDS]` (daily from scripts/run-demo.sh)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import F
from django.urls import reverse

from commonguard.accounts.models import Membership, Role, User
from commonguard.mutualaid.models import Credential, Responder
from commonguard.mutualaid.services import lapsed_credentials, responder_transition

WARN_DAYS = 30


@dataclass
class ReminderResult:
    warned: int = 0
    messages: int = 0
    lapsed: int = 0

    def summary(self) -> str:
        return f"{self.warned} credential(s) warned in {self.messages} e-mail(s); {self.lapsed} responder(s) lapsed"


def programme_coordinators(programme_id: int) -> list[User]:
    return list(
        User.objects.filter(
            memberships__organization_id=programme_id,
            memberships__organization__status="approved",
            memberships__role=Role.COORDINATOR,
            memberships__status=Membership.Status.APPROVED,
            is_active=True,
            is_service=False,
        ).distinct()
    )


def credentials_expiring(today: date) -> list[Credential]:
    """Credentials of responders still on a roster that expire within 30 days and have not been warned
    about for this expiry date."""
    return list(
        Credential.objects.filter(
            expires_on__gte=today,
            expires_on__lte=today + timedelta(days=WARN_DAYS),
            responder__status__in=[s for s in Responder.Status.values if s != Responder.Status.SEPARATED],
        )
        .exclude(warned_for_expiry=F("expires_on"))
        .select_related("responder", "responder__programme")
        .order_by("responder_id", "expires_on")
    )


def _body(responder: Responder, credentials: list[Credential], *, to_coordinator: bool) -> str:
    lines = [f"- {c.name}: expires {c.expires_on:%Y-%m-%d}" for c in credentials]
    link = settings.COMMONGUARD_SITE_URL + reverse("mutualaid:responder", args=[responder.pk])
    who = f"{responder.full_name}'s credentials" if to_coordinator else "Your credentials"
    return (
        f"{who} on the roster of {responder.programme.name} expire within {WARN_DAYS} days:\n\n"
        + "\n".join(lines)
        + "\n\nA responder whose credential has lapsed cannot be deployed and becomes inactive on the roster "
        "until the credential is renewed.\n\n"
        f"{link}\n"
    )


def coordinators_by_programme(programme_ids: list[int]) -> dict[int, list[User]]:
    """The coordinators of several programmes in one query (the reminder loop asked once per responder)."""
    rows = (
        Membership.objects.filter(
            organization_id__in=programme_ids,
            organization__status="approved",
            role=Role.COORDINATOR,
            status=Membership.Status.APPROVED,
            user__is_active=True,
            user__is_service=False,
        )
        .select_related("user")
        .order_by("organization_id", "user_id")
    )
    found: dict[int, list[User]] = defaultdict(list)
    for membership in rows:
        found[membership.organization_id].append(membership.user)
    return found


def credentials_remind(today: date) -> ReminderResult:
    """Send the 30-day warnings, then lapse active responders whose credentials have expired. The
    warnings take a fixed number of queries however many responders are warned."""
    result = ReminderResult()
    by_responder: dict[int, list[Credential]] = defaultdict(list)
    for credential in credentials_expiring(today):
        by_responder[credential.responder_id].append(credential)
    coordinators = coordinators_by_programme(sorted({c[0].responder.programme_id for c in by_responder.values()}))
    sent_ids: list[int] = []
    try:
        for credentials in by_responder.values():
            responder = credentials[0].responder
            messages = [
                EmailMessage(
                    subject=f"Credential expiring: {', '.join(c.name for c in credentials)}",
                    body=_body(responder, credentials, to_coordinator=False),
                    to=[responder.email],
                )
            ]
            for coordinator in coordinators.get(responder.programme_id, []):
                messages.append(
                    EmailMessage(
                        subject=f"{responder.full_name}: credential expiring",
                        body=_body(responder, credentials, to_coordinator=True),
                        to=[coordinator.email],
                    )
                )
            with get_connection() as connection:
                sent = connection.send_messages(messages) or 0
            sent_ids.extend(c.pk for c in credentials)
            result.warned += len(credentials)
            result.messages += sent
    finally:
        # Marked only once sent (a failed send is tried again on the next run), in one update.
        if sent_ids:
            with transaction.atomic():
                Credential.objects.filter(pk__in=sent_ids).update(warned_for_expiry=F("expires_on"))
    for responder in Responder.objects.filter(
        status=Responder.Status.ACTIVE, credentials__expires_on__lt=today
    ).distinct():
        lapsed = lapsed_credentials(responder, today)
        if lapsed:
            responder_transition(
                actor=None,
                responder=responder,
                to=Responder.Status.INACTIVE,
                note="lapsed: " + ", ".join(c.name for c in lapsed),
                system=True,
            )
            result.lapsed += 1
    return result
