"""Reads of the intelligence the hub holds (STIX objects that are not alert exports): the search
page and its API, through `StixObject.objects.visible_to` (the TAXII read rule)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from commonguard.interop.models import StixObject
from commonguard.interop.stix import SCO_TYPES

# Not intelligence to search: markings, identities, indicators and observables (those are alert
# indicators, found by the indicator search and the log lookup), sightings.
NOT_INTELLIGENCE = frozenset({"marking-definition", "identity", "indicator", "observed-data", "sighting", *SCO_TYPES})
INTELLIGENCE_TYPES = (
    "attack-pattern",
    "campaign",
    "course-of-action",
    "infrastructure",
    "intrusion-set",
    "malware",
    "relationship",
    "report",
    "threat-actor",
    "tool",
    "vulnerability",
)
MAX_RESULTS = 50
_CANDIDATES = 2000


@dataclass
class Hit:
    stix_id: str
    type: str
    name: str
    external_ids: list[str]
    description: str
    tlp: str
    collection: str
    modified: str
    relationship: str = ""
    aliases: list[str] = field(default_factory=list)


def _hit(row: StixObject, obj: dict[str, Any]) -> Hit:
    refs = [r for r in obj.get("external_references") or [] if isinstance(r, dict)]
    ids = [str(r["external_id"]) for r in refs if r.get("external_id")]
    relation = ""
    if obj.get("type") == "relationship":
        relation = f"{obj.get('source_ref')} {obj.get('relationship_type')} {obj.get('target_ref')}"
    aliases = [str(a) for a in (obj.get("aliases") or obj.get("x_mitre_aliases") or []) if isinstance(a, str)]
    return Hit(
        stix_id=row.stix_id,
        type=row.type,
        name=str(obj.get("name") or obj.get("relationship_type") or ""),
        external_ids=ids,
        description=str(obj.get("description") or "")[:300],
        tlp=row.tlp,
        collection=row.collection.title,
        modified=str(obj.get("modified") or obj.get("created") or ""),
        relationship=relation,
        aliases=aliases,
    )


def _matches(hit: Hit, needle: str) -> int:
    """0: no match; higher: better (an exact external id or name first)."""
    if not needle:
        return 1
    if needle in (i.lower() for i in hit.external_ids) or needle == hit.name.lower() or needle == hit.stix_id:
        return 3
    if needle in hit.name.lower() or any(needle in a.lower() for a in hit.aliases):
        return 2
    if any(needle in i.lower() for i in hit.external_ids) or needle in hit.relationship.lower():
        return 1
    return 0


def intelligence_search(user: Any, query: str = "", stix_type: str = "") -> list[Hit]:
    """Objects `user` may read whose name, alias, external id (such as T1566) or id holds `query`,
    optionally of one type; the latest version of each, best matches first, at most 50."""
    needle = " ".join(query.split()).lower()[:200]
    rows = (
        StixObject.objects.visible_to(user)
        .filter(alert__isnull=True, is_latest=True, revoked=False)
        .exclude(type__in=NOT_INTELLIGENCE)
        .select_related("collection")
    )
    if stix_type:
        rows = rows.filter(type=stix_type)
    if needle:
        # The stored text escapes as json.dumps does: search for the escaped form.
        rows = rows.filter(raw__icontains=json.dumps(needle)[1:-1])
    hits: dict[str, tuple[int, Hit]] = {}
    for row in rows.order_by("type", "stix_id")[:_CANDIDATES]:
        hit = _hit(row, json.loads(row.raw))
        score = _matches(hit, needle)
        if score and (row.stix_id not in hits or hits[row.stix_id][0] < score):
            hits[row.stix_id] = (score, hit)
    ranked = sorted(hits.values(), key=lambda sh: (-sh[0], sh[1].type, sh[1].name.lower(), sh[1].stix_id))
    return [hit for _, hit in ranked[:MAX_RESULTS]]
