"""MISP events in and out (docs/adr/0021-feed-and-misp-imports.md).

In: a MISP event (JSON, read with PyMISP) becomes one alert of the importing organisation:
attributes and objects' attributes become indicators (composite types split), the `tlp:` tags the
label (the most restrictive one; none: the configured default, never CLEAR by accident; an unknown
one refuses the event), ATT&CK galaxies the technique references, other galaxies and tags text in
the summary, `info` the title. Idempotent per (organisation, event uuid): the same timestamp
changes nothing, a newer one records a new, unannounced version.

Out: `event_for(alert, user)` builds the MISP event a caller may read (PyMISP's feed format), for
the hub's MISP feed (`/feeds/misp/manifest.json`, `<uuid>.json`, `hashes.csv`).
"""

from __future__ import annotations

import json
import re
import uuid as uuidlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from commonguard.accounts.models import User
from commonguard.core.audit import audit_record
from commonguard.core.text import markdown_escape
from commonguard.core.tlp import NAMED_ORGANISATION_LABELS, TLP, most_restrictive, parse_tlp
from commonguard.feeds import sources
from commonguard.feeds.models import Feed, MispEventImport
from commonguard.feeds.sources import FeedError
from commonguard.orgs.models import Organization
from commonguard.sharing.imports import Parsed, indicators_replace, parse_bulk
from commonguard.sharing.models import MAX_MARKDOWN, MAX_TITLE, Alert, Indicator, SharingGroup
from commonguard.sharing.services import AlertInput, alert_publish, alert_save_draft, alert_update, author_label

Kind = Indicator.Kind

# MISP attribute type → our indicator kind (None: guess between IPv4, IPv6 and CIDR).
TYPE_KINDS: dict[str, str | None] = {
    "ip-src": None,
    "ip-dst": None,
    "domain": Kind.DOMAIN,
    "hostname": Kind.DOMAIN,
    "url": Kind.URL,
    "md5": Kind.MD5,
    "sha1": Kind.SHA1,
    "sha256": Kind.SHA256,
    "email-src": Kind.EMAIL,
    "email": Kind.EMAIL,
    "email-reply-to": Kind.EMAIL,
    "email-subject": Kind.EMAIL_SUBJECT,
    "filename": Kind.FILENAME,
    "vulnerability": Kind.CVE,
}
# Composite types "a|b": the kinds of each half (a missing entry: that half is not an indicator).
COMPOSITE_KINDS: dict[str, tuple[str | bool | None, str | bool | None]] = {
    "domain|ip": (Kind.DOMAIN, None),
    "hostname|port": (Kind.DOMAIN, False),
    "ip-src|port": (None, False),
    "ip-dst|port": (None, False),
    "filename|md5": (Kind.FILENAME, Kind.MD5),
    "filename|sha1": (Kind.FILENAME, Kind.SHA1),
    "filename|sha256": (Kind.FILENAME, Kind.SHA256),
}
# Our kind → the MISP type and category on export.
EXPORT_TYPES: dict[str, tuple[str, str]] = {
    Kind.DOMAIN: ("domain", "Network activity"),
    Kind.URL: ("url", "Network activity"),
    Kind.IPV4: ("ip-dst", "Network activity"),
    Kind.IPV6: ("ip-dst", "Network activity"),
    Kind.CIDR: ("ip-dst", "Network activity"),
    Kind.EMAIL: ("email-src", "Payload delivery"),
    Kind.EMAIL_SUBJECT: ("email-subject", "Payload delivery"),
    Kind.FILENAME: ("filename", "Payload delivery"),
    Kind.MD5: ("md5", "Payload delivery"),
    Kind.SHA1: ("sha1", "Payload delivery"),
    Kind.SHA256: ("sha256", "Payload delivery"),
    Kind.CVE: ("vulnerability", "External analysis"),
}
# TLP label → the MISP `tlp` taxonomy tag (v10 of the taxonomy has clear and amber+strict).
EXPORT_TLP_TAGS = {t: f"tlp:{t.value}" for t in TLP}
THREAT_LEVELS = {"1": Alert.Severity.HIGH, "2": Alert.Severity.MEDIUM, "3": Alert.Severity.LOW}
EXPORT_THREAT_LEVELS: dict[str, int] = {
    Alert.Severity.CRITICAL: 1,
    Alert.Severity.HIGH: 1,
    Alert.Severity.MEDIUM: 2,
    Alert.Severity.LOW: 3,
}
_TECHNIQUE = re.compile(r"\bT\d{4}(?:\.\d{3})?\b")
NAMESPACE = uuidlib.UUID("8a0c8c1e-3f43-4c55-9a57-0f6a2e0b7c11")  # attribute uuids on export


class MispError(Exception):
    """The event cannot be imported; nothing of it was stored."""


@dataclass
class EventData:
    uuid: str
    info: str
    timestamp: int
    date: str
    tlp: TLP | None
    severity: str
    techniques: list[str]
    references: list[str]
    tags: list[str]
    parsed: Parsed
    skipped: int  # attributes of types that are not indicators (text, links, sizes...)


@dataclass
class EventResult:
    outcome: str  # created / updated / unchanged
    alert: Alert
    event_uuid: str
    indicators: int
    invalid: int
    skipped: int
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "alert": str(self.alert.uuid),
            "event_uuid": self.event_uuid,
            "indicators": self.indicators,
            "invalid": self.invalid,
            "skipped": self.skipped,
            "errors": self.errors,
        }


# --- Reading an event ------------------------------------------------------------------------


def _load(raw: bytes | dict[str, Any]) -> Any:
    from pymisp import MISPEvent
    from pymisp.exceptions import PyMISPError

    if isinstance(raw, bytes | bytearray):
        if len(raw) > sources.max_bytes():
            raise MispError(sources.too_big("The MISP event").args[0])
        try:
            data = json.loads(raw.decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise MispError(f"The MISP event is not UTF-8 text (byte {exc.start}).") from exc
        except json.JSONDecodeError as exc:
            raise MispError(f"The MISP event is not valid JSON: {exc.msg} at line {exc.lineno}.") from exc
    else:
        data = raw
    if not isinstance(data, dict) or not isinstance(data.get("Event", data), dict):
        raise MispError('This is not a MISP event: expected {"Event": {...}}.')
    event = MISPEvent()
    try:
        event.load(data)
    except (PyMISPError, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise MispError(f"This is not a MISP event PyMISP can read: {exc}") from exc
    if not getattr(event, "uuid", None):
        raise MispError("The MISP event has no uuid.")
    return event


def _attribute_rows(event: Any, counter: list[int]) -> Iterator[tuple[str, str | None, str, str]]:
    def rows_of(attribute: Any, where: str) -> Iterator[tuple[str, str | None, str, str]]:
        kind_type = str(attribute.type)
        value = str(attribute.value)
        comment = str(getattr(attribute, "comment", "") or "")
        if kind_type in TYPE_KINDS:
            yield where, TYPE_KINDS[kind_type], value, comment
        elif kind_type in COMPOSITE_KINDS:
            left, _, right = value.partition("|")
            for part_kind, part in zip(COMPOSITE_KINDS[kind_type], (left, right), strict=True):
                if part_kind is not False and part:
                    yield where, part_kind if isinstance(part_kind, str) else None, part, comment
        else:
            counter[0] += 1

    for attribute in event.attributes:
        yield from rows_of(attribute, f"attribute {attribute.uuid}")
    for obj in event.objects:
        for attribute in obj.attributes:
            yield from rows_of(attribute, f"object {obj.name} attribute {attribute.uuid}")


def _ip_kind(rows: Iterator[tuple[str, str | None, str, str]]) -> Iterator[tuple[str, str | None, str, str]]:
    """ip-src/ip-dst hold an address or a network: guess which (never a domain)."""
    for where, kind, value, comment in rows:
        if kind is None:
            kind = Kind.CIDR if "/" in value else (Kind.IPV6 if ":" in value else Kind.IPV4)
        yield where, kind, value, comment


def _tlp_of(names: list[str]) -> TLP | None:
    labels = []
    for name in names:
        lowered = name.strip().lower()
        if not lowered.startswith("tlp:"):
            continue
        try:
            labels.append(parse_tlp(lowered))
        except ValueError:
            raise MispError(
                f"The event is tagged “{name}”, which is not a TLP 2.0 label CommonGuard knows (CLEAR/WHITE, GREEN, "
                "AMBER, AMBER+STRICT, RED): it was not imported rather than guessed."
            ) from None
    return most_restrictive(labels)


def read_event(raw: bytes | dict[str, Any]) -> EventData:
    event = _load(raw)
    tag_names = [str(t.name) for t in event.tags]
    for attribute in [*event.attributes, *(a for o in event.objects for a in o.attributes)]:
        tag_names += [str(t.name) for t in getattr(attribute, "tags", [])]
    techniques: set[str] = set()
    references: list[str] = []
    for galaxy in event.galaxies:
        gtype = str(getattr(galaxy, "type", "") or "")
        gname = str(getattr(galaxy, "name", "") or gtype)
        for cluster in getattr(galaxy, "clusters", []):
            value = str(getattr(cluster, "value", "") or "")
            meta = getattr(cluster, "meta", {}) or {}
            external = meta.get("external_id", []) if isinstance(meta, dict) else []
            found = _TECHNIQUE.findall(" ".join([value, *map(str, external if isinstance(external, list) else [])]))
            if "attack-pattern" in gtype and found:
                techniques.update(found)
            else:
                references.append(f"{gname}: {value}")
    for name in tag_names:
        if name.startswith("misp-galaxy:"):
            found = _TECHNIQUE.findall(name)
            if "attack-pattern" in name and found:
                techniques.update(found)
            elif not any(name.split("=", 1)[-1].strip('"') in r for r in references):
                references.append(name.removeprefix("misp-galaxy:").replace("=", ": ", 1).replace('"', ""))
    counter = [0]
    parsed = parse_bulk(_ip_kind(_attribute_rows(event, counter)))
    timestamp = getattr(event, "timestamp", None)
    date = getattr(event, "date", None)
    threat = str(getattr(event, "threat_level_id", "") or "")
    return EventData(
        uuid=str(event.uuid),
        info=" ".join(str(getattr(event, "info", "") or "").split()) or f"MISP event {event.uuid}",
        timestamp=int(timestamp.timestamp()) if isinstance(timestamp, datetime) else 0,
        date=date.isoformat() if date else "",
        tlp=_tlp_of(tag_names),
        severity=THREAT_LEVELS.get(threat, Alert.Severity.MEDIUM),
        techniques=sorted(techniques),
        references=list(dict.fromkeys(references)),
        tags=[n for n in dict.fromkeys(tag_names) if not n.startswith(("tlp:", "misp-galaxy:"))],
        parsed=parsed,
        skipped=counter[0],
    )


def alert_input(
    data: EventData,
    *,
    tlp: TLP,
    category: str,
    orgs: list[Organization],
    people: list[User],
    groups: list[SharingGroup] | None = None,
) -> AlertInput:
    title = data.info if len(data.info) <= MAX_TITLE else data.info[: MAX_TITLE - 1].rstrip() + "…"
    parts = [f"Imported from MISP event `{data.uuid}`" + (f" of {data.date}" if data.date else "") + "."]
    if len(data.info) > MAX_TITLE:
        parts.append(markdown_escape(data.info))
    if data.references:
        parts.append(
            "References (MISP galaxies):\n\n" + "\n".join(f"- {markdown_escape(r)}" for r in data.references[:100])
        )
    if data.tags:
        parts.append("Tags: " + ", ".join(f"`{t.replace('`', '')}`" for t in data.tags[:50]))
    return AlertInput(
        title=title,
        summary="\n\n".join(parts)[:MAX_MARKDOWN],
        category=category,
        severity=data.severity,
        tlp=tlp,
        attack_techniques=data.techniques,
        recipient_orgs=orgs if tlp in NAMED_ORGANISATION_LABELS else [],
        sharing_groups=(groups or []) if tlp in NAMED_ORGANISATION_LABELS else [],
        recipient_people=people if tlp == TLP.RED else [],
    )


# --- Importing -------------------------------------------------------------------------------


def import_event(
    raw: bytes | dict[str, Any],
    *,
    actor: User,
    org: Organization,
    default_tlp: str,
    category: str = Alert.Category.OTHER,
    recipient_orgs: list[Organization] | None = None,
    sharing_groups: list[SharingGroup] | None = None,
    feed: Feed | None = None,
) -> EventResult:
    """One MISP event → one alert of `org`, published by `actor` without announcement; all or nothing."""
    data = read_event(raw)
    try:
        tlp = data.tlp or parse_tlp(default_tlp)
    except ValueError as exc:
        raise MispError(str(exc)) from exc
    if feed is not None:
        # A feed's label is a floor, as for STIX feeds: an event's tag narrows it, never widens it;
        # and a feed has no named people, so a TLP:RED event is refused (upload it yourself instead).
        tlp = most_restrictive([tlp, feed.tlp]) or tlp
        if tlp == TLP.RED:
            raise MispError("The event is TLP:RED, which goes to named people only: upload it yourself instead.")
    # AMBER with nobody named (a feed's own sharing groups count as named): the organisation itself.
    groups = list(sharing_groups or [])
    orgs = list(recipient_orgs or []) or ([] if groups else [org])
    people = [actor] if not actor.is_service else []
    if tlp == TLP.RED and not people:
        raise MispError("The event is TLP:RED, which goes to named people only: upload it yourself instead.")
    payload = alert_input(data, tlp=tlp, category=category, orgs=orgs, people=people, groups=groups)
    source_key = f"misp:{org.pk}:{data.uuid}"
    with transaction.atomic():
        record = (
            MispEventImport.objects.select_for_update()
            .select_related("alert")
            .filter(organization=org, event_uuid=data.uuid)
            .first()
        )
        if record is not None and record.timestamp >= data.timestamp:
            outcome, alert = "unchanged", record.alert
        elif record is None:
            draft = alert_save_draft(actor=actor, author_org=org, data=payload, source_key=source_key)
            indicators_replace(draft, data.parsed.wanted)
            alert = alert_publish(actor=actor, alert=draft, announce=False)
            MispEventImport.objects.create(
                alert=alert, event_uuid=data.uuid, organization=org, feed=feed, timestamp=data.timestamp
            )
            outcome = "created"
        else:
            alert = record.alert
            if alert.status == Alert.Status.REVOKED:
                raise MispError("The alert of this MISP event was revoked; a newer version is not imported.")
            indicators_replace(alert, data.parsed.wanted)
            alert = alert_update(actor=actor, alert=alert, data=payload, announce=False, keep_indicators=True)
            record.timestamp = data.timestamp
            record.save(update_fields=["timestamp", "imported_at"])
            outcome = "updated"
        if outcome != "unchanged":
            audit_record(
                actor=actor,
                action="misp.import",
                summary=f"MISP event {data.uuid} {outcome} as “{alert.title}”"[:300],
                organization=org,
                target=alert,
                data={
                    "event_uuid": data.uuid,
                    "timestamp": data.timestamp,
                    "indicators": len(data.parsed.wanted),
                    "invalid": data.parsed.invalid,
                    "feed": feed.pk if feed else None,
                    "announced": False,
                },
            )
    return EventResult(
        outcome=outcome,
        alert=alert,
        event_uuid=data.uuid,
        indicators=len(data.parsed.wanted),
        invalid=data.parsed.invalid,
        skipped=data.skipped,
        errors=data.parsed.errors,
    )


def upload_event(
    raw: bytes, *, actor: User, org: Organization, default_tlp: str, category: str = Alert.Category.OTHER
) -> EventResult:
    """A person uploads a MISP event for one of their organisations (page and API): published
    without announcement, like every import; the uploader is its author."""
    return import_event(raw, actor=actor, org=org, default_tlp=default_tlp, category=category)


def pull_misp_feed(feed: Feed, result: Any, *, progress: Callable[[str, int, int], None]) -> None:
    """A MISP feed: manifest.json, then each event newer than the one imported; one transaction per
    event (an event that fails is reported, the others are imported)."""
    from commonguard.feeds.services import feed_author

    service = feed_author(feed.owner)
    try:
        manifest = json.loads(sources.decode(sources.read(feed.source, "manifest.json"), "manifest.json"))
    except json.JSONDecodeError as exc:
        raise FeedError(f"The feed's manifest.json is not valid JSON: {exc.msg} at line {exc.lineno}.") from exc
    if not isinstance(manifest, dict):
        raise FeedError("The feed's manifest.json is not a MISP manifest (an object of event uuids).")
    known = dict(MispEventImport.objects.filter(organization=feed.owner).values_list("event_uuid", "timestamp"))
    counts = {"created": 0, "updated": 0, "unchanged": 0, "failed": 0}
    orgs, groups = list(feed.recipient_orgs.all()), list(feed.sharing_groups.all())
    total = len(manifest)
    for done, (event_uuid, meta) in enumerate(manifest.items(), start=1):
        progress("Importing MISP events", done - 1, total)
        try:
            key = uuidlib.UUID(str(event_uuid))
        except ValueError:
            counts["failed"] += 1
            result.errors.append(f"manifest entry {str(event_uuid)[:60]!r} is not a uuid")
            continue
        stamp = (
            int(meta.get("timestamp", 0))
            if isinstance(meta, dict) and str(meta.get("timestamp", "")).isdigit()
            else None
        )
        if key in known and stamp is not None and known[key] >= stamp:
            counts["unchanged"] += 1
            continue
        try:
            raw = sources.read(feed.source, f"{key}.json")
            outcome = import_event(
                raw,
                actor=service,
                org=feed.owner,
                default_tlp=feed.tlp,
                category=feed.category,
                recipient_orgs=orgs,
                sharing_groups=groups,
                feed=feed,
            ).outcome
        except (FeedError, MispError, ValidationError, PermissionDenied) as exc:
            counts["failed"] += 1
            message = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            if len(result.errors) < 20:
                result.errors.append(f"event {key}: {message}"[:300])
            continue
        counts[outcome] += 1
    progress("Done", total, total)
    result.events = counts
    result.read = total


# --- Exporting -------------------------------------------------------------------------------


def _timestamp(alert: Alert) -> int:
    return int((alert.modified_at or alert.published_at or timezone.now()).timestamp())


def event_for(alert: Alert, user: Any, *, indicators: list[tuple[str, str, str]] | None = None) -> Any:
    """The MISP event of `alert` as `user` may know it (anonymous authors stay anonymous). The
    caller has already read `alert` through `Alert.objects.visible_to(user)`."""
    from pymisp import MISPAttribute, MISPEvent, MISPOrganisation

    event = MISPEvent()
    event.uuid = str(alert.uuid)
    event.info = alert.title
    published = alert.published_at or alert.created_at
    event.date = published.date()
    event.timestamp = datetime.fromtimestamp(_timestamp(alert), tz=UTC)
    event.publish_timestamp = datetime.fromtimestamp(int(published.timestamp()), tz=UTC)
    event.published = True
    event.analysis = 2
    event.threat_level_id = EXPORT_THREAT_LEVELS.get(alert.severity, 4)
    org = MISPOrganisation()
    org.name = author_label(alert, user)
    org.uuid = str(uuidlib.uuid5(NAMESPACE, f"org:{org.name}"))
    event.Orgc = org
    event.add_tag(EXPORT_TLP_TAGS[TLP(alert.tlp)])
    for technique in alert.attack_techniques:
        event.add_tag(f'misp-galaxy:mitre-attack-pattern="{technique}"')
    rows = indicators if indicators is not None else alert.indicators.values_list("kind", "value", "comment")
    for kind, value, comment in rows:
        misp_type, category = EXPORT_TYPES[kind]
        attribute = event.add_attribute(
            misp_type,
            value,
            category=category,
            to_ids=kind not in {Kind.FILENAME, Kind.EMAIL_SUBJECT, Kind.CVE},
            comment=comment,
            uuid=str(uuidlib.uuid5(alert.uuid, f"{kind}:{value}")),
        )
        if isinstance(attribute, MISPAttribute):
            attribute.timestamp = event.timestamp
    return event


def feed_event(alert: Alert, user: Any) -> dict[str, Any]:
    """`<uuid>.json` of the hub's MISP feed: {"Event": {...}}."""
    feed: dict[str, Any] = event_for(alert, user).to_feed(with_meta=False)  # {"Event": {...}}
    return feed


def manifest_entry(alert: Alert, user: Any) -> dict[str, Any]:
    return {
        "info": alert.title,
        "date": (alert.published_at or alert.created_at).date().isoformat(),
        "timestamp": str(_timestamp(alert)),
        "analysis": 2,
        "threat_level_id": EXPORT_THREAT_LEVELS.get(alert.severity, 4),
        "published": True,
        "Orgc": {"name": author_label(alert, user)},
        "Tag": [{"name": EXPORT_TLP_TAGS[TLP(alert.tlp)]}],
    }
