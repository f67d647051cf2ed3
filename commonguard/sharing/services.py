"""Every change to alerts: drafts, publishing, updates, revocation. Each is one transaction that
checks the write rule, validates everything before writing anything, snapshots the version and
appends to the audit trail. (Fan-out of deliveries to recipients is built on top of `alert_publish`.)"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from commonguard.accounts.models import User
from commonguard.accounts.viewer import viewer_for
from commonguard.core.audit import audit_record
from commonguard.core.tlp import NAMED_ORGANISATION_LABELS, TLP, parse_tlp
from commonguard.orgs.models import Organization
from commonguard.sharing import indicators as ioc
from commonguard.sharing.delivery import outbox_write
from commonguard.sharing.models import (
    ALERT_CONTENT_FIELDS,
    MAX_MARKDOWN,
    MAX_TITLE,
    Alert,
    AlertVersion,
    Indicator,
    SharingGroup,
)
from commonguard.sharing.warninglists import benign_matches

_ATTACK_ID = re.compile(r"^T\d{4}(\.\d{3})?$")


@dataclass
class AlertInput:
    title: str
    summary: str
    category: str
    tlp: str
    severity: str = Alert.Severity.MEDIUM
    recommended_actions: str = ""
    anonymous: bool = False
    attack_techniques: list[str] = field(default_factory=list)
    valid_until: datetime | None = None
    known_ransomware_use: bool = False
    recipient_orgs: list[Organization] = field(default_factory=list)
    sharing_groups: list[SharingGroup] = field(default_factory=list)
    recipient_people: list[User] = field(default_factory=list)
    # (kind or None to guess, value as typed or pasted)
    indicators: list[tuple[str | None, str]] = field(default_factory=list)
    # The author has seen which indicators are on known-benign lists and keeps them anyway.
    confirm_benign: bool = False


def can_edit_alert(actor: Any, alert: Alert) -> bool:
    """The author, or an admin of the author's organisation, while a member of it."""
    viewer = viewer_for(actor)
    if alert.author_org_id not in viewer.org_ids:
        return False
    return alert.author_id == viewer.user_id or alert.author_org_id in viewer.admin_org_ids


def _check_can_edit(actor: Any, alert: Alert) -> None:
    if not can_edit_alert(actor, alert):
        raise PermissionDenied("Only the author or an admin of the author's organisation can change this alert.")


Warnings = dict[tuple[str, str], str]


def _clean(data: AlertInput, alert: Alert | None = None) -> tuple[AlertInput, list[ioc.ParsedIndicator], Warnings]:
    """Validate everything; raise one ValidationError listing every problem, before any write.
    `alert` is the alert being changed, if any (an unchanged past "valid until" is not an error)."""
    errors: dict[str, list[str]] = {}

    def err(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    title = " ".join(data.title.split())
    if not title:
        err("title", "Give the alert a title.")
    elif len(title) > MAX_TITLE:
        err("title", f"The title is {len(title):,} characters; keep it under {MAX_TITLE}.")
    if not data.summary.strip():
        err("summary", "Say what happened.")
    for name in ("summary", "recommended_actions"):
        if len(getattr(data, name)) > MAX_MARKDOWN:
            err(name, f"This text is over {MAX_MARKDOWN:,} characters.")
    if data.category not in Alert.Category.values:
        err("category", "Choose a category from the list.")
    if data.severity not in Alert.Severity.values:
        err("severity", "Choose a severity from the list.")
    tlp = ""
    try:
        tlp = parse_tlp(data.tlp)
    except ValueError as exc:
        err("tlp", str(exc))
    techniques = [t.strip().upper() for t in data.attack_techniques if t.strip()]
    bad = [t for t in techniques if not _ATTACK_ID.match(t)]
    if bad:
        err("attack_techniques", "Not ATT&CK technique ids: " + ", ".join(bad[:10]) + " (e.g. T1566 or T1566.001).")
    changed_expiry = alert is None or data.valid_until != alert.valid_until
    if data.valid_until is not None and changed_expiry and data.valid_until <= timezone.now():
        err("valid_until", "“Valid until” must be in the future.")
    not_vetted = [p.email for p in data.recipient_people if not viewer_for(p).is_vetted]
    if not_vetted:
        err("recipient_people", "Not vetted members of the hub: " + ", ".join(not_vetted[:10]))
    unapproved = [o.name for o in data.recipient_orgs if o.status != Organization.Status.APPROVED]
    if unapproved:
        err("recipient_orgs", "Not approved organisations: " + ", ".join(unapproved[:10]))
    parsed: list[ioc.ParsedIndicator] = []
    try:
        parsed = ioc.parse_many(data.indicators)
    except ValidationError as exc:
        errors.setdefault("indicators", []).extend(exc.messages)
    warnings: Warnings = {}
    for p in parsed:
        lists = benign_matches(p.kind, p.value)
        if lists:
            warnings[(p.kind, p.value)] = "; ".join(lists)[:300]
    if warnings and not data.confirm_benign:
        shown = [f"{value} is on {lists}." for (_, value), lists in list(warnings.items())[:20]]
        errors.setdefault("indicators", []).extend(shown)
        errors.setdefault("confirm_benign", []).append(
            f"{len(warnings)} indicator(s) appear on lists of known-benign values (private ranges, public "
            "resolvers, cloud ranges, popular sites). Remove them, or confirm they are malicious here."
        )
    if errors:
        raise ValidationError(errors)
    # The audience fields that the label does not use are dropped, never silently widened.
    named = tlp in NAMED_ORGANISATION_LABELS
    cleaned = AlertInput(
        title=title,
        summary=data.summary,
        recommended_actions=data.recommended_actions,
        category=data.category,
        severity=data.severity,
        tlp=tlp,
        anonymous=data.anonymous,
        attack_techniques=sorted(set(techniques)),
        valid_until=data.valid_until,
        known_ransomware_use=bool(data.known_ransomware_use),
        recipient_orgs=list(data.recipient_orgs) if named else [],
        sharing_groups=list(data.sharing_groups) if named else [],
        recipient_people=list(data.recipient_people) if tlp == TLP.RED else [],
        indicators=data.indicators,
        confirm_benign=data.confirm_benign,
    )
    return cleaned, parsed, warnings


def _apply(
    alert: Alert, data: AlertInput, parsed: list[ioc.ParsedIndicator], warnings: Warnings, *, indicators: bool = True
) -> None:
    for name in ALERT_CONTENT_FIELDS:
        setattr(alert, name, getattr(data, name))
    alert.save()
    alert.recipient_orgs.set(data.recipient_orgs)
    alert.sharing_groups.set(data.sharing_groups)
    alert.recipient_people.set(data.recipient_people)
    if not indicators:
        return
    # Keep the rows of indicators that stay (their ids and notes), drop the removed, add the new.
    wanted = {(p.kind, p.value) for p in parsed}
    existing = {(i.kind, i.value): i.pk for i in alert.indicators.all()}
    alert.indicators.filter(pk__in=[pk for key, pk in existing.items() if key not in wanted]).delete()
    Indicator.objects.bulk_create(
        [
            Indicator(alert=alert, kind=p.kind, value=p.value, warning=warnings.get((p.kind, p.value), ""))
            for p in parsed
            if (p.kind, p.value) not in existing
        ]
    )


def _snapshot(alert: Alert, actor: User) -> AlertVersion:
    snapshot: dict[str, Any] = {name: getattr(alert, name) for name in ALERT_CONTENT_FIELDS}
    snapshot.update(
        valid_until=alert.valid_until.isoformat() if alert.valid_until else None,
        status=alert.status,
        recipient_orgs=sorted(alert.recipient_orgs.values_list("pk", flat=True)),
        sharing_groups=sorted(alert.sharing_groups.values_list("pk", flat=True)),
        recipient_people=sorted(alert.recipient_people.values_list("pk", flat=True)),
        indicators=[[i.kind, i.value] for i in alert.indicators.order_by("kind", "value")],
    )
    return AlertVersion.objects.create(alert=alert, version=alert.version, snapshot=snapshot, created_by=actor)


def _check_audience(alert: Alert) -> None:
    if alert.tlp in NAMED_ORGANISATION_LABELS and not (alert.recipient_orgs.exists() or alert.sharing_groups.exists()):
        raise ValidationError(
            {
                "recipient_orgs": f"{TLP(alert.tlp).label} goes only to the organisations or sharing groups you name: "
                "name at least one."
            }
        )
    if alert.tlp == TLP.RED and not alert.recipient_people.exists():
        raise ValidationError({"recipient_people": "TLP:RED goes only to the people you name: name at least one."})
    # The draft may be days old: named organisations and people must still qualify.
    gone = list(alert.recipient_orgs.exclude(status=Organization.Status.APPROVED).values_list("name", flat=True))
    if gone:
        raise ValidationError({"recipient_orgs": "No longer approved: " + ", ".join(gone[:10])})
    lapsed = [p.email for p in alert.recipient_people.all() if not viewer_for(p).is_vetted]
    if lapsed:
        raise ValidationError({"recipient_people": "No longer vetted members of the hub: " + ", ".join(lapsed[:10])})


def _lock_for_change(actor: User, alert: Alert, *, allowed: tuple[str, ...], verb: str) -> Alert:
    """Re-read the alert under a row lock, check the write rule and that its status allows `verb`."""
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    _check_can_edit(actor, alert)
    if alert.status not in allowed:
        raise ValidationError(f"A {alert.get_status_display().lower()} alert cannot be {verb}.")
    return alert


def _record_version(
    alert: Alert,
    actor: User,
    action: str,
    summary: str,
    data: dict[str, Any] | None = None,
    *,
    announce: bool = True,
) -> None:
    """Snapshot the new version, append the audit row and write the version's deliveries to the
    outbox: all in the transaction of the change, so a version is never published unannounced
    (unless the caller says so: `announce=False`, recorded in the audit row)."""
    _snapshot(alert, actor)
    from commonguard.interop.sync import stix_sync_alert  # interop builds on sharing, not the reverse

    stix_sync_alert(alert)
    from commonguard.federation.services import outbox_write as federation_outbox_write

    federation_outbox_write(alert)  # peer hubs, by the federation rules (ADR 22)
    if not announce:
        data = {**(data or {}), "announced": False}
    audit_record(actor=actor, action=action, summary=summary, organization=alert.author_org, target=alert, data=data)
    if announce:
        outbox_write(alert)


@transaction.atomic
def alert_save_draft(
    *, actor: User, author_org: Organization, data: AlertInput, alert: Alert | None = None, source_key: str = ""
) -> Alert:
    """Create or change a draft. Only the author sees a draft. `source_key`: for imports, the key
    of the record a new draft comes from (unique: a second import of the same record fails)."""
    viewer = viewer_for(actor)
    if author_org.pk not in viewer.org_ids:
        raise PermissionDenied("You can write alerts only for an organisation you are an approved member of.")
    if alert is not None:
        # Re-read under a lock: the copy the caller holds may predate a publish in another tab.
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        _check_can_edit(actor, alert)
        if alert.status != Alert.Status.DRAFT:
            raise ValidationError("This alert is published: update it instead.")
    cleaned, parsed, warnings = _clean(data, alert)
    if alert is None:
        alert = Alert(author=actor, author_org=author_org, source_key=source_key)
    else:
        alert.author_org = author_org
    _apply(alert, cleaned, parsed, warnings)
    audit_record(
        actor=actor,
        action="alert.save_draft",
        summary=f"{actor.email} saved draft “{alert.title}”",
        organization=author_org,
        target=alert,
    )
    return alert


@transaction.atomic
def alert_publish(*, actor: User, alert: Alert, announce: bool = True, published_at: datetime | None = None) -> Alert:
    """Publish a draft to its audience (version 1).

    For imports only: `announce=False` publishes it without fan-out (it is in the feed, nobody is
    sent it), and `published_at` back-dates such a record of a past event (ADR 16)."""
    if published_at is not None and announce:
        raise ValueError("Only an alert published without announcement can be back-dated.")
    alert = _lock_for_change(actor, alert, allowed=(Alert.Status.DRAFT,), verb="published again")
    if alert.valid_until is not None and alert.valid_until <= timezone.now():
        raise ValidationError({"valid_until": "This draft expired before it was published: change “valid until”."})
    _check_audience(alert)
    alert.status = Alert.Status.PUBLISHED
    alert.version = 1
    alert.published_at = published_at or timezone.now()
    alert.save(update_fields=["status", "version", "published_at", "modified_at"])
    label = TLP(alert.tlp).label
    _record_version(
        alert,
        actor,
        "alert.publish",
        f"{actor.email} published {label} alert “{alert.title}”",
        {"tlp": alert.tlp},
        announce=announce,
    )
    return alert


@transaction.atomic
def alert_update(
    *, actor: User, alert: Alert, data: AlertInput, announce: bool = True, keep_indicators: bool = False
) -> Alert:
    """Change a published alert: a new version that everyone who received it will be told about.

    For imports only: `announce=False` records the version without fan-out, and `keep_indicators`
    leaves the indicators as they are (`data.indicators` is ignored): an import replaces them in
    bulk itself (`sharing/imports.py`) before recording the version."""
    alert = _lock_for_change(actor, alert, allowed=(Alert.Status.PUBLISHED, Alert.Status.UPDATED), verb="updated")
    if keep_indicators:
        data = replace(data, indicators=[])
    cleaned, parsed, warnings = _clean(data, alert)
    _apply(alert, cleaned, parsed, warnings, indicators=not keep_indicators)
    _check_audience(alert)
    alert.status = Alert.Status.UPDATED
    alert.version += 1
    alert.save(update_fields=["status", "version", "modified_at"])
    _record_version(
        alert,
        actor,
        "alert.update",
        f"{actor.email} updated “{alert.title}” to version {alert.version}",
        announce=announce,
    )
    return alert


@transaction.atomic
def alert_revoke(*, actor: User, alert: Alert, reason: str) -> Alert:
    """Withdraw an alert (it was wrong, or is no longer valid). Recipients keep seeing it, marked revoked."""
    alert = _lock_for_change(actor, alert, allowed=(Alert.Status.PUBLISHED, Alert.Status.UPDATED), verb="revoked")
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the alert is revoked: recipients will read it."})
    alert.status = Alert.Status.REVOKED
    alert.version += 1
    alert.revoked_at = timezone.now()
    alert.revocation_reason = reason[:500]
    alert.save(update_fields=["status", "version", "revoked_at", "revocation_reason", "modified_at"])
    _record_version(
        alert, actor, "alert.revoke", f"{actor.email} revoked “{alert.title}”", {"reason": alert.revocation_reason}
    )
    return alert


def author_label(alert: Alert, user: Any) -> str:
    """Who wrote the alert, as `user` may know it: anonymous alerts show peers only the kind and
    region ("A county in Region 3"); the author's organisation, state staff and the operator see who."""
    org = alert.author_org
    if not alert.anonymous:
        return org.name
    viewer = viewer_for(user)
    if viewer.is_operator or org.pk in viewer.org_ids or org.state in viewer.staff_states:
        return org.name
    kind = org.get_kind_display().lower()
    article = "An" if kind[:1] in "aeiou" else "A"
    return f"{article} {kind} in {org.region.name}" if org.region_id and org.region else f"{article} {kind}"
