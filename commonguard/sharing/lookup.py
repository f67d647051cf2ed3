"""“Have we seen this?”: find the lines of a log that mention an indicator.

Pure Python and numpy, no Django: a `Matcher` is built from (id, kind, value, alert id) tuples — the
caller passes only the indicators the person may see (`lookup_services.matcher_for`) — and
`Matcher.scan` reads a log once. Designed for a million lines against a million indicators in a few
seconds (docs/adr/0019-log-lookup-engine.md). Per chunk of the log (a few MB, cut at a line end):

- The bytes are lower-cased (ASCII) and cut into tokens of `a-z 0-9 . _ - @` (so `1.2.3.4:443`,
  `sha256=…`, `<bob@evil.example>` give the bare values). Every token gets a 32-bit polynomial hash,
  all at once with numpy (a prefix sum of the bytes times powers of an odd constant), and the hashes
  are looked up in a bitmap, then in the sorted hashes of the indicators; the few hashes that are
  there are compared byte for byte with the indicator values. No Python object is made per token.
- Exact kinds: IP addresses, domains, e-mail addresses, MD5/SHA-1/SHA-256, CVE ids, plain file names.
- Subdomains: the hash of what follows each dot (and @) of a token that ends in a letter is looked up
  among the domains, so `a.b.evil.example` and `bob@evil.example` are sightings of `evil.example`.
- IPv4 in a CIDR range: the hashes of a dotted quad's first one, two and three octets are looked up
  among the ranges' octet-aligned prefixes, then checked numerically. IPv6: runs of hex digits and
  colons are parsed (`ipaddress`) and compared compressed, and against IPv6 ranges.
- URLs: what follows `://` is compared (hashes again) by host, path and query, scheme ignored; an
  indicator without a query matches the URL with any query.
- E-mail subjects, and file names with spaces or unusual characters, are substrings: Aho–Corasick
  (pyahocorasick) over the chunk, with word edges.

Every match knows its byte span, so its line is found by bisecting the chunk's line ends. Comparison
is case-insensitive for ASCII. Logs are matched as written (they are not defanged).
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from operator import itemgetter
from typing import Any

import ahocorasick
import numpy as np

# Indicator kinds (the values of sharing.models.Indicator.Kind; kept as strings so this module needs no Django).
DOMAIN, URL, IPV4, IPV6, CIDR = "domain", "url", "ipv4", "ipv6", "cidr"
EMAIL, EMAIL_SUBJECT, FILENAME = "email", "email_subject", "filename"
MD5, SHA1, SHA256, CVE = "md5", "sha1", "sha256", "cve"
KINDS = (DOMAIN, URL, IPV4, IPV6, CIDR, EMAIL, EMAIL_SUBJECT, FILENAME, MD5, SHA1, SHA256, CVE)
_EXACT = {DOMAIN, IPV4, IPV6, EMAIL, MD5, SHA1, SHA256, CVE}

CHUNK_BYTES = 4_000_000  # a chunk of the log (cut at a line end): bounds the memory of a scan
MAX_LINE_SHOWN = 300  # characters of a matched line kept for display

_TOKEN_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789._-@")
_V6_CHARS = frozenset(b"0123456789abcdef:.")
_IS_MARK = bytes(1 if c in b".@" else 0 for c in range(256))
# One pass finds every byte that is not part of a token, and what kind of separator it is.
_QUERY, _SLASH, _COLON, _NEWLINE, _URL_END, _OTHER = 1, 2, 3, 4, 5, 6
_CLASS = bytearray(0 if c in _TOKEN_CHARS else _OTHER for c in range(256))
for _c in b" \t\r\"'<>`\x00":
    _CLASS[_c] = _URL_END
_CLASS[ord("/")], _CLASS[ord(":")] = _SLASH, _COLON
_CLASS[ord("?")] = _CLASS[ord("#")] = _QUERY
_CLASS[ord("\n")] = _NEWLINE
_CLASSES = bytes(_CLASS)
_URL_TRAILER = frozenset(b".,;:!?)]}'")
_ALNUM = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789")
_BASE = 0x01000193  # odd, so its powers are invertible modulo 2**32


@cache
def _powers() -> tuple[np.ndarray, np.ndarray]:
    """_BASE**i and _BASE**-i modulo 2**32 for i <= CHUNK_BYTES (uint32 arithmetic wraps)."""
    pw = np.full(CHUNK_BYTES + 1, _BASE, dtype=np.uint32)
    pw[0] = 1
    np.cumprod(pw, out=pw)
    inv = np.full(CHUNK_BYTES + 1, pow(_BASE, -1, 2**32), dtype=np.uint32)
    inv[0] = 1
    np.cumprod(inv, out=inv)
    return pw, inv


class _Text:
    """A lower-cased chunk (at most CHUNK_BYTES) and the prefix sums that give the hash of any span in O(1)."""

    def __init__(self, low: bytes) -> None:
        self.low = low
        self.a = np.frombuffer(low, dtype=np.uint8)
        self.n = len(low)
        pw, self.inv = _powers()
        self.c = np.zeros(self.n + 1, dtype=np.uint32)
        np.cumsum(self.a * pw[: self.n], out=self.c[1:], dtype=np.uint32)

    def hashes(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        return (self.c[ends] - self.c[starts]) * self.inv[starts]


def _gaps(separators: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends of the runs between the (sorted) separator positions of a text of `size` bytes."""
    bounds = np.concatenate(([-1], separators, [size]))
    wide = np.flatnonzero(np.diff(bounds) > 1)
    return bounds[wide] + 1, bounds[wide + 1]


def _hash_keys(keys: list[bytes]) -> np.ndarray:
    """The hashes of `keys`, as _Text.hashes gives them for the same bytes in a log."""
    out = np.zeros(len(keys), dtype=np.uint32)
    lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
    reach = np.cumsum(lengths + 1)  # where each key's separator ends in one long join
    first = 0
    while first < len(keys):
        offset = int(reach[first - 1]) if first else 0
        last = max(first + 1, int(np.searchsorted(reach, offset + CHUNK_BYTES, side="right")))
        group = keys[first:last]
        text = _Text(b"\n".join(group)[:CHUNK_BYTES])
        starts = np.zeros(len(group), dtype=np.int64)
        np.cumsum(lengths[first : last - 1] + 1, out=starts[1:])
        out[first:last] = text.hashes(starts, np.minimum(starts + lengths[first:last], text.n))
        first = last
    return out


Rows = int | tuple[int, ...]  # one indicator row, or several with the same value


def _index(keys: list[bytes], items: list[int]) -> dict[bytes, Rows]:
    """key → the item with that key, or the tuple of them when several share it."""
    index: dict[bytes, Rows] = dict(zip(keys, items, strict=True))
    if len(index) < len(keys):  # the same value in several alerts
        shared: dict[bytes, list[int]] = {}
        for key, count in Counter(keys).items():
            if count > 1:
                shared[key] = []
        for key, item in zip(keys, items, strict=True):
            if key in shared:
                shared[key].append(item)
        index.update((key, tuple(found)) for key, found in shared.items())
    return index


def _lower_bytes(values: list[str]) -> list[bytes]:
    """Values as UTF-8, ASCII lower-cased, in one pass (indicator values hold no newline)."""
    return "\n".join(values).encode("utf-8", "replace").lower().split(b"\n") if values else []


class _Keys:
    """Byte strings (values to find) → indicator refs, looked up by hash: a bitmap first, then the
    sorted hashes, then the bytes themselves."""

    def __init__(self, entries: dict[bytes, Any]) -> None:
        self.entries = entries
        hashes = _hash_keys(list(entries))
        self.sorted = np.sort(hashes)
        bits = min(26, max(12, (len(entries) * 16).bit_length()))
        self.shift = np.uint32(32 - bits)
        self.bitmap = np.zeros(1 << bits, dtype=bool)
        self.bitmap[hashes >> self.shift] = True

    def __bool__(self) -> bool:
        return bool(self.entries)

    def find(self, hashes: np.ndarray) -> np.ndarray:
        """Indices of `hashes` that are the hash of some key (the bytes still need comparing)."""
        maybe = np.flatnonzero(self.bitmap[hashes >> self.shift])
        if not len(maybe):
            return maybe
        wanted = hashes[maybe]
        at = np.searchsorted(self.sorted, wanted)
        at[at == len(self.sorted)] = 0
        return maybe[self.sorted[at] == wanted]


@dataclass(frozen=True, slots=True)
class Ref:
    """What the matcher knows of an indicator."""

    id: int
    kind: str
    value: str
    alert_id: int


@dataclass(slots=True)
class LineMatch:
    line_no: int  # 1-based
    text: str  # the line as written (`shown` trims and defangs it)
    refs: list[Ref]
    spans: list[tuple[int, int]]  # where the matched values are, as offsets in `text`

    def shown(self, limit: int = MAX_LINE_SHOWN) -> str:
        return shown_line(self.text, self.spans, limit)


@dataclass
class ScanResult:
    lines_scanned: int = 0
    lines_matched: int = 0
    matches: list[LineMatch] = field(default_factory=list)  # the first `keep` matched lines
    lines_by_alert: Counter[int] = field(default_factory=Counter)  # alert id → matched lines
    lines_by_indicator: Counter[int] = field(default_factory=Counter)  # indicator id → matched lines
    alert_of_indicator: dict[int, int] = field(default_factory=dict)  # matched indicator id → its alert id
    last_seen_by_alert: dict[int, datetime] = field(default_factory=dict)  # from time stamps in the lines

    @property
    def truncated(self) -> bool:
        return self.lines_matched > len(self.matches)


def _url_key(value: str) -> bytes:
    """http://Evil.example/a?b#c → b"evil.example/a?b": host, path and query, lower-cased, no scheme."""
    rest = value.partition("://")[2] or value
    rest = rest.partition("#")[0]
    host, slash, path = rest.partition("/")
    return (host + (slash + path if slash else "/")).encode().lower()


_TOKENS_APART = bytes(c if c in _TOKEN_CHARS else 32 for c in range(256))


def _tokens_of(text: bytes) -> list[bytes]:
    return [t.rstrip(b".") for t in text.translate(_TOKENS_APART).split()]


def _values(rows: list[Row], items: list[int]) -> list[str]:
    """The values of rows[items], picked in C."""
    if not items:
        return []
    picked = itemgetter(*items)(rows)
    return [picked[2]] if len(items) == 1 else list(map(itemgetter(2), picked))


Hit = tuple[int, int, Rows | list[int]]  # start, end (bytes in the chunk), indicator rows
Row = tuple[int, str, str, int]  # indicator id, kind, value, alert id


class Matcher:
    """Indicators compiled for scanning. Build once per set of indicators; scanning does not change it."""

    def __init__(self, indicators: Iterable[Row]) -> None:
        self.rows: list[Row] = indicators if isinstance(indicators, list) else list(indicators)
        rows = self.rows
        kinds = np.array(list(map(itemgetter(1), rows)) or [""])
        by_kind = {kind: np.flatnonzero(kinds == kind).tolist() for kind in KINDS}
        exact_items = [n for kind in _EXACT for n in by_kind[kind]]
        exact_keys = _lower_bytes(_values(rows, exact_items))
        self.phrases: dict[str, list[int]] = {}
        for n in by_kind[FILENAME]:
            key = rows[n][2].encode().lower()
            if key and all(c in _TOKEN_CHARS for c in key) and key.strip(b".") == key:
                exact_items.append(n)
                exact_keys.append(key)
            else:
                self.phrases.setdefault(_latin(rows[n][2]), []).append(n)
        for n in by_kind[EMAIL_SUBJECT]:
            if rows[n][2].strip():
                self.phrases.setdefault(_latin(rows[n][2]), []).append(n)
        self.exact = _Keys(_index(exact_keys, exact_items))
        domain_items = by_kind[DOMAIN]
        self.domains = _Keys(_index(_lower_bytes(_values(rows, domain_items)), domain_items))
        url_items = by_kind[URL]
        self.urls = _Keys(_index(list(map(_url_key, _values(rows, url_items))), url_items))
        nets4: list[dict[bytes, list[tuple[int, int, int]]]] = [{}, {}, {}, {}, {}]  # by whole octets
        self.nets6: dict[int, dict[int, list[int]]] = {}  # prefix length → network → rows
        for n in by_kind[CIDR]:
            self._add_network(rows[n][2], n, nets4)
        self.nets4 = [_Keys(level) for level in nets4]  # type: ignore[arg-type]
        self.has_v6 = bool(by_kind[IPV6]) or bool(self.nets6)
        # Phrases: a hash lookup of their longest word finds the lines worth an Aho–Corasick pass.
        self.automaton: ahocorasick.Automaton | None = None
        anchors: dict[bytes, bool] = {}
        if self.phrases:
            self.automaton = ahocorasick.Automaton()
            for phrase in self.phrases:
                self.automaton.add_word(phrase, phrase)
                words = _tokens_of(phrase.encode("latin-1"))
                if words:  # the longest word, one with digits first (likelier to be rare)
                    anchors[max(words, key=lambda w: len(w) + 4 * any(48 <= c <= 57 for c in w))] = True
            self.automaton.make_automaton()
        self.anchors = _Keys(anchors)

    def _add_network(self, value: str, n: int, nets4: list[dict[bytes, list[tuple[int, int, int]]]]) -> None:
        try:
            net = ipaddress.ip_network(value, strict=False)
        except ValueError:
            return
        if net.version == 6:
            self.nets6.setdefault(net.prefixlen, {}).setdefault(int(net.network_address), []).append(n)
            return
        octets = max(1, net.prefixlen // 8)  # a /4 is looked up as its sixteen /8s
        for sub in net.subnets(new_prefix=8) if net.prefixlen < 8 else [net]:
            key = ".".join(str(sub.network_address).split(".")[:octets]).encode()
            nets4[octets].setdefault(key, []).append((int(sub.network_address), max(sub.prefixlen, net.prefixlen), n))

    def __len__(self) -> int:
        return len(self.rows)

    def ref(self, n: int) -> Ref:
        return Ref(*self.rows[n])

    # --- scanning ---------------------------------------------------------------------------

    def scan(self, data: bytes | str, *, keep: int | None = None) -> ScanResult:
        """Every line of `data` that mentions an indicator. `keep` caps the matched lines kept with
        their text (all are counted)."""
        if isinstance(data, str):
            data = data.encode("utf-8", "replace")
        result = ScanResult()
        line_base = 0
        for chunk, _whole_lines in _chunks(data) if self.rows else []:
            self._scan_chunk(chunk, line_base, result, keep)
            line_base += chunk.count(b"\n")  # a chunk cut mid-line leaves its line to the next
        result.lines_scanned = count_lines(data)
        return result

    def _scan_chunk(self, chunk: bytes, line_base: int, result: ScanResult, keep: int | None) -> None:
        low = chunk.lower()
        text = _Text(low)
        hits: list[Hit] = []
        classes = np.frombuffer(low.translate(_CLASSES), dtype=np.uint8)
        special = np.flatnonzero(classes)  # every byte that is not part of a token
        kind = classes[special]
        starts, ends = _gaps(special, text.n)
        ends = ends - (text.a[ends - 1] == 0x2E)  # "evil.example." (DNS) is "evil.example"
        real = ends > starts
        starts, ends = starts[real], ends[real]
        hashes = text.hashes(starts, ends)
        self._exact_hits(text, starts, ends, hashes, hits)
        if self.domains or any(self.nets4):
            marks = np.flatnonzero(np.frombuffer(low.translate(_IS_MARK), dtype=np.uint8))
            self._dotted_hits(text, starts, ends, marks, hits)
        colons = special[kind == _COLON]
        if self.has_v6 and len(colons):
            self._ipv6_hits(text, colons, hits)
        if self.urls and len(colons):
            self._url_hits(text, special, kind, colons, hits)
        newlines = special[kind == _NEWLINE]
        if self.automaton is not None:
            self._phrase_hits(text, starts, ends, hashes, newlines, hits)
        if hits:
            self._record(chunk, newlines, hits, line_base, result, keep)

    def _exact_hits(
        self, text: _Text, starts: np.ndarray, ends: np.ndarray, hashes: np.ndarray, hits: list[Hit]
    ) -> None:
        entries = self.exact.entries
        for i in self.exact.find(hashes).tolist():
            s, e = int(starts[i]), int(ends[i])
            refs = entries.get(text.low[s:e])
            if refs is not None:
                hits.append((s, e, refs))

    def _dotted_hits(
        self, text: _Text, starts: np.ndarray, ends: np.ndarray, marks: np.ndarray, hits: list[Hit]
    ) -> None:
        if not len(marks) or not len(starts):
            return
        a, low = text.a, text.low
        token = np.searchsorted(starts, marks, side="right") - 1
        safe = np.maximum(token, 0)
        inside = (token >= 0) & (marks + 1 < ends[safe]) & (marks > starts[safe])
        marks, token = marks[inside], token[inside]
        if self.domains:
            tail_end = ends[token]
            domain_like = a[tail_end - 1] >= 0x61  # the token ends in a letter, like a top-level domain
            m, t, e = marks[domain_like], token[domain_like], tail_end[domain_like]
            entries = self.domains.entries
            for i in self.domains.find(text.hashes(m + 1, e)).tolist():
                refs = entries.get(low[int(m[i]) + 1 : int(e[i])])
                if refs is not None:
                    hits.append((int(starts[t[i]]), int(e[i]), refs))
        if any(self.nets4):
            self._ipv4_network_hits(text, starts, ends, marks, token, hits)

    def _ipv4_network_hits(
        self, text: _Text, starts: np.ndarray, ends: np.ndarray, marks: np.ndarray, token: np.ndarray, hits: list[Hit]
    ) -> None:
        # Dotted quads: tokens with exactly three dots (marks are sorted, so a token's dots are adjacent).
        dots = text.a[marks] == 0x2E
        marks, token = marks[dots], token[dots]
        count = np.bincount(token, minlength=len(starts))
        quad = (count == 3) & (ends - starts <= 15) & (text.a[starts] <= 0x39)
        first = np.searchsorted(token, np.flatnonzero(quad))
        if not len(first):
            return
        s, e = starts[token[first]], ends[token[first]]
        for octets, level in enumerate(self.nets4):
            if not level or octets == 0:
                continue
            stop = e if octets == 4 else marks[first + octets - 1]
            for i in level.find(text.hashes(s, stop)).tolist():
                written = text.low[int(s[i]) : int(e[i])]
                candidates = level.entries.get(text.low[int(s[i]) : int(stop[i])])
                if not candidates or not _is_quad(written):
                    continue
                value = int(ipaddress.IPv4Address(written.decode()))
                refs = [n for net, prefix, n in candidates if value >> (32 - prefix) == net >> (32 - prefix)]  # type: ignore[misc]
                if refs:
                    hits.append((int(s[i]), int(e[i]), refs))

    def _ipv6_hits(self, text: _Text, colons: np.ndarray, hits: list[Hit]) -> None:
        # Candidates: a "::", or seven colons within an address's length (not "12:00:00"); then the
        # run of hex digits, colons and dots around it, parsed by `ipaddress`.
        low, size = text.low, text.n
        gaps = np.diff(colons)
        anchors = colons[:-1][gaps == 1].tolist()
        if len(colons) > 6:
            anchors += colons[:-6][colons[6:] - colons[:-6] <= 35].tolist()
        exact = self.exact.entries
        done: set[int] = set()
        seen: dict[bytes, list[int] | None] = {}
        for at in anchors:
            start = end = at
            while start > 0 and low[start - 1] in _V6_CHARS:
                start -= 1
            if start in done:
                continue
            done.add(start)
            while end < size and low[end] in _V6_CHARS:
                end += 1
            written = low[start:end].strip(b".:")
            if written not in seen:
                seen[written] = self._ipv6_refs(written, exact)
            refs = seen[written]
            if refs:
                offset = low.index(written, start)
                hits.append((offset, offset + len(written), refs))

    def _ipv6_refs(self, written: bytes, exact: dict[bytes, Rows]) -> list[int] | None:
        try:
            address = ipaddress.IPv6Address(written.decode())
        except ValueError:
            return None
        same = exact.get(address.compressed.encode(), ())
        refs = [same] if isinstance(same, int) else list(same)
        value = int(address)
        for prefix, nets in self.nets6.items():
            refs.extend(nets.get(value >> (128 - prefix) << (128 - prefix) if prefix else 0, []))
        return refs or None

    def _url_hits(
        self, text: _Text, special: np.ndarray, kind: np.ndarray, colons: np.ndarray, hits: list[Hit]
    ) -> None:
        a, low, n = text.a, text.low, text.n
        colons = colons[colons + 2 < n]
        sep = colons[(a[colons + 1] == 0x2F) & (a[colons + 2] == 0x2F)] + 3
        if not len(sep):
            return
        stops = np.append(special[(kind == _URL_END) | (kind == _NEWLINE)], n)
        end = stops[np.searchsorted(stops, sep)]
        queries = np.append(special[kind == _QUERY], n)
        query = np.minimum(queries[np.searchsorted(queries, sep)], end)
        for stop in (end, query):
            for i in self.urls.find(text.hashes(sep, stop)).tolist():
                self._url_hit(low, int(sep[i]), int(stop[i]), int(end[i]), hits)
        # URLs without a path ("http://evil.example") are keyed with "/": those few are checked in Python.
        slashes = np.append(special[kind == _SLASH], n)
        bare = slashes[np.searchsorted(slashes, sep)] >= query
        for s, q, e in zip(sep[bare].tolist(), query[bare].tolist(), end[bare].tolist(), strict=True):
            self._url_hit(low, s, q, e, hits, add_slash=True)

    def _url_hit(self, low: bytes, start: int, stop: int, end: int, hits: list[Hit], add_slash: bool = False) -> None:
        while stop > start and stop == end and low[stop - 1] in _URL_TRAILER:
            stop -= 1
            end -= 1
        value = low[start:stop]
        if add_slash:
            host, q, query = value.partition(b"?")
            value = host + b"/" + q + query
        refs = self.urls.entries.get(value)
        if refs is not None:
            hits.append((start, stop, refs))

    def _phrase_hits(
        self,
        text: _Text,
        starts: np.ndarray,
        ends: np.ndarray,
        hashes: np.ndarray,
        newlines: np.ndarray,
        hits: list[Hit],
    ) -> None:
        """Lines that hold a phrase's longest word get an Aho–Corasick pass for the phrases themselves."""
        assert self.automaton is not None
        low = text.low
        found = self.anchors.find(hashes)
        at = np.searchsorted(newlines, starts[found]).tolist()
        lines = {
            line
            for line, s, e in zip(at, starts[found].tolist(), ends[found].tolist(), strict=True)
            if low[s:e] in self.anchors.entries
        }
        for line in sorted(lines):
            begin = int(newlines[line - 1]) + 1 if line else 0
            stop = int(newlines[line]) if line < len(newlines) else text.n
            latin = low[begin:stop].decode("latin-1")
            for last, phrase in self.automaton.iter(latin):
                start, end = begin + last - len(phrase) + 1, begin + last + 1
                if (start == 0 or low[start - 1] not in _ALNUM) and (end >= text.n or low[end] not in _ALNUM):
                    hits.append((start, end, self.phrases[phrase]))

    def _record(
        self, chunk: bytes, newlines: np.ndarray, hits: list[Hit], line_base: int, result: ScanResult, keep: int | None
    ) -> None:
        hit_starts = np.fromiter((h[0] for h in hits), dtype=np.int64, count=len(hits))
        lines = np.searchsorted(newlines, hit_starts).tolist()
        per_line: dict[int, tuple[set[int], list[tuple[int, int]]]] = {}
        for line, (start, end, rows) in zip(lines, hits, strict=True):
            ref_set, spans = per_line.setdefault(line, (set(), []))
            if isinstance(rows, int):
                ref_set.add(rows)
            else:
                ref_set.update(rows)
            spans.append((start, end))
        for line in sorted(per_line):
            ref_set, spans = per_line[line]
            refs = sorted((self.ref(n) for n in ref_set), key=lambda r: (r.alert_id, r.kind, r.value))
            begin = int(newlines[line - 1]) + 1 if line else 0
            stop = int(newlines[line]) if line < len(newlines) else len(chunk)
            raw = chunk[begin:stop].rstrip(b"\r")
            line_text = raw.decode("utf-8", "replace")
            result.lines_matched += 1
            seen = line_time(line_text)
            for alert_id in {r.alert_id for r in refs}:
                result.lines_by_alert[alert_id] += 1
                last = result.last_seen_by_alert.get(alert_id)
                if seen is not None and (last is None or seen > last):
                    result.last_seen_by_alert[alert_id] = seen
            for ref in refs:
                result.lines_by_indicator[ref.id] += 1
                result.alert_of_indicator[ref.id] = ref.alert_id
            if keep is None or len(result.matches) < keep:
                char_spans = sorted({_char_span(raw, s - begin, e - begin) for s, e in spans})
                result.matches.append(LineMatch(line_base + line + 1, line_text, refs, char_spans))


def _is_quad(token: bytes) -> bool:
    parts = token.split(b".")
    return len(parts) == 4 and all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts)


def _latin(value: str) -> str:
    """A phrase as the scanner sees text: UTF-8 bytes, ASCII lower-cased, one character a byte."""
    return value.encode("utf-8").lower().decode("latin-1")


def _char_span(raw: bytes, start: int, end: int) -> tuple[int, int]:
    head = len(raw[:start].decode("utf-8", "replace"))
    return head, head + len(raw[start:end].decode("utf-8", "replace"))


def count_lines(data: bytes) -> int:
    """Lines in `data`; a last line without its newline counts, an empty text has none."""
    return data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)


def _chunks(data: bytes) -> Iterator[tuple[bytes, bool]]:
    """Pieces of at most CHUNK_BYTES, cut after a newline (mid-line only for a line longer than a chunk)."""
    start, size = 0, len(data)
    while start < size:
        end = min(start + CHUNK_BYTES, size)
        if end < size:
            cut = data.rfind(b"\n", start, end)
            end = cut + 1 if cut >= start else end
        yield data[start:end], data[end - 1 : end] == b"\n" or end == size
        start = end


# --- reading what people send ---------------------------------------------------------------------


def log_bytes(data: bytes) -> bytes:
    """An uploaded log as the scanner reads it: UTF-8 as it is (bytes that are not valid UTF-8 are
    read as separators and shown as �, never refused); UTF-16 (with its byte-order mark) re-encoded."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace").encode("utf-8")
    return data.removeprefix(b"\xef\xbb\xbf")


_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,]\d+)?(Z|[+-]\d{2}:?\d{2})?")
_EPOCH = re.compile(r"^\s*(1[0-9]{9})(?:\.\d+)?\s")


def line_time(line: str) -> datetime | None:
    """The time stamp a log line starts with or carries (ISO 8601, or Unix seconds as in Squid's
    log), in UTC; None when there is none. Times without a zone are taken as UTC."""
    epoch = _EPOCH.match(line)
    if epoch:
        return datetime.fromtimestamp(int(epoch.group(1)), tz=UTC)
    iso = _ISO.search(line, 0, 80)
    if not iso:
        return None
    try:
        stamp = datetime.fromisoformat(iso.group(0).replace(",", ".").replace(" ", "T"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


# --- showing what matched -------------------------------------------------------------------------


def shown_line(text: str, spans: list[tuple[int, int]], limit: int = MAX_LINE_SHOWN) -> str:
    """The line trimmed around its first match to `limit` characters, with the matched values
    defanged (dots as [.], @ as [@], the scheme of a URL as hxxp[://]) so nothing in it is a live link."""
    lo, hi = 0, len(text)
    if hi > limit:
        first = spans[0][0] if spans else 0
        lo = max(0, min(first - limit // 3, hi - limit))
        hi = lo + limit
    out: list[str] = ["…" if lo else ""]
    at = lo
    for start, end in spans:
        start, end = max(start, at), min(end, hi)
        if start >= end:
            continue
        out.append(_defang_scheme(text[at:start]))
        out.append(text[start:end].replace(".", "[.]").replace("@", "[@]"))
        at = end
    out.append(_defang_scheme(text[at:hi]))
    out.append("…" if hi < len(text) else "")
    return "".join(out)


_SCHEME = re.compile(r"\b(https?|ftp)://", re.IGNORECASE)
_SCHEME_DEFANGED = {"http": "hxxp", "https": "hxxps", "ftp": "fxp"}


def _defang_scheme(text: str) -> str:
    return _SCHEME.sub(lambda m: _SCHEME_DEFANGED[m[1].lower()] + "[://]", text)
