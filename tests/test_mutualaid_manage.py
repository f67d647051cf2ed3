"""Create/edit pages (ADR 33): agreements (terms, parties, documents, roles, rates), responders (the
programme's coordinators only) and team packages from the FEMA CIRT template; the team status from
its members' deployments; credential reminders in a fixed number of queries."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from commonguard.mutualaid import manage, services
from commonguard.mutualaid.models import (
    Agreement,
    AgreementDocument,
    AgreementRates,
    Deployment,
    Responder,
    ResponderPrivate,
    TeamPackage,
)
from commonguard.mutualaid.reminders import credentials_remind
from tests.conftest import PERSONAS, VETTED_PERSONAS
from tests.mutualaid_helpers import aid_request, make_responder, today

AGREEMENT = {
    "name": "Mid-Michigan IT mutual aid",
    "kind": "bilateral",
    "effective_from": "2026-01-01",
    "effective_to": "",
    "legal_basis": "Urban Cooperation Act",
    "liability_terms": "Each party keeps its own.",
    "workers_comp_terms": "Provider's cover.",
    "reimbursement_terms": "Documented costs, five categories.",
    "per_diem_basis": "gsa",
    "data_handling_terms": "No copies leave the requester.",
    "request_roles": ["org_admin"],
    "offer_roles": ["org_admin", "coordinator"],
}


def test_an_agreement_is_drawn_up_on_its_page(world: Any, as_persona: Any) -> None:
    client = as_persona("ingham_admin")
    url = reverse("mutualaid:agreement-new")
    bad = {**AGREEMENT, "administrator": world.ingham.pk, "effective_to": "2025-01-01"}
    response = client.post(url, bad)
    assert response.status_code == 400 and "cannot end before" in response.content.decode()
    assert not Agreement.objects.exists()
    response = client.post(url, {**AGREEMENT, "administrator": world.ingham.pk})
    agreement = Agreement.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "mutualaid:agreement-edit", args=[agreement.pk]
    )
    assert agreement.status == "draft" and agreement.per_diem_basis == "gsa"
    assert agreement.offer_roles == ["coordinator", "org_admin"]


@pytest.mark.parametrize("persona", ["ingham_member", "washtenaw_member", "coordinator", "responder"])
def test_people_who_keep_no_agreement_get_no_form(world: Any, as_persona: Any, persona: str) -> None:
    assert as_persona(persona).get(reverse("mutualaid:agreement-new")).status_code == 404


def test_an_agreement_is_kept_on_its_edit_page(world: Any, as_persona: Any) -> None:
    agreement = services.agreement_create(
        actor=world["ingham_admin"],
        data=services.AgreementInput(
            name="Ingham–Washtenaw", kind="bilateral", administrator=world.ingham, effective_from=today()
        ),
    )
    client = as_persona("ingham_admin")
    url = reverse("mutualaid:agreement-edit", args=[agreement.pk])
    assert client.get(url).status_code == 200
    # Rates.
    response = client.post(url, {"action": "rates", "rates-personnel_hourly": "-1", "rates-per_diem_daily": "50"})
    assert response.status_code == 400 and not AgreementRates.objects.exists()
    client.post(url, {"action": "rates", "rates-personnel_hourly": "92.50", "rates-per_diem_daily": "59"})
    assert AgreementRates.objects.get(agreement=agreement).personnel_hourly == Decimal("92.50")
    # Parties.
    for org in (world.ingham, world.washtenaw):
        response = client.post(
            url,
            {
                "action": "party",
                "party-organization": org.pk,
                "party-signed_on": today().isoformat(),
                "party-signed_by_name": "Director",
            },
        )
        assert response.status_code == 302
    client.post(url, {"action": "status", "to": "in_force"})
    agreement.refresh_from_db()
    assert agreement.status == "in_force" and agreement.party_rows.count() == 2
    # Documents: a PDF only.
    response = client.post(
        url,
        {"action": "document", "doc-title": "Signed copy", "doc-file": SimpleUploadedFile("a.pdf", b"MZ not a pdf")},
    )
    assert response.status_code == 400 and "as a PDF" in response.content.decode()
    client.post(
        url,
        {"action": "document", "doc-title": "Signed copy", "doc-file": SimpleUploadedFile("a.pdf", b"%PDF-1.7\n%%")},
    )
    assert AgreementDocument.objects.get(agreement=agreement).title == "Signed copy"
    # Terms.
    terms = {**AGREEMENT, "action": "terms", "administrator": world.ingham.pk, "name": "Renamed"}
    assert client.post(url, terms).status_code == 302
    agreement.refresh_from_db()
    assert agreement.name == "Renamed" and agreement.legal_basis == "Urban Cooperation Act"
    # Someone else may read it (a party) but not keep it: the edit page is absent for them.
    assert as_persona("washtenaw_member").get(url).status_code == 404
    assert as_persona("washtenaw_member").get(reverse("mutualaid:agreement", args=[agreement.pk])).status_code == 200


def test_responders_are_added_by_their_programmes_coordinators_only(world: Any, as_persona: Any) -> None:
    url = reverse("mutualaid:responder-new")
    for persona in ("ingham_admin", "responder", "liaison1", "operator"):
        assert as_persona(persona).get(url).status_code == 404
    client = as_persona("coordinator")
    form = {
        "programme": world.guard.pk,
        "full_name": "Noor Haddad",
        "email": "noor@example.test",
        "source": "guard",
        "home_county_fips": "2606",
        "work_mode": "either",
        "skills": ["forensics"],
        "phone": "+1 517 555 0199",
        "home_address": "2 Oak St",
    }
    response = client.post(url, form)
    assert response.status_code == 400 and "five-digit FIPS" in response.content.decode()
    assert not Responder.objects.exists()
    response = client.post(url, {**form, "home_county_fips": "26065"})
    r = Responder.objects.get()
    assert response.status_code == 302 and r.status == "applied" and r.programme == world.guard
    assert ResponderPrivate.objects.get(responder=r).phone == "+1 517 555 0199"
    # Another programme's id in the form is refused (not one of the coordinator's choices).
    response = client.post(url, {**form, "programme": world.ingham.pk, "email": "x@example.test"})
    assert response.status_code == 400 and Responder.objects.count() == 1


def test_a_team_package_from_the_fema_template(world: Any, as_persona: Any) -> None:
    template = TeamPackage.objects.filter(is_template=True).first()
    assert template is not None
    client = as_persona("coordinator")
    page = client.get(reverse("mutualaid:team-new")).content.decode()
    assert "Cyber Incident Response Team" in page
    response = client.post(
        reverse("mutualaid:team-new"), {"template": template.pk, "provider": world.guard.pk, "name": "Guard CIRT"}
    )
    team = TeamPackage.objects.get(name="Guard CIRT")
    assert response.status_code == 302 and team.roles == template.roles and team.provider == world.guard
    assert set(team.capabilities.all()) == set(template.capabilities.all())
    assert as_persona("washtenaw_member").get(reverse("mutualaid:team-new")).status_code == 404


def _team(world: Any) -> tuple[TeamPackage, list[Responder]]:
    template = TeamPackage.objects.filter(is_template=True).first()
    assert template is not None
    team = services.team_from_template(actor=world["coordinator"], template=template, provider=world.guard, name="T")
    members = [make_responder(world, name=n) for n in ("Ana One", "Ben Two")]
    for m in members:
        services.team_add_member(actor=world["coordinator"], team=team, responder=m, role="Analyst")
    return team, members


def test_team_status_from_its_members_deployments(world: Any, as_persona: Any) -> None:
    template = TeamPackage.objects.filter(is_template=True).first()
    assert template is not None
    empty = services.team_from_template(actor=world["coordinator"], template=template, provider=world.guard, name="E")
    assert manage.team_status(empty).status == "unavailable"
    team, (ana, ben) = _team(world)
    assert manage.team_status(team).status == "available"
    aid = aid_request(world)
    d = Deployment.objects.create(
        request=aid, responder=ben, status="authorised", starts_on=today(), ends_on=today() + timedelta(days=3)
    )
    status = manage.team_status(team)
    assert status.status == "unavailable" and "Ben Two" in status.reasons[0]
    Deployment.objects.filter(pk=d.pk).update(status="active")
    assert manage.team_status(team).status == "deployed"
    Deployment.objects.filter(pk=d.pk).update(status="released")
    assert manage.team_status(team).status == "available"
    services.responder_transition(actor=world["coordinator"], responder=ana, to="inactive")
    assert manage.team_status(team).status == "unavailable"
    page = as_persona("ingham_member").get(reverse("mutualaid:team", args=[team.pk]))
    assert page.status_code == 404  # a draft package: its provider's members only
    TeamPackage.objects.filter(pk=team.pk).update(status="active")
    page = as_persona("ingham_member").get(reverse("mutualaid:team", args=[team.pk])).content.decode()
    assert 'id="team-status">Unavailable<' in page and "Not active on the roster: Ana One" in page


def test_the_team_status_takes_two_queries_whatever_the_size(world: Any) -> None:
    team, _ = _team(world)
    with CaptureQueriesContext(connection) as small:
        manage.team_status(team)
    for n in ("Cy Three", "Di Four", "Ed Five"):
        services.team_add_member(
            actor=world["coordinator"], team=team, responder=make_responder(world, name=n), role="Analyst"
        )
    with CaptureQueriesContext(connection) as large:
        manage.team_status(team)
    assert len(small) == len(large) == 2


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_create_pages_refuse_anonymous_and_unvetted(world: Any, as_persona: Any, persona: str) -> None:
    client = as_persona(persona)
    for name in ("mutualaid:agreement-new", "mutualaid:responder-new", "mutualaid:team-new"):
        response = client.get(reverse(name))
        if persona not in VETTED_PERSONAS:
            assert response.status_code == 302
        else:
            assert response.status_code in (200, 404)


# --- Credential reminders: no query per responder -----------------------------------------------------


def test_credential_reminders_take_a_fixed_number_of_queries(world: Any, smtp: Any) -> None:
    soon = today() + timedelta(days=10)
    for n in ("Ann A", "Bob B"):
        make_responder(world, name=n, credential_expires=soon)
    with CaptureQueriesContext(connection) as two:
        result = credentials_remind(today())
    assert result.warned == 2 and result.messages == 4
    for n in ("Cat C", "Dan D", "Eve E", "Fay F", "Gus G"):
        make_responder(world, name=n, credential_expires=soon + timedelta(days=1))
    with CaptureQueriesContext(connection) as five:
        result = credentials_remind(today())
    assert result.warned == 5 and result.messages == 10
    assert len(five) == len(two), [q["sql"] for q in five.captured_queries]
    # Each warned once only.
    assert credentials_remind(today()).warned == 0


def test_create_links_are_offered_only_to_who_may_use_them(world: Any, as_persona: Any) -> None:
    coordinator = as_persona("coordinator")
    assert b"Add a responder" in coordinator.get("/mutualaid/responders/").content
    assert b"New team package" in coordinator.get("/mutualaid/teams/").content
    member = as_persona("ingham_member")
    assert b"Add a responder" not in member.get("/mutualaid/responders/").content
    assert b"New team package" not in member.get("/mutualaid/teams/").content
    assert b"Draw up an agreement" not in member.get("/mutualaid/agreements/").content
    assert b"Draw up an agreement" in as_persona("ingham_admin").get("/mutualaid/agreements/").content
