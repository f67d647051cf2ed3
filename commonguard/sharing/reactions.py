"""Recipients' reactions to an alert: acknowledgements ("we are checking") and sightings ("seen in
our environment" / "false positive for us"). Transactional, rule-checked, audited."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from commonguard.accounts.models import User
from commonguard.accounts.viewer import viewer_for
from commonguard.core.audit import audit_record
from commonguard.orgs.models import Organization
from commonguard.sharing.delivery import sighting_announce
from commonguard.sharing.models import Acknowledgement, Alert, Indicator, Sighting

MAX_COUNT = 1_000_000_000


def _check_can_react(actor: User, alert: Alert, organization: Organization) -> None:
    if not Alert.objects.visible_to(actor).filter(pk=alert.pk).exists():
        raise PermissionDenied("You cannot see this alert.")
    if organization.pk not in viewer_for(actor).org_ids:
        raise PermissionDenied("You can answer only for an organisation you are an approved member of.")
    if alert.status not in (Alert.Status.PUBLISHED, Alert.Status.UPDATED):
        raise ValidationError(f"A {alert.get_status_display().lower()} alert takes no new answers.")


@transaction.atomic
def alert_acknowledge(*, actor: User, alert: Alert, organization: Organization, note: str = "") -> Acknowledgement:
    """Say, for `organization`, that the alert has reached someone who is acting on it. Once per organisation."""
    _check_can_react(actor, alert, organization)
    if organization.pk == alert.author_org_id:
        raise ValidationError("The author's organisation does not acknowledge its own alert.")
    try:
        with transaction.atomic():
            ack = Acknowledgement.objects.create(alert=alert, organization=organization, user=actor, note=note[:500])
    except IntegrityError:
        raise ValidationError(f"{organization.name} has already acknowledged this alert.") from None
    audit_record(
        actor=actor,
        action="alert.acknowledge",
        # The alert by its id, never its title: the organisation's admins read this trail, and they
        # may not be allowed to read the alert (a RED alert names people, not organisations).
        summary=f"{actor.email} acknowledged alert {alert.uuid} for {organization.name}",
        organization=organization,
        target=ack,
    )
    return ack


@transaction.atomic
def sighting_report(
    *,
    actor: User,
    alert: Alert,
    organization: Organization,
    kind: str,
    seen_at: datetime | None = None,
    count: int = 1,
    indicator: Indicator | None = None,
    note: str = "",
) -> Sighting:
    """Record that `organization` saw the alert's activity (or found it a false positive)."""
    _check_can_react(actor, alert, organization)
    errors: dict[str, list[str]] = {}
    if kind not in Sighting.Kind.values:
        errors["kind"] = ["Choose “seen” or “false positive”."]
    seen_at = seen_at or timezone.now()
    if seen_at > timezone.now() + timedelta(minutes=5):
        errors["seen_at"] = ["A sighting cannot be in the future."]
    if not 1 <= count <= MAX_COUNT:
        errors["count"] = ["How many times: a whole number of at least 1."]
    if indicator is not None and indicator.alert_id != alert.pk:
        errors["indicator"] = ["That indicator is not part of this alert."]
    if errors:
        raise ValidationError(errors)
    sighting = Sighting.objects.create(
        alert=alert,
        organization=organization,
        user=actor,
        kind=kind,
        seen_at=seen_at,
        count=count,
        indicator=indicator,
        note=note[:500],
    )
    audit_record(
        actor=actor,
        action="alert.sighting",
        summary=f"{actor.email} reported “{sighting.get_kind_display()}” for alert {alert.uuid} at {organization.name}",
        organization=organization,
        target=sighting,
    )
    from commonguard.interop.sync import stix_sync_alert  # the STIX sighting counts follow

    stix_sync_alert(alert)
    # Open campaign maps of the alert refresh through the live feed (the worker applies the read rule).
    alert_id = alert.pk
    transaction.on_commit(lambda: sighting_announce.enqueue(alert_id))
    return sighting


def reaction_counts(alert: Alert) -> dict[str, Any]:
    """What every reader of the alert may know: how many organisations acknowledged it, saw it, or
    found it a false positive — never which."""
    sightings = Sighting.objects.filter(alert=alert).aggregate(
        seen=Count("organization", filter=Q(kind=Sighting.Kind.SEEN), distinct=True),
        false_positive=Count("organization", filter=Q(kind=Sighting.Kind.FALSE_POSITIVE), distinct=True),
    )
    return {"acknowledged": Acknowledgement.objects.filter(alert=alert).count(), **sightings}
