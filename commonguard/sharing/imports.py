"""What every import (CISA KEV, plain feeds, MISP events) shares: the hub's service accounts, a
one-pass bulk validation of indicators, and an idempotent bulk replacement of an alert's indicators.

The per-indicator service path (`services._clean` → `indicators.parse_many`, a warning-list check
and an error for each value) is right for a person's paste of a few hundred values, and refuses more
than `MAX_INDICATORS`. Feeds bring tens of thousands of values a pull, most of them unchanged since
the last one, so this module:

- validates in one pass with the same `indicators.normalise` rules, counting invalid values (with a
  few examples) instead of refusing the whole import;
- diffs the wanted set against the alert's (kind, value) pairs in a Python set, then deletes and
  `bulk_create`s in batches; a re-import of identical data issues one SELECT and writes nothing;
- checks only new values against the warning lists, and flags hits (`Indicator.warning`) instead of
  refusing them: a feed has no author to ask (docs/adr/0021-feed-and-misp-imports.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from commonguard.accounts.models import Membership, Role, User
from commonguard.core.audit import audit_record
from commonguard.core.bulk import insert_rows
from commonguard.core.tlp import NAMED_ORGANISATION_LABELS
from commonguard.orgs.models import Organization
from commonguard.sharing import indicators as ioc
from commonguard.sharing.models import Alert, Indicator
from commonguard.sharing.warninglists import benign_matches

if TYPE_CHECKING:
    from commonguard.sharing.services import AlertInput

BATCH = 5_000
_VERBATIM = frozenset({Indicator.Kind.EMAIL_SUBJECT, Indicator.Kind.FILENAME})
MAX_ERRORS_KEPT = 20

Key = tuple[str, str]


# --- Service accounts ------------------------------------------------------------------------


def service_account(email: str, full_name: str, title: str) -> User:
    """The hub's account for one kind of import: no usable password (it cannot sign in), its API
    tokens are refused, and the outbox never addresses it (`User.is_service`). Put back if someone
    changed it in the admin site."""
    service = User.objects.filter(email=email).first()
    if service is None:
        service = User(email=email, full_name=full_name, title=title, is_service=True)
        service.set_unusable_password()
        service.save()
    elif not service.is_service or not service.is_active or service.has_usable_password():
        service.is_service, service.is_active = True, True
        service.set_unusable_password()
        service.save(update_fields=["is_service", "is_active", "password"])
    return service


def service_membership(service: User, org: Organization, *, action: str, why: str) -> Membership:
    """Make the service account an approved member (role *member*) of `org`, so that it publishes
    through the ordinary services for that organisation; audited the first time."""
    membership, created = Membership.objects.get_or_create(
        user=service,
        organization=org,
        status=Membership.Status.APPROVED,
        defaults={"role": Role.MEMBER, "decided_at": timezone.now(), "message": why},
    )
    if created:
        audit_record(
            actor=None,
            action=action,
            summary=f"{service.email} set up to publish for {org.name}: {why}",
            organization=org,
            target=membership,
        )
    return membership


# --- Bulk validation -------------------------------------------------------------------------


@dataclass
class Parsed:
    """What one pass over a source's values found: the valid indicators (normalised, de-duplicated,
    in first-seen order, each with an optional comment) and the invalid ones, counted."""

    wanted: dict[Key, str] = field(default_factory=dict)
    read: int = 0
    invalid: int = 0
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)

    def add_error(self, where: str, message: str) -> None:
        self.invalid += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(f"{where}: {message}"[:300])


def parse_bulk(
    items: Iterable[tuple[str, str | None, str, str]],
    *,
    progress: Callable[[int], None] | None = None,
    every: int = 10_000,
) -> Parsed:
    """Validate (where, kind or None to guess, raw value, comment) tuples in one pass. Never raises
    for a bad value: it is counted, and the first few are kept as examples."""
    result = Parsed()
    wanted = result.wanted
    for where, kind, raw, comment in items:
        result.read += 1
        if progress is not None and result.read % every == 0:
            progress(result.read)
        plain = ioc.parse_plain(kind, raw)
        if plain is not None:
            if plain in wanted:
                result.duplicates += 1
            else:
                wanted[plain] = comment[:300]
            continue
        try:
            if kind in _VERBATIM:  # subjects and file names are not refanged
                chosen, key = kind, (kind, ioc.normalise(kind, raw))
            else:
                text = ioc.refang(raw.strip())
                chosen = kind or ioc.guess_kind(text, refanged=True)
                key = (chosen, ioc.normalise(chosen, text, refanged=True))
        except ValidationError as exc:
            result.add_error(where, " ".join(exc.messages))
            continue
        if key in wanted:
            result.duplicates += 1
        else:
            wanted[key] = comment[:300]
    return result


# --- Bulk replacement ------------------------------------------------------------------------


@dataclass
class Replaced:
    added: int = 0
    removed: int = 0
    unchanged: int = 0
    warned: int = 0  # of the added, on a known-benign list (flagged, kept)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "removed": self.removed, "unchanged": self.unchanged, "warned": self.warned}


def indicators_replace(alert: Alert, wanted: dict[Key, str], *, batch: int = BATCH) -> Replaced:
    """Make `alert`'s indicators exactly `wanted` ((kind, value) → comment): keep the rows that stay
    (their ids, sightings and comments), delete the others, insert the new ones, in batches.
    Identical data: one SELECT, no write. Call inside the import's transaction (all or nothing)."""
    with connection.cursor() as cursor:  # tens of thousands of rows: no model or queryset machinery
        table = Indicator._meta.db_table  # a constant, not input
        cursor.execute(f"SELECT id, kind, value FROM {table} WHERE alert_id = %s", [alert.pk])  # noqa: S608
        existing: dict[Key, int] = {(kind, value): pk for pk, kind, value in cursor.fetchall()}
    result = Replaced()
    gone = [pk for key, pk in existing.items() if key not in wanted]
    result.unchanged = len(existing) - len(gone)
    for start in range(0, len(gone), batch):
        # Sightings keep their alert and lose the indicator (SET_NULL), as for a person's edit.
        Indicator.objects.filter(pk__in=gone[start : start + batch]).delete()
    result.removed = len(gone)
    new = [key for key in wanted if key not in existing]
    for start in range(0, len(new), batch):
        rows = []
        for kind, value in new[start : start + batch]:
            warning = "; ".join(benign_matches(kind, value))[:300]
            result.warned += bool(warning)
            rows.append((alert.pk, kind, value, wanted[(kind, value)], warning))
        _insert(rows)
    result.added = len(new)
    return result


def _insert(rows: list[tuple[int, str, str, str, str]]) -> None:
    """Insert validated indicator rows (COPY on PostgreSQL: `core.bulk.insert_rows`)."""
    insert_rows(Indicator, ("alert_id", "kind", "value", "comment", "warning"), rows)


def alert_for_source(source_key: str) -> Alert | None:
    """The imported alert of `source_key`, locked for the rest of the transaction (so two pulls of
    the same source wait for each other instead of racing)."""
    assert transaction.get_connection().in_atomic_block, "call inside the import's transaction"
    return Alert.objects.select_for_update().filter(source_key=source_key).first()


def alert_differs(alert: Alert, data: AlertInput) -> bool:
    """Whether an imported alert's wording, label or audience differs from what the import wants now
    (a re-import of the same data writes no new version)."""
    if (alert.title, alert.summary, alert.category, alert.severity, alert.tlp) != (
        data.title,
        data.summary,
        data.category,
        data.severity,
        data.tlp,
    ):
        return True
    named = data.tlp in NAMED_ORGANISATION_LABELS
    wanted_orgs = {o.pk for o in data.recipient_orgs} if named else set()
    wanted_groups = {g.pk for g in data.sharing_groups} if named else set()
    return (
        set(alert.recipient_orgs.values_list("pk", flat=True)) != wanted_orgs
        or set(alert.sharing_groups.values_list("pk", flat=True)) != wanted_groups
    )
