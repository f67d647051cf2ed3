"""Matching: responders and team packages ranked by skills, availability, distance, agreement
coverage and credentials, with hard exclusions; each rank explained; the page and the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from commonguard.accounts.models import Role
from commonguard.accounts.viewer import forget_viewer
from commonguard.mutualaid import services
from commonguard.mutualaid.matching import match_request
from commonguard.mutualaid.models import Deployment, TeamPackage
from tests.factories import OrganizationFactory
from tests.mutualaid_helpers import aid_request, compact, make_responder, place_world, today


def test_ranking_and_reasons(world: Any) -> None:
    place_world(world)
    far = OrganizationFactory(name="Far County", county_fips="26001", latitude=46.5, longitude=-87.4)
    compact(world, [world.ingham, world.guard])
    best = make_responder(world, name="Best Fit", skills=("forensics", "ad-rebuild", "network"))
    partial = make_responder(world, name="Half Fit", skills=("forensics",))
    far_away = make_responder(world, name="Far Away", skills=("forensics", "ad-rebuild"), county="26001")
    busy_later = make_responder(
        world,
        name="Busy Later",
        skills=("forensics", "ad-rebuild"),
        available=(today() + timedelta(days=3), today() + timedelta(days=60)),
    )
    expiring = make_responder(
        world, name="Expiring", skills=("forensics", "ad-rebuild"), credential_expires=today() + timedelta(days=3)
    )
    make_responder(world, name="No Skills Asked", skills=("pio",))
    conflicted = make_responder(world, name="Conflicted", skills=("forensics", "ad-rebuild"))
    services.responder_set_conflicts(actor=world["coordinator"], responder=conflicted, organizations=[world.ingham])
    remote_only = make_responder(world, name="Remote Only", skills=("forensics", "ad-rebuild"), mode="remote")
    make_responder(world, name="Applicant", skills=("forensics", "ad-rebuild"), status="screening")
    # A responder of an organisation without an agreement with Ingham.
    corps = OrganizationFactory(name="Corps", kind="volunteer_corps", county_fips="", latitude=42.6, longitude=-84.37)
    from tests.factories import MembershipFactory

    MembershipFactory(user=world["coordinator"], organization=corps, role=Role.COORDINATOR)
    forget_viewer(world["coordinator"])
    uncovered = make_responder(world, name="Uncovered", skills=("forensics", "ad-rebuild"), programme=corps)
    assert far

    aid = aid_request(world, mode="onsite")
    result = match_request(aid, user=world["coordinator"])
    names = [c.name for c in result.responders]
    assert names[0] == "Best Fit"
    assert "Conflicted" not in names and "Remote Only" not in names and "Applicant" not in names
    assert "No Skills Asked" not in names
    assert result.excluded == {"conflict": 1, "committed": 0, "mode": 1}
    assert result.considered_responders == 8  # active with at least one skill asked for
    by_name = {c.name: c for c in result.responders}
    # Each factor pulls its candidate below the best.
    for worse in ("Half Fit", "Far Away", "Busy Later", "Expiring", "Uncovered"):
        assert by_name[worse].score < by_name["Best Fit"].score, worse
    assert by_name["Best Fit"].reasons == [
        "Skills: 2 of 2 (Digital forensics, Active Directory rebuild).",
        "Available for the whole period.",
        f"{by_name['Best Fit'].distance_km:.0f} km away.",
        "Covered by “Michigan Cyber Mutual Aid Compact”.",
        "Credentials valid through the period.",
    ]
    assert "missing Active Directory rebuild" in by_name["Half Fit"].reasons[0]
    assert by_name["Far Away"].distance_km and by_name["Far Away"].distance_km > 400
    assert by_name["Busy Later"].reasons[1] == "Available for part of the period."
    assert by_name["Expiring"].reasons[4] == "A credential expires during the period."
    assert by_name["Uncovered"].reasons[3] == "No agreement in force covers this pair."
    assert [c.rank for c in result.responders] == list(range(1, len(result.responders) + 1))
    assert best and partial and far_away and busy_later and expiring and remote_only and uncovered


def test_committed_responders_are_left_out(world: Any) -> None:
    place_world(world)
    r = make_responder(world, name="Already Out")
    first = aid_request(world)
    Deployment.objects.create(
        request=first, responder=r, status="active", starts_on=first.starts_on, ends_on=first.ends_on
    )
    second = aid_request(world, org=world.washtenaw, actor=world["washtenaw_admin"])
    result = match_request(second, user=world["coordinator"])
    assert result.responders == [] and result.excluded["committed"] == 1
    # Proposed only (not yet accepted) does not hold the days.
    Deployment.objects.filter(responder=r).update(status="proposed")
    assert [c.name for c in match_request(second, user=world["coordinator"]).responders] == ["Already Out"]


def test_remote_requests_care_little_for_distance(world: Any) -> None:
    place_world(world)
    compact(world, [world.ingham, world.guard])
    make_responder(world, name="Near", skills=("forensics",))
    make_responder(world, name="Far", skills=("forensics",), county="26001")
    OrganizationFactory(name="Far County", county_fips="26001", latitude=46.5, longitude=-87.4)
    services.Responder.objects.filter(full_name="Far").update(latitude=46.5, longitude=-87.4)
    onsite = {
        c.name: c.score
        for c in match_request(
            aid_request(world, skills=("forensics",), mode="onsite"), user=world["coordinator"]
        ).responders
    }
    remote = {
        c.name: c.score
        for c in match_request(
            aid_request(world, skills=("forensics",), mode="remote"), user=world["coordinator"]
        ).responders
    }
    assert onsite["Near"] - onsite["Far"] > remote["Near"] - remote["Far"] > 0


def test_teams_are_ranked_from_the_template(world: Any) -> None:
    place_world(world)
    compact(world, [world.ingham, world.guard])
    template = TeamPackage.objects.get(is_template=True)
    assert template.roles[0]["quantity"] == 2 and template.max_deployment_days == 14
    team = services.team_from_template(
        actor=world["coordinator"], template=template, provider=world.guard, name="Guard CIRT"
    )
    TeamPackage.objects.filter(pk=team.pk).update(status="active")
    member = make_responder(world, name="Team Lead")
    services.team_add_member(actor=world["coordinator"], team=team, responder=member, role="Team lead")
    result = match_request(aid_request(world, skills=("forensics", "ot-ics"), days=21), user=world["coordinator"])
    assert [t.name for t in result.teams] == ["Guard CIRT"]
    reasons = result.teams[0].reasons
    assert reasons[0].startswith("Skills: 1 of 2") and "missing OT / ICS" in reasons[0]
    assert reasons[1] == "Deploys up to 14 days (shorter than the request: plan a relief team)."
    services.responder_set_conflicts(actor=world["coordinator"], responder=member, organizations=[world.ingham])
    assert match_request(aid_request(world), user=world["coordinator"]).teams == []


def test_page_and_api_show_the_explained_ranking(world: Any, as_persona: Any) -> None:
    place_world(world)
    compact(world, [world.ingham, world.guard])
    r = make_responder(world, name="Dana Ruiz")
    aid = aid_request(world)
    page = as_persona("coordinator").get(f"/mutualaid/requests/{aid.pk}/").content.decode()
    assert "Dana Ruiz" in page and "Covered by “Michigan Cyber Mutual Aid Compact”" in page
    assert "Propose" in page  # the coordinator of Dana's programme
    assert "Propose" not in as_persona("ingham_admin").get(f"/mutualaid/requests/{aid.pk}/").content.decode()
    data = as_persona("ingham_admin").get(f"/api/v1/mutualaid/requests/{aid.pk}/matches/").json()
    assert data["responders"][0]["id"] == r.pk and data["responders"][0]["rank"] == 1
    assert data["responders"][0]["reasons"][0].startswith("Skills: 2 of 2")
    # A request is hidden from other counties' members: the same 404 as none.
    assert as_persona("washtenaw_member").get(f"/api/v1/mutualaid/requests/{aid.pk}/matches/").status_code == 404
    assert as_persona("washtenaw_member").get(f"/mutualaid/requests/{aid.pk}/").status_code == 404
