"""No leaks through TAXII, the MISP feed or federation, by hypothesis: random worlds of alerts of
every label and audience (organisations named, people named, peers named; some updated to another
label, some revoked, some deleted) and of peers (community or not, enabled or not). Then:

- federation: what each peer can pull (every bundle it would be sent) is exactly what the rules of
  ADR 22, written here plainly, allow — and a peer that had an alert it may no longer have gets
  only a tombstone, never the content;
- TAXII: every alert object a person can page through in any collection belongs to an alert
  `Alert.objects.visible_to` shows them, and the CLEAR/GREEN ones they may read are there;
- the MISP feed: every event in a person's manifest is an alert they may read, and every event file
  they may not read answers like one that does not exist.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from commonguard.core.tlp import TLP
from commonguard.federation.models import Peer
from commonguard.federation.services import FED, FIELDS, alert_delete, alert_peers_set, changes_page, peer_save
from commonguard.interop.export import _sid
from commonguard.sharing.models import Alert
from commonguard.sharing.services import AlertInput, alert_publish, alert_revoke, alert_save_draft, alert_update
from tests.taxii_helpers import TAXII, basic, token_for

pytestmark = pytest.mark.django_db

PERSONAS = ["ingham_member", "washtenaw_member", "lansing_member", "analyst", "coordinator", "operator", "unvetted"]
ORGS = ["washtenaw", "lansing", "guard", "state_it"]
RED_PEOPLE = ["washtenaw_member", "analyst", "coordinator"]
COUNTER = itertools.count()
TOKENS: dict[int, str] = {}

alerts_st = st.lists(
    st.fixed_dictionaries(
        {
            "author": st.sampled_from(["ingham_member", "washtenaw_admin"]),
            "tlp": st.sampled_from(list(TLP)),
            "orgs": st.lists(st.sampled_from(ORGS), min_size=1, max_size=2, unique=True),
            "people": st.lists(st.sampled_from(RED_PEOPLE), min_size=1, max_size=2, unique=True),
            "peers": st.lists(st.integers(0, 2), max_size=3, unique=True),
            "then": st.sampled_from(["nothing", "update", "revoke", "delete"]),
            "new_tlp": st.sampled_from(list(TLP)),
        }
    ),
    min_size=1,
    max_size=5,
)
peers_st = st.lists(st.tuples(st.booleans(), st.booleans()), min_size=3, max_size=3)  # (community, enabled)


def _input(world: Any, spec: dict, tlp: str, title: str) -> AlertInput:
    return AlertInput(
        title=title,
        summary="Look-alike invoices.",
        category=Alert.Category.PHISHING,
        tlp=tlp,
        recipient_orgs=[getattr(world, o) for o in spec["orgs"]],
        recipient_people=[world[p] for p in spec["people"]],
    )


def may_go(alert: Alert, peer: Peer, named: set[int]) -> bool:
    """ADR 22, plainly."""
    if not peer.enabled or alert.status not in Alert.LIVE_STATUSES:
        return False
    return {
        TLP.CLEAR: True,
        TLP.GREEN: peer.community,
        TLP.AMBER: peer.pk in named,
        TLP.AMBER_STRICT: False,
        TLP.RED: False,
    }[TLP(alert.tlp)]


def _token(user: Any) -> str:
    if user.pk not in TOKENS:
        TOKENS[user.pk] = token_for(user)
    return TOKENS[user.pk]


def _report_ids_over_taxii(client: Client, secret: str) -> set[str]:
    headers = {"accept": TAXII, "authorization": basic(secret)}
    answer = client.get("/taxii2/api/collections/", headers=headers)
    if answer.status_code != 200:
        return set()
    found: set[str] = set()
    for coll in answer.json().get("collections", []):
        if coll["alias"].startswith("attack-"):
            continue
        body = client.get(f"/taxii2/api/collections/{coll['id']}/objects/?limit=1000", headers=headers).json()
        found |= {o["id"] for o in body.get("objects", []) if o["type"] == "report"}
    return found


@hypothesis_settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(specs=alerts_st, peer_specs=peers_st)
def test_nobody_receives_what_they_may_not_read(world, client, specs, peer_specs):
    n = next(COUNTER)
    Peer.objects.update(enabled=False)  # peers of earlier examples are out of this one
    peers = []
    for i, (community, enabled) in enumerate(peer_specs):
        peer, _ = peer_save(
            actor=None, name=f"P{n}-{i}", url="http://127.0.0.1:9", community=community, enabled=enabled
        )
        peers.append(peer)
    alerts: list[tuple[Alert, set[int], bool]] = []  # (alert, peers named, deleted)
    for k, spec in enumerate(specs):
        author = world[spec["author"]]
        org = world.ingham if spec["author"] == "ingham_member" else world.washtenaw
        alert = alert_save_draft(actor=author, author_org=org, data=_input(world, spec, spec["tlp"], f"A{n}-{k}"))
        named = [peers[i] for i in spec["peers"]]
        alert_peers_set(actor=author, alert=alert, peers=named)
        alert = alert_publish(actor=author, alert=alert)
        deleted = False
        if spec["then"] == "update":
            alert_peers_set(actor=author, alert=alert, peers=named, tlp=spec["new_tlp"])
            alert = alert_update(actor=author, alert=alert, data=_input(world, spec, spec["new_tlp"], f"A{n}-{k} v2"))
        elif spec["then"] == "revoke":
            alert = alert_revoke(actor=author, alert=alert, reason="Wrong.")
        elif spec["then"] == "delete":
            alert_delete(actor=author, alert=alert)
            deleted = True
        names = set(alert.federation_peers.values_list("peer_id", flat=True)) if not deleted else set()
        alerts.append((alert, names if alert.tlp == TLP.AMBER else set(), deleted))

    # Federation: exactly what the rules allow, content only where allowed.
    for peer in peers:
        page = changes_page(peer, 0, limit=500)
        got: dict[str, dict] = {}
        for change in page["changes"]:
            report = next(o for o in change["bundle"]["objects"] if o["type"] == "report")
            got[report[FIELDS]["uuid"]] = report
        for alert, named, deleted in alerts:
            report = got.get(str(alert.uuid))
            allowed = not deleted and may_go(alert, peer, named)
            if allowed:
                assert report is not None and not report[FED]["deleted"], (alert.tlp, peer.community)
                assert report[FIELDS]["tlp"] == alert.tlp
            elif report is not None:  # it had the alert once: only a tombstone, no content
                assert report[FED]["deleted"] is True and set(report[FIELDS]) == {"uuid"}
                assert alert.title not in json.dumps(report)
            if TLP(alert.tlp) in (TLP.AMBER_STRICT, TLP.RED) and report is not None:
                assert report[FED]["deleted"] is True

    # TAXII and the MISP feed: never more than visible_to.
    live = [a for a, _, deleted in alerts if not deleted]
    for name in PERSONAS:
        user = world[name]
        readable = set(
            Alert.objects.visible_to(user).filter(pk__in=[a.pk for a in live]).values_list("uuid", flat=True)
        )
        secret = _token(user) if name != "unvetted" else ""
        reports = _report_ids_over_taxii(client, secret) if secret else set()
        for alert in live:
            rid = _sid("report", alert.uuid)
            if alert.uuid not in readable:
                assert rid not in reports, (name, alert.tlp)
            elif TLP(alert.tlp) in (TLP.CLEAR, TLP.GREEN):
                assert rid in reports, (name, alert.tlp)
        headers = {"authorization": f"Bearer {secret}"} if secret else {}
        manifest = client.get("/feeds/misp/manifest.json", headers=headers)
        events = set(manifest.json()) if manifest.status_code == 200 else set()
        missing = client.get("/feeds/misp/00000000-0000-4000-8000-000000000000.json", headers=headers)
        for alert in live:
            if alert.uuid not in readable:
                assert str(alert.uuid) not in events, (name, alert.tlp)
                hidden = client.get(f"/feeds/misp/{alert.uuid}.json", headers=headers)
                assert (hidden.status_code, hidden.content) == (missing.status_code, missing.content)
        for alert, _, deleted in alerts:
            if deleted:  # gone everywhere
                assert _sid("report", alert.uuid) not in reports and str(alert.uuid) not in events
