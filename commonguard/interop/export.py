"""An alert as a STIX 2.1 bundle: identity (the author organisation, or the hub's anonymous identity),
report, indicators with STIX patterns, the observables (SCOs), vulnerabilities for CVEs,
attack-patterns for ATT&CK techniques, aggregated sightings, and the OASIS TLP 2.0 marking.

Ids are deterministic (uuid5 over the alert's uuid and what the object stands for; SCOs use the STIX
2.1 id contributing properties), so a re-export gives the same ids. Each alert version has its own
`modified`; a revoked alert's objects say `revoked: true`.

Sightings are exported as counts only (no `where_sighted_refs`): who reported a sighting is shared
with the author's and the reporter's organisations (`Sighting.objects.visible_to`), while every
reader of the alert may learn the counts.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import stix2
from django.db.models import Max, Min, Sum

from commonguard.core.tlp import STIX_TLP2_MARKING_IDS, TLP
from commonguard.interop.stix import HUB_IDENTITY_NAMESPACE, TLP2_EXTENSION_ID

ATTACK_URL = "https://attack.mitre.org/techniques/"
TLP2_CREATED = "2022-10-01T00:00:00.000Z"
HUB_CREATED = "2026-01-01T00:00:00.000Z"
ANONYMOUS_IDENTITY_ID = f"identity--{uuid.uuid5(HUB_IDENTITY_NAMESPACE, 'hub:anonymous-author')}"


def ts(value: datetime) -> str:
    """STIX timestamp with microseconds (versions of one alert can be milliseconds apart)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _sid(kind: str, *parts: Any) -> str:
    return f"{kind}--{uuid.uuid5(HUB_IDENTITY_NAMESPACE, ':'.join(str(p) for p in parts))}"


def tlp_marking_definition(label: TLP) -> dict[str, Any]:
    """The OASIS TLP 2.0 marking definition (cti-stix-common-objects) for `label`."""
    name = TLP(label).label
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": STIX_TLP2_MARKING_IDS[TLP(label)],
        "created": TLP2_CREATED,
        "name": name,
        "extensions": {TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": TLP(label).value}},
    }


def anonymous_identity() -> dict[str, Any]:
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": ANONYMOUS_IDENTITY_ID,
        "created": HUB_CREATED,
        "modified": HUB_CREATED,
        "name": "A member of the CommonGuard hub (anonymous)",
        "identity_class": "organization",
        "sectors": ["government"],
    }


def organization_identity(org: Any) -> dict[str, Any]:
    created = ts(org.created_at)
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": _sid("identity", "org", org.pk, org.created_at.isoformat()),
        "created": created,
        "modified": created,
        "name": org.name,
        "identity_class": "organization",
        "sectors": ["government"],
    }


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _observable(kind: str, value: str) -> tuple[str | None, Any]:
    """(pattern, SCO) for an indicator kind; (None, None) for kinds that are not observables."""
    if kind == "domain":
        return f"[domain-name:value = {_quote(value)}]", stix2.v21.DomainName(value=value)
    if kind == "url":
        return f"[url:value = {_quote(value)}]", stix2.v21.URL(value=value)
    if kind == "ipv4" or (kind == "cidr" and ":" not in value):
        return f"[ipv4-addr:value = {_quote(value)}]", stix2.v21.IPv4Address(value=value)
    if kind in ("ipv6", "cidr"):
        return f"[ipv6-addr:value = {_quote(value)}]", stix2.v21.IPv6Address(value=value)
    if kind == "email":
        return f"[email-addr:value = {_quote(value)}]", stix2.v21.EmailAddress(value=value)
    if kind == "email_subject":
        return (
            f"[email-message:subject = {_quote(value)}]",
            stix2.v21.EmailMessage(is_multipart=False, subject=value),
        )
    if kind == "filename":
        return f"[file:name = {_quote(value)}]", stix2.v21.File(name=value)
    hashes = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256"}
    if kind in hashes:
        algo = hashes[kind]
        path = f"file:hashes.{algo}" if algo == "MD5" else f"file:hashes.'{algo}'"
        return f"[{path} = {_quote(value)}]", stix2.v21.File(hashes={algo: value})
    return None, None


def _technique_names(techniques: list[str]) -> dict[str, str]:
    """Names of ATT&CK techniques from the reference collections, when loaded."""
    from commonguard.interop.models import StixObject

    names: dict[str, str] = {}
    if not techniques:
        return names
    rows = StixObject.objects.filter(
        collection__kind="reference", type="attack-pattern", is_latest=True, revoked=False
    ).values_list("raw", flat=True)
    wanted = set(techniques)
    for raw in rows.iterator(chunk_size=500):
        if not any(t in raw for t in wanted):
            continue
        obj = json.loads(raw)
        for ref in obj.get("external_references", []):
            if ref.get("source_name") == "mitre-attack" and ref.get("external_id") in wanted:
                names[ref["external_id"]] = obj.get("name", ref["external_id"])
    return names


def _version_time(alert: Any) -> datetime:
    from commonguard.sharing.models import AlertVersion

    stamped = AlertVersion.objects.filter(alert=alert, version=alert.version).values_list("created_at", flat=True)
    found = stamped.first()
    return found or alert.modified_at


def alert_stix_objects(alert: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(shared objects: identity and marking definition; the alert's own objects)."""
    from commonguard.sharing.models import Sighting

    label = TLP(alert.tlp)
    marking = tlp_marking_definition(label)
    identity = anonymous_identity() if alert.anonymous else organization_identity(alert.author_org)
    created_at = alert.published_at or alert.created_at
    modified_at = max(_version_time(alert), created_at)
    created, modified = ts(created_at), ts(modified_at)
    revoked = alert.status == alert.Status.REVOKED
    common: dict[str, Any] = {
        "spec_version": "2.1",
        "created": created,
        "modified": modified,
        "created_by_ref": identity["id"],
        "object_marking_refs": [marking["id"]],
    }
    if revoked:
        common["revoked"] = True
    own: list[dict[str, Any]] = []
    refs: list[str] = []
    indicator_ids: dict[int, str] = {}
    for item in alert.indicators.all().order_by("kind", "value"):
        if item.kind == "cve":
            vulnerability = {
                "type": "vulnerability",
                "id": _sid("vulnerability", alert.uuid, item.value),
                **common,
                "name": item.value,
                "external_references": [{"source_name": "cve", "external_id": item.value}],
            }
            own.append(vulnerability)
            refs.append(vulnerability["id"])
            continue
        try:
            pattern, sco = _observable(item.kind, item.value)
        except stix2.exceptions.STIXError:  # a value the STIX object model refuses: no observable
            continue
        if pattern is None:
            continue
        sco_dict = json.loads(sco.serialize())
        sco_dict["object_marking_refs"] = [marking["id"]]
        indicator: dict[str, Any] = {
            "type": "indicator",
            "id": _sid("indicator", alert.uuid, item.kind, item.value),
            **common,
            "name": f"{item.get_kind_display()}: {item.value}"[:250],
            "indicator_types": ["malicious-activity"],
            "pattern": pattern,
            "pattern_type": "stix",
            "pattern_version": "2.1",
            "valid_from": created,
        }
        if item.comment:
            indicator["description"] = item.comment
        if alert.valid_until and alert.valid_until > created_at:
            indicator["valid_until"] = ts(alert.valid_until)
        indicator_ids[item.pk] = indicator["id"]
        own += [indicator, sco_dict]
        refs += [indicator["id"], sco_dict["id"]]
    names = _technique_names(list(alert.attack_techniques or []))
    for technique in alert.attack_techniques or []:
        pattern_obj = {
            "type": "attack-pattern",
            "id": _sid("attack-pattern", alert.uuid, technique),
            **common,
            "name": names.get(technique, technique),
            "external_references": [
                {
                    "source_name": "mitre-attack",
                    "external_id": technique,
                    "url": ATTACK_URL + technique.replace(".", "/") + "/",
                }
            ],
        }
        own.append(pattern_obj)
        refs.append(pattern_obj["id"])
        for indicator_id in indicator_ids.values():
            own.append(
                {
                    "type": "relationship",
                    "id": _sid("relationship", alert.uuid, indicator_id, technique),
                    **common,
                    "relationship_type": "indicates",
                    "source_ref": indicator_id,
                    "target_ref": pattern_obj["id"],
                }
            )
            refs.append(own[-1]["id"])
    report_id = _sid("report", alert.uuid)
    description = alert.summary
    if alert.recommended_actions:
        description += "\n\nRecommended actions:\n" + alert.recommended_actions
    if revoked and alert.revocation_reason:
        description += "\n\nRevoked: " + alert.revocation_reason
    # Sightings: counts only, per indicator (or of the report when no indicator was named).
    seen = (
        Sighting.objects.filter(alert=alert, kind=Sighting.Kind.SEEN)
        .values("indicator_id")
        .annotate(total=Sum("count"), first=Min("seen_at"), last=Max("seen_at"), latest=Max("created_at"))
        .order_by("indicator_id")
    )
    sightings = []
    for row in seen:
        target = indicator_ids.get(row["indicator_id"]) or report_id
        first, last = row["first"], row["last"]
        sighting_time = ts(max(row["latest"], created_at))
        sighting = {
            "type": "sighting",
            "spec_version": "2.1",
            "id": _sid("sighting", alert.uuid, row["indicator_id"] or "report"),
            "created": created,
            "modified": sighting_time,
            "created_by_ref": identity["id"],
            "object_marking_refs": [marking["id"]],
            "sighting_of_ref": target,
            "count": min(row["total"], 999_999_999),
            "first_seen": ts(first),
            "last_seen": ts(max(last, first)),
            "description": "Organisations of the hub reported seeing this (counts only).",
        }
        sightings.append(sighting)
    report: dict[str, Any] = {
        "type": "report",
        "id": report_id,
        **common,
        "name": alert.title,
        "description": description,
        "report_types": ["threat-report"],
        "published": created,
        "labels": [f"category:{alert.category}", f"severity:{alert.severity}"],
        "object_refs": refs or [identity["id"]],
    }
    own.insert(0, report)
    own += sightings
    return [marking, identity], own


def alert_bundle(alert: Any) -> dict[str, Any]:
    shared, own = alert_stix_objects(alert)
    return {
        "type": "bundle",
        "id": _sid("bundle", alert.uuid, alert.version),
        "objects": shared + own,
    }
