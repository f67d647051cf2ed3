"""STIX and TAXII feeds (docs/adr/0021-feed-and-misp-imports.md).

A pull brings STIX objects (a bundle file or URL, STIX 2.0 or 2.1; or the new objects of a remote
TAXII 2.1 collection since the feed's cursor). Every object is stored in the feed's own TAXII
collection (kind feed, `interop.services.objects_add`: all or nothing, idempotent), and the feed's
one alert gets the indicators the collection's latest, unrevoked objects carry: simple equality
patterns and observables, through the shared bulk path (`sharing.imports`). Labels: an object keeps
its own TLP marking (every id variant, `interop.stix`), never below the feed's label; the alert takes
the most restrictive of them. An unknown marking or an invalid object fails the pull: nothing stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from commonguard.core.tlp import TLP, most_restrictive
from commonguard.feeds.sources import FeedError, max_bytes
from commonguard.interop.stix import SCO_TYPES, BundleError, StixInputError, bundle_load

if TYPE_CHECKING:
    from commonguard.feeds.models import Feed
    from commonguard.interop.models import Collection

Row = tuple[str, str | None, str, str]

# `[type:path = 'value']`; the value with STIX's escapes (\' and \\).
_COMPARISON = re.compile(r"([a-z0-9-]+):([A-Za-z0-9_.'\-]+)\s*=\s*'((?:[^'\\]|\\.)*)'")
_SIMPLE = re.compile(r"\[C( OR C)*\](OR\[C( OR C)*\])*")
_HASH_KINDS = {"SHA-256": "sha256", "SHA256": "sha256", "MD5": "md5", "SHA-1": "sha1", "SHA1": "sha1"}
_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$", re.IGNORECASE)
# The object types whose content can become indicators (read back from the collection).
INDICATOR_TYPES = ("indicator", "vulnerability", "observed-data", *sorted(SCO_TYPES))


def _path_kind(stix_type: str, path: str, value: str) -> str | None:
    """The indicator kind of a pattern's object path, or None when CommonGuard has none."""
    if path == "value":
        if stix_type in ("ipv4-addr", "ipv6-addr"):
            return "cidr" if "/" in value else ("ipv4" if stix_type == "ipv4-addr" else "ipv6")
        return {"domain-name": "domain", "url": "url", "email-addr": "email"}.get(stix_type)
    if stix_type == "email-message":
        return {"subject": "email_subject", "from_ref.value": "email", "sender_ref.value": "email"}.get(path)
    if stix_type == "file":
        if path == "name":
            return "filename"
        if path.startswith("hashes."):
            return _HASH_KINDS.get(path[len("hashes.") :].strip("'").upper())
    return None


def pattern_values(pattern: str) -> list[tuple[str, str]] | None:
    """(kind, value) of a simple STIX pattern: equality comparisons joined by OR (inside one
    observation or between observations). None for anything else (AND, other operators,
    qualifiers): such an indicator is stored, not turned into alert indicators."""
    found: list[tuple[str, str]] = []

    def one(match: re.Match[str]) -> str:
        value = match.group(3).replace("\\'", "'").replace("\\\\", "\\")
        kind = _path_kind(match.group(1), match.group(2), value)
        if kind is not None:
            found.append((kind, value))
        return "C" if kind is not None else "?"

    shape = _COMPARISON.sub(one, pattern)
    shape = re.sub(r"\s*([\[\]])\s*", r"\1", " ".join(shape.split()))
    return found if _SIMPLE.fullmatch(shape) else None


def _sco_values(obj: dict[str, Any]) -> Iterator[tuple[str, str]]:
    stix_type, value = obj.get("type"), obj.get("value")
    if isinstance(value, str) and stix_type in ("domain-name", "ipv4-addr", "ipv6-addr", "url", "email-addr"):
        kind = _path_kind(str(stix_type), "value", value)
        if kind:
            yield kind, value
    elif stix_type == "file":
        for name, digest in (obj.get("hashes") or {}).items():
            kind = _HASH_KINDS.get(str(name).upper())
            if kind and isinstance(digest, str):
                yield kind, digest


def _cve(obj: dict[str, Any]) -> str | None:
    for ref in obj.get("external_references") or []:
        if isinstance(ref, dict) and str(ref.get("source_name", "")).lower() == "cve" and ref.get("external_id"):
            return str(ref["external_id"])
    name = str(obj.get("name", ""))
    return name if _CVE.match(name) else None


@dataclass
class Extracted:
    rows: list[Row] = field(default_factory=list)
    skipped_patterns: int = 0  # indicators whose pattern is not simple equality (stored, not imported)


def indicator_rows(objects: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> Extracted:
    """The (where, kind, value, comment) rows for `parse_bulk` of indicators, observables (2.1 SCOs
    and 2.0 observed-data) and vulnerabilities (CVE ids)."""
    out = Extracted()
    for obj in objects:
        stix_type, stix_id = obj.get("type"), str(obj.get("id"))
        if obj.get("revoked"):
            continue
        if stix_type == "indicator":
            if obj.get("pattern_type", "stix") != "stix" or not isinstance(obj.get("pattern"), str):
                out.skipped_patterns += 1
                continue
            values = pattern_values(obj["pattern"])
            if not values:
                out.skipped_patterns += 1
                continue
            comment = str(obj.get("name") or "")[:300]
            out.rows += [(stix_id, kind, value, comment) for kind, value in values]
        elif stix_type == "vulnerability":
            cve = _cve(obj)
            if cve:
                out.rows.append((stix_id, "cve", cve, str(obj.get("name") or "")[:300]))
        elif stix_type == "observed-data" and isinstance(obj.get("objects"), dict):  # STIX 2.0
            for sco in obj["objects"].values():
                if isinstance(sco, dict):
                    out.rows += [(stix_id, kind, value, "") for kind, value in _sco_values(sco)]
        else:
            out.rows += [(stix_id, kind, value, "") for kind, value in _sco_values(obj)]
    return out


def read_bundle(raw: bytes, where: str) -> list[dict[str, Any]]:
    """The objects of a STIX 2.0 or 2.1 bundle (a TAXII envelope is accepted too), read by the
    same `interop.stix.bundle_load` as uploads and TAXII POSTs (limit: COMMONGUARD_FEED_MAX_BYTES)."""
    try:
        data = bundle_load(raw, what=where, max_bytes=max_bytes(), envelope=True)
    except BundleError as exc:
        raise FeedError(f"{exc} Nothing was imported.") from None
    objects: list[dict[str, Any]] = data.get("objects") or []
    return objects


# --- Storing and importing -------------------------------------------------------------------


def _worst(*labels: TLP) -> TLP:
    return most_restrictive(labels) or TLP.AMBER


def feed_collection_for(feed: Feed) -> Collection:
    from commonguard.interop.collections import feed_collection

    return feed_collection(feed.collection_alias, f"Feed: {feed.name}", TLP(feed.tlp))


def checked_labels(feed: Feed, collection: Collection, objects: list[dict[str, Any]]) -> dict[str, TLP]:
    """Check every object (structure, pattern syntax, markings) before anything is written, and
    give each its label: its own marking, else the feed's label, never below the feed's label."""
    from commonguard.interop.services import check_objects

    try:
        checked = check_objects(collection, objects, default_tlp=TLP(feed.tlp))
    except StixInputError as exc:
        where = f" (object {exc.object_id})" if exc.object_id else ""
        raise FeedError(f"The bundle is refused{where}: {exc}. Nothing was imported.") from exc
    labels: dict[str, TLP] = {}
    for item in checked:
        labels[item.stix_id] = _worst(item.tlp, TLP(feed.tlp), labels.get(item.stix_id, TLP.CLEAR))
    if TLP.RED in labels.values():
        red = next(i for i, label in labels.items() if label == TLP.RED)
        raise FeedError(
            f"The bundle holds TLP:RED objects ({red}): RED goes to named people only and a feed cannot "
            "publish it. Nothing was imported."
        )
    return labels


def narrow_held(feed: Feed) -> int:
    """Raise the label of objects already held below the feed's (now narrower) label: changing a
    feed's label never leaves its earlier objects readable by a wider audience."""
    from commonguard.core.tlp import TLP_ORDER
    from commonguard.interop.models import StixObject

    lower = TLP_ORDER[: TLP_ORDER.index(TLP(feed.tlp))]
    if not lower:
        return 0
    held = StixObject.objects.filter(collection__kind="feed", collection__alias=feed.collection_alias, tlp__in=lower)
    return held.update(tlp=feed.tlp)


def held_objects(collection: Collection) -> Iterator[dict[str, Any]]:
    """The latest, unrevoked objects of `collection` that can carry indicators."""
    from commonguard.interop.models import StixObject

    rows = StixObject.objects.filter(collection=collection, is_latest=True, revoked=False, type__in=INDICATOR_TYPES)
    for raw in rows.values_list("raw", flat=True).iterator(chunk_size=2000):
        yield json.loads(raw)


def held_label(collection: Collection, feed: Feed) -> TLP:
    from commonguard.interop.models import StixObject

    labels = set(StixObject.objects.filter(collection=collection, is_latest=True).values_list("tlp", flat=True))
    return _worst(TLP(feed.tlp), *(TLP(label) for label in labels))


# --- TAXII -----------------------------------------------------------------------------------

PER_REQUEST = 1000


class _Bearer:
    """requests auth: `Authorization: Bearer <token>`."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: Any) -> Any:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


@dataclass
class Fetched:
    objects: list[dict[str, Any]]
    cursor: str  # X-TAXII-Date-Added-Last of the last page ("" when the server sent none)
    pages: int


def taxii_fetch(feed: Feed, progress: Callable[[int], None] | None = None) -> Fetched:
    """Every object the remote collection added after the feed's cursor, page by page (taxii2-client)."""
    import requests
    from taxii2client.exceptions import TAXIIServiceException
    from taxii2client.v21 import Collection as TaxiiCollection
    from taxii2client.v21 import as_pages

    url = feed.source if feed.source.endswith("/") else feed.source + "/"
    if feed.taxii_user:
        remote = TaxiiCollection(url, user=feed.taxii_user, password=feed.credentials)
    elif feed.credentials:
        remote = TaxiiCollection(url, auth=_Bearer(feed.credentials))
    else:
        remote = TaxiiCollection(url)
    last: dict[str, str] = {}

    def remember(response: Any, *args: Any, **kwargs: Any) -> None:
        added_last = response.headers.get("X-TAXII-Date-Added-Last")
        if added_last:
            last["cursor"] = added_last

    remote._conn.session.hooks["response"].append(remember)  # the headers taxii2-client does not return
    objects: list[dict[str, Any]] = []
    pages = 0
    filters = {"added_after": feed.taxii_cursor} if feed.taxii_cursor else {}
    try:
        for envelope in as_pages(remote.get_objects, per_request=PER_REQUEST, **filters):
            page = envelope.get("objects") or []
            if not isinstance(page, list):
                raise FeedError(f"{url} answered a page without an `objects` list; nothing was imported.")
            objects += page
            pages += 1
            if progress is not None:
                progress(len(objects))
    except (TAXIIServiceException, requests.RequestException, ValueError) as exc:
        raise FeedError(f"The TAXII collection {url} could not be read: {exc}. Nothing was imported.") from exc
    return Fetched(objects, last.get("cursor", ""), pages)
