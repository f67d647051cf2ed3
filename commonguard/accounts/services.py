"""Every change to people, memberships, MFA and tokens. Each service is one transaction, takes
the acting person, checks the write rule and appends to the audit trail."""

from __future__ import annotations

import functools
import secrets
from datetime import datetime
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from commonguard.accounts import notifications, policies
from commonguard.accounts.models import MFA_REQUIRED_ROLES, ApiToken, Membership, Role, User, hash_token_secret
from commonguard.accounts.viewer import forget_viewer, viewer_for
from commonguard.core.audit import audit_record, stamp_decision
from commonguard.core.compiled import CompiledQuery
from commonguard.core.models import AuditEvent
from commonguard.orgs.models import Organization

RECOVERY_CODE_COUNT = 10


# --- People and join requests --------------------------------------------------------------


@transaction.atomic
def user_register(*, email: str, full_name: str, password: str, title: str = "", phone: str = "") -> User:
    """Create an account (unvetted: it sees nothing until a membership is approved)."""
    email = User.objects.normalize_email(email).strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": "An account with this e-mail address already exists. Sign in instead."})
    candidate = User(email=email, full_name=full_name.strip(), title=title, phone=phone)
    validate_password(password, user=candidate)
    user = User.objects.create_user(
        email=email, password=password, full_name=full_name.strip(), title=title, phone=phone
    )
    audit_record(actor=user, action="user.register", summary=f"{email} created an account", target=user)
    return user


@transaction.atomic
def membership_request(
    *, actor: User, organization: Organization, role: str = Role.MEMBER, message: str = ""
) -> Membership:
    """Ask to join `organization` with `role`. The organisation's admin (or, where it has none,
    a state liaison) decides. A second open request for the same organisation is refused."""
    policies.check_role_allowed(role=role, organization=organization)
    if Membership.objects.filter(user=actor, organization=organization, status__in=Membership.OPEN_STATUSES).exists():
        existing = Membership.objects.get(user=actor, organization=organization, status__in=Membership.OPEN_STATUSES)
        if existing.status == Membership.Status.APPROVED:
            raise ValidationError(f"You are already a member of {organization.name}.")
        raise ValidationError(f"You already asked to join {organization.name}; that request is awaiting approval.")
    try:
        with transaction.atomic():
            membership = Membership.objects.create(user=actor, organization=organization, role=role, message=message)
    except IntegrityError:  # a concurrent double submit
        raise ValidationError(f"You already asked to join {organization.name}.") from None
    audit_record(
        actor=actor,
        action="membership.request",
        summary=f"{actor.email} asked to join {organization.name} as {Role(role).label}",
        organization=organization,
        target=membership,
    )
    forget_viewer(actor)
    notifications.after_commit_notify_request(membership)
    return membership


def _decide(*, actor: User, membership: Membership, status: str, note: str, verb: str) -> Membership:
    if membership.status != Membership.Status.PENDING:
        raise ValidationError(f"This request was already {membership.get_status_display().lower()}.")
    policies.check_can_decide_membership(actor, membership)
    stamp_decision(membership, actor=actor, status=status, note=note)
    audit_record(
        actor=actor,
        action=f"membership.{verb}",
        summary=f"{actor.email} {verb}d {membership.user.email} as {membership.get_role_display()} "
        f"of {membership.organization.name}",
        organization=membership.organization,
        target=membership,
        data={"note": note} if note else None,
    )
    forget_viewer(membership.user)
    notifications.after_commit_notify_decision(membership)
    return membership


@transaction.atomic
def membership_approve(*, actor: User, membership: Membership, note: str = "") -> Membership:
    return _decide(actor=actor, membership=membership, status=Membership.Status.APPROVED, note=note, verb="approve")


@transaction.atomic
def membership_reject(*, actor: User, membership: Membership, note: str = "") -> Membership:
    return _decide(actor=actor, membership=membership, status=Membership.Status.REJECTED, note=note, verb="decline")


@transaction.atomic
def membership_change_role(*, actor: User, membership: Membership, role: str) -> Membership:
    policies.check_can_manage_organization(actor, membership.organization)
    policies.check_role_allowed(role=role, organization=membership.organization)
    if membership.status != Membership.Status.APPROVED:
        raise ValidationError("Only an approved membership can change role.")
    if membership.user_id == actor.pk and role != Role.ORG_ADMIN and not viewer_for(actor).is_operator:
        _check_not_last_admin(membership)
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        actor=actor,
        action="membership.change_role",
        summary=f"{actor.email} changed {membership.user.email} from {Role(old).label} to {Role(role).label}",
        organization=membership.organization,
        target=membership,
        data={"from": old, "to": role},
    )
    forget_viewer(membership.user)
    return membership


@transaction.atomic
def membership_remove(*, actor: User, membership: Membership, note: str = "") -> Membership:
    """End a membership (someone left). Their contact roles stay in the history until reassigned."""
    if membership.user_id != actor.pk:
        policies.check_can_manage_organization(actor, membership.organization)
    if membership.status != Membership.Status.APPROVED:
        raise ValidationError("Only an approved membership can be removed.")
    if membership.role == Role.ORG_ADMIN:
        _check_not_last_admin(membership)
    stamp_decision(membership, actor=actor, status=Membership.Status.REMOVED, note=note)
    audit_record(
        actor=actor,
        action="membership.remove",
        summary=f"{actor.email} removed {membership.user.email} from {membership.organization.name}",
        organization=membership.organization,
        target=membership,
    )
    forget_viewer(membership.user)
    return membership


def _check_not_last_admin(membership: Membership) -> None:
    others = Membership.objects.filter(
        organization=membership.organization, role=Role.ORG_ADMIN, status=Membership.Status.APPROVED
    ).exclude(pk=membership.pk)
    if not others.exists():
        raise ValidationError(
            "This is the organisation's last admin. Make someone else an admin first, "
            "so the organisation is never left without one."
        )


# --- Multi-factor sign-in -------------------------------------------------------------------


def _security_event(actor: User, action: str, summary: str, target: Any) -> None:
    audit_record(actor=actor, action=action, summary=summary, kind=AuditEvent.Kind.SECURITY, target=target)


def mfa_required(user: Any) -> bool:
    """A person must use a second factor if any of their approved roles needs one, or runs the hub."""
    viewer = viewer_for(user)
    return viewer.is_operator or bool(viewer.roles & MFA_REQUIRED_ROLES)


def mfa_confirmed_totp(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


@transaction.atomic
def mfa_totp_begin(*, actor: User) -> TOTPDevice:
    """Start enrolling an authenticator app: an unconfirmed device whose secret the page shows once."""
    TOTPDevice.objects.filter(user=actor, confirmed=False).delete()
    return TOTPDevice.objects.create(user=actor, name="Authenticator app", confirmed=False)


@transaction.atomic
def mfa_totp_confirm(*, actor: User, device: TOTPDevice, token: str) -> list[str]:
    """Confirm enrolment with a first code; returns fresh recovery codes (shown once)."""
    if device.user_id != actor.pk or device.confirmed:
        raise ValidationError("This enrolment has expired. Start again.")
    if not device.verify_token(token.strip().replace(" ", "")):
        raise ValidationError(
            {"token": "That code did not match. Check the time on your phone and try the newest code."}
        )
    TOTPDevice.objects.filter(user=actor, confirmed=True).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _new_recovery_codes(actor)
    _security_event(actor, "mfa.enrol", f"{actor.email} turned on two-step sign-in", actor)
    return codes


@transaction.atomic
def mfa_recovery_codes_regenerate(*, actor: User) -> list[str]:
    codes = _new_recovery_codes(actor)
    _security_event(actor, "mfa.recovery_codes", f"{actor.email} made new recovery codes", actor)
    return codes


def _new_recovery_codes(user: User) -> list[str]:
    device, _ = StaticDevice.objects.get_or_create(user=user, name="Recovery codes", defaults={"confirmed": True})
    device.token_set.all().delete()
    # 12 hex digits (48 bits) in two groups: fits django-otp's 16-character token column.
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


@transaction.atomic
def mfa_disable(*, actor: User) -> None:
    if mfa_required(actor):
        raise ValidationError("Your role requires two-step sign-in; it cannot be turned off.")
    TOTPDevice.objects.filter(user=actor).delete()
    StaticDevice.objects.filter(user=actor).delete()
    _security_event(actor, "mfa.disable", f"{actor.email} turned off two-step sign-in", actor)


# --- API tokens -------------------------------------------------------------------------------


@transaction.atomic
def token_create(*, actor: User, name: str, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Create a personal API token. Returns the token row and its secret, which is never stored."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the token a name that says what it is for."})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry date must be in the future."})
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=actor, name=name[:100], key_id=key_id, key_hash=hash_token_secret(secret), expires_at=expires_at
    )
    _security_event(actor, "token.create", f"{actor.email} created API token “{token.name}”", token)
    return token, f"{ApiToken.PREFIX}_{key_id}_{secret}"


@transaction.atomic
def token_revoke(*, actor: User, token: ApiToken) -> ApiToken:
    if token.user_id != actor.pk:
        raise PermissionError("A person can revoke only their own tokens.")
    if token.revoked_at is not None:
        raise ValidationError("This token is already revoked.")
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    _security_event(actor, "token.revoke", f"{actor.email} revoked API token “{token.name}”", token)
    return token


@functools.cache
def _token_columns() -> tuple[list[str], list[str]]:
    return [f.attname for f in ApiToken._meta.concrete_fields], [f.attname for f in User._meta.concrete_fields]


def _token_and_user(key_id: str) -> Any:
    token_columns, user_columns = _token_columns()
    return ApiToken.objects.filter(key_id=key_id).values_list(*token_columns, *(f"user__{n}" for n in user_columns))


# Every API call reads it: compiled once (core/compiled.py), the instances built from the row.
_TOKEN_AND_USER = CompiledQuery(_token_and_user)


def _token_with_user(key_id: str) -> ApiToken | None:
    """`ApiToken.objects.select_related("user").get(key_id=key_id)`, or None, at a quarter of the CPU."""
    rows = _TOKEN_AND_USER.rows(key_id)
    if not rows:
        return None
    token_columns, user_columns = _token_columns()
    row = rows[0]
    token = ApiToken.from_db(_TOKEN_AND_USER.using, token_columns, row[: len(token_columns)])
    token.user = User.from_db(_TOKEN_AND_USER.using, user_columns, row[len(token_columns) :])
    return token


def token_authenticate(raw: str) -> ApiToken | None:
    """The active token matching `raw` (`cg_<id>_<secret>`), or None. Constant-time comparison."""
    parts = raw.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != ApiToken.PREFIX:
        return None
    token = _token_with_user(parts[1])
    if token is None or not secrets.compare_digest(token.key_hash, hash_token_secret(parts[2])):
        return None
    if not token.is_active or not token.user.is_active or token.user.is_service:
        return None
    now = timezone.now()
    # Record use at most once a minute: a busy SIEM poller must not turn every read into a write.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
