"""After-action reports (written, read by their rule, published to the partnerships library as an
after-action report under the TLP label chosen) and the coordinator's dashboard (open requests,
deployed responders by county, availability by skill, expiring credentials; all through visible_to)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from commonguard.core.tlp import TLP
from commonguard.mutualaid import claims, services
from commonguard.mutualaid.dashboards import coordinator_dashboard
from commonguard.mutualaid.models import AfterActionReport, AssistanceRequest, Deployment
from commonguard.partnerships.models import Resource
from tests.conftest import PERSONAS, VETTED_PERSONAS
from tests.mutualaid_helpers import aid_request, make_responder, today, without_csrf

D = Deployment.Status


def _deployed(world: Any, status: str = D.ACTIVE) -> Deployment:
    r = make_responder(world, name="Responder", user=world["responder"])
    aid = aid_request(world)
    return Deployment.objects.create(
        request=aid,
        responder=r,
        status=status,
        starts_on=today() - timedelta(days=2),
        ends_on=today() + timedelta(days=2),
    )


def _aar(world: Any, actor: str = "ingham_admin") -> AfterActionReport:
    d = _deployed(world, D.DEBRIEFED)
    draft = claims.aar_template(d.request)
    return claims.aar_create(
        actor=world[actor],
        request=d.request,
        data=claims.AfterActionInput(
            title=draft["title"],
            timeline=draft["timeline"],
            what_worked="The Guard was on site within six hours.",
            what_to_change="Pre-stage VPN accounts for responders.",
            deployment=d,
        ),
    )


# --- After-action reports ------------------------------------------------------------------------


def test_the_template_holds_the_timeline(world: Any) -> None:
    d = _deployed(world)
    draft = claims.aar_template(d.request)
    assert "Responder" in draft["timeline"] and d.request.title in draft["title"]


def test_an_after_action_report_needs_every_part(world: Any) -> None:
    d = _deployed(world)
    with pytest.raises(ValidationError) as exc:
        claims.aar_create(
            actor=world["ingham_admin"],
            request=d.request,
            data=claims.AfterActionInput(title="AAR", timeline="x", what_worked=" ", what_to_change=""),
        )
    assert set(exc.value.message_dict) == {"what_worked", "what_to_change"}
    assert not AfterActionReport.objects.exists()


@pytest.mark.parametrize("persona", ["washtenaw_admin", "lansing_member", "analyst"])
def test_outsiders_cannot_write_one(world: Any, persona: str) -> None:
    d = _deployed(world)
    with pytest.raises(PermissionDenied):
        claims.aar_create(
            actor=world[persona],
            request=d.request,
            data=claims.AfterActionInput(title="AAR", timeline="x", what_worked="y", what_to_change="z"),
        )


def test_the_programme_coordinator_can_write_one(world: Any) -> None:
    report = _aar(world, actor="coordinator")
    assert report.author_org == world.guard


SEES_AAR = {"ingham_member", "ingham_admin", "ingham_official", "coordinator", "liaison1", "liaison2", "analyst"}


@pytest.mark.parametrize("persona", PERSONAS)
def test_after_action_reports_by_their_rule(world: Any, as_persona: Any, persona: str) -> None:
    report = _aar(world)
    client = as_persona(persona)
    response = client.get(reverse("mutualaid:aar", args=[report.pk]))
    if persona not in VETTED_PERSONAS:
        assert response.status_code == 302
    elif persona in SEES_AAR or persona == "operator":
        assert response.status_code == 200 and b"Pre-stage VPN" in response.content
    else:
        missing = client.get(reverse("mutualaid:aar", args=[report.pk + 99]))
        assert response.status_code == 404 == missing.status_code
        assert without_csrf(response.content) == without_csrf(missing.content)


@pytest.mark.parametrize("tlp", [TLP.GREEN, TLP.AMBER, TLP.RED])
def test_publishing_goes_through_the_library(world: Any, tlp: str) -> None:
    report = _aar(world)
    resource = claims.aar_publish(actor=world["ingham_admin"], report=report, tlp=tlp)
    assert resource.kind == Resource.Kind.AFTER_ACTION and resource.tlp == tlp
    assert resource.file_name.endswith(".md") and resource.file_size > 0
    report.refresh_from_db()
    assert report.library_resource == resource and report.published_at is not None
    readable = Resource.objects.visible_to(world["washtenaw_member"]).filter(pk=resource.pk).exists()
    assert readable == (tlp == TLP.GREEN)
    assert Resource.objects.visible_to(world["ingham_admin"]).filter(pk=resource.pk).exists()
    with pytest.raises(ValidationError, match="already in the library"):
        claims.aar_publish(actor=world["ingham_admin"], report=report, tlp=tlp)


def test_only_the_authors_organisation_publishes(world: Any) -> None:
    report = _aar(world)
    with pytest.raises(PermissionDenied):
        claims.aar_publish(actor=world["coordinator"], report=report, tlp=TLP.GREEN)
    with pytest.raises(ValidationError, match="Choose a TLP"):
        claims.aar_publish(actor=world["ingham_admin"], report=report, tlp="purple")
    assert not Resource.objects.exists()


def test_the_after_action_pages(world: Any, as_persona: Any) -> None:
    d = _deployed(world, D.DEBRIEFED)
    client = as_persona("ingham_admin")
    url = reverse("mutualaid:aar-new", args=[d.request_id])
    page = client.get(url)
    assert page.status_code == 200 and b"Responder" in page.content
    response = client.post(url, {"title": "AAR", "timeline": "t", "what_worked": "", "what_to_change": "c"})
    assert response.status_code == 400 and not AfterActionReport.objects.exists()
    response = client.post(url, {"title": "AAR", "timeline": "t", "what_worked": "w", "what_to_change": "c"})
    report = AfterActionReport.objects.get()
    assert response.status_code == 302
    response = client.post(reverse("mutualaid:aar", args=[report.pk]), {"tlp": "amber"})
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.library_resource is not None and report.library_resource.tlp == TLP.AMBER


# --- The dashboard -----------------------------------------------------------------------------------


def test_the_dashboard_shows_what_the_reader_may_see(world: Any, as_persona: Any) -> None:
    d = _deployed(world)
    AssistanceRequest.objects.filter(pk=d.request_id).update(location_county_fips="26065")
    other = make_responder(world, name="Idle Ida", skills=("forensics", "network"))
    services.credential_add(
        actor=world["coordinator"], responder=other, name="GIAC GCFA", expires_on=today() + timedelta(days=12)
    )
    board = coordinator_dashboard(world["coordinator"], today())
    assert [(c.fips, c.deployed, c.responders) for c in board.counties] == [("26065", 1, ["Responder"])]
    assert d.request in board.open_requests
    forensics = next(s for s in board.skills if s.skill.slug == "forensics")
    assert (forensics.active, forensics.available, forensics.deployed) == (2, 1, 1)
    assert [c.name for c in board.expiring] == ["GIAC GCFA"]
    page = as_persona("coordinator").get(reverse("mutualaid:dashboard")).content.decode()
    assert "GIAC GCFA" in page and 'data-fips="26065"' in page and "aid-map-data" in page
    assert "+1 517 555" not in page  # no personal details on the dashboard

    # Washtenaw's member: the request and the deployment are not theirs; no credentials.
    board = coordinator_dashboard(world["washtenaw_member"], today())
    assert board.counties == [] and board.open_requests == [] and board.expiring == []
    page = as_persona("washtenaw_member").get(reverse("mutualaid:dashboard")).content.decode()
    assert "Responder" not in page.split("Open requests")[0].split("Deployed responders by county")[1]
    # Ingham's admin sees its own deployment on the map, but no roster's credentials.
    board = coordinator_dashboard(world["ingham_admin"], today())
    assert [c.fips for c in board.counties] == ["26065"] and board.expiring == []


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_dashboard_page(world: Any, as_persona: Any, persona: str) -> None:
    response = as_persona(persona).get(reverse("mutualaid:dashboard"))
    assert response.status_code == (200 if persona in VETTED_PERSONAS else 302)


def test_availability_counts_only_visible_active_responders(world: Any) -> None:
    make_responder(world, name="Still Training", status="training", skills=("legal",))
    make_responder(
        world, name="Away Al", skills=("legal",), available=(today() + timedelta(days=30), today() + timedelta(days=40))
    )
    board = coordinator_dashboard(world["washtenaw_member"], today())
    legal = next(s for s in board.skills if s.skill.slug == "legal")
    assert (legal.active, legal.available, legal.deployed) == (1, 0, 0)
