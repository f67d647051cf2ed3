"""Indicators: refang (ioc-fanger), classify, validate and normalise what people paste; extract
them from free text (ioc-finder); defang them for display.

Every function here is pure: services store what they return, pages show `defang(...)`."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import ioc_fanger
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from commonguard.sharing.models import MAX_INDICATORS, Indicator

Kind = Indicator.Kind

_HEX: dict[str, int] = {Kind.MD5: 32, Kind.SHA1: 40, Kind.SHA256: 64}
_CVE = re.compile(r"^CVE-\d{4}-\d{4,7}$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# An IPv4 address already in its normal form (no leading zeros): what ipaddress would return.
_IPV4 = re.compile(r"^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$")
_IP_CHARS = frozenset("0123456789abcdefABCDEF.:%")
MAX_TEXT_INDICATOR = 500


@dataclass(frozen=True)
class ParsedIndicator:
    kind: str
    value: str


# What any of ioc-fanger's substitutions needs to find before it can change anything: brackets,
# spaces, backslashes, carets, "<.>", commas (IPs written "1,2,3,4"), ":///", "hxxp"/"hXXp"/"http/",
# and the words DOT/dot/punto/punkt/xxxx/AT/ET/ARROBA. A value with none of them is returned as it
# is without running the ~60 regular expressions (bulk imports: 25 µs a value saved).
_MAY_BE_DEFANGED = re.compile(r"[\[\](){}\s\\^<>,]|:///|h[xA-Z]{2}|htt(ps?)/|AT|ET|ARROBA")
_MAY_BE_DEFANGED_WORD = re.compile(r"dot|punto|punkt|xxxx")  # searched in the lower-cased value


def refang(text: str) -> str:
    """hxxp://evil[.]com → http://evil.com (and the other defanging styles ioc-fanger knows)."""
    if not _MAY_BE_DEFANGED.search(text) and not _MAY_BE_DEFANGED_WORD.search(text.lower()):
        return text
    return ioc_fanger.fang(text)


def _domain(text: str) -> str:
    host = text.strip().rstrip(".").lower()
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValidationError(f"“{text}” is not a valid domain name.") from None
    labels = host.split(".")
    if len(labels) < 2 or len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValidationError(f"“{text}” is not a valid domain name.")
    if labels[-1].isdigit():
        raise ValidationError(f"“{text}” looks like an IP address, not a domain name.")
    return host


def _url(text: str) -> str:
    parts = urlsplit(text.strip())
    if parts.scheme.lower() not in {"http", "https", "ftp"} or not parts.hostname:
        raise ValidationError(f"“{text}” is not a URL: it needs http://, https:// or ftp:// and a host.")
    host = parts.hostname
    if not _IPV4.match(host):
        try:
            if not set(host) <= _IP_CHARS:
                raise ValueError
            ipaddress.ip_address(host)
        except ValueError:
            host = _domain(host)
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, parts.fragment))


def _text(text: str, what: str) -> str:
    value = " ".join(text.split())
    if not value:
        raise ValidationError(f"The {what} is empty.")
    if len(value) > MAX_TEXT_INDICATOR or _CONTROL.search(value):
        raise ValidationError(f"The {what} is longer than {MAX_TEXT_INDICATOR} characters or has control characters.")
    return value


def normalise(kind: str, raw: str, *, refanged: bool = False) -> str:
    """The stored form of an indicator of `kind`, or ValidationError with a sentence to show.
    `refanged`: `raw` is already stripped and refanged (bulk imports do it once per value)."""
    if kind in {Kind.EMAIL_SUBJECT, Kind.FILENAME}:
        return _text(raw, "e-mail subject" if kind == Kind.EMAIL_SUBJECT else "file name")
    text = raw if refanged else refang(raw.strip())
    if not text:
        raise ValidationError("An indicator is empty.")
    if len(text) > 2048:
        raise ValidationError("An indicator is longer than 2,048 characters.")
    if kind == Kind.DOMAIN:
        return _domain(text)
    if kind == Kind.URL:
        return _url(text)
    if kind == Kind.IPV4 and _IPV4.match(text):
        return text
    if kind in {Kind.IPV4, Kind.IPV6}:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise ValidationError(f"“{raw}” is not a valid IP address.") from None
        if (address.version == 4) != (kind == Kind.IPV4):
            raise ValidationError(f"“{raw}” is an IPv{address.version} address.")
        return address.compressed
    if kind == Kind.CIDR:
        try:
            return ipaddress.ip_network(text, strict=False).compressed
        except ValueError:
            raise ValidationError(f"“{raw}” is not a valid IP network (CIDR), e.g. 198.51.100.0/24.") from None
    if kind == Kind.EMAIL:
        local, _, domain = text.rpartition("@")
        value = f"{local}@{domain.lower()}"
        try:
            validate_email(value)
        except ValidationError:
            raise ValidationError(f"“{raw}” is not a valid e-mail address.") from None
        return value
    if kind in _HEX:
        value = text.lower()
        if len(value) != _HEX[kind] or not all(c in "0123456789abcdef" for c in value):
            raise ValidationError(f"“{raw}” is not a {Kind(kind).label} hash ({_HEX[kind]} hexadecimal digits).")
        return value
    if kind == Kind.CVE:
        value = text.upper()
        if not _CVE.match(value):
            raise ValidationError(f"“{raw}” is not a CVE id (CVE-YYYY-NNNN).")
        return value
    raise ValidationError(f"Unknown kind of indicator “{kind}”.")


def guess_kind(raw: str, *, refanged: bool = False) -> str:
    """The kind a single value most likely is (for a typed value with no kind chosen)."""
    text = raw if refanged else refang(raw.strip())
    lowered = text.lower()
    if _IPV4.match(text):
        return Kind.IPV4
    if _CVE.match(text.upper()):
        return Kind.CVE
    if "/" in text and "://" not in text:
        try:
            ipaddress.ip_network(text, strict=False)
            return Kind.CIDR
        except ValueError:
            pass
    if set(text) <= _IP_CHARS:  # only then can it be an IP address (saves a raised ValueError a value)
        try:
            return Kind.IPV4 if ipaddress.ip_address(text).version == 4 else Kind.IPV6
        except ValueError:
            pass
    if "://" in text:
        return Kind.URL
    if "@" in text and " " not in text:
        return Kind.EMAIL
    for kind, length in _HEX.items():
        if len(lowered) == length and all(c in "0123456789abcdef" for c in lowered):
            return kind
    if " " not in text and "." in text:
        return Kind.DOMAIN
    raise ValidationError(f"Cannot tell what kind of indicator “{raw}” is: choose its kind.")


# A domain name already in normal form: lower-case labels, an alphabetic top-level label.
_PLAIN_DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def parse_plain(kind: str | None, text: str) -> tuple[str, str] | None:
    """(kind, value) for a stripped value that is already a normal IPv4 address or domain name
    (what most feed lines are), without refanging or parsing; None: take the full path. Gives the
    same answer as `parse` for every value it accepts."""
    if kind in (None, Kind.IPV4) and _IPV4.match(text):
        return Kind.IPV4, text
    if (
        kind in (None, Kind.DOMAIN)
        and len(text) <= 253
        and _PLAIN_DOMAIN.match(text)
        and not _MAY_BE_DEFANGED_WORD.search(text)
        and not _MAY_BE_DEFANGED.search(text)
    ):
        return Kind.DOMAIN, text
    return None


def parse(kind: str | None, raw: str) -> ParsedIndicator:
    chosen = kind or guess_kind(raw)
    return ParsedIndicator(chosen, normalise(chosen, raw))


def parse_many(items: Iterable[tuple[str | None, str]]) -> list[ParsedIndicator]:
    """Parse and de-duplicate; collects every error so the author can fix them all at once."""
    seen: dict[tuple[str, str], ParsedIndicator] = {}
    errors: list[str] = []
    for count, (kind, raw) in enumerate(items, start=1):
        if count > MAX_INDICATORS:
            raise ValidationError(
                f"An alert holds at most {MAX_INDICATORS:,} indicators; split larger sets into several alerts "
                "or import them as a feed."
            )
        try:
            parsed = parse(kind, raw)
        except ValidationError as exc:
            errors.extend(exc.messages)
            continue
        seen.setdefault((parsed.kind, parsed.value), parsed)
    if errors:
        raise ValidationError(errors[:50] + ([f"…and {len(errors) - 50} more."] if len(errors) > 50 else []))
    return list(seen.values())


_FINDER_KINDS: dict[str, str] = {
    "urls": Kind.URL,
    "domains": Kind.DOMAIN,
    "ipv4s": Kind.IPV4,
    "ipv6s": Kind.IPV6,
    "ipv4_cidrs": Kind.CIDR,
    "email_addresses": Kind.EMAIL,
    "md5s": Kind.MD5,
    "sha1s": Kind.SHA1,
    "sha256s": Kind.SHA256,
    "cves": Kind.CVE,
}
MAX_PASTE = 2_000_000


def extract(text: str) -> list[ParsedIndicator]:
    """Every indicator ioc-finder finds in free text (refanged first), normalised and de-duplicated.
    Domains that only appear inside a URL or an e-mail address are not listed twice."""
    from ioc_finder import find_iocs

    if len(text) > MAX_PASTE:
        raise ValidationError(f"The pasted text is over {MAX_PASTE:,} characters; upload it as a file instead.")
    found = find_iocs(refang(text), included_ioc_types=list(_FINDER_KINDS))
    hosts_in_urls = {urlsplit(u).hostname for u in found.get("urls", [])}
    # The finder also reports a CIDR's network address as a lone IP: keep only the network.
    networks = {c.partition("/")[0] for c in found.get("ipv4_cidrs", [])}
    hosts_in_mail = {e.rpartition("@")[2].lower() for e in found.get("email_addresses", [])}
    items: list[tuple[str | None, str]] = []
    for key, kind in _FINDER_KINDS.items():
        for value in found.get(key, []):
            if kind == Kind.DOMAIN and value.lower() in hosts_in_urls | hosts_in_mail:
                continue
            if kind == Kind.IPV4 and value in networks:
                continue
            if kind == Kind.URL:
                value = value.rstrip(".,;:!?)]}'\"")  # the end of the sentence, not of the URL
            items.append((kind, value))
    parsed = []
    for found_kind, value in items:
        try:
            parsed.append(parse(found_kind, value))
        except ValidationError:
            continue  # the finder is generous; what does not validate is not an indicator
    return list({(p.kind, p.value): p for p in parsed}.values())


def defang(kind: str, value: str) -> str:
    """A form that no mail client or browser turns into a live link."""
    if kind == Kind.URL:
        scheme, _, rest = value.partition("://")
        host, slash, path = rest.partition("/")
        return f"{scheme.replace('http', 'hxxp').replace('ftp', 'fxp')}[://]{host.replace('.', '[.]')}{slash}{path}"
    if kind in {Kind.DOMAIN, Kind.IPV4}:
        head, _, last = value.rpartition(".")
        return f"{head.replace('.', '[.]')}[.]{last}" if head else value
    if kind == Kind.EMAIL:
        local, _, domain = value.rpartition("@")
        return f"{local}[@]{domain.replace('.', '[.]')}"
    if kind == Kind.CIDR and "." in value:
        return value.replace(".", "[.]")
    return value
