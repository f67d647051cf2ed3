"""TLP 2.0 as access control (ADR 13): the alert read rule as a persona × label matrix, the
write rules, versions, and a property-based check against a plain statement of the policy."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commonguard.accounts.models import Membership, User
from commonguard.core.models import AuditEvent
from commonguard.core.tlp import TLP, parse_tlp
from commonguard.orgs.models import Organization
from commonguard.sharing.delivery import audience
from commonguard.sharing.models import Alert, AlertVersion, Indicator, SharingGroup
from commonguard.sharing.services import (
    AlertInput,
    alert_publish,
    alert_revoke,
    alert_save_draft,
    alert_update,
    author_label,
)
from tests.conftest import PERSONAS, VETTED_PERSONAS
from tests.sharing_helpers import make_alert

VETTED = set(VETTED_PERSONAS)
INGHAM = {"ingham_member", "ingham_admin", "ingham_official"}
WASHTENAW = {"washtenaw_member", "washtenaw_admin"}


def _cases(world: Any) -> dict[str, tuple[Alert, set[str]]]:
    author, org = world["ingham_member"], world.ingham
    group = SharingGroup.objects.create(name="Region 2 counties", owner=world.washtenaw)
    group.organizations.add(world.washtenaw)
    return {
        "clear": (make_alert(author, org, TLP.CLEAR), VETTED),
        "green": (make_alert(author, org, TLP.GREEN), VETTED),
        "amber to Washtenaw": (
            make_alert(author, org, TLP.AMBER, recipient_orgs=[world.washtenaw]),
            INGHAM | WASHTENAW,
        ),
        "amber via a sharing group": (
            make_alert(author, org, TLP.AMBER, sharing_groups=[group]),
            INGHAM | WASHTENAW,
        ),
        "amber+strict to the state": (
            make_alert(author, org, TLP.AMBER_STRICT, recipient_orgs=[world.state_it]),
            INGHAM | {"liaison1", "liaison2", "analyst"},
        ),
        "red to one person": (
            make_alert(author, org, TLP.RED, recipient_people=[world["washtenaw_admin"]]),
            {"ingham_member", "washtenaw_admin"},
        ),
        "draft": (make_alert(author, org, TLP.CLEAR, publish=False), {"ingham_member"}),
    }


def test_tlp_matrix(world):
    for name, (alert, readers) in _cases(world).items():
        indicator = Indicator.objects.create(alert=alert, kind="domain", value=f"{alert.pk}.example")
        for persona in PERSONAS:
            user = None if persona == "anonymous" else world[persona]
            expected = persona in readers
            where = f"{name} as {persona}"
            assert Alert.objects.visible_to(user).filter(pk=alert.pk).exists() is expected, where
            assert Indicator.objects.visible_to(user).filter(pk=indicator.pk).exists() is expected, where


def test_operator_is_bound_by_tlp_too(world):
    cases = _cases(world)
    operator = world["operator"]
    visible = set(Alert.objects.visible_to(operator).values_list("pk", flat=True))
    assert cases["green"][0].pk in visible
    assert cases["amber to Washtenaw"][0].pk not in visible
    assert cases["red to one person"][0].pk not in visible
    assert cases["draft"][0].pk not in visible


def test_removed_member_loses_amber_at_once(world):
    alert = make_alert(world["ingham_member"], world.ingham, TLP.AMBER, recipient_orgs=[world.washtenaw])
    reader = world["washtenaw_member"]
    assert Alert.objects.visible_to(reader).filter(pk=alert.pk).exists()
    Membership.objects.filter(user=reader).update(status="removed")
    reader = User.objects.get(pk=reader.pk)
    assert not Alert.objects.visible_to(reader).filter(pk=alert.pk).exists()


def test_audience_fields_the_label_does_not_use_are_dropped(world):
    alert = make_alert(
        world["ingham_member"],
        world.ingham,
        TLP.GREEN,
        recipient_orgs=[world.washtenaw],
        recipient_people=[world["analyst"]],
    )
    assert not alert.recipient_orgs.exists() and not alert.recipient_people.exists()


def test_publishing_needs_an_audience_for_amber_and_red(world):
    for tlp, field in [
        (TLP.AMBER, "recipient_orgs"),
        (TLP.AMBER_STRICT, "recipient_orgs"),
        (TLP.RED, "recipient_people"),
    ]:
        draft = make_alert(world["ingham_member"], world.ingham, tlp, publish=False)
        with pytest.raises(ValidationError) as caught:
            alert_publish(actor=world["ingham_member"], alert=draft)
        assert field in caught.value.message_dict
        draft.refresh_from_db()
        assert draft.status == "draft"


def test_red_recipients_must_be_vetted(world):
    with pytest.raises(ValidationError, match="Not vetted"):
        make_alert(world["ingham_member"], world.ingham, TLP.RED, recipient_people=[world["unvetted"]])


def test_versions_and_revocation(world):
    author = world["ingham_member"]
    alert = make_alert(author, world.ingham, TLP.GREEN, indicators=[(None, "hxxp://evil[.]example/a")])
    data = AlertInput(
        title="Phishing wave (second sender)",
        summary="Now also from another domain.",
        category="phishing",
        tlp="green",
        indicators=[(None, "evil.example"), (None, "1.2.3.4")],
    )
    alert = alert_update(actor=author, alert=alert, data=data)
    assert (alert.status, alert.version) == ("updated", 2)
    assert sorted(alert.indicators.values_list("value", flat=True)) == ["1.2.3.4", "evil.example"]
    alert = alert_revoke(actor=author, alert=alert, reason="False positive: a vendor's mail relay.")
    assert (alert.status, alert.version) == ("revoked", 3)
    versions = list(AlertVersion.objects.filter(alert=alert).order_by("version"))
    assert [v.version for v in versions] == [1, 2, 3]
    assert versions[0].snapshot["indicators"] == [["url", "http://evil.example/a"]]
    assert versions[2].snapshot["status"] == "revoked"
    # Revoked alerts stay visible to their audience, marked revoked.
    assert Alert.objects.visible_to(world["washtenaw_member"]).get(pk=alert.pk).status == "revoked"
    with pytest.raises(ValidationError):
        alert_update(actor=author, alert=alert, data=data)


def test_only_the_author_or_their_admin_changes_an_alert(world):
    alert = make_alert(world["ingham_member"], world.ingham, TLP.GREEN)
    before = AuditEvent.objects.count()
    for persona in ["washtenaw_admin", "ingham_official", "analyst", "operator"]:
        with pytest.raises(PermissionDenied):
            alert_revoke(actor=world[persona], alert=alert, reason="no")
    assert AuditEvent.objects.count() == before
    alert_revoke(actor=world["ingham_admin"], alert=alert, reason="Superseded by the state's advisory.")


def test_bad_input_stores_nothing(world):
    author, org = world["ingham_member"], world.ingham
    bad = [
        AlertInput(title="x" * 10_000_000, summary="s", category="phishing", tlp="green"),
        AlertInput(title="t", summary="s", category="phishing", tlp="purple"),
        AlertInput(
            title="t",
            summary="s",
            category="phishing",
            tlp="green",
            indicators=[(None, "999.1.1.1"), ("md5", "abc"), ("cve", "CVE-24-1")],
        ),
        AlertInput(
            title="t",
            summary="s",
            category="phishing",
            tlp="green",
            indicators=[(None, f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}") for i in range(100_000)],
        ),
    ]
    for data in bad:
        with pytest.raises(ValidationError):
            alert_save_draft(actor=author, author_org=org, data=data)
    assert Alert.objects.count() == 0 and Indicator.objects.count() == 0
    with pytest.raises(ValidationError) as caught:
        alert_save_draft(actor=author, author_org=org, data=bad[2])
    assert len(caught.value.message_dict["indicators"]) == 3
    with pytest.raises(PermissionDenied):
        alert_save_draft(actor=author, author_org=world.washtenaw, data=AlertInput("t", "s", "phishing", "green"))


def test_anonymity_is_a_display_rule(world):
    alert = make_alert(world["ingham_member"], world.ingham, TLP.GREEN, anonymous=True)
    assert author_label(alert, world["lansing_member"]) == "A county in Region 1"
    assert author_label(alert, world["washtenaw_member"]) == "A county in Region 1"
    for knows in ["ingham_admin", "analyst", "liaison2", "operator"]:
        assert author_label(alert, world[knows]) == "Ingham County"


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("amber+strict", TLP.AMBER_STRICT),
        ("TLP:AMBER+STRICT", TLP.AMBER_STRICT),
        ("tlp:white", TLP.CLEAR),
        (" Red ", TLP.RED),
    ],
)
def test_tlp_parsing(raw, label):
    assert parse_tlp(raw) == label


# --- Property: random worlds of organisations, memberships, groups and alerts of every label ---------

LABELS = [t.value for t in TLP]
membership = st.one_of(st.none(), st.sampled_from(["approved", "pending", "removed"]))
alert_spec = st.fixed_dictionaries(
    {
        "tlp": st.sampled_from(LABELS),
        "author": st.integers(0, 3),
        "orgs": st.sets(st.integers(0, 2), max_size=3),
        "groups": st.sets(st.integers(0, 1), max_size=2),
        "people": st.sets(st.integers(0, 3), max_size=4),
        "publish": st.booleans(),
    }
)
world_spec = st.fixed_dictionaries(
    {
        "memberships": st.lists(st.lists(membership, min_size=3, max_size=3), min_size=4, max_size=4),
        "groups": st.lists(st.sets(st.integers(0, 2), max_size=3), min_size=2, max_size=2),
        "alerts": st.lists(alert_spec, min_size=1, max_size=4),
    }
)


class _Rollback(Exception):
    pass


def _oracle(user: User, alert: Alert) -> bool:
    approved = set(
        Membership.objects.filter(user=user, status="approved", organization__status="approved").values_list(
            "organization_id", flat=True
        )
    )
    if not approved and not user.is_superuser:
        return False
    if alert.status == "draft":
        return alert.author_id == user.pk
    if alert.tlp in {"clear", "green"}:
        return True
    if alert.tlp in {"amber", "amber+strict"}:
        audience = {alert.author_org_id, *alert.recipient_orgs.values_list("pk", flat=True)}
        for group in alert.sharing_groups.all():
            audience |= set(group.organizations.values_list("pk", flat=True))
        return bool(approved & audience)
    return user.pk == alert.author_id or alert.recipient_people.filter(pk=user.pk).exists()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=world_spec)
def test_alert_rule_matches_the_policy(db: Any, spec: Any) -> None:
    try:
        with transaction.atomic():
            orgs = [
                Organization.objects.create(
                    name=f"County {i}", kind="county", state="MI", status="approved", time_zone="UTC"
                )
                for i in range(3)
            ]
            people = [
                User.objects.create_user(email=f"p{i}@example.test", password=None, full_name=f"P{i}") for i in range(4)
            ]
            for person, row in zip(people, spec["memberships"], strict=True):
                for org, status in zip(orgs, row, strict=True):
                    if status:
                        Membership.objects.create(user=person, organization=org, status=status)
            groups = []
            for i, members in enumerate(spec["groups"]):
                group = SharingGroup.objects.create(name=f"G{i}", owner=orgs[0])
                group.organizations.set([orgs[m] for m in members])
                groups.append(group)
            alerts = []
            for a in spec["alerts"]:
                author = people[a["author"]]
                author_orgs = [
                    o
                    for o in orgs
                    if Membership.objects.filter(user=author, organization=o, status="approved").exists()
                ]
                if not author_orgs:
                    continue
                alert = Alert.objects.create(
                    title="t",
                    summary="s",
                    category="other",
                    tlp=a["tlp"],
                    author=author,
                    author_org=author_orgs[0],
                    status="published" if a["publish"] else "draft",
                )
                alert.recipient_orgs.set([orgs[i] for i in a["orgs"]])
                alert.sharing_groups.set([groups[i] for i in a["groups"]])
                alert.recipient_people.set([people[i] for i in a["people"]])
                alerts.append(alert)
            for person in people:
                fresh = User.objects.get(pk=person.pk)
                got = set(Alert.objects.visible_to(fresh).values_list("pk", flat=True))
                want = {a.pk for a in alerts if _oracle(fresh, a)}
                assert got == want
            # Fan-out writes to exactly the people the read rule lets read (the author excepted).
            for alert in alerts:
                if alert.status == "published":
                    readers = {p.pk for p in people if _oracle(User.objects.get(pk=p.pk), alert)}
                    assert set(audience(alert).values_list("pk", flat=True)) == readers - {alert.author_id}
            raise _Rollback
    except _Rollback:
        pass


def test_updates_keep_indicator_rows_and_tolerate_an_unchanged_past_expiry(world):
    from datetime import timedelta

    from django.utils import timezone

    author = world["ingham_member"]
    alert = make_alert(author, world.ingham, TLP.GREEN, indicators=[(None, "evil.example"), (None, "1.2.3.4")])
    kept = alert.indicators.get(value="evil.example").pk
    data = AlertInput(
        title="t", summary="s", category="phishing", tlp="green", indicators=[(None, "evil.example"), (None, "5.6.7.8")]
    )
    alert = alert_update(actor=author, alert=alert, data=data)
    assert alert.indicators.get(value="evil.example").pk == kept
    assert sorted(alert.indicators.values_list("value", flat=True)) == ["5.6.7.8", "evil.example"]
    # The alert expired yesterday; an update that leaves the expiry alone is still allowed.
    Alert.objects.filter(pk=alert.pk).update(valid_until=timezone.now() - timedelta(days=1))
    alert.refresh_from_db()
    data.valid_until = alert.valid_until
    assert alert_update(actor=author, alert=alert, data=data).version == 3
    data.valid_until = timezone.now() - timedelta(hours=1)
    with pytest.raises(ValidationError, match="Valid until"):
        alert_update(actor=author, alert=alert, data=data)


def test_publish_rechecks_named_recipients(world):
    draft = make_alert(
        world["ingham_member"], world.ingham, TLP.RED, publish=False, recipient_people=[world["washtenaw_member"]]
    )
    Membership.objects.filter(user=world["washtenaw_member"]).update(status="removed")
    with pytest.raises(ValidationError, match="No longer vetted"):
        alert_publish(actor=world["ingham_member"], alert=draft)


def test_known_benign_indicators_need_confirmation(world, as_persona):
    author, org = world["ingham_member"], world.ingham
    data = AlertInput(
        title="Resolver abuse",
        summary="s",
        category="other",
        tlp="green",
        indicators=[(None, "8.8.8.8"), (None, "10.1.2.3"), (None, "91.92.251.103")],
    )
    with pytest.raises(ValidationError) as caught:
        alert_save_draft(actor=author, author_org=org, data=data)
    messages = caught.value.message_dict
    assert any("8.8.8.8 is on" in m and "DNS resolvers" in m for m in messages["indicators"])
    assert any("10.1.2.3 is on" in m and "RFC 1918" in m for m in messages["indicators"])
    assert "confirm_benign" in messages
    assert Alert.objects.count() == 0
    data.confirm_benign = True
    alert = alert_save_draft(actor=author, author_org=org, data=data)
    warnings = dict(alert.indicators.values_list("value", "warning"))
    assert "DNS resolvers" in warnings["8.8.8.8"] and warnings["91.92.251.103"] == ""
    # The API says the same.
    client = as_persona("ingham_member")
    body = {
        "author_org": org.pk,
        "title": "t",
        "summary": "s",
        "category": "other",
        "tlp": "green",
        "indicators": [{"value": "8.8.8.8"}],
    }
    response = client.post("/api/v1/alerts/", body, content_type="application/json")
    assert response.status_code == 400 and "confirm_benign" in response.json()["error"]["fields"]
    response = client.post("/api/v1/alerts/", {**body, "confirm_benign": True}, content_type="application/json")
    assert response.status_code == 201
