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
