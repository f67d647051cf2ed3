"""The CISA KEV import: each new entry one published TLP:CLEAR alert by the hub's service account,
old entries recorded without e-mail, re-import idempotent, Unknown → Known ransomware use an
update, a malformed catalogue refused whole, from a file or a real local HTTP server."""

from __future__ import annotations

import json
import threading
from datetime import date, timedelta
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from commonguard.accounts.models import User
from commonguard.core.models import AuditEvent
from commonguard.sharing.kev import SERVICE_EMAIL, KevError, kev_import_run, parse_catalogue, title_for
from commonguard.sharing.models import Alert, AlertVersion, Delivery
from tests.conftest import VETTED_PERSONAS
from tests.sharing_helpers import make_alert

TODAY = timezone.localdate()


def _entry(cve: str, *, added: date | None = None, ransomware: str = "Unknown", **extra: Any) -> dict[str, Any]:
    entry = {
        "cveID": cve,
        "vendorProject": "Acme",
        "product": "Gateway",
        "vulnerabilityName": "Acme Gateway Command Injection Vulnerability",
        "dateAdded": (added or TODAY).isoformat(),
        "shortDescription": "Acme Gateway contains a command injection vulnerability in its *admin* portal.",
        "requiredAction": "Apply mitigations per vendor instructions or discontinue use of the product.",
        "dueDate": ((added or TODAY) + timedelta(days=21)).isoformat(),
        "knownRansomwareCampaignUse": ransomware,
        "notes": "https://acme.example/advisory/42 ; https://nvd.nist.gov/vuln/detail/" + cve,
        "cwes": ["CWE-78"],
    }
    entry.update(extra)
    return entry


def _catalogue(tmp_path: Path, entries: list[dict[str, Any]], name: str = "kev.json") -> str:
    path = tmp_path / name
    doc = {"title": "test", "catalogVersion": "2099.01.01", "dateReleased": "", "count": len(entries)}
    path.write_text(json.dumps({**doc, "vulnerabilities": entries}))
    return str(path)


def _subject(message: Any) -> str:
    return str(make_header(decode_header(message["Subject"]))).replace("\r\n", "").replace("\n", "")


def _run_worker() -> None:
    call_command("db_worker", "--batch", "--queue-name", "*", "--no-reload", verbosity=0)


def _everyone_except_service() -> set[str]:
    return {f"{n}@example.test" for n in VETTED_PERSONAS if n != "operator"}


def _state(world: Any) -> tuple[int, int, int, int]:
    return (Alert.objects.count(), AlertVersion.objects.count(), Delivery.objects.count(), AuditEvent.objects.count())


@pytest.mark.django_db(transaction=True)
def test_new_entry_publishes_a_clear_alert_that_reaches_everyone_once(world, smtp, tmp_path):
    source = _catalogue(tmp_path, [_entry("CVE-2099-0001", ransomware="Known"), _entry("CVE-2099-0002")])
    result = kev_import_run(source)
    assert (result.new, result.announced, result.updated, result.unchanged) == (2, 2, 0, 0)
    known = Alert.objects.get(source_key="kev:CVE-2099-0001")
    other = Alert.objects.get(source_key="kev:CVE-2099-0002")
    assert (known.tlp, known.category, known.status, known.version) == (
        "clear",
        "exploited_vulnerability",
        "published",
        1,
    )
    assert known.title == "CVE-2099-0001 — Acme Gateway Command Injection Vulnerability"
    assert (known.severity, known.known_ransomware_use) == ("critical", True)
    assert (other.severity, other.known_ransomware_use) == ("high", False)
    assert [(i.kind, i.value) for i in known.indicators.all()] == [("cve", "CVE-2099-0001")]
    assert "\\*admin\\*" in known.summary and "- <https://acme.example/advisory/42>" in known.summary
    assert f"**{(TODAY + timedelta(days=21)).isoformat()}**" in known.recommended_actions
    # Published as the hub's service account, for the state IT agency.
    service = User.objects.get(email=SERVICE_EMAIL)
    assert known.author == service and known.author_org == world.state_it
    assert service.is_service and not service.has_usable_password()
    assert AuditEvent.objects.filter(action="alert.publish", target_id=str(known.pk)).exists()
    # Imported alerts fan out on the bulk queue, never ahead of a county's flash alert.
    from django_tasks_db.models import DBTaskResult

    assert set(DBTaskResult.objects.values_list("queue_name", flat=True)) == {"bulk"}
    _run_worker()
    received = [m["To"] for m in smtp.messages]
    assert sorted(received) == sorted(2 * list(_everyone_except_service()))  # two alerts, everyone once each
    assert SERVICE_EMAIL not in received
    subjects = {_subject(m) for m in smtp.messages}
    assert "[TLP:CLEAR] [Critical (flash)] CVE-2099-0001 — Acme Gateway Command Injection Vulnerability" in subjects
    run = AuditEvent.objects.get(action="kev.import")
    assert run.data["new"] == 2 and run.data["entries"] == 2 and run.actor == service

    # Import again: nothing new, no new deliveries, no new versions.
    before = (Alert.objects.count(), AlertVersion.objects.count(), Delivery.objects.count())
    again = kev_import_run(source)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 2)
    assert (Alert.objects.count(), AlertVersion.objects.count(), Delivery.objects.count()) == before
    _run_worker()
    assert len(smtp.messages) == len(received)


@pytest.mark.django_db(transaction=True)
def test_ransomware_flag_turning_known_updates_the_alert_and_tells_its_readers(world, smtp, tmp_path):
    kev_import_run(_catalogue(tmp_path, [_entry("CVE-2099-0003")]))
    _run_worker()
    first = len(smtp.messages)
    alert = Alert.objects.get(source_key="kev:CVE-2099-0003")
    assert not alert.known_ransomware_use and alert.severity == "high"

    result = kev_import_run(_catalogue(tmp_path, [_entry("CVE-2099-0003", ransomware="Known")], "kev2.json"))
    assert (result.new, result.updated, result.unchanged) == (0, 1, 0)
    alert.refresh_from_db()
    assert (alert.status, alert.version, alert.severity, alert.known_ransomware_use) == ("updated", 2, "critical", True)
    assert Alert.objects.filter(source_key__startswith="kev:").count() == 1
    assert AlertVersion.objects.get(alert=alert, version=2).snapshot["known_ransomware_use"] is True
    _run_worker()
    updates = smtp.messages[first:]
    assert len(updates) == len(_everyone_except_service())
    assert all("Updated: CVE-2099-0003" in _subject(m) for m in updates)
    body = updates[0].get_payload()[0].get_payload(decode=True).decode()
    assert "KNOWN RANSOMWARE USE" in body

    # Known stays Known: a third import changes nothing.
    again = kev_import_run(_catalogue(tmp_path, [_entry("CVE-2099-0003", ransomware="Known")], "kev3.json"))
    assert (again.updated, again.unchanged) == (0, 1)


@pytest.mark.django_db(transaction=True)
def test_old_entries_are_recorded_without_email_and_back_dated(world, smtp, tmp_path):
    old = TODAY - timedelta(days=400)
    source = _catalogue(tmp_path, [_entry("CVE-2020-1111", added=old), _entry("CVE-2099-0004")])
    result = kev_import_run(source, backfill_days=7)
    assert (result.new, result.announced) == (2, 1)
    silent = Alert.objects.get(source_key="kev:CVE-2020-1111")
    assert silent.status == "published" and silent.published_at.date() == old
    assert not Delivery.objects.filter(alert=silent).exists()
    assert AuditEvent.objects.get(action="alert.publish", target_id=str(silent.pk)).data["announced"] is False
    _run_worker()
    assert {_subject(m).split("] ", 2)[-1] for m in smtp.messages} == {
        "CVE-2099-0004 — Acme Gateway Command Injection Vulnerability"
    }


def test_a_malformed_catalogue_is_refused_whole_and_changes_nothing(world, tmp_path):
    good = [_entry("CVE-2099-0005"), _entry("CVE-2099-0006")]
    cases = {
        "not json": "{not json",
        "no list": json.dumps({"catalogVersion": "1", "vulnerabilities": {}}),
        "bad entry": json.dumps(
            {"catalogVersion": "1", "vulnerabilities": [*good, _entry("CVE-99-1", dueDate="soon", ransomware="Maybe")]}
        ),
        "missing field": json.dumps(
            {"catalogVersion": "1", "vulnerabilities": [*good, {**_entry("CVE-2099-0007"), "product": ""}]}
        ),
        "listed twice": json.dumps({"catalogVersion": "1", "vulnerabilities": [*good, good[0]]}),
    }
    before = _state(world)
    messages = {}
    for name, text in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(text)
        with pytest.raises(CommandError) as caught:
            call_command("kev_import", "--source", str(path), verbosity=0)
        messages[name] = str(caught.value)
    assert _state(world) == before  # not one alert, version, delivery or audit row
    assert not User.objects.filter(email=SERVICE_EMAIL).exists()
    assert "is not valid JSON" in messages["not json"] and "line 1" in messages["not json"]
    assert "no “vulnerabilities” list" in messages["no list"]
    assert "entry 3 (CVE-99-1)" in messages["bad entry"] and "is not a CVE id" in messages["bad entry"]
    assert "dueDate 'soon' is not a date" in messages["bad entry"] and "'Maybe'" in messages["bad entry"]
    assert "missing or empty product" in messages["missing field"] and "nothing was imported" in messages["bad entry"]
    assert "CVE-2099-0005): listed twice" in messages["listed twice"]
    with pytest.raises(CommandError, match="KEV catalogue: Could not read"):
        call_command("kev_import", "--source", str(tmp_path / "absent.json"), verbosity=0)
    with pytest.raises(CommandError, match="must be an http"):
        call_command("kev_import", "--source", "ftp://kev.example/kev.json", verbosity=0)
    assert _state(world) == before


def test_no_source_does_nothing_and_says_so(world, settings, capsys):
    settings.COMMONGUARD_KEV_SOURCE = ""
    call_command("kev_import")
    assert "No KEV source configured" in capsys.readouterr().out
    assert not Alert.objects.exists()


def test_no_state_agency_is_a_clear_error(db, tmp_path):
    with pytest.raises(KevError, match="no approved state agency: set COMMONGUARD_KEV_AUTHOR_ORG"):
        kev_import_run(_catalogue(tmp_path, [_entry("CVE-2099-0008")]))
    assert not Alert.objects.exists()


class _Catalogue(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        if self.path != "/kev.json":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http_catalogue() -> Any:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Catalogue)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_imports_from_a_url(world, http_catalogue, settings):
    _Catalogue.body = json.dumps({"catalogVersion": "7", "vulnerabilities": [_entry("CVE-2099-0009")]}).encode()
    settings.COMMONGUARD_KEV_SOURCE = f"{http_catalogue}/kev.json"
    call_command("kev_import", verbosity=0)
    assert Alert.objects.filter(source_key="kev:CVE-2099-0009", status="published").exists()
    with pytest.raises(CommandError, match="KEV catalogue: Could not fetch"):
        call_command("kev_import", "--source", f"{http_catalogue}/missing.json", verbosity=0)


def test_the_real_catalogue_parses_and_a_trimmed_copy_imports(world, tmp_path):
    real = settings.COMMONGUARD_SHARED_DATA / "kev" / "known_exploited_vulnerabilities.json"
    if not real.exists():
        pytest.skip("../shared/data/kev is not here")
    catalogue = parse_catalogue(real.read_bytes())
    assert len(catalogue.entries) > 1000
    assert all(len(title_for(e)) <= 200 for e in catalogue.entries)
    data = json.loads(real.read_text())
    known = [v for v in data["vulnerabilities"] if v["knownRansomwareCampaignUse"] == "Known"][:2]
    unknown = [v for v in data["vulnerabilities"] if v["knownRansomwareCampaignUse"] == "Unknown"][:2]
    result = kev_import_run(_catalogue(tmp_path, known + unknown), backfill_days=7)
    assert (result.new, result.failed) == (4, 0)
    assert Alert.objects.filter(source_key__startswith="kev:", known_ransomware_use=True).count() == 2


def test_the_service_account_cannot_sign_in_or_use_a_token(world, tmp_path, client):
    kev_import_run(_catalogue(tmp_path, [_entry("CVE-2099-0010")]))
    service = User.objects.get(email=SERVICE_EMAIL)
    page = client.post("/accounts/login/", {"username": SERVICE_EMAIL, "password": "anything-at-all"})
    assert "_auth_user_id" not in client.session and page.status_code in {200, 302}
    from commonguard.accounts.services import token_authenticate, token_create

    _, secret = token_create(actor=service, name="should not work")
    assert token_authenticate(secret) is None
    # An operator who gives it a password in the admin site: the next import takes it away.
    service.set_password("a-password-1234")
    service.save()
    kev_import_run(_catalogue(tmp_path, [_entry("CVE-2099-0010")]))
    service.refresh_from_db()
    assert not service.has_usable_password()


def _client_for(user: Any) -> Client:
    from tests.conftest import sign_in

    return sign_in(Client(), user)


def test_feed_detail_and_api_show_the_ransomware_flag_to_readers_only(world, tmp_path):
    kev_import_run(_catalogue(tmp_path, [_entry("CVE-2099-0011", ransomware="Known"), _entry("CVE-2099-0012")]))
    known = Alert.objects.get(source_key="kev:CVE-2099-0011")
    other = Alert.objects.get(source_key="kev:CVE-2099-0012")
    member = _client_for(world["washtenaw_member"])
    feed = member.get("/alerts/").content.decode()
    assert feed.count("Known ransomware use</span>") == 1
    detail = member.get(f"/alerts/{known.uuid}/").content.decode()
    assert "Known ransomware use</span>" in detail and "State IT" in detail
    assert "Known ransomware use</span>" not in member.get(f"/alerts/{other.uuid}/").content.decode()
    api = member.get(f"/api/v1/alerts/{known.uuid}/").json()
    assert (api["known_ransomware_use"], api["source_key"], api["severity"]) == (True, "kev:CVE-2099-0011", "critical")
    listed = {a["source_key"]: a["known_ransomware_use"] for a in member.get("/api/v1/alerts/").json()["results"]}
    assert listed == {"kev:CVE-2099-0011": True, "kev:CVE-2099-0012": False}
    # TLP:CLEAR within the hub: the vetted community; the rest get the same 404 as for nothing.
    for name in ("unvetted", "removed_member"):
        outsider = _client_for(world[name])
        assert outsider.get(f"/api/v1/alerts/{known.uuid}/").status_code == 404
    assert Client().get(f"/api/v1/alerts/{known.uuid}/").status_code in {401, 403}
    # State staff see when the catalogue was last imported; others do not.
    assert "CISA KEV import, last run" in _client_for(world["analyst"]).get("/alerts/").content.decode()
    assert "CISA KEV import, last run" not in feed


def test_people_can_set_the_flag_too_and_an_edit_keeps_it(world, as_persona):
    alert = make_alert(world["ingham_member"], world.ingham, "green", known_ransomware_use=True)
    client = as_persona("ingham_member")
    patched = client.patch(
        f"/api/v1/alerts/{alert.uuid}/", {"title": "Renamed wave"}, content_type="application/json"
    ).json()
    assert patched["known_ransomware_use"] is True and patched["title"] == "Renamed wave"
    off = client.patch(
        f"/api/v1/alerts/{alert.uuid}/", {"known_ransomware_use": False}, content_type="application/json"
    ).json()
    assert off["known_ransomware_use"] is False


def test_demo_seeding_imports_the_newest_entries(db, capsys):
    real = settings.COMMONGUARD_SHARED_DATA / "kev" / "known_exploited_vulnerabilities.json"
    if not real.exists():
        pytest.skip("../shared/data/kev is not here")
    call_command("demo", "--state", "MI", verbosity=0)
    from commonguard.core.management.commands.demo import DEMO_KEV_ENTRIES

    assert Alert.objects.filter(source_key__startswith="kev:").count() == DEMO_KEV_ENTRIES
    assert not Delivery.objects.filter(alert__source_key__startswith="kev:").exists()  # old news: no e-mail
    assert Alert.objects.get(source_key="kev:CVE-2025-48384").author_org.source_key == "demo:MI:state-it"
    call_command("demo", "--state", "MI", verbosity=0)
    assert Alert.objects.filter(source_key__startswith="kev:").count() == DEMO_KEV_ENTRIES
