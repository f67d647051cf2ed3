"""A person's alert preferences: the service that changes them and the one-click unsubscribe."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from commonguard.accounts.models import User
from commonguard.core.audit import audit_record
from commonguard.sharing.models import AlertPreference

PREFERENCE_FIELDS = ("email", "email_mode", "browser_notifications", "categories", "min_severity")


def preference_for(user: User) -> AlertPreference:
    """The person's preferences, or the defaults (not saved) when they never chose."""
    found = AlertPreference.objects.filter(user=user).first()
    return found if found is not None else AlertPreference(user=user)


@transaction.atomic
def preferences_save(*, actor: User, data: dict[str, Any]) -> AlertPreference:
    """A person changes their own preferences (nobody else can)."""
    preference = preference_for(actor)
    for field in PREFERENCE_FIELDS:
        if field in data:
            setattr(preference, field, data[field])
    preference.full_clean(exclude=["user"])
    preference.save()
    audit_record(
        actor=actor,
        action="alerts.preferences_changed",
        target=actor,
        summary="Changed how alerts reach them",
        data={field: getattr(preference, field) for field in PREFERENCE_FIELDS},
    )
    return preference


@transaction.atomic
def unsubscribe(*, user: User) -> AlertPreference:
    """The e-mail link: stop alert e-mails for this person (the live feed and the pages stay)."""
    preference = preference_for(user)
    preference.email = False
    preference.save()
    audit_record(actor=user, action="alerts.unsubscribed", target=user, summary="Stopped alert e-mails by the link")
    return preference
