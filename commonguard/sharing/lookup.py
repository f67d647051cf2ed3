"""“Have we seen this?”: find the lines of a log that mention an indicator.

Pure Python and numpy, no Django: a `Matcher` is built from (id, kind, value, alert id) tuples — the
caller passes only the indicators the person may see (`lookup_services.matcher_for`) — and
`Matcher.scan` reads a log once. Designed for a million lines against a million indicators in a few
seconds (docs/adr/0015-log-lookup-engine.md). Per chunk of the log (a few MB, cut at a line end):

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
_IS_TOKEN = bytes(1 if c in _TOKEN_CHARS else 0 for c in range(256))
_IS_V6 = bytes(1 if c in b"0123456789abcdef:." else 0 for c in range(256))
_IS_URL_END = bytes(1 if c in b" \t\r\n\"'<>`\x00" else 0 for c in range(256))
_URL_TRAILER = frozenset(b".,;:!?)]}'")
_ALNUM = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789")
_BASE = 0x01000193  # odd, so its powers are invertible modulo 2**32


@cache
def _powers(size: int) -> tuple[np.ndarray, np.ndarray]:
    """_BASE**i and _BASE**-i modulo 2**32 for i < size (uint32 arithmetic wraps)."""
    pw = np.full(size, _BASE, dtype=np.uint32)
    pw[0] = 1
    np.cumprod(pw, out=pw)
    inv = np.full(size, pow(_BASE, -1, 2**32), dtype=np.uint32)
    inv[0] = 1
    np.cumprod(inv, out=inv)
    return pw, inv


class _Text:
    """A lower-cased chunk and the prefix sums that give the hash of any span in O(1)."""

    def __init__(self, low: bytes) -> None:
        self.low = low
        self.a = np.frombuffer(low, dtype=np.uint8)
        self.n = len(low)
        pw, self.inv = _powers(max(CHUNK_BYTES, self.n) + 1)
        self.c = np.zeros(self.n + 1, dtype=np.uint32)
        np.cumsum(self.a.astype(np.uint32) * pw[: self.n], out=self.c[1:])

    def hashes(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        return (self.c[ends] - self.c[starts]) * self.inv[starts]


def _runs(mask_bytes: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends of the runs of 1 in a 0/1 byte string."""
    mask = np.frombuffer(mask_bytes, dtype=np.int8)
    edges = np.diff(mask, prepend=np.int8(0), append=np.int8(0))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


class _Keys:
    """Byte strings (values to find) → indicator refs, looked up by hash: a bitmap first, then the
    sorted hashes, then the bytes themselves."""

    def __init__(self, entries: dict[bytes, list]) -> None:
        self.entries = entries
        keys = list(entries)
        joined = b"\n".join(keys)
        text = _Text(joined)
        lengths = np.fromiter((len(k) for k in keys), dtype=np.int64, count=len(keys))
        starts = np.zeros(len(keys), dtype=np.int64)
        if len(keys) > 1:
            np.cumsum(lengths[:-1] + 1, out=starts[1:])
        hashes = text.hashes(starts, starts + lengths) if keys else np.zeros(0, dtype=np.uint32)
        self.sorted = np.unique(hashes)
        bits = min(26, max(12, int(len(keys) * 16).bit_length()))
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
    last_seen_by_alert: dict[int, datetime] = field(default_factory=dict)  # from time stamps in the lines

    @property
    def truncated(self) -> bool:
        return self.lines_matched > len(self.matches)


def _add(index: dict[bytes, list], key: bytes, item: object) -> None:
    found = index.get(key)
    if found is None:
        index[key] = [item]
    else:
        found.append(item)


def _url_key(value: str) -> bytes:
    """http://Evil.example/a?b#c → b"evil.example/a?b": host, path and query, lower-cased, no scheme."""
    rest = value.partition("://")[2] or value
    rest = rest.partition("#")[0]
    host, slash, path = rest.partition("/")
    return (host + (slash + path if slash else "/")).encode().lower()


Hit = tuple[int, int, list[int]]  # start, end (bytes in the chunk), indicator refs


class Matcher:
    """Indicators compiled for scanning. Build once per set of indicators; scanning does not change it."""

    def __init__(self, indicators: Iterable[tuple[int, str, str, int]]) -> None:
        self.refs: list[Ref] = []
        exact: dict[bytes, list[int]] = {}
        domains: dict[bytes, list[int]] = {}
        urls: dict[bytes, list[int]] = {}
        nets4: list[dict[bytes, list[tuple[int, int, int]]]] = [{}, {}, {}, {}, {}]  # by whole octets
        self.nets6: dict[int, dict[int, list[int]]] = {}  # prefix length → network → refs
        self.phrases: dict[str, list[int]] = {}
        refs = self.refs
        for ident, kind, value, alert_id in indicators:
            n = len(refs)
            refs.append(Ref(ident, kind, value, alert_id))
            if kind in _EXACT:
                key = value.encode().lower()
                _add(exact, key, n)
                if kind == DOMAIN:
                    _add(domains, key, n)
            elif kind == URL:
                _add(urls, _url_key(value), n)
            elif kind == CIDR:
                self._add_network(value, n, nets4)
            elif kind == FILENAME:
                key = value.encode().lower()
                if key and all(c in _TOKEN_CHARS for c in key) and key.strip(b".") == key:
                    _add(exact, key, n)
                else:
                    self.phrases.setdefault(_latin(value), []).append(n)
            elif kind == EMAIL_SUBJECT and value.strip():
                self.phrases.setdefault(_latin(value), []).append(n)
        self.exact = _Keys(exact)
        self.domains = _Keys(domains)
        self.urls = _Keys(urls)
        self.nets4 = [_Keys(level) for level in nets4]
        self.has_v6 = any(ref.kind == IPV6 for ref in refs) or bool(self.nets6)
        self.automaton: ahocorasick.Automaton | None = None
        if self.phrases:
            self.automaton = ahocorasick.Automaton()
            for phrase in self.phrases:
                self.automaton.add_word(phrase, phrase)
            self.automaton.make_automaton()

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
            _add(nets4[octets], key, (int(sub.network_address), max(sub.prefixlen, net.prefixlen), n))

    def __len__(self) -> int:
        return len(self.refs)

    # --- scanning ---------------------------------------------------------------------------

    def scan(self, data: bytes | str, *, keep: int | None = None) -> ScanResult:
        """Every line of `data` that mentions an indicator. `keep` caps the matched lines kept with
        their text (all are counted)."""
        if isinstance(data, str):
            data = data.encode("utf-8", "replace")
        result = ScanResult()
        line_base = 0
        for chunk in _chunks(data) if self.refs else []:
            line_base = self._scan_chunk(chunk, line_base, result, keep)
        result.lines_scanned = count_lines(data)
        return result

    def _scan_chunk(self, chunk: bytes, line_base: int, result: ScanResult, keep: int | None) -> int:
        low = chunk.lower()
        text = _Text(low)
        hits: list[Hit] = []
        starts, ends = _runs(low.translate(_IS_TOKEN))
        ends = ends - (text.a[ends - 1] == 0x2E)  # "evil.example." (DNS) is "evil.example"
        keep_tokens = ends > starts
        starts, ends = starts[keep_tokens], ends[keep_tokens]
        hashes = text.hashes(starts, ends)
        self._exact_hits(text, starts, ends, hashes, hits)
        if self.domains or any(self.nets4):
            self._dotted_hits(text, starts, ends, hits)
        if self.has_v6 and b":" in low:
            self._ipv6_hits(text, hits)
        if self.urls and b"://" in low:
            self._url_hits(text, hits)
        if self.automaton is not None:
            self._phrase_hits(low, hits)
        lines_here = count_lines(chunk)
        if hits:
            self._record(chunk, text, hits, line_base, result, keep)
        return line_base + lines_here

    def _exact_hits(self, text: _Text, starts: np.ndarray, ends: np.ndarray, hashes: np.ndarray, hits: list[Hit]) -> None:
        entries = self.exact.entries
        for i in self.exact.find(hashes).tolist():
            s, e = int(starts[i]), int(ends[i])
            refs = entries.get(text.low[s:e])
            if refs:
                hits.append((s, e, refs))

    def _dotted_hits(self, text: _Text, starts: np.ndarray, ends: np.ndarray, hits: list[Hit]) -> None:
        a, low = text.a, text.low
        marks = np.flatnonzero((a == 0x2E) | (a == 0x40))  # dots and @
        if not len(marks):
            return
        token = np.searchsorted(starts, marks, side="right") - 1
        inside = (token >= 0) & (marks + 1 < ends[np.maximum(token, 0)]) & (marks > starts[np.maximum(token, 0)])
        marks, token = marks[inside], token[inside]
        if self.domains:
            tail_end = ends[token]
            domain_like = a[tail_end - 1] >= 0x61  # the token ends in a letter, like a top-level domain
            m, t, e = marks[domain_like], token[domain_like], tail_end[domain_like]
            entries = self.domains.entries
            for i in self.domains.find(text.hashes(m + 1, e)).tolist():
                refs = entries.get(low[int(m[i]) + 1 : int(e[i])])
                if refs:
                    hits.append((int(starts[t[i]]), int(e[i]), refs))
        if any(self.nets4):
            self._ipv4_network_hits(text, starts, ends, marks, token, hits)

    def _ipv4_network_hits(
        self, text: _Text, starts: np.ndarray, ends: np.ndarray, marks: np.ndarray, token: np.ndarray, hits: list[Hit]
    ) -> None:
        # Dotted quads: tokens of digits and exactly three dots (marks are sorted, so a token's dots are adjacent).
        a = text.a
        dots = a[marks] == 0x2E
        marks, token = marks[dots], token[dots]
        count = np.bincount(token, minlength=len(starts))
        quad = (count == 3) & (ends - starts <= 15)
        first = np.searchsorted(token, np.flatnonzero(quad))
        if not len(first):
            return
        s = starts[token[first]]
        e = ends[token[first]]
        for octets, level in enumerate(self.nets4):
            if not level or octets == 0:
                continue
            stop = e if octets == 4 else marks[first + octets - 1]
            for i in level.find(text.hashes(s, stop)).tolist():
                written = text.low[int(s[i]) : int(e[i])]
                if not _is_quad(written):
                    continue
                candidates = level.entries.get(text.low[int(s[i]) : int(stop[i])])
                if not candidates:
                    continue
                value = int(ipaddress.IPv4Address(written.decode()))
                refs = [n for net, prefix, n in candidates if value >> (32 - prefix) == net >> (32 - prefix)]
                if refs:
                    hits.append((int(s[i]), int(e[i]), refs))

    def _ipv6_hits(self, text: _Text, hits: list[Hit]) -> None:
        starts, ends = _runs(text.low.translate(_IS_V6))
        colons = np.cumsum(text.a == 0x3A)
        many = (colons[ends - 1] - colons[starts] + (text.a[starts] == 0x3A)) >= 2
        exact = self.exact.entries
        seen: dict[bytes, list[int] | None] = {}
        for s, e in zip(starts[many].tolist(), ends[many].tolist(), strict=True):
            written = text.low[s:e].strip(b".:")
            if written not in seen:
                seen[written] = self._ipv6_refs(written, exact)
            refs = seen[written]
            if refs:
                offset = text.low.index(written, s)
                hits.append((offset, offset + len(written), refs))

    def _ipv6_refs(self, written: bytes, exact: dict[bytes, list[int]]) -> list[int] | None:
        try:
            address = ipaddress.IPv6Address(written.decode())
        except ValueError:
            return None
        refs = list(exact.get(address.compressed.encode(), []))
        value = int(address)
        for prefix, nets in self.nets6.items():
            refs.extend(nets.get(value >> (128 - prefix) << (128 - prefix) if prefix else 0, []))
        return refs or None

    def _url_hits(self, text: _Text, hits: list[Hit]) -> None:
        a, low = text.a, text.low
        sep = np.flatnonzero((a[:-2] == 0x3A) & (a[1:-1] == 0x2F) & (a[2:] == 0x2F)) + 3
        if not len(sep):
            return
        stops = np.append(np.flatnonzero(np.frombuffer(low.translate(_IS_URL_END), dtype=np.int8)), text.n)
        end = stops[np.searchsorted(stops, sep)]
        queries = np.append(np.flatnonzero((a == 0x3F) | (a == 0x23)), text.n)
        query = np.minimum(queries[np.searchsorted(queries, sep)], end)
        for first, stop in ((sep, end), (sep, query)):
            for i in self.urls.find(text.hashes(first, stop)).tolist():
                self._url_hit(low, int(first[i]), int(stop[i]), int(end[i]), hits)
        # URLs without a path ("http://evil.example") are keyed with "/": check those few in Python.
        slashes = np.append(np.flatnonzero(a == 0x2F), text.n)
        bare = slashes[np.searchsorted(slashes, sep)] >= query
        for s, q, e in zip(sep[bare].tolist(), query[bare].tolist(), end[bare].tolist(), strict=True):
            self._url_hit(low, s, q, e, hits, add_slash=True)

    def _url_hit(self, low: bytes, start: int, stop: int, end: int, hits: list[Hit], add_slash: bool = False) -> None:
        while stop > start and low[stop - 1] in _URL_TRAILER and stop == end:
            stop -= 1
            end -= 1
        value = low[start:stop]
        if add_slash:
            value = value.partition(b"?")[0] + b"/" + (b"?" + value.partition(b"?")[2] if b"?" in value else b"")
        refs = self.urls.entries.get(value)
        if refs:
            hits.append((start, stop, refs))

    def _phrase_hits(self, low: bytes, hits: list[Hit]) -> None:
        assert self.automaton is not None
        latin = low.decode("latin-1")
        size = len(low)
        for last, phrase in self.automaton.iter(latin):
            start, end = last - len(phrase) + 1, last + 1
            if (start == 0 or low[start - 1] not in _ALNUM) and (end >= size or low[end] not in _ALNUM):
                hits.append((start, end, self.phrases[phrase]))

    def _record(
        self, chunk: bytes, text: _Text, hits: list[Hit], line_base: int, result: ScanResult, keep: int | None
    ) -> None:
        newlines = np.flatnonzero(text.a == 0x0A)
        hit_starts = np.fromiter((h[0] for h in hits), dtype=np.int64, count=len(hits))
        lines = np.searchsorted(newlines, hit_starts).tolist()
        per_line: dict[int, tuple[set[int], list[tuple[int, int]]]] = {}
        for line, (start, end, refs) in zip(lines, hits, strict=True):
            ref_set, spans = per_line.setdefault(line, (set(), []))
            ref_set.update(refs)
            spans.append((start, end))
        for line in sorted(per_line):
            ref_set, spans = per_line[line]
            refs = sorted((self.refs[r] for r in ref_set), key=lambda r: (r.alert_id, r.kind, r.value))
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


def _chunks(data: bytes) -> Iterator[bytes]:
    start, size = 0, len(data)
    while start < size:
        end = start + CHUNK_BYTES
        if end < size:
            cut = data.rfind(b"\n", start, end)
            end = cut + 1 if cut >= start else (data.find(b"\n", end) + 1 or size)
        yield data[start:end]
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
