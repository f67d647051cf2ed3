"""People, their memberships in organisations (with roles and vetting), and API tokens."""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone

from commonguard.accounts.querysets import ApiTokenQuerySet, MembershipQuerySet, UserQuerySet


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person. Signs in with e-mail and password (plus TOTP where the role requires it).

    `is_superuser` marks the hub operator, who sees everything (and is audited like anyone).
    """

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150)
    title = models.CharField(max_length=150, blank=True, help_text="Job title, e.g. IT Director")
    phone = models.CharField(max_length=40, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May use the Django admin site.")
    is_service = models.BooleanField(
        default=False,
        help_text="An account the hub itself acts as (e.g. the CISA KEV import): no password, cannot sign in, "
        "is never sent alerts.",
    )
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["full_name"]

    class Meta:
        ordering = ["full_name", "email"]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class Role(models.TextChoices):
    MEMBER = "member", "Member"
    ORG_ADMIN = "org_admin", "Organisation admin"
    STATE_LIAISON = "state_liaison", "State liaison"
    ANALYST = "analyst", "Analyst (state SOC)"
    RESPONDER = "responder", "Responder"
    COORDINATOR = "coordinator", "Coordinator (Guard / corps)"
    OFFICIAL = "official", "Read-only official"


# Roles whose holders must sign in with a second factor.
MFA_REQUIRED_ROLES = frozenset({Role.ORG_ADMIN, Role.STATE_LIAISON, Role.ANALYST, Role.COORDINATOR})
# Roles that only a state agency's people may hold: they see across the state.
STATE_STAFF_ROLES = frozenset({Role.STATE_LIAISON, Role.ANALYST})


class Membership(models.Model):
    """A person's place in an organisation, with one role, vetted by the organisation's admin."""

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Declined"
        REMOVED = "removed", "Removed"

    OPEN_STATUSES = (Status.PENDING, Status.APPROVED)

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices, default=Role.MEMBER)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    message = models.TextField(blank=True, help_text="What the person wrote when asking to join.")
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["organization", "user"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization"],
                condition=Q(status__in=["pending", "approved"]),
                name="membership_one_open_per_org",
            )
        ]
        indexes = [models.Index(fields=["organization", "status"], name="membership_org_status")]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} at {self.organization}"

    @property
    def is_approved(self) -> bool:
        return self.status == self.Status.APPROVED


def hash_token_secret(secret: str) -> str:
    """Tokens are 256-bit random values: a fast hash is enough (no guessing to slow down)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class ApiToken(models.Model):
    """A personal API token for machines. Only its hash is stored; the secret is shown once."""

    PREFIX = "cg"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'SIEM pull'.")
    key_id = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.PREFIX}_{self.key_id}…)"

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()

    @property
    def display_prefix(self) -> str:
        return f"{self.PREFIX}_{self.key_id}"
