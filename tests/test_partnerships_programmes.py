"""Initiatives (read rule, at-a-glance, who may change what), the liaison log (who logs, who reads,
who has not been contacted this quarter) and grants (pass-through checks with their figures)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from commonguard.orgs.models import Organization
from commonguard.partnerships import selectors, services
from commonguard.partnerships.models import Engagement, Initiative, Milestone, ProgressNote, SubAward
from tests.conftest import PERSONAS
from tests.factories import OrganizationFactory


def make_initiative(world: Any) -> Initiative:
    return services.initiative_create(
        actor=world["liaison1"],
        title="Regional SOC cooperative",
        description="Shared monitoring.",
        lead_org=world.state_it,
        partners=[(world.ingham, "Forward firewall logs.")],
        goals=["All partner logs reach the SOC"],
        status=Initiative.Status.ON_TRACK,
    )


INITIATIVE_READERS = {
    "ingham_member",
    "ingham_admin",
    "ingham_official",
    "liaison1",
    "liaison2",
    "analyst",
    "operator",
}


def _without_csrf(content: bytes) -> str:
    return re.sub(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+', r"\1", content.decode())


@pytest.mark.parametrize("persona", PERSONAS)
def test_initiative_read_rule(world, as_persona, persona):
    initiative = make_initiative(world)
    services.milestone_add(
        actor=world["liaison1"], initiative=initiative, title="Sign", owner_org=world.ingham, due_on=date(2030, 1, 1)
    )
    visible = persona in INITIATIVE_READERS
    user = None if persona == "anonymous" else world[persona]
    assert Initiative.objects.visible_to(user).filter(pk=initiative.pk).exists() == visible
    assert Milestone.objects.visible_to(user).exists() == visible
    client = as_persona(persona)
    response = client.get(f"/partnerships/initiatives/{initiative.pk}/")
    absent = client.get("/partnerships/initiatives/987654/")
    if persona in {"anonymous", "unvetted", "removed_member"}:
        assert response.status_code == absent.status_code == 302
    elif visible:
        assert response.status_code == 200
        assert "Forward firewall logs." in response.content.decode()
    else:
        assert response.status_code == absent.status_code == 404
        assert _without_csrf(response.content) == _without_csrf(absent.content)
        before = ProgressNote.objects.count()
        client.post(f"/partnerships/initiatives/{initiative.pk}/", {"action": "note", "body": "hi"})
        assert ProgressNote.objects.count() == before


def test_at_a_glance_flags_overdue_and_at_risk_initiatives(world, as_persona):
    today = timezone.localdate()
    soc = make_initiative(world)
    services.milestone_add(
        actor=world["liaison1"], initiative=soc, title="Agreement", owner_org=world.ingham, due_on=today
    )
    late = services.initiative_create(
        actor=world["liaison1"],
        title="Shared MFA procurement",
        description="Keys.",
        lead_org=world.state_it,
        partners=[(world.ingham, "")],
        goals=[],
        status=Initiative.Status.ON_TRACK,
    )
    services.milestone_add(
        actor=world["liaison1"],
        initiative=late,
        title="Counts collected",
        owner_org=world.ingham,
        due_on=today - timedelta(days=3),
    )
    glance = {g.initiative.title: g for g in selectors.initiatives_at_a_glance(user=world["ingham_member"])}
    assert glance["Regional SOC cooperative"].on_track
    assert not glance["Shared MFA procurement"].on_track
    assert glance["Shared MFA procurement"].milestones_overdue == 1
    page = as_persona("ingham_member").get("/partnerships/initiatives/").content.decode()
    assert "<strong>1</strong> on track" in page and "<strong>1</strong> needs attention" in page
    # Completing the overdue milestone puts it back on track.
    milestone = late.milestones.get()
    response = as_persona("ingham_admin").post(
        f"/partnerships/initiatives/{late.pk}/", {"action": "milestone_done", "milestone": milestone.pk}
    )
    assert response.status_code == 302
    assert all(g.on_track for g in selectors.initiatives_at_a_glance(user=world["ingham_member"]))


def test_who_may_change_an_initiative(world, as_persona):
    initiative = make_initiative(world)
    # A partner admin reports progress but cannot change the status.
    with pytest.raises(PermissionDenied):
        services.progress_note_add(
            actor=world["ingham_admin"], initiative=initiative, body="Late", status=Initiative.Status.OFF_TRACK
        )
    services.progress_note_add(actor=world["ingham_admin"], initiative=initiative, body="Our logs are flowing.")
    initiative.refresh_from_db()
    assert initiative.status == Initiative.Status.ON_TRACK
    # A plain partner member neither.
    with pytest.raises(PermissionDenied):
        services.progress_note_add(actor=world["ingham_member"], initiative=initiative, body="x")
    # A milestone owner must take part in the initiative.
    with pytest.raises(ValidationError, match="lead organisation or a partner"):
        services.milestone_add(
            actor=world["liaison1"],
            initiative=initiative,
            title="x",
            owner_org=world.washtenaw,
            due_on=date(2030, 1, 1),
        )
    # The manager changes the status through the page.
    response = as_persona("liaison2").post(
        f"/partnerships/initiatives/{initiative.pk}/",
        {"action": "note", "body": "Vendor slipped.", "status": "at_risk"},
    )
    assert response.status_code == 302
    initiative.refresh_from_db()
    assert initiative.status == Initiative.Status.AT_RISK
    # A member of an organisation cannot start one in its name.
    assert as_persona("ingham_member").get("/partnerships/initiatives/new/").status_code == 403


# --- Liaison log ---------------------------------------------------------------------------


def test_only_liaisons_log_engagements_and_bad_dates_are_refused(world, as_persona):
    with pytest.raises(PermissionDenied):
        services.engagement_log(
            actor=world["analyst"],
            organization=world.ingham,
            kind=Engagement.Kind.CALL,
            occurred_on=timezone.localdate(),
            summary="x",
        )
    client = as_persona("liaison1")
    response = client.post(
        "/partnerships/engagements/",
        {
            "organization": world.ingham.pk,
            "kind": "visit",
            "occurred_on": (timezone.localdate() + timedelta(days=2)).isoformat(),
            "summary": "Walked through the incident plan.",
        },
    )
    assert response.status_code == 400
    assert "the date is in the future" in response.content.decode()
    assert not Engagement.objects.exists()
    assert as_persona("ingham_admin").post("/partnerships/engagements/", {}).status_code == 403


def test_not_contacted_this_quarter_and_who_reads_the_log(world, as_persona):
    today = timezone.localdate()
    start = selectors.quarter_start(today)
    liaison = world["liaison1"]
    # Last quarter does not count for this one.
    services.engagement_log(
        actor=liaison,
        organization=world.lansing,
        kind=Engagement.Kind.CALL,
        occurred_on=start - timedelta(days=1),
        summary="Old call",
    )
    names = [o.name for o in selectors.not_contacted_this_quarter(user=liaison)]
    assert names == ["Ingham County", "City of Lansing"]  # region 1 only; the pending district is not listed
    services.engagement_log(
        actor=liaison,
        organization=world.ingham,
        kind=Engagement.Kind.TABLETOP,
        occurred_on=today,
        summary="Tabletop on ransomware.",
        follow_up="Send the playbook",
        follow_up_due=today + timedelta(days=7),
    )
    remaining = selectors.not_contacted_this_quarter(user=liaison)
    assert [o.name for o in remaining] == ["City of Lansing"]
    assert remaining[0].last_contact == start - timedelta(days=1)
    whole = [o.name for o in selectors.not_contacted_this_quarter(user=liaison, whole_state=True)]
    assert "Washtenaw County" in whole and "Ingham County" not in whole
    assert selectors.not_contacted_this_quarter(user=world["ingham_admin"]) == []

    page = as_persona("liaison1").get("/partnerships/engagements/").content.decode()
    assert "City of Lansing" in page and "Send the playbook" in page
    # Washtenaw's people do not read Ingham's log; Ingham's do.
    assert (
        "Tabletop on ransomware."
        not in as_persona("washtenaw_admin").get("/partnerships/engagements/").content.decode()
    )
    assert "Tabletop on ransomware." in as_persona("ingham_member").get("/partnerships/engagements/").content.decode()
    engagement = Engagement.objects.get(kind="tabletop")
    assert (
        as_persona("washtenaw_admin").post(f"/partnerships/engagements/{engagement.pk}/follow-up-done/").status_code
        == 404
    )
    as_persona("liaison1").post(f"/partnerships/engagements/{engagement.pk}/follow-up-done/")
    engagement.refresh_from_db()
    assert engagement.follow_up_done_on == today


# --- Grants --------------------------------------------------------------------------------


@pytest.fixture
def program(world: Any) -> Any:
    return services.grant_program_create(
        actor=world["liaison1"],
        name="State and Local Cybersecurity Grant Program",
        fiscal_year=2024,
        federal_award=Decimal("1000000"),
        cost_share_rate=Decimal("30"),
        administrator=world.state_it,
    )


def _award(world: Any, program: Any, org: Organization, amount: str, status: str = "active", match: str = "0") -> Any:
    return services.sub_award_save(
        actor=world["liaison1"],
        program=program,
        organization=org,
        amount=Decimal(amount),
        match_amount=Decimal(match),
        objective="Objective 1",
        project="MFA for all accounts",
        status=status,
        self_assessment_done=True,
    )


def test_pass_through_checks_with_their_figures(world, program, as_persona):
    world.washtenaw.population = 41_000  # rural: under 50,000
    world.washtenaw.save()
    _award(world, program, world.ingham, "500000", match="150000")
    check = selectors.pass_through(program, user=world["liaison1"])
    assert (check.local_percent, check.local_ok, check.rural_percent, check.rural_ok) == (
        Decimal("50.0"),
        False,
        Decimal("0.0"),
        False,
    )
    _award(world, program, world.washtenaw, "300000", match="10000")
    _award(world, program, world.lansing, "99999", status="applied")  # not committed: not counted
    check = selectors.pass_through(program, user=world["liaison1"])
    assert check.local_total == Decimal("800000") and check.local_percent == Decimal("80.0") and check.local_ok
    assert check.rural_total == Decimal("300000") and check.rural_percent == Decimal("30.0") and check.rural_ok
    assert check.match_shortfalls == [("Washtenaw County", Decimal("80000.00"))]

    page = as_persona("liaison2").get(f"/partnerships/grants/{program.pk}/").content.decode()
    assert "80.0 %" in page and "30.0 %" in page and "$800,000.00" in page
    assert "Washtenaw County ($80,000.00 short)" in page
    # A member of a county sees the totals and only their own sub-award.
    member_page = as_persona("ingham_member").get(f"/partnerships/grants/{program.pk}/").content.decode()
    assert "80.0 %" in member_page
    assert "Ingham County" in member_page and "Washtenaw County" not in member_page
    assert set(SubAward.objects.visible_to(world["washtenaw_member"]).values_list("organization__name", flat=True)) == {
        "Washtenaw County"
    }


def test_population_unknown_is_not_rural_and_is_named(world, program):
    township = OrganizationFactory(name="Unknown Township", kind="township", population=None, county=world.ingham)
    _award(world, program, township, "250000")
    check = selectors.pass_through(program, user=world["liaison1"])
    assert check.rural_total == 0 and check.unknown_population == ["Unknown Township"]


@pytest.mark.parametrize(
    ("org_name", "amount", "message"),
    [
        ("state_it", "1000", "Sub-awards go to local governments"),
        ("ingham", "0", "more than zero"),
    ],
)
def test_bad_sub_awards_are_refused(world, program, as_persona, org_name, amount, message):
    org = getattr(world, org_name)
    with pytest.raises(ValidationError, match=message):
        _award(world, program, org, amount)
    assert not SubAward.objects.exists()
    response = as_persona("ingham_admin").post(
        f"/partnerships/grants/{program.pk}/",
        {"organization": world.ingham.pk, "amount": "5", "match_amount": "0", "objective": "x", "project": "x"},
    )
    assert response.status_code == 403
    assert not SubAward.objects.exists()


def test_only_state_staff_set_up_programmes(world, as_persona):
    with pytest.raises(PermissionDenied):
        services.grant_program_create(
            actor=world["ingham_admin"],
            name="x",
            fiscal_year=2025,
            federal_award=Decimal(1),
            cost_share_rate=Decimal(0),
            administrator=world.ingham,
        )
    assert as_persona("ingham_admin").post("/partnerships/grants/", {"name": "x"}).status_code == 403


def test_the_api_shows_pass_through_figures(world, program, as_persona):
    _award(world, program, world.ingham, "850000", match="255000")
    data = as_persona("washtenaw_member").get(f"/api/v1/grant-programs/{program.pk}/").json()
    assert data["pass_through"]["local_percent"] == "85.0"
    assert data["pass_through"]["local_ok"] is True
    assert data["pass_through"]["rural_ok"] is False
