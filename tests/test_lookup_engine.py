"""The lookup engine on its own (no database): each kind of indicator, CIDR ranges, subdomains,
case, URLs, phrases, edges (no match inside a longer token), line numbers across chunks, bad bytes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from commonguard.sharing import lookup
from commonguard.sharing.lookup import Matcher
from commonguard.sharing.models import Indicator

INDICATORS = [
    (1, "ipv4", "91.92.251.7", 100),
    (2, "domain", "evil.example", 101),
    (3, "url", "http://bad.example.net/x/y.php", 102),
    (4, "cidr", "45.137.21.0/24", 103),
    (5, "email_subject", "Invoice overdue", 104),
    (6, "filename", "payload.exe", 105),
    (7, "sha256", "a" * 64, 106),
    (8, "ipv6", "2001:db8::1", 107),
    (9, "email", "Bob@Mal.example", 108),
    (10, "cve", "CVE-2024-1234", 109),
    (11, "cidr", "2001:db8:1::/48", 110),
    (12, "filename", "Bad File (1).pdf", 111),
    (13, "url", "http://bare.example/", 112),
    (14, "cidr", "91.92.251.16/28", 113),
    (15, "md5", "0123456789abcdef0123456789abcdef", 114),
    (16, "sha1", "0123456789abcdef0123456789abcdef01234567", 115),
    (17, "url", "https://q.example.net/login?next=1", 116),
    (18, "cidr", "10.16.0.0/12", 117),
]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(INDICATORS)


def ids(matcher: Matcher, log: str | bytes) -> list[int]:
    """Indicator ids matched, line by line (sorted within a line)."""
    result = matcher.scan(log)
    assert result.lines_matched == len(result.matches)
    return [i for m in result.matches for i in sorted(r.id for r in m.refs)]


def test_kinds_are_the_models_kinds() -> None:
    assert set(lookup.KINDS) == set(Indicator.Kind.values)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("DST=91.92.251.7 DPT=443", [1]),
        ("CONNECT 91.92.251.7:443 HTTP/1.1", [1]),
        ("peer (91.92.251.7).", [1]),
        ("query: evil.example IN A", [2]),
        ("query: WWW.EVIL.EXAMPLE. IN A", [2]),  # subdomain, upper case, the DNS trailing dot
        ("a.b.c.evil.example:8443", [2]),
        ("from=<x@evil.example>", [2]),  # the domain of an address
        ("GET http://bad.example.net/x/y.php HTTP/1.1", [3]),
        ("GET HTTPS://BAD.example.net/x/y.php?id=7&z=1 200", [3]),  # scheme and query do not matter
        ("GET http://bare.example 200", [13]),
        ("see https://bare.example/?utm=1, then", [13]),
        ("GET https://q.example.net/login?next=1 302", [17]),
        ("DST=45.137.21.200", [4]),
        ("DST=91.92.251.20 (in the /28)", [14]),
        ("src 10.31.255.254", [18]),  # /12: not a whole octet
        ('subject="RE: INVOICE OVERDUE!!"', [5]),
        (r"C:\Users\x\Downloads\PAYLOAD.EXE", [6]),
        ("saved Bad File (1).pdf to disk", [12]),
        ("sha256=" + "A" * 64, [7]),
        ("md5:0123456789ABCDEF0123456789ABCDEF", [15]),
        ("sha1 0123456789abcdef0123456789abcdef01234567", [16]),
        ("src=[2001:0db8:0:0::1]:443", [8]),  # IPv6 written long
        ("src 2001:db8:1:ffff::9", [11]),
        ("from=<BOB@mal.example>", [9]),  # e-mail addresses compare without case
        ("vuln cve-2024-1234.", [10]),
    ],
)
def test_each_kind_matches(matcher: Matcher, line: str, expected: list[int]) -> None:
    assert ids(matcher, line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "91.92.251.70 and 191.92.251.7 and 91.92.251.7.5 and x91.92.251.7",  # a longer address is not the address
        "notevil.example evil.example.net evil-example evil_example.org",  # another domain
        "45.137.22.1 45.137.210.1 145.137.21.1",  # outside the range
        "91.92.251.32",  # outside the /28
        "10.32.0.1 10.15.255.255",  # outside the /12
        "http://bad.example.net/x/y.php5 http://bad.example.net/x/y.phpx",  # another URL
        "http://bad.example.net.attacker.example/x/y.php",
        "http://bare.example.org/",
        "GET https://q.example.net/login?next=2",  # the indicator has a query: it must be the same
        "invoice overdues; reinvoice overdue",
        "mypayload.exe payload.exe1 payload.exe.txt",
        "a" * 63 + " " + "a" * 65,  # hashes of other lengths
        "CVE-2024-12345 CVE-2024-1234567",
        "2001:db8::10 2001:db8:2::1 12:00:00 ::",
        "mal.example hxxp://bad[.]example[.]net/x/y.php",  # defanged text is not live traffic
        "",
    ],
)
def test_no_false_positives(matcher: Matcher, line: str) -> None:
    assert ids(matcher, line) == []


def test_lines_numbers_text_spans_and_counts(matcher: Matcher) -> None:
    log = "nothing here\nGET http://bad.example.net/x/y.php 200\nquiet\r\nDST=91.92.251.7 evil.example\nlast"
    result = matcher.scan(log)
    assert result.lines_scanned == 5
    assert [(m.line_no, [r.id for r in m.refs]) for m in result.matches] == [(2, [3]), (4, [1, 2])]
    line = result.matches[1]
    assert line.text == "DST=91.92.251.7 evil.example"
    assert [line.text[s:e] for s, e in line.spans] == ["91.92.251.7", "evil.example"]
    assert line.shown() == "DST=91[.]92[.]251[.]7 evil[.]example"
    assert result.matches[0].shown() == "GET hxxp[://]bad[.]example[.]net/x/y[.]php 200"
    assert result.lines_by_alert == {102: 1, 100: 1, 101: 1}
    assert result.lines_by_indicator == {3: 1, 1: 1, 2: 1}


def test_keep_caps_the_lines_kept_not_the_count(matcher: Matcher) -> None:
    result = matcher.scan("evil.example\n" * 50, keep=10)
    assert result.lines_matched == 50 and len(result.matches) == 10 and result.truncated


def test_chunks_keep_line_numbers(monkeypatch: Any) -> None:
    monkeypatch.setattr(lookup, "CHUNK_BYTES", 64)
    small = Matcher([(1, "domain", "evil.example", 9)])
    log = "".join(f"line {n} {'evil.example' if n % 7 == 0 else 'fine.example'}\n" for n in range(1, 60))
    log += "x" * 200 + " evil.example\n"  # a line longer than a chunk
    result = small.scan(log)
    assert [m.line_no for m in result.matches] == [*range(7, 60, 7), 60]
    assert result.lines_scanned == 60


def test_same_value_in_several_alerts_matches_each() -> None:
    m = Matcher([(1, "ipv4", "91.92.251.7", 1), (2, "ipv4", "91.92.251.7", 2), (3, "cidr", "91.92.251.0/24", 3)])
    result = m.scan("to 91.92.251.7")
    assert sorted(r.id for r in result.matches[0].refs) == [1, 2, 3]
    assert set(result.lines_by_alert) == {1, 2, 3}


def test_bad_bytes_and_encodings() -> None:
    m = Matcher([(1, "domain", "evil.example", 1)])
    raw = b"\xff\xfe\x00bad \xc3(\n\x80evil.example\x81\n"
    result = m.scan(raw)
    assert [x.line_no for x in result.matches] == [2]
    assert "\ufffd" in result.matches[0].text
    utf16 = "first\nvisit evil.example\n".encode("utf-16")
    assert [x.line_no for x in m.scan(lookup.log_bytes(utf16)).matches] == [2]
    assert lookup.log_bytes(b"\xef\xbb\xbfevil.example") == b"evil.example"


def test_empty_matcher_and_empty_log() -> None:
    assert Matcher([]).scan("evil.example\n").lines_matched == 0
    assert Matcher([]).scan("a\nb\n").lines_scanned == 2
    assert Matcher(INDICATORS).scan("").lines_scanned == 0


def test_shown_line_is_trimmed_around_the_match() -> None:
    text = "x" * 500 + " evil.example " + "y" * 500
    start = text.index("evil")
    shown = lookup.shown_line(text, [(start, start + 12)], limit=100)
    assert shown.startswith("…") and shown.endswith("…") and "evil[.]example" in shown
    assert len(shown) < 120


def test_line_time() -> None:
    assert lookup.line_time("1714564800.123 512 10.0.0.1 GET") == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert lookup.line_time("2024-05-01T12:00:05Z fw01 ...") == datetime(2024, 5, 1, 12, 0, 5, tzinfo=UTC)
    assert lookup.line_time("2024-05-01 14:00:05+02:00 x") == datetime(2024, 5, 1, 12, 0, 5, tzinfo=UTC)
    assert lookup.line_time("no time here") is None
