"""VERIS 1.4.1: the optional classification and the VERIS JSON export.

The enumerations and the schema are data (`data/veris/verisc-enum.json`, `verisc.json`, copied from
vz-risk/veris 45d9d7a, CC BY-SA 4.0; see NOTICE), never typed here. The classification is stored on the
report as `{"actor.external.variety": [...], ...}` (dotted VERIS path -> chosen values), checked against
the enumerations; the export nests it into a full record that validates against the schema.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError

DATA = Path(__file__).resolve().parent / "data" / "veris"
SCHEMA_VERSION = "1.4.1"

# The classification the form offers: (dotted path, heading). Values come from the enumerations.
CLASSIFICATION = (
    ("actor.external.variety", "Actor: external"),
    ("actor.internal.variety", "Actor: internal"),
    ("actor.partner.motive", "Actor: partner (motive)"),
    ("action.hacking.variety", "Action: hacking"),
    ("action.malware.variety", "Action: malware"),
    ("action.social.variety", "Action: social"),
    ("action.error.variety", "Action: error"),
    ("action.misuse.variety", "Action: misuse"),
    ("action.physical.variety", "Action: physical"),
    ("action.environmental.variety", "Action: environmental"),
    ("asset.assets.variety", "Asset"),
    ("attribute.confidentiality.data.variety", "Attribute: confidentiality (data)"),
    ("attribute.integrity.variety", "Attribute: integrity"),
    ("attribute.availability.variety", "Attribute: availability"),
)


@cache
def enumerations() -> dict[str, Any]:
    return json.loads((DATA / "verisc-enum.json").read_text(encoding="utf-8"))


@cache
def schema() -> dict[str, Any]:
    return json.loads((DATA / "verisc.json").read_text(encoding="utf-8"))


def values_at(path: str) -> list[str]:
    node: Any = enumerations()
    for part in path.split("."):
        node = node[part]
    return list(node)


def choices() -> list[tuple[str, str, list[str]]]:
    """(path, heading, values) for each classification field."""
    return [(path, heading, values_at(path)) for path, heading in CLASSIFICATION]


def clean_classification(data: dict[str, Any]) -> dict[str, list[str]]:
    """Keep the non-empty paths; every value must be in the enumeration (one error listing all)."""
    known = dict(CLASSIFICATION)
    errors: dict[str, list[str]] = {}
    clean: dict[str, list[str]] = {}
    for path, chosen in (data or {}).items():
        if path not in known:
            errors.setdefault("veris", []).append(f"{path} is not a classification field.")
            continue
        if not isinstance(chosen, list | tuple):
            errors.setdefault("veris", []).append(f"{path}: give a list of values.")
            continue
        allowed = set(values_at(path))
        bad = [str(v) for v in chosen if v not in allowed]
        if bad:
            errors.setdefault("veris", []).append(f"{known[path]}: not VERIS 1.4.1 values: {', '.join(bad[:10])}.")
        picked = list(dict.fromkeys(v for v in chosen if v in allowed))
        if picked:
            clean[path] = picked
    if errors:
        raise ValidationError(errors)
    return clean


def _set(record: dict[str, Any], path: str, values: list[str]) -> None:
    parts = path.split(".")
    if parts[:2] == ["asset", "assets"]:
        record.setdefault("asset", {})["assets"] = [{"variety": v} for v in values]
        return
    if parts[:3] == ["attribute", "confidentiality", "data"]:
        conf = record.setdefault("attribute", {}).setdefault("confidentiality", {})
        conf["data"] = [{"variety": v} for v in values]
        conf.setdefault("data_disclosure", "Unknown")
        return
    node = record
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = values


# Report category -> the VERIS action it implies when the reporter classified nothing.
_CATEGORY_ACTION = {
    "ransomware": ("action.malware.variety", "Ransomware"),
    "malware": ("action.malware.variety", "Unknown"),
    "bec": ("action.social.variety", "Pretexting"),
    "account_compromise": ("action.hacking.variety", "Use of stolen creds"),
    "denial_of_service": ("action.hacking.variety", "DoS"),
    "web_defacement": ("attribute.integrity.variety", "Defacement"),
    "insider": ("action.misuse.variety", "Unknown"),
}


def export_record(report: Any) -> dict[str, Any]:
    """The report as a VERIS 1.4.1 incident (victim de-identified to its level of government)."""
    when = report.started_at or report.discovered_at or report.created_at
    record: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "schema_name": "vcdb",
        "incident_id": str(report.uuid).upper(),
        "security_incident": "Confirmed" if report.confirmed_at else "Suspected",
        "summary": (report.title + ". " + report.description).strip()[:5000] or "Incident report",
        "timeline": {"incident": {"year": when.year, "month": when.month, "day": when.day}},
        "victim": {
            "country": ["US"],
            "state": f"US-{report.state}",
            "employee_count": "Unknown",
            "industry": "921",
            "government": ["Local"],
        },
        "discovery_method": {"unknown": True},
        "plus": {"analyst": "CommonGuard", "created": report.created_at.isoformat()},
    }
    classification = dict(report.veris or {})
    implied = _CATEGORY_ACTION.get(report.category)
    if implied and not any(p.startswith(("action.", "attribute.integrity")) for p in classification):
        classification[implied[0]] = [implied[1]]
    for path, values in classification.items():
        _set(record, path, values)
    # What the schema requires beside a chosen variety, filled as "Unknown" (the reporter did not say).
    for category, facts in record.get("actor", {}).items():
        if category != "unknown":
            facts.setdefault("motive", ["Unknown"])
        if category == "partner":
            facts.setdefault("country", ["US"])
    for category, facts in record.get("action", {}).items():
        if category != "environmental":
            facts.setdefault("vector", ["Unknown"])
        if category == "social":
            facts.setdefault("target", ["Unknown"])
    record.setdefault("actor", {"unknown": {"notes": "Not classified by the reporter."}})
    record.setdefault("action", {"unknown": {"notes": "Not classified by the reporter."}})
    record.setdefault("asset", {}).setdefault("assets", [{"variety": "Unknown"}])
    record["asset"]["cloud"] = ["Unknown"]
    return record


def validate(record: dict[str, Any]) -> list[str]:
    """Problems with `record` against the VERIS 1.4.1 schema (empty when it validates)."""
    import jsonschema

    validator = jsonschema.Draft4Validator(schema())
    return [f"{'/'.join(map(str, e.path)) or '(record)'}: {e.message}" for e in validator.iter_errors(record)]
