"""STIX helpers without a database: TLP markings in every id variant in use, timestamps, compact
JSON, and the cheap structural checks run on every object that enters the hub."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from stix2patterns.validator import run_validator

from commonguard.core.tlp import STIX_TLP2_MARKING_IDS, TLP, most_restrictive, parse_tlp

# marking-definition id -> label, for every TLP id set seen in the field.
TLP_MARKING_IDS: dict[str, TLP] = {
    # TLP 1.0 as defined by STIX 2.0/2.1 (stix2.TLP_*; also used by MISP's misp-stix and by OpenCTI).
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": TLP.CLEAR,  # TLP:WHITE
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": TLP.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": TLP.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": TLP.RED,
    # OpenCTI's TLP:AMBER+STRICT (it reuses the TLP 1.0 ids for the other four).
    "marking-definition--826578e1-40ad-459f-bc73-ede076f81f37": TLP.AMBER_STRICT,
    # TLP 2.0 (OASIS cti-stix-common-objects, extension-definition--60a3c5c5-…).
    **{marking_id: label for label, marking_id in STIX_TLP2_MARKING_IDS.items()},
}

TLP2_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
HUB_IDENTITY_NAMESPACE = uuid.UUID("7b0e4a3c-3d49-4a7e-9d55-5b1d8d6f3c11")

_TYPE = re.compile(r"^[a-z0-9][a-z0-9-]{1,248}[a-z0-9]$")
_STIX_TS = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")
# STIX Cyber-observable types (2.1 §6): they carry no created/modified.
SCO_TYPES = frozenset(
    {
        "artifact",
        "autonomous-system",
        "directory",
        "domain-name",
        "email-addr",
        "email-message",
        "file",
        "ipv4-addr",
        "ipv6-addr",
        "mac-addr",
        "mutex",
        "network-traffic",
        "process",
        "software",
        "url",
        "user-account",
        "windows-registry-key",
        "x509-certificate",
    }
)
MAX_DEPTH = 40


class StixInputError(ValueError):
    """One clear message about what is wrong with the input, naming the object when there is one."""

    def __init__(self, message: str, object_id: str | None = None) -> None:
        super().__init__(message)
        self.object_id = object_id


# The usual form (UTC, `Z`, at most microseconds): `datetime.fromisoformat` reads it as it is.
UTC_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.(\d{1,6}))?Z")


def parse_timestamp(value: Any) -> datetime:
    """An RFC 3339 timestamp (STIX or TAXII), with or without fractions; a `Z` or an offset."""
    if not isinstance(value, str):
        raise ValueError("not a string")
    if UTC_STAMP.fullmatch(value):  # two of them per object of an import: the fast path
        return datetime.fromisoformat(value)
    m = _STIX_TS.match(value.strip())
    if not m:
        raise ValueError(f"not an RFC 3339 timestamp: {value!r}")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    frac = m.group(7)
    if frac and len(frac) > 7:  # more than microseconds: fromisoformat takes at most six digits
        text = text.replace(frac, frac[:7], 1)
    return datetime.fromisoformat(text).astimezone(UTC)


def taxii_timestamp(value: datetime) -> str:
    """TAXII 2.1 §2: always UTC, always six fractional digits, `Z`."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def dumps(obj: Any) -> str:
    """Compact JSON as stored and served (UTF-8 text). orjson writes it five times faster than json's
    encoder (the encode was a fifth of an ATT&CK import); what orjson refuses (an integer beyond 64
    bits, which STIX allows in custom properties) falls back to the standard encoder. Both write the
    same JSON apart from how a few floats are spelled (1e16, 1e+16)."""
    try:
        return orjson.dumps(obj).decode()
    except (orjson.JSONEncodeError, TypeError):
        return _COMPACT.encode(obj)


def tlp_of_marking_definition(obj: dict[str, Any]) -> TLP | None:
    """The label a marking-definition object stands for, whatever id it has: TLP 1.0 form
    (`definition_type: tlp`), the TLP 2.0 extension, or a `name` such as "TLP:AMBER+STRICT"."""
    known = TLP_MARKING_IDS.get(str(obj.get("id")))
    if known is not None:
        return known
    candidates: list[Any] = []
    definition = obj.get("definition")
    if obj.get("definition_type") == "tlp" and isinstance(definition, dict):
        candidates.append(definition.get("tlp"))
    # misp-stix writes MISP tags it has no TLP 1.0 id for (tlp:clear, tlp:amber+strict) as statements.
    if obj.get("definition_type") == "statement" and isinstance(definition, dict):
        statement = definition.get("statement")
        if isinstance(statement, str) and statement.strip().lower().startswith("tlp:"):
            candidates.append(statement)
    extension = (obj.get("extensions") or {}).get(TLP2_EXTENSION_ID)
    if isinstance(extension, dict):
        candidates.append(extension.get("tlp_2_0"))
    name = obj.get("name")
    if isinstance(name, str) and name.strip().lower().startswith("tlp:"):
        candidates.append(name)
    for candidate in candidates:
        if isinstance(candidate, str):
            try:
                return parse_tlp(candidate)
            except ValueError:
                continue
    return None


def marking_refs(obj: dict[str, Any]) -> list[str]:
    refs = list(obj.get("object_marking_refs") or [])
    for granular in obj.get("granular_markings") or []:
        if isinstance(granular, dict) and granular.get("marking_ref"):
            refs.append(granular["marking_ref"])
    return refs


def label_of(obj: dict[str, Any], markings: dict[str, TLP | None], default: TLP) -> TLP:
    """The object's label: the most restrictive TLP among its markings, else `default`.
    `markings` maps every marking-definition id the caller knows to its TLP (or None: a known
    non-TLP marking such as a copyright statement). An id it does not know is an error."""
    labels: list[str] = []
    for ref in marking_refs(obj):
        if ref in TLP_MARKING_IDS:
            labels.append(TLP_MARKING_IDS[ref])
        elif ref in markings:
            label = markings[ref]
            if label is not None:
                labels.append(label)
        else:
            raise StixInputError(f"Unknown marking {ref!r}: send its marking-definition first.", obj.get("id"))
    return most_restrictive(labels) or default


_BUNDLE_ID = re.compile(r"^bundle--[0-9a-fA-F-]{36}$")


class BundleError(ValueError):
    """Bytes that are not a STIX bundle the hub takes, said plainly. `status`: the HTTP status to
    answer with (413 too large, else 400); `reason`: size, json, depth, type, objects or id, for
    callers that word one case their own way (TAXII asks for an envelope)."""

    def __init__(self, message: str, status: int = 400, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


def json_load(raw: bytes | str, *, what: str = "The bundle", max_bytes: int | None = None) -> Any:
    """Parse JSON from outside (an upload, a feed, a TAXII POST, a peer hub) with the same limits
    and errors everywhere: over `max_bytes` (413), not JSON, nested deeper than MAX_DEPTH (json.loads
    itself gives up with a RecursionError on very deep nesting; a 500 otherwise)."""
    if max_bytes is not None and len(raw) > max_bytes:
        size = f"{max_bytes // (1024 * 1024)} MB" if max_bytes >= 1024 * 1024 else f"{max_bytes:,} bytes"
        raise BundleError(f"{what} is over {size}.", 413, "size")
    try:
        data = json.loads(raw)
    except RecursionError:
        raise BundleError(f"{what} is nested too deeply.", 400, "depth") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"{what} is not valid JSON ({exc}).", 400, "json") from None
    if not depth_ok(data):
        raise BundleError(f"{what} is nested too deeply.", 400, "depth")
    return data


def bundle_load(
    raw: bytes | str, *, what: str = "The bundle", max_bytes: int | None = None, envelope: bool = False
) -> dict[str, Any]:
    """Bytes → a STIX 2.0/2.1 bundle as a dict, checked for what is cheap (size, JSON, nesting,
    `type`, `objects` a list, a well-formed `id`); BundleError otherwise. With `envelope`, a TAXII
    envelope (`{"objects": [...]}`, no `type`) is taken too. The objects themselves are checked
    later (`check_object`). One reader for uploads, feeds, TAXII POSTs and peer hubs."""
    data = json_load(raw, what=what, max_bytes=max_bytes)
    found = data.get("type", "bundle" if envelope else None) if isinstance(data, dict) else type(data).__name__
    if not isinstance(data, dict) or found != "bundle":
        raise BundleError(f"{what} is not a STIX bundle: its `type` is {found!r}, not 'bundle'.", 400, "type")
    if not isinstance(data.get("objects", []), list):
        raise BundleError(f"{what} is not a STIX bundle: its `objects` must be a list.", 400, "objects")
    bundle_id = data.get("id")
    if bundle_id is not None and (not isinstance(bundle_id, str) or not _BUNDLE_ID.match(bundle_id)):
        raise BundleError(f"{what} has an `id` that is not bundle--<uuid>: {bundle_id!r}.", 400, "id")
    return data


def depth_ok(value: Any, limit: int = MAX_DEPTH) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, dict | list))
    return True


def check_object(obj: Any, *, check_pattern: bool = True) -> tuple[str, str, str, datetime | None, datetime | None]:
    """Structural checks (cheap, every object): returns (id, type, spec_version, created, modified)."""
    if not isinstance(obj, dict):
        raise StixInputError("Every entry of `objects` must be a JSON object.")
    stix_type, stix_id = obj.get("type"), obj.get("id")
    if not isinstance(stix_type, str) or not _TYPE.match(stix_type):
        raise StixInputError(
            f"Missing or malformed `type`: {stix_type!r}.", stix_id if isinstance(stix_id, str) else None
        )
    if stix_type == "bundle":
        raise StixInputError("A bundle cannot be stored as an object: send its objects.", stix_id)
    if not isinstance(stix_id, str) or not stix_id.startswith(stix_type + "--"):
        raise StixInputError(f"`id` must be `{stix_type}--<uuid>`, got {stix_id!r}.", None)
    try:
        uuid.UUID(stix_id[len(stix_type) + 2 :])
    except ValueError:
        raise StixInputError(f"`id` must end in a UUID: {stix_id!r}.", stix_id) from None
    spec_version = obj.get("spec_version")
    if spec_version is None:
        spec_version = "2.1" if stix_type in SCO_TYPES else "2.0"
    if spec_version not in ("2.0", "2.1"):
        raise StixInputError(f"Unsupported spec_version {spec_version!r}: STIX 2.0 and 2.1 only.", stix_id)
    times: dict[str, datetime | None] = {"created": None, "modified": None}
    for name in times:
        if name in obj:
            try:
                times[name] = parse_timestamp(obj[name])
            except ValueError:
                raise StixInputError(f"`{name}` is not a STIX timestamp: {obj[name]!r}.", stix_id) from None
    if stix_type not in SCO_TYPES and times["created"] is None:
        raise StixInputError("Missing `created`.", stix_id)
    if stix_type == "indicator" and check_pattern:
        pattern = obj.get("pattern")
        if not isinstance(pattern, str):
            raise StixInputError("An indicator needs a `pattern`.", stix_id)
        if obj.get("pattern_type", "stix") == "stix":
            errors = run_validator(pattern, stix_version=spec_version)
            if errors:
                raise StixInputError(f"The STIX pattern does not parse: {errors[0]}", stix_id)
    return stix_id, stix_type, spec_version, times["created"], times["modified"]
