"""Known-benign values (MISP warning lists, from the `pymispwarninglists` package): RFC 1918 and
other reserved ranges, public DNS resolvers, cloud ranges, popular domains, benign file hashes.

pymispwarninglists' own CIDR search takes ~0.15 s a value; this module builds an index once per
process (about a second) and then answers in microseconds: exact sets for strings, parent-domain
walks for hostname lists, merged integer ranges with binary search for CIDR lists. The two lists of a
million "top sites" are left out: a domain ranked 900,000th is no evidence of being benign, and they
would cost hundreds of MB in every process (docs/adr/0014-warning-lists.md)."""

from __future__ import annotations

import bisect
import ipaddress
import socket
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_SKIP_LARGER_THAN = 500_000  # entries: the 1M-site lists
# Lists that say "this is a kind of infrastructure", not "this is benign": a subdomain of a dynamic-DNS
# provider is a classic phishing host, so these never count as reasons to doubt an indicator.
_NOT_BENIGN = ("dynamic dns", "link in bio")
# Popularity rankings: the ranked domain itself is popular; its subdomains (blogspot, duckdns, github.io
# tenants) are anyone's, so only an exact match counts.
_POPULARITY = ("top ", "most-used", "most used")
_lock = threading.Lock()
_index: _Index | None = None

# Our indicator kinds -> the MISP attribute types a list must declare to apply.
_MISP_TYPES = {
    "domain": {"domain", "hostname"},
    "url": {"url", "uri", "link"},
    "ipv4": {"ip-src", "ip-dst"},
    "ipv6": {"ip-src", "ip-dst"},
    "cidr": {"ip-src", "ip-dst"},
    "email": {"email-src", "email", "email-dst"},
    "md5": {"md5"},
    "sha1": {"sha1"},
    "sha256": {"sha256"},
}


@dataclass
class _CidrList:
    name: str
    types: set[str]
    # per IP version: sorted, merged (start, end) integer ranges
    starts: dict[int, list[int]] = field(default_factory=dict)
    ends: dict[int, list[int]] = field(default_factory=dict)

    def contains(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return self.contains_int(address.version, int(address))

    def contains_int(self, version: int, value: int) -> bool:
        starts = self.starts.get(version)
        if not starts:
            return False
        i = bisect.bisect_right(starts, value) - 1
        return i >= 0 and value <= self.ends[version][i]


@dataclass
class _SetList:
    name: str
    types: set[str]
    values: frozenset[str]
    hostname: bool  # match parents too (a list of "example.com" covers "www.example.com")


@dataclass
class _Index:
    cidr: list[_CidrList]
    sets: list[_SetList]
    # Per IP version: segment starts and the CIDR lists covering each segment (`_segments`).
    segments: dict[int, tuple[list[int], list[tuple[int, ...]]]] = field(default_factory=dict)
    # Every value of the set lists → the lists holding it.
    by_value: dict[str, tuple[int, ...]] = field(default_factory=dict)


def _build() -> _Index:
    from pymispwarninglists import WarningLists

    cidr: list[_CidrList] = []
    sets: list[_SetList] = []
    for wl in WarningLists(slow_search=False).warninglists.values():
        types = set(wl.matching_attributes)
        name = wl.name.lower()
        if len(wl.list) > _SKIP_LARGER_THAN or wl.type in {"regex", "substring"} or any(n in name for n in _NOT_BENIGN):
            continue
        if wl.type == "cidr":
            entry = _CidrList(wl.name, types)
            ranges: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
            for item in wl.list:
                try:
                    net = ipaddress.ip_network(item.strip(), strict=False)
                except ValueError:
                    continue
                ranges[net.version].append((int(net.network_address), int(net.broadcast_address)))
            for version, spans in ranges.items():
                merged: list[list[int]] = []
                for start, end in sorted(spans):
                    if merged and start <= merged[-1][1] + 1:
                        merged[-1][1] = max(merged[-1][1], end)
                    else:
                        merged.append([start, end])
                entry.starts[version] = [s for s, _ in merged]
                entry.ends[version] = [e for _, e in merged]
            cidr.append(entry)
        else:
            values = frozenset(v.strip().lower().rstrip(".") for v in wl.list if v.strip())
            parents = wl.type == "hostname" and not any(p in name for p in _POPULARITY)
            sets.append(_SetList(wl.name, types, values, hostname=parents))
    return _Index(cidr, sets, _segments(cidr), _by_value(sets))


def _segments(cidr: list[_CidrList]) -> dict[int, tuple[list[int], list[tuple[int, ...]]]]:
    """Per IP version, the address line cut where any list's range starts or ends: segment starts
    (sorted) and, for each segment, the lists (indices into `cidr`) covering it. One bisect then
    answers for all lists at once."""
    out: dict[int, tuple[list[int], list[tuple[int, ...]]]] = {}
    for version in (4, 6):
        events: dict[int, list[tuple[int, int]]] = {}
        for i, entry in enumerate(cidr):
            for start, end in zip(entry.starts.get(version, []), entry.ends.get(version, []), strict=True):
                events.setdefault(start, []).append((i, 1))
                events.setdefault(end + 1, []).append((i, -1))
        active: dict[int, int] = {}
        starts: list[int] = []
        covering: list[tuple[int, ...]] = []
        for point in sorted(events):
            for i, delta in events[point]:
                active[i] = active.get(i, 0) + delta
                if not active[i]:
                    del active[i]
            starts.append(point)
            covering.append(tuple(sorted(active)))
        out[version] = (starts, covering)
    return out


def _by_value(sets: list[_SetList]) -> dict[str, tuple[int, ...]]:
    """Every listed value → the set lists (indices) holding it: one dict lookup per candidate."""
    index: dict[str, list[int]] = {}
    for i, entry in enumerate(sets):
        for value in entry.values:
            index.setdefault(value, []).append(i)
    return {value: tuple(ids) for value, ids in index.items()}


def _get() -> _Index:
    global _index
    if _index is None:
        with _lock:
            if _index is None:
                _index = _build()
    return _index


def _parents(host: str) -> list[str]:
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


def benign_matches(kind: str, value: str) -> list[str]:
    """Names of the warning lists `value` (a normalised indicator of `kind`) appears on."""
    types = _MISP_TYPES.get(kind)
    if not types:
        return []
    index = _get()
    found: list[str] = []
    number: int | None = None
    if kind == "ipv4":
        version, number = 4, int.from_bytes(socket.inet_aton(value), "big")  # normalised: a dotted quad
    elif kind in {"ipv6", "cidr"}:
        address = (
            ipaddress.ip_address(value) if kind == "ipv6" else ipaddress.ip_network(value, strict=False).network_address
        )
        version, number = address.version, int(address)
    if number is not None:
        starts, covering = index.segments[version]
        at = bisect.bisect_right(starts, number) - 1
        if at >= 0:
            found.extend(index.cidr[i].name for i in covering[at] if types & index.cidr[i].types)
        return found
    text = value.lower()
    host = urlsplit(text).hostname or "" if kind == "url" else text if kind == "domain" else ""
    # (candidate, is a parent domain): parents count only on hostname lists.
    candidates = [(text, False)]
    if kind == "url" and host:
        # URL lists rarely hold full URLs; a URL on a well-known host is what deserves a warning.
        candidates += [(host, False), *((p, True) for p in _parents(host))]
        types = {"hostname", "domain"} | types
    elif kind == "domain":
        candidates += [(p, True) for p in _parents(text)]
    hits: set[int] = set()
    for candidate, is_parent in candidates:
        for i in index.by_value.get(candidate, ()):
            entry = index.sets[i]
            if (entry.hostname or not is_parent) and entry.types & types:
                hits.add(i)
    return [index.sets[i].name for i in sorted(hits)]


def warm() -> None:
    """Build the index now (a worker or server calls this at start-up, not on a user's request)."""
    _get()
