"""An alert's version history, as a reader may see it (docs/adr/0017-alert-questions-history-forwarding.md).

Each `AlertVersion` snapshot was sent under its own label and audience. A reader sees a version
only if they may read the alert now *and* were in that version's audience: an alert widened from
AMBER to GREEN shows its GREEN-only readers the GREEN versions, never what the AMBER versions said.
What changed is shown between consecutive versions only when the reader may see both; the first
version a reader may see is shown as a starting point, never as a difference from one they may not."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from commonguard.accounts.models import User
from commonguard.accounts.viewer import Viewer, viewer_for
from commonguard.core.tlp import NAMED_ORGANISATION_LABELS, TLP
from commonguard.sharing.indicators import defang
from commonguard.sharing.models import Alert, AlertVersion, Indicator, SharingGroup
from commonguard.sharing.questions import knows_author
from commonguard.sharing.services import author_label

# (snapshot key, label, how it is compared)
DIFF_FIELDS = (
    ("status", "Status", "value"),
    ("title", "Title", "value"),
    ("summary", "What happened", "text"),
    ("recommended_actions", "What to do", "text"),
    ("category", "Category", "value"),
    ("severity", "Severity", "value"),
    ("tlp", "TLP label", "value"),
    ("anonymous", "Anonymous toward peers", "value"),
    ("valid_until", "Valid until", "value"),
    ("attack_techniques", "ATT&CK techniques", "set"),
    ("indicators", "Indicators", "set"),
)


def version_readable(viewer: Viewer, alert: Alert, snapshot: dict[str, Any]) -> bool:
    """Whether `viewer` was in the audience of the version with `snapshot` (ADR 13's table, applied
    to the label and audience the version was sent with; sharing groups by their members now)."""
    tlp = snapshot.get("tlp")
    if tlp in (TLP.CLEAR, TLP.GREEN):
        return viewer.is_vetted
    if tlp in NAMED_ORGANISATION_LABELS:
        orgs = {alert.author_org_id, *snapshot.get("recipient_orgs", [])}
        if not viewer.org_ids & orgs and snapshot.get("sharing_groups"):
            groups = SharingGroup.objects.filter(pk__in=snapshot["sharing_groups"])
            orgs.update(groups.values_list("organizations", flat=True))
        return bool(viewer.org_ids & orgs)
    if tlp == TLP.RED:
        return viewer.user_id is not None and (
            viewer.user_id == alert.author_id or viewer.user_id in snapshot.get("recipient_people", [])
        )
    return False


def _display(key: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if key == "status":
        return str(Alert.Status(value).label)
    if key == "category":
        return str(Alert.Category(value).label)
    if key == "severity":
        return str(Alert.Severity(value).label)
    if key == "tlp":
        return TLP(value).label
    if key == "anonymous":
        return "Yes" if value else "No"
    if key == "valid_until":
        when = parse_datetime(value)
        return when.strftime("%b %-d, %Y %H:%M UTC") if when else str(value)
    return str(value)


def _items(key: str, value: Any) -> list[str]:
    if key == "indicators":
        return [f"{Indicator.Kind(kind).label}: {defang(kind, v)}" for kind, v in value or []]
    return [str(v) for v in value or []]


@dataclass
class Change:
    key: str
    label: str
    before: str = ""
    after: str = ""
    lines: list[tuple[str, str]] = field(default_factory=list)  # text: ("-" | "+", line)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def _text_lines(before: str, after: str) -> list[tuple[str, str]]:
    old, new = (before or "").splitlines(), (after or "").splitlines()
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        out += [("-", line) for line in old[i1:i2]]
        out += [("+", line) for line in new[j1:j2]]
    return out


def changes_between(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """Field by field, what `after` changed compared with `before` (two snapshots)."""
    changes = []
    for key, label, how in DIFF_FIELDS:
        old, new = before.get(key), after.get(key)
        if how == "set":
            old_items, new_items = _items(key, old), _items(key, new)
            added = [v for v in new_items if v not in set(old_items)]
            removed = [v for v in old_items if v not in set(new_items)]
            if added or removed:
                changes.append(Change(key, label, added=added, removed=removed))
        elif old != new:
            change = Change(key, label, before=_display(key, old), after=_display(key, new))
            if how == "text":
                change.lines = _text_lines(old or "", new or "")
            changes.append(change)
    return changes


@dataclass
class VersionView:
    version: int
    created_at: datetime
    by: str
    snapshot: dict[str, Any]
    tlp_label: str
    status_label: str
    # Compared with the version before it, when the reader may see that one too; else None.
    changes: list[Change] | None
    compared_with: int | None


def versions_for(user: Any, alert: Alert) -> tuple[list[VersionView], int]:
    """The versions of `alert` that `user` may see, newest first, and how many are withheld.
    Callers have already read `alert` through `Alert.objects.visible_to(user)`."""
    viewer = viewer_for(user)
    rows = list(AlertVersion.objects.filter(alert=alert).select_related("created_by").order_by("version"))
    readable = {v.version: version_readable(viewer, alert, v.snapshot) for v in rows}
    by_version = {v.version: v for v in rows}
    editors = {v.created_by_id for v in rows if v.created_by_id}
    known_people = set(User.objects.visible_to(user).filter(pk__in=editors).values_list("pk", flat=True))
    knows = knows_author(alert, user)
    views = []
    for v in rows:
        if not readable[v.version]:
            continue
        if knows and v.created_by is not None and v.created_by_id in known_people:
            by = f"{v.created_by.full_name or v.created_by.email} ({alert.author_org.name})"
        else:
            by = author_label(alert, user)
        previous = by_version.get(v.version - 1)
        comparable = previous is not None and readable[previous.version]
        views.append(
            VersionView(
                version=v.version,
                created_at=v.created_at,
                by=by,
                snapshot=v.snapshot,
                tlp_label=TLP(v.snapshot["tlp"]).label,
                status_label=_display("status", v.snapshot.get("status")),
                changes=changes_between(previous.snapshot, v.snapshot) if comparable and previous else None,
                compared_with=previous.version if comparable and previous else None,
            )
        )
    views.reverse()
    return views, len(rows) - len(views)
