"""Agreements: drawn up, signed by parties, brought into force; who sees them; and "which
neighbours can I call on today"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from commonguard.accounts.models import Role
from commonguard.mutualaid import services
from commonguard.mutualaid.models import Agreement, AgreementParty
from commonguard.mutualaid.selectors import neighbours_on_call
from tests.conftest import PERSONAS
from tests.factories import OrganizationFactory
from tests.mutualaid_helpers import compact, place_world, today, without_csrf


def _bilateral(world: Any, **kw: Any) -> Agreement:
    data = services.AgreementInput(
        name="Ingham–Washtenaw IT mutual aid",
        kind=Agreement.Kind.BILATERAL,
        administrator=world.ingham,
        effective_from=today() - timedelta(days=10),
        request_roles=[Role.ORG_ADMIN],
        offer_roles=[Role.ORG_ADMIN],
    )
    for k, v in kw.items():
        setattr(data, k, v)
    return services.agreement_create(actor=world["ingham_admin"], data=data)


def test_a_bilateral_agreement_comes_into_force_once_both_sign(world: Any) -> None:
    agreement = _bilateral(world)
    admin = world["ingham_admin"]
    services.agreement_party_sign(
        actor=admin, agreement=agreement, organization=world.ingham, signed_on=today(), signed_by_name="A. Admin"
    )
    with pytest.raises(ValidationError, match="at least two parties"):
        services.agreement_set_status(actor=admin, agreement=agreement, status=Agreement.Status.IN_FORCE)
    services.agreement_party_sign(
        actor=admin, agreement=agreement, organization=world.washtenaw, signed_on=today(), signed_by_name="W. Admin"
    )
    with pytest.raises(ValidationError, match="exactly two parties"):
        services.agreement_party_sign(
            actor=admin, agreement=agreement, organization=world.lansing, signed_on=today(), signed_by_name="L"
        )
    services.agreement_set_status(actor=admin, agreement=agreement, status=Agreement.Status.IN_FORCE)
    assert Agreement.objects.in_force_on(today()).filter(pk=agreement.pk).exists()
    with pytest.raises(ValidationError, match="cannot become draft"):
        services.agreement_set_status(actor=admin, agreement=agreement, status=Agreement.Status.DRAFT)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"effective_to": today() - timedelta(days=30)}, "effective_to"),
        ({"kind": "handshake"}, "kind"),
        ({"kind": Agreement.Kind.REGIONAL}, "region_id"),
        ({"request_roles": ["mayor"]}, "request_roles"),
        ({"offer_roles": []}, "offer_roles"),
    ],
)
def test_bad_agreements_are_refused_and_nothing_stored(world: Any, change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        _bilateral(world, **change)
    assert field in exc.value.message_dict
    assert not Agreement.objects.exists()


@pytest.mark.parametrize("persona", ["ingham_member", "washtenaw_admin", "coordinator", "responder"])
def test_only_admins_of_the_administrator_or_state_staff_draw_up(world: Any, persona: str) -> None:
    with pytest.raises(PermissionDenied):
        services.agreement_create(
            actor=world[persona],
            data=services.AgreementInput(
                name="X", kind="bilateral", administrator=world.ingham, effective_from=today()
            ),
        )
    assert not Agreement.objects.exists()


def test_regional_agreement_binds_its_region_only(world: Any) -> None:
    agreement = services.agreement_create(
        actor=world["liaison1"],
        data=services.AgreementInput(
            name="Region 1 compact",
            kind=Agreement.Kind.REGIONAL,
            administrator=world.state_it,
            region_id=world.region1.pk,
            effective_from=today(),
        ),
    )
    with pytest.raises(ValidationError, match="its region only"):
        services.agreement_party_sign(
            actor=world["liaison1"],
            agreement=agreement,
            organization=world.washtenaw,
            signed_on=today(),
            signed_by_name="W",
        )
    assert not AgreementParty.objects.exists()


# Who reads a statewide compact among Ingham, Washtenaw and the Guard (kept by the state IT agency).
READERS = {
    "ingham_member",
    "ingham_admin",
    "ingham_official",
    "washtenaw_member",
    "washtenaw_admin",
    "coordinator",
    "responder",
    "liaison1",
    "liaison2",
    "analyst",
    "operator",
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_agreement_read_rule(world: Any, as_persona: Any, persona: str) -> None:
    agreement = compact(world, [world.ingham, world.washtenaw, world.guard])
    user = None if persona == "anonymous" else world[persona]
    visible = Agreement.objects.visible_to(user).filter(pk=agreement.pk).exists()
    assert visible == (persona in READERS)
    response = as_persona(persona).get(f"/mutualaid/agreements/{agreement.pk}/")
    if persona == "anonymous":
        assert response.status_code == 302
    elif persona in READERS:
        assert response.status_code == 200
        assert "Michigan Cyber Mutual Aid Compact" in response.content.decode()
    elif persona in {"unvetted", "removed_member"}:
        assert response.status_code == 302  # sent home: not vetted
    else:
        assert response.status_code == 404
        absent = as_persona(persona).get("/mutualaid/agreements/999999/")
        assert absent.status_code == 404 and without_csrf(absent.content) == without_csrf(response.content)


def test_a_draft_is_seen_only_by_its_administrator(world: Any) -> None:
    agreement = _bilateral(world)
    services.agreement_party_sign(
        actor=world["ingham_admin"],
        agreement=agreement,
        organization=world.washtenaw,
        signed_on=today(),
        signed_by_name="W",
    )
    assert Agreement.objects.visible_to(world["ingham_member"]).filter(pk=agreement.pk).exists()
    assert not Agreement.objects.visible_to(world["washtenaw_admin"]).filter(pk=agreement.pk).exists()


def test_neighbours_on_call_today(world: Any, as_persona: Any) -> None:
    place_world(world)
    far = OrganizationFactory(name="Far County", county_fips="26001", latitude=46.5, longitude=-87.4)
    compact(world, [world.ingham, world.washtenaw, world.guard, far])
    # An agreement that has ended and one not yet signed by Lansing do not count.
    old = compact(world, [world.ingham, world.lansing], name="Old pact")
    Agreement.objects.filter(pk=old.pk).update(effective_to=today() - timedelta(days=1))
    rows = neighbours_on_call(world["ingham_member"], world.ingham, today())
    assert [n.organization.name for n in rows] == ["Guard Cyber Unit", "Washtenaw County", "Far County"]
    assert all(n.can_request for n in rows)  # members may request under the compact
    assert rows[1].distance_km is not None and 50 < rows[1].distance_km < 70
    assert neighbours_on_call(world["ingham_official"], world.ingham, today())[0].can_request is False
    # Not your organisation: nothing.
    assert neighbours_on_call(world["washtenaw_member"], world.ingham, today()) == []
    # A withdrawn party drops out.
    AgreementParty.objects.filter(organization=world.washtenaw).update(withdrawn_on=today())
    names = [n.organization.name for n in neighbours_on_call(world["ingham_member"], world.ingham, today())]
    assert "Washtenaw County" not in names
    page = as_persona("ingham_member").get("/mutualaid/").content.decode()
    assert "Guard Cyber Unit" in page and "Far County" in page and "Old pact" not in page
