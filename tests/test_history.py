"""An alert's version history: who sees which versions (an alert widened from AMBER to GREEN never
shows its GREEN-only readers the AMBER-era content), what changed field by field, and 404 like absent."""

from __future__ import annotations

import re

import pytest

from commonguard.core.tlp import TLP
from commonguard.sharing.history import versions_for
from commonguard.sharing.models import Alert
from commonguard.sharing.services import AlertInput, alert_update
from tests.conftest import PERSONAS
from tests.sharing_helpers import make_alert

SECRET = "Seen first at the Washtenaw payroll office"


def _update(world, alert: Alert, **changes) -> Alert:
    fields = {
        "title": alert.title,
        "summary": alert.summary,
        "category": alert.category,
        "tlp": alert.tlp,
        "severity": alert.severity,
        "recommended_actions": alert.recommended_actions,
        "recipient_orgs": list(alert.recipient_orgs.all()),
        "indicators": [(i.kind, i.value) for i in alert.indicators.all()],
    }
    fields.update(changes)
    return alert_update(actor=world["ingham_member"], alert=alert, data=AlertInput(**fields))


def _widened(world) -> Alert:
    """v1 AMBER (Ingham + Washtenaw) with a detail only they may read; v2 GREEN without it; v3 a new title."""
    alert = make_alert(
        world["ingham_member"],
        world.ingham,
        TLP.AMBER,
        recipient_orgs=[world.washtenaw],
        summary=f"Invoices from a look-alike domain.\n\n{SECRET}.",
        indicators=[(None, "evil-amber.example")],
    )
    alert = _update(
        world, alert, tlp=TLP.GREEN, summary="Invoices from a look-alike domain.", indicators=[(None, "evil.example")]
    )
    return _update(world, alert, title="Payroll phishing wave", severity=Alert.Severity.HIGH)


def _same_page(a, b) -> bool:
    def strip(content: bytes) -> str:
        return re.sub(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+', r"\1", content.decode())

    return a.status_code == b.status_code and strip(a.content) == strip(b.content)


AMBER_ERA_READERS = {"ingham_member", "ingham_admin", "ingham_official", "washtenaw_member", "washtenaw_admin"}


@pytest.mark.parametrize("persona", PERSONAS)
def test_who_sees_which_versions_on_page_and_api(world, as_persona, persona):
    alert = _widened(world)
    client = as_persona(persona)
    page = client.get(f"/alerts/{alert.uuid}/history/")
    api = client.get(f"/api/v1/alerts/{alert.uuid}/versions/")
    if persona == "anonymous":
        assert page.status_code == 302 and api.status_code in {401, 403}
        return
    if persona in {"unvetted", "removed_member"}:
        assert page.status_code == 302 and api.status_code == 404
        return
    assert page.status_code == 200 and api.status_code == 200
    expected = [3, 2, 1] if persona in AMBER_ERA_READERS else [3, 2]
    assert [v["version"] for v in api.json()] == expected
    text = page.content.decode() + api.content.decode()
    assert (SECRET in text) is (persona in AMBER_ERA_READERS)
    assert ("evil-amber[.]example" in text) is (persona in AMBER_ERA_READERS)
    assert ("1 earlier version is not shown" in page.content.decode()) is (persona not in AMBER_ERA_READERS)
    # Version 2 is compared with version 1 only for those who could read version 1.
    v2 = api.json()[1]
    if persona in AMBER_ERA_READERS:
        assert v2["compared_with"] == 1
        assert {c["key"] for c in v2["changes"]} == {"status", "summary", "tlp", "indicators"}
    else:
        assert v2["compared_with"] is None and v2["changes"] is None


def test_field_by_field_changes(world):
    alert = _widened(world)
    views, withheld = versions_for(world["washtenaw_member"], alert)
    assert withheld == 0
    v3, v2, _ = views
    changes = {c.key: c for c in v2.changes or []}
    assert (changes["tlp"].before, changes["tlp"].after) == ("TLP:AMBER", "TLP:GREEN")
    assert (changes["status"].before, changes["status"].after) == ("Published", "Updated")
    assert changes["indicators"].added == ["Domain: evil[.]example"]
    assert changes["indicators"].removed == ["Domain: evil-amber[.]example"]
    assert ("-", f"{SECRET}.") in changes["summary"].lines
    v3_changes = {c.key: (c.before, c.after) for c in v3.changes or []}
    assert v3_changes == {"title": ("amber phishing wave", "Payroll phishing wave"), "severity": ("Medium", "High")}
    # The person is named only to those who may read people of the author's organisation.
    assert v3.by == "Ingham County"
    assert versions_for(world["ingham_admin"], alert)[0][0].by == "Ingham Member (Ingham County)"


def test_who_published_follows_anonymity(world):
    alert = make_alert(world["ingham_member"], world.ingham, TLP.GREEN, anonymous=True)
    (mine,), _ = versions_for(world["ingham_admin"], alert)
    (theirs,), _ = versions_for(world["washtenaw_member"], alert)
    assert mine.by == "Ingham Member (Ingham County)"
    assert theirs.by == "A county in Region 1"


def test_a_narrowed_alert_is_absent_for_those_it_left(world, as_persona):
    alert = make_alert(world["ingham_member"], world.ingham, TLP.GREEN)
    _update(world, alert, tlp=TLP.AMBER, recipient_orgs=[world.washtenaw])
    client = as_persona("lansing_member")
    for path in (f"/alerts/{alert.uuid}/history/", "/alerts/00000000-0000-4000-8000-000000000001/history/"):
        assert client.get(path).status_code == 404
    hidden = client.get(f"/alerts/{alert.uuid}/history/")
    missing = client.get("/alerts/00000000-0000-4000-8000-000000000001/history/")
    assert _same_page(hidden, missing)
    api_hidden = client.get(f"/api/v1/alerts/{alert.uuid}/versions/")
    api_missing = client.get("/api/v1/alerts/00000000-0000-4000-8000-000000000001/versions/")
    assert (api_hidden.status_code, api_hidden.content) == (api_missing.status_code, api_missing.content)


def test_the_detail_page_links_to_the_history(world, as_persona):
    alert = make_alert(world["ingham_member"], world.ingham, TLP.GREEN)
    page = as_persona("washtenaw_member").get(f"/alerts/{alert.uuid}/").content.decode()
    assert f'href="/alerts/{alert.uuid}/history/"' in page
