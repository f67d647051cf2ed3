"""Indicators: refang, classify, validate, normalise, extract from free text, defang."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from commonguard.sharing.indicators import defang, extract, guess_kind, normalise, parse, parse_many


@pytest.mark.parametrize(
    ("raw", "kind", "value"),
    [
        ("hxxps://Evil[.]Example[.]com/Login?x=1", "url", "https://evil.example.com/Login?x=1"),
        ("10[.]0[.]0[.]1", "ipv4", "10.0.0.1"),
        ("2001:DB8:0:0::1", "ipv6", "2001:db8::1"),
        ("198.51.100.7/24", "cidr", "198.51.100.0/24"),
        ("Payroll@County-HR[.]net", "email", "Payroll@county-hr.net"),
        ("D41D8CD98F00B204E9800998ECF8427E", "md5", "d41d8cd98f00b204e9800998ecf8427e"),
        ("da39a3ee5e6b4b0d3255bfef95601890afd80709", "sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        (
            "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        ("cve-2024-3400", "cve", "CVE-2024-3400"),
        ("Login-Micros0ft.COM.", "domain", "login-micros0ft.com"),
        ("bücher.example", "domain", "xn--bcher-kva.example"),
    ],
)
def test_parse_guesses_and_normalises(raw, kind, value):
    parsed = parse(None, raw)
    assert (parsed.kind, parsed.value) == (kind, value)


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("ipv4", "999.1.1.1"),
        ("ipv4", "2001:db8::1"),
        ("md5", "abc"),
        ("sha256", "z" * 64),
        ("cve", "CVE-24-1"),
        ("domain", "-bad-.example"),
        ("domain", "localhost"),
        ("url", "javascript:alert(1)"),
        ("email", "no-at-sign"),
        ("email_subject", "x" * 501),
        ("filename", "a\x00b"),
        ("cidr", "10.0.0.0/33"),
    ],
)
def test_invalid_values_are_refused_with_a_sentence(kind, raw):
    with pytest.raises(ValidationError) as caught:
        normalise(kind, raw)
    assert caught.value.messages[0].endswith((".", ")"))


def test_subjects_and_file_names_are_kept_as_text():
    assert normalise("email_subject", "  Invoice   #4471  overdue ") == "Invoice #4471 overdue"
    assert normalise("filename", "invoice[.]pdf.exe") == "invoice[.]pdf.exe"  # not refanged: it is a name


def test_duplicates_collapse_and_every_error_is_reported():
    parsed = parse_many([(None, "evil.example"), (None, "EVIL[.]example"), ("ipv4", "1.2.3.4")])
    assert [(p.kind, p.value) for p in parsed] == [("domain", "evil.example"), ("ipv4", "1.2.3.4")]
    with pytest.raises(ValidationError) as caught:
        parse_many([(None, "1.2.3.999"), ("md5", "xyz"), (None, "fine.example")])
    assert len(caught.value.messages) == 2
    with pytest.raises(ValidationError, match="at most 5,000"):
        parse_many((None, f"host{i}.example") for i in range(5_001))
    with pytest.raises(ValidationError, match="choose its kind"):
        guess_kind("just words")


def test_extract_from_free_text():
    text = (
        "Spear-phishing from ceo@county-payroll[.]net linking hxxp://login-micros0ft[.]com/a. "
        "C2 at 203.0.113.5 and 198.51.100.0/24; exploits CVE-2023-4966. Dropper md5 "
        "d41d8cd98f00b204e9800998ecf8427e."
    )
    found = {(p.kind, p.value) for p in extract(text)}
    assert found == {
        ("email", "ceo@county-payroll.net"),
        ("url", "http://login-micros0ft.com/a"),
        ("ipv4", "203.0.113.5"),
        ("cidr", "198.51.100.0/24"),
        ("cve", "CVE-2023-4966"),
        ("md5", "d41d8cd98f00b204e9800998ecf8427e"),
    }
    with pytest.raises(ValidationError):
        extract("x" * 2_000_001)


def test_defang_for_display():
    assert defang("url", "https://evil.example.com/a.php") == "hxxps[://]evil[.]example[.]com/a.php"
    assert defang("domain", "evil.example") == "evil[.]example"
    assert defang("ipv4", "203.0.113.5") == "203[.]0[.]113[.]5"
    assert defang("email", "ceo@county-payroll.net") == "ceo[@]county-payroll[.]net"
    assert defang("md5", "d41d8cd98f00b204e9800998ecf8427e") == "d41d8cd98f00b204e9800998ecf8427e"
