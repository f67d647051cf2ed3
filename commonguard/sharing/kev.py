"""CISA's Known Exploited Vulnerabilities (KEV) catalogue, imported as TLP:CLEAR alerts (ADR 16).

`kev_import` reads the catalogue (a URL or a file), checks every entry before writing anything,
then publishes one alert per new entry through the ordinary alert services (versions, audit trail,
outbox), as the hub's service account in the state IT agency. Re-importing changes nothing; an
entry whose ransomware flag turns from Unknown to Known updates its alert. Entries added to the
catalogue more than `COMMONGUARD_KEV_BACKFILL_DAYS` days ago are recorded without being sent to
anyone, so a first import of 1,400 entries does not send 1,400 e-mails to everyone.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks import task

from commonguard.accounts.models import Membership, User
from commonguard.core.audit import audit_record
from commonguard.core.fetch import FetchError, fetch_bytes
from commonguard.core.tlp import TLP
from commonguard.orgs.models import Organization
from commonguard.sharing.imports import service_account, service_membership
from commonguard.sharing.models import MAX_MARKDOWN, MAX_TITLE, Alert
from commonguard.sharing.services import AlertInput, alert_publish, alert_save_draft, alert_update

log = logging.getLogger(__name__)

SERVICE_EMAIL = "kev-import@commonguard.invalid"
SERVICE_NAME = "CISA KEV import (service account)"
CATALOGUE_FILE = "known_exploited_vulnerabilities.json"
CATALOGUE_PAGE = "https://www.cisa.gov/known-exploited-vulnerabilities-catalog"
KEY_PREFIX = "kev:"
MAX_BYTES = 50 * 1024 * 1024  # the catalogue is about 1.5 MB
MAX_FIELD = 5_000

_CVE = re.compile(r"^CVE-\d{4}-\d{4,19}$")
_CWE = re.compile(r"^CWE-\d+$")
_URL = re.compile(r"https?://[^\s<>]+")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")
_REQUIRED = (
    "cveID",
    "vendorProject",
    "product",
    "vulnerabilityName",
    "dateAdded",
    "shortDescription",
    "requiredAction",
    "dueDate",
)


class KevError(Exception):
    """The catalogue cannot be read or is not a KEV catalogue; nothing was imported."""


@dataclass(frozen=True)
class KevEntry:
    cve: str
    vendor: str
    product: str
    name: str
    date_added: date
    description: str
    required_action: str
    due_date: date
    ransomware: bool
    notes: str = ""
    cwes: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return KEY_PREFIX + self.cve


@dataclass(frozen=True)
class Catalogue:
    version: str
    released: str
    entries: list[KevEntry]


@dataclass
class KevResult:
    source: str = ""
    catalogue_version: str = ""
    new: int = 0
    announced: int = 0  # of the new ones, sent to recipients (the rest were backfill)
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        if self.message:
            return self.message
        text = (
            f"KEV catalogue {self.catalogue_version}: {self.new} new ({self.announced} announced, "
            f"{self.new - self.announced} recorded without announcement), {self.updated} updated, "
            f"{self.unchanged} unchanged"
        )
        return text + (f", {self.failed} failed" if self.failed else "")


# --- Reading and checking the catalogue ------------------------------------------------------


def resolve_source(source: str) -> str:
    """A URL stays a URL; a relative path is taken from the project directory; a directory means
    the catalogue file inside it."""
    if source.startswith(("http://", "https://")):
        return source
    if "://" in source:
        raise KevError(f"The KEV source must be an http(s) URL or a file path, not {source!r}.")
    path = Path(source).expanduser()
    if not path.is_absolute():
        path = settings.BASE_DIR / path
    if path.is_dir():
        path = path / CATALOGUE_FILE
    return str(path)


def read_source(source: str) -> bytes:
    """The raw catalogue from a URL (http or https) or a file."""
    try:
        raw = fetch_bytes(source, limit=MAX_BYTES, user_agent="CommonGuard KEV import")
    except FetchError as exc:
        raise KevError(f"KEV catalogue: {exc}") from exc
    if len(raw) > MAX_BYTES:
        raise KevError(f"The KEV catalogue at {source} is over {MAX_BYTES // 1024 // 1024} MB: not a KEV catalogue.")
    return raw


def _date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _entry(item: Any, where: str, problems: list[str]) -> KevEntry | None:
    if not isinstance(item, dict):
        problems.append(f"{where}: is not an object.")
        return None
    cve = item.get("cveID")
    if isinstance(cve, str) and cve:
        where = f"{where} ({cve})"
    missing = [name for name in _REQUIRED if not isinstance(item.get(name), str) or not item[name].strip()]
    if missing:
        problems.append(f"{where}: missing or empty {', '.join(missing)}.")
        return None
    bad: list[str] = []
    if not _CVE.match(item["cveID"]):
        bad.append(f"cveID {item['cveID']!r} is not a CVE id (CVE-YYYY-NNNN)")
    added, due = _date(item["dateAdded"]), _date(item["dueDate"])
    if added is None:
        bad.append(f"dateAdded {item['dateAdded']!r} is not a date (YYYY-MM-DD)")
    if due is None:
        bad.append(f"dueDate {item['dueDate']!r} is not a date (YYYY-MM-DD)")
    ransomware = item.get("knownRansomwareCampaignUse", "Unknown")
    if ransomware not in {"Known", "Unknown"}:
        bad.append(f"knownRansomwareCampaignUse {ransomware!r} is neither Known nor Unknown")
    notes = item.get("notes", "")
    if not isinstance(notes, str):
        bad.append("notes is not text")
    cwes = item.get("cwes", [])
    if not isinstance(cwes, list) or not all(isinstance(c, str) and _CWE.match(c) for c in cwes):
        bad.append("cwes is not a list of CWE ids (CWE-NNN)")
    texts = (*_REQUIRED, "notes")
    too_long = [name for name in texts if isinstance(item.get(name), str) and len(item[name]) > MAX_FIELD]
    if too_long:
        bad.append(f"{', '.join(too_long)} over {MAX_FIELD:,} characters")
    if bad:
        problems.append(f"{where}: " + "; ".join(bad) + ".")
        return None
    assert added is not None and due is not None
    return KevEntry(
        cve=item["cveID"],
        vendor=item["vendorProject"].strip(),
        product=item["product"].strip(),
        name=item["vulnerabilityName"].strip(),
        date_added=added,
        description=item["shortDescription"].strip(),
        required_action=item["requiredAction"].strip(),
        due_date=due,
        ransomware=ransomware == "Known",
        notes=notes.strip(),
        cwes=tuple(cwes),
    )


def parse_catalogue(raw: bytes, source: str = "the catalogue") -> Catalogue:
    """Check the whole catalogue; one KevError listing the problems (the first 20) if anything is
    wrong, so that a malformed catalogue imports nothing at all."""
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise KevError(f"{source} is not UTF-8 text: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise KevError(f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from exc
    if not isinstance(data, dict) or not isinstance(data.get("vulnerabilities"), list):
        raise KevError(f"{source} is not a KEV catalogue: it has no “vulnerabilities” list.")
    version = data.get("catalogVersion")
    if not isinstance(version, str) or not version:
        raise KevError(f"{source} is not a KEV catalogue: it has no “catalogVersion”.")
    problems: list[str] = []
    entries: list[KevEntry] = []
    seen: set[str] = set()
    for number, item in enumerate(data["vulnerabilities"], start=1):
        entry = _entry(item, f"entry {number}", problems)
        if entry is None:
            continue
        if entry.cve in seen:
            problems.append(f"entry {number} ({entry.cve}): listed twice.")
        seen.add(entry.cve)
        entries.append(entry)
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  … and {len(problems) - 20} more." if len(problems) > 20 else ""
        raise KevError(
            f"{source} has {len(problems)} malformed entr{'y' if len(problems) == 1 else 'ies'}; "
            f"nothing was imported:\n  {shown}{more}"
        )
    return Catalogue(version=version, released=str(data.get("dateReleased", "")), entries=entries)


# --- From an entry to an alert ---------------------------------------------------------------


def _text(value: str) -> str:
    """Catalogue text shown as written: Markdown's special characters escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(value.split()))


def title_for(entry: KevEntry) -> str:
    # CISA's vulnerability names nearly always start with the vendor ("Citrix Session Recording
    # Improper Privilege Management Vulnerability"): then the name alone says it.
    if entry.name.lower().startswith(entry.vendor.lower()):
        title = f"{entry.cve} — {entry.name}"
    else:
        title = f"{entry.cve} — {entry.vendor} {entry.product}: {entry.name}"
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1].rstrip() + "…"


def summary_for(entry: KevEntry) -> str:
    ransomware = (
        "**Known to be used in ransomware campaigns.**"
        if entry.ransomware
        else "Use in ransomware campaigns: not known to CISA."
    )
    parts = [
        f"**{_text(entry.vendor)} {_text(entry.product)}**: {_text(entry.description)}",
        f"Added to CISA's Known Exploited Vulnerabilities catalogue on {entry.date_added.isoformat()}: "
        f"it is being exploited. {ransomware}" + (f" Weaknesses: {', '.join(entry.cwes)}." if entry.cwes else ""),
    ]
    links = [url.rstrip(".,;)") for url in _URL.findall(entry.notes)]
    remark = " ".join(_URL.sub(" ", entry.notes).replace(" ; ", " ").split()).strip(" ;")
    if remark and remark not in {":", "."}:
        parts.append(_text(remark))
    if links:
        parts.append("References:\n\n" + "\n".join(f"- <{url}>" for url in dict.fromkeys(links)))
    parts.append(f"Source: [CISA KEV catalogue]({CATALOGUE_PAGE}), {entry.cve}.")
    return "\n\n".join(parts)[:MAX_MARKDOWN]


def actions_for(entry: KevEntry) -> str:
    return (
        f"{_text(entry.required_action)}\n\n"
        f"CISA's due date for federal civilian agencies (BOD 22-01): **{entry.due_date.isoformat()}**. "
        "State and local governments are not bound by it, but it is a sensible deadline."
    )


def input_for(entry: KevEntry) -> AlertInput:
    # Every KEV entry is exploited in the wild: high. Known ransomware use makes it critical
    # (ransomware is what takes local governments offline; ADR 16).
    return AlertInput(
        title=title_for(entry),
        summary=summary_for(entry),
        recommended_actions=actions_for(entry),
        category=Alert.Category.EXPLOITED_VULNERABILITY,
        severity=Alert.Severity.CRITICAL if entry.ransomware else Alert.Severity.HIGH,
        tlp=TLP.CLEAR,
        known_ransomware_use=entry.ransomware,
        indicators=[("cve", entry.cve)],
    )


# --- Who publishes: the hub's service account in the state IT agency ---------------------------


def _author_org(service: User | None) -> Organization:
    approved = Organization.objects.filter(status=Organization.Status.APPROVED)
    if settings.COMMONGUARD_KEV_AUTHOR_ORG:
        org = approved.filter(pk=settings.COMMONGUARD_KEV_AUTHOR_ORG).first()
        if org is None:
            raise KevError(
                f"COMMONGUARD_KEV_AUTHOR_ORG={settings.COMMONGUARD_KEV_AUTHOR_ORG} is not an approved organisation."
            )
        return org
    if service is not None:
        # Once chosen, the organisation stays the same.
        current = approved.filter(memberships__user=service, memberships__status=Membership.Status.APPROVED).first()
        if current is not None:
            return current
    state = settings.COMMONGUARD_STATE
    demo = approved.filter(source_key=f"demo:{state}:state-it").first()
    if demo is not None:
        return demo
    agencies = list(approved.filter(state=state, kind=Organization.Kind.STATE_AGENCY)[:2])
    if len(agencies) == 1:
        return agencies[0]
    raise KevError(
        f"KEV alerts are published on behalf of the state IT agency, and {state} has "
        f"{'no' if not agencies else 'more than one'} approved state agency: set COMMONGUARD_KEV_AUTHOR_ORG "
        "to the id of the organisation that should publish them."
    )


@transaction.atomic
def service_author() -> tuple[User, Organization]:
    """The account KEV alerts are published as: a service account with no password (it cannot sign
    in and is never sent alerts), an approved member of the state IT agency."""
    existing = User.objects.filter(email=SERVICE_EMAIL).first()
    org = _author_org(existing)
    service = service_account(SERVICE_EMAIL, SERVICE_NAME, "Publishes CISA KEV alerts")
    service_membership(service, org, action="kev.service_account", why="The hub's KEV import")
    return service, org


# --- The import ------------------------------------------------------------------------------


def _published_at(entry: KevEntry) -> datetime:
    # Noon UTC: the same calendar day everywhere in the United States.
    return datetime.combine(entry.date_added, time(12, 0), tzinfo=UTC)


def import_catalogue(
    catalogue: Catalogue, *, source: str = "", backfill_days: int | None = None, today: date | None = None
) -> KevResult:
    """Publish the new entries, update those whose ransomware flag became Known, skip the rest, and
    record the run in the audit trail. One transaction per entry: a long import never holds the
    database for long, and a run that stops half-way is completed by the next (the source key
    makes each entry one alert)."""
    backfill_days = settings.COMMONGUARD_KEV_BACKFILL_DAYS if backfill_days is None else backfill_days
    cutoff = (today or timezone.localdate()) - timedelta(days=max(backfill_days, 0))
    service, org = service_author()
    result = KevResult(source=source, catalogue_version=catalogue.version)
    existing = {
        key: (pk, flag, status)
        for key, pk, flag, status in Alert.objects.filter(source_key__startswith=KEY_PREFIX).values_list(
            "source_key", "pk", "known_ransomware_use", "status"
        )
    }
    # Oldest first, so that the alerts' ids follow the catalogue's history.
    for entry in sorted(catalogue.entries, key=lambda e: e.date_added):
        found = existing.get(entry.key)
        try:
            if found is None:
                announce = entry.date_added >= cutoff
                with transaction.atomic():
                    draft = alert_save_draft(actor=service, author_org=org, data=input_for(entry), source_key=entry.key)
                    alert_publish(
                        actor=service,
                        alert=draft,
                        announce=announce,
                        published_at=None if announce else _published_at(entry),
                    )
                result.new += 1
                result.announced += int(announce)
            elif entry.ransomware and not found[1] and found[2] in (Alert.Status.PUBLISHED, Alert.Status.UPDATED):
                alert = Alert.objects.get(pk=found[0])
                alert_update(actor=service, alert=alert, data=input_for(entry))
                result.updated += 1
            else:
                result.unchanged += 1
        except IntegrityError:
            # Another import published this entry a moment ago.
            result.unchanged += 1
        except (ValidationError, PermissionDenied) as exc:
            result.failed += 1
            message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            result.errors.append(f"{entry.cve}: {message}"[:300])
    audit_record(
        actor=service,
        action="kev.import",
        summary=result.summary(),
        organization=org,
        data={**result.as_dict(), "errors": result.errors[:20], "entries": len(catalogue.entries)},
    )
    return result


def kev_import_run(
    source: str | None = None, *, backfill_days: int | None = None, newest: int | None = None
) -> KevResult:
    """Read, check and import the catalogue from `source` (default: COMMONGUARD_KEV_SOURCE), and
    record the run in the audit trail. Raises KevError, having changed nothing, when the catalogue
    cannot be read or is malformed. `newest`: only the N entries added last (the demo's quick first
    import; the next full run adds the rest)."""
    source = source if source is not None else settings.COMMONGUARD_KEV_SOURCE
    if not source:
        return KevResult(message="No KEV source configured (COMMONGUARD_KEV_SOURCE): nothing to import.")
    source = resolve_source(source)
    catalogue = parse_catalogue(read_source(source), source)
    if newest is not None:
        recent = sorted(catalogue.entries, key=lambda e: e.date_added, reverse=True)[: max(newest, 0)]
        catalogue = Catalogue(version=catalogue.version, released=catalogue.released, entries=recent)
    return import_catalogue(catalogue, source=source, backfill_days=backfill_days)


@task(queue_name="bulk", priority=-90)  # QUEUE_PRIORITY["bulk"] (delivery.py)
def kev_import(source: str | None = None) -> dict[str, Any]:
    """The scheduled import, on the bulk queue (never ahead of alerts people write)."""
    from commonguard.core import context

    token = context.bind(context.RequestContext(channel="worker"))
    try:
        result = kev_import_run(source)
        log.info("%s", result.summary())
        return result.as_dict()
    except KevError as exc:
        log.error("KEV import failed: %s", exc)
        raise
    finally:
        context.reset(token)


def last_import() -> Any:
    """The audit row of the latest KEV import, for state staff."""
    from commonguard.core.models import AuditEvent

    return AuditEvent.objects.filter(action="kev.import").order_by("-at", "-id").first()
