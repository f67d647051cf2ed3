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


def credentials_remind(today: date) -> ReminderResult:
    """Send the 30-day warnings, then lapse active responders whose credentials have expired."""
    result = ReminderResult()
    by_responder: dict[int, list[Credential]] = defaultdict(list)
    for credential in credentials_expiring(today):
        by_responder[credential.responder_id].append(credential)
    for credentials in by_responder.values():
        responder = credentials[0].responder
        messages = [
            EmailMessage(
                subject=f"Credential expiring: {', '.join(c.name for c in credentials)}",
                body=_body(responder, credentials, to_coordinator=False),
                to=[responder.email],
            )
        ]
        for coordinator in programme_coordinators(responder.programme_id):
            messages.append(
                EmailMessage(
                    subject=f"{responder.full_name}: credential expiring",
                    body=_body(responder, credentials, to_coordinator=True),
                    to=[coordinator.email],
                )
            )
        with get_connection() as connection:
            sent = connection.send_messages(messages) or 0
        # Marked only once sent: a failed send is tried again on the next run.
        with transaction.atomic():
            for credential in credentials:
                Credential.objects.filter(pk=credential.pk).update(warned_for_expiry=credential.expires_on)
        result.warned += len(credentials)
        result.messages += sent
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
