"""Acknowledgements and sightings: who may answer, who sees what, and bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from commonguard.core.models import AuditEvent
from commonguard.core.tlp import TLP
from commonguard.sharing.models import Acknowledgement, Sighting
from commonguard.sharing.reactions import alert_acknowledge, reaction_counts, sighting_report
from tests.sharing_helpers import make_alert


def test_acknowledge_and_report_through_the_page(world, as_persona):
    alert = make_alert(world["ingham_member"], world.ingham, TLP.GREEN, indicators=[(None, "evil.example")])
    client = as_persona("washtenaw_member")
    page = client.get(f"/alerts/{alert.uuid}/").content.decode()
    assert "Acknowledge: we have it" in page
    client.post(f"/alerts/{alert.uuid}/acknowledge/", {"ack-organization": world.washtenaw.pk, "ack-note": "On it"})
    indicator = alert.indicators.get()
    client.post(
        f"/alerts/{alert.uuid}/sightings/",
        {
            "sighting-organization": world.washtenaw.pk,
            "sighting-kind": "seen",
            "sighting-indicator": indicator.pk,
            "sighting-count": 3,
        },
    )
    assert Acknowledgement.objects.get(alert=alert).organization == world.washtenaw
    assert "Acknowledge: we have it" not in client.get(f"/alerts/{alert.uuid}/").content.decode()  # done once
    sighting = Sighting.objects.get(alert=alert)
    assert (sighting.kind, sighting.count, sighting.indicator) == ("seen", 3, indicator)
    assert reaction_counts(alert) == {"acknowledged": 1, "seen": 1, "false_positive": 0}
    # The author's organisation and state staff see who; another recipient sees only the counts.
    for persona, sees_who in [
        ("ingham_admin", True),
        ("analyst", True),
        ("washtenaw_admin", True),
        ("lansing_member", False),
        ("coordinator", False),
    ]:
        page = as_persona(persona).get(f"/alerts/{alert.uuid}/").content.decode()
        assert "1 organisation acknowledged" in page
        assert ("Washtenaw County</th>" in page) is sees_who, persona
    assert AuditEvent.objects.filter(action__in=["alert.acknowledge", "alert.sighting"]).count() == 2


def test_who_may_answer(world):
    alert = make_alert(world["ingham_member"], world.ingham, TLP.AMBER, recipient_orgs=[world.washtenaw])
    with pytest.raises(PermissionDenied):  # cannot see the alert
        alert_acknowledge(actor=world["lansing_member"], alert=alert, organization=world.lansing)
    with pytest.raises(PermissionDenied):  # not their organisation
        alert_acknowledge(actor=world["washtenaw_member"], alert=alert, organization=world.ingham)
    with pytest.raises(ValidationError, match="does not acknowledge its own"):
        alert_acknowledge(actor=world["ingham_admin"], alert=alert, organization=world.ingham)
    alert_acknowledge(actor=world["washtenaw_member"], alert=alert, organization=world.washtenaw)
    with pytest.raises(ValidationError, match="already acknowledged"):
        alert_acknowledge(actor=world["washtenaw_admin"], alert=alert, organization=world.washtenaw)
    assert Acknowledgement.objects.count() == 1


def test_bad_sightings_store_nothing(world):
    alert = make_alert(world["ingham_member"], world.ingham, TLP.GREEN)
    other = make_alert(world["ingham_member"], world.ingham, TLP.GREEN, indicators=[(None, "x.example")])
    actor, org = world["washtenaw_member"], world.washtenaw
    bad = [
        {"kind": "maybe"},
        {"kind": "seen", "count": 0},
        {"kind": "seen", "seen_at": timezone.now() + timedelta(days=1)},
        {"kind": "seen", "indicator": other.indicators.get()},
    ]
    for extra in bad:
        with pytest.raises(ValidationError):
            sighting_report(actor=actor, alert=alert, organization=org, **extra)
    assert Sighting.objects.count() == 0


def test_the_audit_trail_never_shows_a_red_title_to_those_who_may_not_read_it(world, as_persona):
    """A named person reacts for their organisation: the organisation's admins read its audit
    trail, but the RED alert was not for them, so the trail names the alert by its id only."""
    alert = make_alert(
        world["ingham_member"], world.ingham, TLP.RED, recipient_people=[world["washtenaw_member"]], title="Secret op"
    )
    alert_acknowledge(actor=world["washtenaw_member"], alert=alert, organization=world.washtenaw)
    sighting_report(
        actor=world["washtenaw_member"],
        alert=alert,
        organization=world.washtenaw,
        kind="seen",
        seen_at=timezone.now(),
    )
    admin = as_persona("washtenaw_admin")
    page = admin.get("/audit/").content.decode()
    api = admin.get("/api/v1/audit/").content.decode()
    assert str(alert.uuid) in page and str(alert.uuid) in api  # they do see what happened
    assert "Secret op" not in page and "Secret op" not in api
