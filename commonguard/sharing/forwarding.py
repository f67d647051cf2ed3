"""Forward an alert to a colleague, within what its label permits, never beyond it
(docs/adr/0017-alert-questions-history-forwarding.md).

Forwarding never widens the audience: the person named must already be able to read the alert.

| label | may be forwarded to |
|---|---|
| TLP:CLEAR | any e-mail address (CLEAR is public) |
| TLP:GREEN | a vetted member of the hub (who can read it anyway) |
| TLP:AMBER | a person who can read it: a member of the author's or a named organisation, or of a named group |
| TLP:AMBER+STRICT | a person who can read it *and* shares an organisation with the forwarder |
| TLP:RED | nobody |

A refusal reads the same whether the address is unknown, belongs to someone who may not read the
alert, or to someone inactive: it never says whether a person exists. The e-mail is sent by the
worker, which checks the rule again at send time."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import get_connection
from django.core.validators import validate_email
from django.db import transaction
from django_tasks import task

from commonguard.accounts.models import User
from commonguard.accounts.viewer import viewer_for
from commonguard.core.audit import audit_record
from commonguard.core.tlp import TLP
from commonguard.orgs.models import Organization
from commonguard.sharing.models import Alert

MAX_NOTE = 500
REFUSED = "We can't forward this alert to that address."
RULES = {
    TLP.GREEN: "A TLP:GREEN alert can be forwarded only to vetted members of the hub.",
    TLP.AMBER: "A TLP:AMBER alert can be forwarded only to people in its audience.",
    TLP.AMBER_STRICT: "A TLP:AMBER+STRICT alert can be forwarded only to colleagues in your own organisation "
    "who are in its audience.",
}
RED_REFUSED = "A TLP:RED alert cannot be forwarded: it is for the people the author named, and nobody else."
FORWARDABLE = (Alert.Status.PUBLISHED, Alert.Status.UPDATED)


def reader_for(alert: Alert, forwarder: User, address: str) -> tuple[bool, User | None]:
    """Whether `alert` may go to `address` from `forwarder`, and the hub member at that address (if
    they may read it). The one rule, asked by the service and again by the worker at send time."""
    if alert.tlp == TLP.RED or alert.status not in FORWARDABLE:
        return False, None
    if not Alert.objects.visible_to(forwarder).filter(pk=alert.pk).exists():
        return False, None
    person = User.objects.filter(email__iexact=address, is_active=True).first()
    if person is not None and not Alert.objects.visible_to(person).filter(pk=alert.pk).exists():
        person = None
    strict = alert.tlp == TLP.AMBER_STRICT
    if person is not None and strict and not viewer_for(person).org_ids & viewer_for(forwarder).org_ids:
        person = None
    if alert.tlp == TLP.CLEAR:
        return True, person
    return person is not None, person


def _clean_address(email: str) -> str:
    address = (email or "").strip()
    try:
        validate_email(address)
    except ValidationError:
        raise ValidationError({"email": "Enter an e-mail address, like name@county.example."}) from None
    return address.lower()


@transaction.atomic
def alert_forward(*, actor: User, alert: Alert, email: str, note: str = "") -> str:
    """Send `alert` by e-mail to `email` on the actor's behalf, if the label permits it (table
    above). Audited; the e-mail goes out from the worker after commit. Returns the address. A
    refusal changes nothing and sends nothing."""
    # Read again through the rule: the caller's copy may predate a new label or a revocation.
    fresh = Alert.objects.visible_to(actor).filter(pk=alert.pk).first()
    if fresh is None:
        raise PermissionDenied("You cannot see this alert.")
    alert = fresh
    if alert.tlp == TLP.RED:
        raise ValidationError({"email": RED_REFUSED})
    if alert.status not in FORWARDABLE:
        raise ValidationError(f"A {alert.get_status_display().lower()} alert cannot be forwarded.")
    address = _clean_address(email)
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise ValidationError({"note": f"Keep the note under {MAX_NOTE} characters."})
    allowed, _ = reader_for(alert, actor, address)
    if not allowed:
        raise ValidationError({"email": f"{REFUSED} {RULES[TLP(alert.tlp)]}"})
    org_ids = sorted(viewer_for(actor).org_ids)
    audit_record(
        actor=actor,
        action="alert.forward",
        summary=f"{actor.email} forwarded alert {alert.uuid} ({TLP(alert.tlp).label}) to {address}",
        organization=Organization.objects.filter(pk=org_ids[0]).first() if org_ids else None,
        target=alert,
        data={"to": address, "version": alert.version, "tlp": alert.tlp},
    )
    alert_id, actor_id = alert.pk, actor.pk
    transaction.on_commit(lambda: send_forward.enqueue(alert_id, actor_id, address, note))
    return address


@task(queue_name="default")
def send_forward(alert_id: int, forwarder_id: int, address: str, note: str) -> int:
    """Send one forwarded alert, if the rule still allows it now (the label, the audience, the
    forwarder's and the recipient's memberships may all have changed since)."""
    from commonguard.sharing.delivery import forward_message

    alert = Alert.objects.select_related("author_org__region").filter(pk=alert_id).first()
    forwarder = User.objects.filter(pk=forwarder_id, is_active=True).first()
    if alert is None or forwarder is None:
        return 0
    allowed, reader = reader_for(alert, forwarder, address)
    if not allowed:
        return 0
    by = f"{forwarder.full_name} <{forwarder.email}>" if forwarder.full_name else forwarder.email
    with get_connection() as connection:
        return forward_message(
            alert, to=address, reader=reader, forwarded_by=by, note=note, connection=connection
        ).send()
