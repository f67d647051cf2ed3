"""The alert pages: composing, the TLP audience on the feed and the detail page, anonymity,
sanitised Markdown, defanged indicators, and bad input that changes nothing."""

from __future__ import annotations

import re
import uuid
from html.parser import HTMLParser
from typing import Any

from django.test import Client

from commonguard.core.models import AuditEvent
from commonguard.sharing.models import Alert, AlertVersion, Indicator
from tests.conftest import VETTED_PERSONAS, sign_in

VETTED = VETTED_PERSONAS


def _without_csrf(content: bytes) -> str:
    return re.sub(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+', r"\1", content.decode())


def _form(world: Any, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": "Phishing wave against county payroll",
        "summary": "Staff received **fake payroll** e-mails.",
        "recommended_actions": "- Block the sender\n- Reset exposed passwords",
        "category": "phishing",
        "severity": "high",
        "tlp": "green",
        "author_org": world.ingham.pk,
        "action": "publish",
    }
    data.update(fields)
    return data


def _compose(client: Client, world: Any, **fields: Any) -> Any:
    return client.post("/alerts/new/", _form(world, **fields))


def _created(response: Any) -> Alert:
    assert response.status_code == 302, response.content.decode()[:3000]
    match = re.fullmatch(r"/alerts/([0-9a-f-]{36})/", response["Location"])
    assert match, response["Location"]
    return Alert.objects.get(uuid=match.group(1))


def _sees(client: Client, alert: Alert) -> bool:
    """Whether the person of `client` can open the alert and finds it in the feed (both or neither)."""
    detail = client.get(f"/alerts/{alert.uuid}/")
    feed = client.get("/alerts/").content.decode()
    listed = f"/alerts/{alert.uuid}/" in feed
    assert detail.status_code in {200, 404}
    assert listed == (detail.status_code == 200 and alert.status != Alert.Status.DRAFT)
    return detail.status_code == 200


def _looks_absent(client: Client, alert: Alert) -> None:
    hidden = client.get(f"/alerts/{alert.uuid}/")
    missing = client.get(f"/alerts/{uuid.uuid4()}/")
    assert hidden.status_code == missing.status_code == 404
    assert _without_csrf(hidden.content) == _without_csrf(missing.content)


# --- who sees what ------------------------------------------------------------------------


def test_a_draft_is_seen_by_its_author_only(world, as_persona):
    alert = _created(_compose(as_persona("ingham_member"), world, action="draft"))
    assert alert.status == Alert.Status.DRAFT
    author = as_persona("ingham_member")
    page = author.get(f"/alerts/{alert.uuid}/").content.decode()
    assert "Phishing wave against county payroll" in page
    assert "only you can see it" in page
    assert "Phishing wave against county payroll" in author.get("/alerts/").content.decode()  # under "Your drafts"
    for name in VETTED:
        if name == "ingham_member":
            continue
        client = as_persona(name)
        _looks_absent(client, alert)
        assert "Phishing wave" not in client.get("/alerts/").content.decode(), name
        for path in ("edit/", "publish/", "revoke/"):
            assert client.post(f"/alerts/{alert.uuid}/{path}", {"reason": "x"}).status_code == 404, (name, path)
    assert Alert.objects.get(pk=alert.pk).status == Alert.Status.DRAFT


def test_green_reaches_every_vetted_person(world, as_persona):
    alert = _created(_compose(as_persona("ingham_member"), world))
    assert alert.status == Alert.Status.PUBLISHED and alert.version == 1
    for name in VETTED:
        assert _sees(as_persona(name), alert), name
    # Unvetted and removed people are sent home, never shown the feed.
    for name in ("unvetted", "removed_member"):
        assert as_persona(name).get("/alerts/")["Location"] == "/"
        assert as_persona(name).get(f"/alerts/{alert.uuid}/")["Location"] == "/"


def test_amber_goes_to_the_named_organisation_and_the_authors(world, as_persona):
    alert = _created(_compose(as_persona("ingham_member"), world, tlp="amber", recipient_orgs=[world.washtenaw.pk]))
    assert list(alert.recipient_orgs.all()) == [world.washtenaw]
    seen = {name for name in VETTED if _sees(as_persona(name), alert)}
    assert {"ingham_member", "ingham_admin", "washtenaw_member", "washtenaw_admin"} <= seen
    assert "lansing_member" not in seen
    _looks_absent(as_persona("lansing_member"), alert)


def test_red_goes_to_the_named_person_only(world, as_persona):
    alert = _created(
        _compose(as_persona("ingham_member"), world, tlp="red", recipient_people="Ingham_Official@example.test\n")
    )
    assert list(alert.recipient_people.all()) == [world["ingham_official"]]
    seen = {name for name in VETTED if _sees(as_persona(name), alert)}
    # TLP:RED binds the hub operator too (ADR 13): only the author and the named person.
    assert seen == {"ingham_member", "ingham_official"}
    _looks_absent(as_persona("ingham_admin"), alert)


def test_anonymous_alert_names_only_kind_and_region_to_peers(world, as_persona):
    alert = _created(_compose(as_persona("ingham_member"), world, anonymous="on"))
    assert alert.anonymous
    lansing = as_persona("lansing_member")
    for path in (f"/alerts/{alert.uuid}/", "/alerts/"):
        page = lansing.get(path).content.decode()
        assert "A county in Region 1" in page
        assert "Ingham County" not in page
    for name in ("ingham_member", "analyst"):
        page = as_persona(name).get(f"/alerts/{alert.uuid}/").content.decode()
        assert "Ingham County" in page
        assert "A county in Region 1" not in page


# --- what the pages show --------------------------------------------------------------------


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(html)
    return parser.tags


HOSTILE = (
    "Before <script>alert('summary')</script> after\n\n"
    '<img src=x onerror="alert(1)">\n\n'
    "[click me](javascript:alert(document.cookie)) and [data](data:text/html;base64,PHNjcmlwdD4=)\n\n"
    '<a href="javascript:alert(2)" onclick="alert(3)">raw link</a>'
)


def test_hostile_markdown_is_never_executable(world, as_persona):
    client = as_persona("ingham_member")
    alert = _created(_compose(client, world, summary=HOSTILE, recommended_actions=HOSTILE))
    for page in (
        client.get(f"/alerts/{alert.uuid}/").content.decode(),
        client.post("/alerts/preview/", {"summary": HOSTILE, "recommended_actions": HOSTILE}).content.decode(),
        client.post("/alerts/new/", _form(world, summary=HOSTILE, action="preview")).content.decode(),
    ):
        assert "click me" in page
        for tag, attrs in _elements(page):
            assert tag != "script" or attrs.get("src"), "an inline script"
            assert tag not in {"iframe", "object", "embed"}, tag
            assert tag != "img" or (attrs.get("src") or "").startswith("/static/"), attrs
            assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
            for name in ("href", "src", "action", "formaction"):
                value = (attrs.get(name) or "").strip().lower()
                assert not value.startswith(("javascript:", "data:", "vbscript:")), (tag, attrs)
        assert "<script>alert" not in page


def test_indicators_are_shown_defanged(world, as_persona):
    client = as_persona("ingham_member")
    indicators = (
        "evil.example\nhxxps://phish[.]example/login?u=1\n45.137.21.5\nbad@mail.example\nfilename: invoice.pdf.exe"
    )
    paste = "Beacons to 91.92.251.7 every minute; the dropper came from http://drop.example.net/a.bin (CVE-2024-3400)."
    alert = _created(_compose(client, world, indicators=indicators, paste=paste))
    stored = set(Indicator.objects.filter(alert=alert).values_list("kind", "value"))
    assert {
        ("domain", "evil.example"),
        ("url", "https://phish.example/login?u=1"),
        ("ipv4", "45.137.21.5"),
        ("email", "bad@mail.example"),
        ("filename", "invoice.pdf.exe"),
        ("ipv4", "91.92.251.7"),
        ("url", "http://drop.example.net/a.bin"),
        ("cve", "CVE-2024-3400"),
    } <= stored
    page = as_persona("washtenaw_member").get(f"/alerts/{alert.uuid}/").content.decode()
    for shown in (
        "evil[.]example",
        "hxxps[://]phish[.]example/login?u=1",
        "45[.]137[.]21[.]5",
        "bad[@]mail[.]example",
        "91[.]92[.]251[.]7",
        "hxxp[://]drop[.]example[.]net/a.bin",
        "invoice.pdf.exe",
        "CVE-2024-3400",
    ):
        assert shown.replace("&", "&amp;") in page, shown
    for live in ("evil.example", "phish.example", "45.137.21.5", "91.92.251.7", "drop.example", "https://phish"):
        assert live not in page, live
    # The author is told how many the pasted text gave (ioc-finder skips names without a real TLD).
    client = as_persona("ingham_member")
    response = client.post("/alerts/new/", _form(world, title="Another", paste=paste + " evil.example"), follow=True)
    assert "3 indicators found in the pasted text." in response.content.decode()
    # The edit page gives the values back so that saving again keeps their kinds.
    edit = client.get(f"/alerts/{alert.uuid}/edit/").content.decode()
    assert "filename: invoice.pdf.exe" in edit


def test_feed_filters_and_shows_revoked(world, as_persona):
    client = as_persona("ingham_member")
    phishing = _created(_compose(client, world, title="Phishing one"))
    ddos = _created(_compose(client, world, title="DDoS two", category="ddos", severity="critical", tlp="clear"))
    feed = as_persona("lansing_member").get("/alerts/").content.decode()
    assert feed.index("DDoS two") < feed.index("Phishing one")  # newest first
    assert "cg-tlp cg-tlp--clear" in feed and "cg-tlp cg-tlp--green" in feed
    only = as_persona("lansing_member").get("/alerts/?category=ddos").content.decode()
    assert "DDoS two" in only and "Phishing one" not in only
    assert "Phishing one" in as_persona("lansing_member").get("/alerts/?tlp=green&severity=high").content.decode()
    client = as_persona("ingham_member")  # (as_persona signs the same client in as someone else)
    response = client.post(f"/alerts/{phishing.uuid}/revoke/", {"reason": "The sender was a test by IT."})
    assert response.status_code == 302
    feed = as_persona("lansing_member").get("/alerts/").content.decode()
    assert "cg-status--revoked" in feed
    detail = as_persona("lansing_member").get(f"/alerts/{phishing.uuid}/").content.decode()
    assert "Revoked" in detail and "The sender was a test by IT." in detail
    assert ddos.pk != phishing.pk


def test_feed_is_paginated(world, as_persona):
    client = as_persona("ingham_member")
    for n in range(27):
        _created(_compose(client, world, title=f"Alert number {n:02d}"))
    first = client.get("/alerts/").content.decode()
    assert "Page 1 of 2" in first and "Alert number 26" in first and "Alert number 01" not in first
    second = client.get("/alerts/?page=2").content.decode()
    assert "Alert number 00" in second and "Alert number 01" in second


def test_detail_shows_the_facts_and_the_buttons_for_editors(world, as_persona):
    client = as_persona("ingham_member")
    alert = _created(
        _compose(client, world, tlp="amber", recipient_orgs=[world.washtenaw.pk], attack_techniques="t1566.001, T1078")
    )
    page = client.get(f"/alerts/{alert.uuid}/").content.decode()
    for text in ("TLP:AMBER", "Only the organisations and sharing groups you name", "High", "Phishing", "Version"):
        assert text in page, text
    assert "<strong>fake payroll</strong>" in page
    assert 'href="https://attack.mitre.org/techniques/T1566/001/"' in page
    assert "Revoke the alert" in page and f"/alerts/{alert.uuid}/edit/" in page
    assert "Washtenaw County" in page  # the named audience, for its author
    reader = as_persona("washtenaw_member").get(f"/alerts/{alert.uuid}/").content.decode()
    assert "Revoke the alert" not in reader and "/edit/" not in reader
    assert as_persona("washtenaw_member").get(f"/alerts/{alert.uuid}/edit/").status_code == 403


def test_editing_a_draft_then_publishing_it(world, as_persona):
    client = as_persona("ingham_member")
    alert = _created(_compose(client, world, action="draft", tlp="amber"))
    # Publishing an AMBER alert that names nobody is refused, and says why.
    response = client.post(f"/alerts/{alert.uuid}/publish/", follow=True)
    assert "name at least one" in response.content.decode()
    assert Alert.objects.get(pk=alert.pk).status == Alert.Status.DRAFT
    response = client.post(
        f"/alerts/{alert.uuid}/edit/",
        _form(world, tlp="amber", title="Now addressed", recipient_orgs=[world.washtenaw.pk], action="draft"),
    )
    assert response.status_code == 302
    response = client.post(f"/alerts/{alert.uuid}/publish/")
    assert response.status_code == 302
    alert.refresh_from_db()
    assert (alert.title, alert.status, alert.version) == ("Now addressed", "published", 1)


def test_save_and_publish_refused_keeps_no_draft(world, as_persona):
    client = as_persona("ingham_member")
    before = AuditEvent.objects.count()
    response = _compose(client, world, tlp="amber")
    assert response.status_code == 400
    assert "name at least one" in response.content.decode()
    assert not Alert.objects.exists()
    assert AuditEvent.objects.count() == before


def test_a_published_alert_is_updated_as_a_new_version(world, as_persona):
    client = as_persona("ingham_member")
    alert = _created(_compose(client, world, indicators="evil.example"))
    page = client.get(f"/alerts/{alert.uuid}/edit/").content.decode()
    assert "Publish version 2" in page and "Save draft" not in page
    response = client.post(
        f"/alerts/{alert.uuid}/edit/",
        _form(world, title="Phishing wave (corrected)", indicators="evil.example\nworse.example", action="update"),
    )
    assert response.status_code == 302
    alert.refresh_from_db()
    assert (alert.title, alert.status, alert.version) == ("Phishing wave (corrected)", "updated", 2)
    assert Indicator.objects.filter(alert=alert).count() == 2
    assert AlertVersion.objects.filter(alert=alert).count() == 2
    # The organisation an alert was published for cannot be switched on update.
    assert alert.author_org == world.ingham


def test_organisation_picker_lists_approved_matches_and_keeps_the_ticked(world, as_persona):
    client = as_persona("ingham_member")
    page = client.get("/alerts/organizations/", {"org_q": "ingham"}).content.decode()
    assert "Ingham County" in page and "Ingham Drain District" not in page  # pending: not a recipient
    page = client.get("/alerts/organizations/", {"org_q": "lansing", "recipient_orgs": [world.washtenaw.pk]})
    html = page.content.decode()
    assert re.search(rf'value="{world.washtenaw.pk}" checked', html)
    assert "City of Lansing" in html
    # Without htmx, "Find" posts the whole form back: nothing is saved, the matches are shown.
    response = client.post("/alerts/new/", _form(world, org_q="washtenaw", action="find"))
    assert response.status_code == 200
    assert f'value="{world.washtenaw.pk}"' in response.content.decode()
    assert not Alert.objects.exists()


# --- bad input changes nothing --------------------------------------------------------------


def test_a_ten_megabyte_title_is_refused_clearly(world, as_persona):
    client = as_persona("ingham_member")
    response = _compose(client, world, title="A" * 10_000_000)
    assert response.status_code == 413
    assert "larger than the 2.5" in response.content.decode()
    assert "nothing was saved" in response.content.decode()
    # With CSRF checks on (as in a browser), the middleware meets the size first: still a clear page.
    strict = sign_in(Client(enforce_csrf_checks=True), world["ingham_member"])
    page = strict.get("/alerts/new/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = strict.post("/alerts/new/", _form(world, title="A" * 10_000_000, csrfmiddlewaretoken=token))
    assert response.status_code == 400
    assert "Nothing was saved" in response.content.decode()
    # A long title that fits in a request is refused by the form, with its length.
    response = _compose(client, world, title="B" * 5000)
    assert response.status_code == 400
    assert "The title is 5000 characters long; keep it to 200." in response.content.decode()
    assert not Alert.objects.exists()


def test_an_unknown_tlp_label_is_refused(world, as_persona):
    client = as_persona("ingham_member")
    for bad in ("purple", "white", "", "amber strict"):
        response = _compose(client, world, tlp=bad)
        assert response.status_code == 400
        page = response.content.decode()
        assert "is not a TLP label" in page or "Choose a TLP label" in page, bad
    assert not Alert.objects.exists()


def test_invalid_indicators_are_all_listed_and_nothing_is_stored(world, as_persona):
    client = as_persona("ingham_member")
    indicators = "\n".join(
        [
            "evil.example",
            "999.1.1.1",
            "sha256: 12345",
            "md5: zz1d8cd98f00b204e9800998ecf8427e",
            "cve: CVE-24-1",
            "cidr: 10.0.0.0/33",
            "ipv4: 2001:db8::1",
        ]
    )
    response = _compose(client, world, indicators=indicators, action="draft")
    assert response.status_code == 400
    page = response.content.decode()
    for bad in ("999.1.1.1", "12345", "zz1d8cd98f00b204e9800998ecf8427e", "CVE-24-1", "10.0.0.0/33", "2001:db8::1"):
        assert f"“{bad}”" in page, bad
    assert "Nothing was saved" in page
    assert not Alert.objects.exists()
    assert not Indicator.objects.exists()
    # What the author typed is given back to correct.
    assert "sha256: 12345" in page


def test_unknown_recipient_and_other_errors(world, as_persona):
    client = as_persona("ingham_member")
    response = _compose(client, world, tlp="red", recipient_people="ingham_official@example.test\nnobody@example.test")
    assert response.status_code == 400
    assert "No one you can see in the hub has the address “nobody@example.test”" in response.content.decode()
    # Someone who exists but is not visible to the author is refused in the same words.
    response = _compose(client, world, tlp="red", recipient_people="washtenaw_member@example.test")
    assert "“washtenaw_member@example.test”" in response.content.decode()
    response = _compose(client, world, author_org=world.washtenaw.pk)
    assert "Choose one of your organisations." in response.content.decode()
    response = _compose(client, world, attack_techniques="T1566, phishing", valid_until="2001-01-01")
    page = response.content.decode()
    assert "Not ATT&amp;CK technique ids: PHISHING" in page
    assert "must be in the future" in page
    response = _compose(client, world, recipient_orgs=[world.pending_org.pk, "x"], tlp="amber")
    assert response.status_code == 400
    assert not Alert.objects.exists()


def test_revoking_needs_a_reason(world, as_persona):
    client = as_persona("ingham_member")
    alert = _created(_compose(client, world))
    response = client.post(f"/alerts/{alert.uuid}/revoke/", {"reason": "  "})
    assert response.status_code == 400
    assert "Say why the alert is revoked" in response.content.decode()
    assert Alert.objects.get(pk=alert.pk).status == Alert.Status.PUBLISHED
    # A reader cannot revoke it.
    response = as_persona("lansing_member").post(
        f"/alerts/{alert.uuid}/revoke/", {"reason": "I disagree."}, follow=True
    )
    assert "Only the author or an admin" in response.content.decode()
    assert Alert.objects.get(pk=alert.pk).status == Alert.Status.PUBLISHED


def test_compose_page_renders(world, as_persona):
    page = as_persona("ingham_member").get("/alerts/new/").content.decode()
    assert "TLP:AMBER+STRICT" in page
    assert "Only the people you name, for their eyes only." in page
    assert 'style="' not in page and "<script>" not in page
    # The operator belongs to no organisation, so has no one to write on behalf of.
    page = as_persona("operator").get("/alerts/new/").content.decode()
    assert "you are an approved member of none" in page
    assert "Save and publish" not in page
    response = as_persona("operator").post("/alerts/new/", _form(world, author_org=""))
    assert response.status_code == 400
    assert not Alert.objects.exists()
