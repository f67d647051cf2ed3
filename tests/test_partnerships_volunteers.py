"""Volunteers and interns: who offers, who asks, who reads what, and the liaison's match."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from commonguard.accounts.models import Role
from commonguard.partnerships import selectors, services
from commonguard.partnerships.models import LocalNeed, VolunteerMatch, VolunteerOffer
from tests.conftest import PERSONAS
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory


@pytest.fixture
def campus(world: Any) -> Any:
    university = OrganizationFactory(name="State University", kind="university", county_fips="")
    professor = UserFactory(email="prof@example.test", full_name="Pat Professor")
    MembershipFactory(user=professor, organization=university, role=Role.MEMBER)
    offer = services.volunteer_offer_create(
        actor=professor,
        organization=university,
        kind=VolunteerOffer.Kind.STUDENTS,
        title="Four security students for vulnerability scans",
        skills="vulnerability scanning, network inventory",
        hours_per_month=40,
    )
    need = services.local_need_create(
        actor=world["ingham_member"],
        organization=world.ingham,
        title="Scan our external network",
        description="We have never scanned it.",
        skills="Vulnerability scanning",
    )
    return professor, offer, need


OFFER_READERS = {"liaison1", "liaison2", "analyst", "operator"}
NEED_READERS = {"ingham_member", "ingham_admin", "ingham_official", "liaison1", "liaison2", "analyst", "operator"}


@pytest.mark.parametrize("persona", PERSONAS)
def test_offers_and_needs_read_rule_before_and_after_a_match(
    world, campus, persona, mailoutbox, django_capture_on_commit_callbacks
):
    professor, offer, need = campus
    user = None if persona == "anonymous" else world[persona]
    assert VolunteerOffer.objects.visible_to(user).filter(pk=offer.pk).exists() == (persona in OFFER_READERS)
    assert LocalNeed.objects.visible_to(user).filter(pk=need.pk).exists() == (persona in NEED_READERS)
    with django_capture_on_commit_callbacks(execute=True):
        services.volunteer_match(actor=world["liaison1"], offer=offer, need=need, note="Start in March.")
    # After the match, the county reads the offer it got, and the professor the need.
    after_offer = OFFER_READERS | {"ingham_member", "ingham_admin", "ingham_official"}
    assert VolunteerOffer.objects.visible_to(user).filter(pk=offer.pk).exists() == (persona in after_offer)
    assert VolunteerMatch.objects.visible_to(user).exists() == (persona in after_offer)
    assert LocalNeed.objects.visible_to(professor).filter(pk=need.pk).exists()
    assert sorted(address for m in mailoutbox for address in m.to) == [
        "ingham_member@example.test",
        "prof@example.test",
    ]


def test_matching_rules_and_suggestions(world, campus, as_persona):
    _professor, offer, need = campus
    suggestions = selectors.match_suggestions(user=world["liaison1"])
    assert [(n.pk, [o.pk for o in offers]) for n, offers in suggestions] == [(need.pk, [offer.pk])]
    assert selectors.match_suggestions(user=world["analyst"]) == []
    # An analyst reads both but only a liaison matches; a county admin does not even see the offer.
    response = as_persona("analyst").post(
        "/partnerships/volunteers/", {"action": "match", "offer": offer.pk, "need": need.pk}
    )
    assert response.status_code == 302 and not VolunteerMatch.objects.exists()
    response = as_persona("ingham_admin").post(
        "/partnerships/volunteers/", {"action": "match", "offer": offer.pk, "need": need.pk}
    )
    assert response.status_code == 404 and not VolunteerMatch.objects.exists()
    response = as_persona("liaison2").post(
        "/partnerships/volunteers/", {"action": "match", "offer": offer.pk, "need": need.pk}
    )
    assert response.status_code == 302
    assert VolunteerMatch.objects.get().matched_by == world["liaison2"]
    offer.refresh_from_db()
    need.refresh_from_db()
    assert offer.status == need.status == "matched"
    with pytest.raises(ValidationError, match="still be open"):
        services.volunteer_match(actor=world["liaison1"], offer=offer, need=need)


def test_bad_volunteer_input(world, as_persona):
    with pytest.raises(ValidationError, match="Students are offered by a university"):
        services.volunteer_offer_create(
            actor=world["ingham_member"],
            organization=world.ingham,
            kind="students",
            title="x",
            skills="x",
            hours_per_month=1,
        )
    with pytest.raises(ValidationError, match="local government"):
        services.local_need_create(
            actor=world["coordinator"], organization=world.guard, title="x", description="", skills="x"
        )
    response = as_persona("responder").post(
        "/partnerships/volunteers/",
        {
            "action": "offer",
            "organization": world.guard.pk,
            "kind": "expertise",
            "title": "Forensics",
            "skills": "",
            "hours_per_month": 4,
        },
    )
    assert response.status_code == 400
    assert not VolunteerOffer.objects.exists()
    response = as_persona("responder").post(
        "/partnerships/volunteers/",
        {
            "action": "offer",
            "organization": world.guard.pk,
            "kind": "expertise",
            "title": "Forensics",
            "skills": "disk forensics",
            "hours_per_month": 4,
        },
    )
    assert response.status_code == 302
    assert VolunteerOffer.objects.get().state == "MI"


def test_a_second_match_from_a_stale_copy_is_refused(world, campus):
    """Two liaisons with the same open offer on screen: the first match wins; the second, holding
    a copy that still says "open", is refused under the row lock and writes nothing."""
    _professor, offer, need = campus
    other_need = services.local_need_create(
        actor=world["washtenaw_member"],
        organization=world.washtenaw,
        title="Scan the township network",
        description="",
        skills="vulnerability scanning",
    )
    stale_offer = VolunteerOffer.objects.get(pk=offer.pk)
    services.volunteer_match(actor=world["liaison1"], offer=offer, need=need)
    assert stale_offer.status == "open"
    with pytest.raises(ValidationError, match="still be open"):
        services.volunteer_match(actor=world["liaison2"], offer=stale_offer, need=other_need)
    assert VolunteerMatch.objects.count() == 1
    other_need.refresh_from_db()
    assert other_need.status == "open"


@pytest.fixture
def resident(world: Any) -> Any:
    offer = services.volunteer_offer_create(
        actor=world["ingham_member"],
        organization=world.ingham,
        kind=VolunteerOffer.Kind.EXPERTISE,
        title="Incident response weekends",
        skills="incident response, forensics",
        hours_per_month=8,
    )
    need = services.local_need_create(
        actor=world["washtenaw_member"],
        organization=world.washtenaw,
        title="Help with an incident response plan",
        description="",
        skills="incident response",
    )
    return offer, need


def _roster(client: Any, offer: Any, programme: Any, fips: str = "26065") -> Any:
    return client.post(
        "/partnerships/volunteers/",
        {"action": "roster", "offer": offer.pk, "programme": programme.pk, "home_county_fips": fips},
        follow=True,
    )


def test_a_vetted_matched_volunteer_goes_to_the_responder_roster_through_mutual_aid(world, resident, as_persona):
    from commonguard.mutualaid.models import Responder

    offer, need = resident
    coordinator = as_persona("coordinator")
    # Not vetted, not matched: the coordinator cannot even see the offer.
    assert not VolunteerOffer.objects.visible_to(world["coordinator"]).filter(pk=offer.pk).exists()
    assert _roster(coordinator, offer, world.guard).status_code == 404
    liaison = as_persona("liaison1")
    assert liaison.post("/partnerships/volunteers/", {"action": "vet", "offer": offer.pk}).status_code == 302
    services.volunteer_match(actor=world["liaison1"], offer=offer, need=need)
    page = as_persona("liaison1").get("/partnerships/volunteers/").content.decode()
    assert "a mutual-aid programme coordinator can add them" in page
    # The liaison coordinates no programme: mutual aid's own rule refuses, nothing written.
    refused = _roster(as_persona("liaison1"), offer, world.guard)
    assert "Only the programme&#x27;s coordinators can add responders" in refused.content.decode()
    assert not Responder.objects.exists()
    coordinator = as_persona("coordinator")
    assert "Add to the responder roster" in coordinator.get("/partnerships/volunteers/").content.decode()
    bad = _roster(coordinator, offer, world.guard, fips="26")
    assert "five-digit FIPS" in bad.content.decode() and not Responder.objects.exists()
    done = _roster(coordinator, offer, world.guard)
    assert "is on the roster of Guard Cyber Unit (screening)" in done.content.decode()
    responder = Responder.objects.get()
    assert (responder.user, responder.status, responder.programme) == (world["ingham_member"], "screening", world.guard)
    offer.refresh_from_db()
    assert offer.roster_responder == responder
    again = _roster(coordinator, offer, world.guard)
    assert "not on a roster yet" in again.content.decode() and Responder.objects.count() == 1


def test_only_liaisons_vet_and_students_are_not_handed_over_as_one(world, campus, as_persona):
    _professor, offer, need = campus
    assert as_persona("analyst").post("/partnerships/volunteers/", {"action": "vet", "offer": offer.pk}).status_code
    offer.refresh_from_db()
    assert offer.vetted_at is None
    services.volunteer_vet(actor=world["liaison1"], offer=offer)
    services.volunteer_match(actor=world["liaison1"], offer=offer, need=need)
    offer.refresh_from_db()
    assert not services.roster_ready(offer)  # a university's students are added one by one
    with pytest.raises(ValidationError, match="already vetted"):
        services.volunteer_vet(actor=world["liaison1"], offer=offer)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_liaisons_racing_to_match_one_offer_make_one_match(world, campus):
    import threading

    from django.db import connection

    _professor, offer, need = campus
    other_need = services.local_need_create(
        actor=world["washtenaw_member"],
        organization=world.washtenaw,
        title="Scan the township network",
        description="",
        skills="vulnerability scanning",
    )
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def match(liaison: str, target: Any) -> None:
        try:
            barrier.wait()
            services.volunteer_match(actor=world[liaison], offer=offer, need=target)
            outcomes.append("matched")
        except ValidationError:
            outcomes.append("refused")
        except BaseException as exc:  # reported below, in the test's thread
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [
        threading.Thread(target=match, args=("liaison1", need)),
        threading.Thread(target=match, args=("liaison2", other_need)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["matched", "refused"]
    assert VolunteerMatch.objects.count() == 1
    assert LocalNeed.objects.filter(status="matched").count() == 1
