"""Offers, counter-offers, signatures by the agreement's roles, the binding record, mission orders
and the deployments they authorise (ADR 32): every offer transition, bad input, and the read rule
of the new pages across personas."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from commonguard.core.models import AuditEvent
from commonguard.mutualaid import offers, services
from commonguard.mutualaid.matching import match_request
from commonguard.mutualaid.models import (
    AidNotice,
    AssistanceRequest,
    BindingAgreement,
    Deployment,
    MissionOrder,
    Offer,
    OfferRevision,
    OfferSignature,
)
from tests.conftest import PERSONAS, sign_in
from tests.mutualaid_helpers import aid_request, compact, make_responder, place_world, today, without_csrf

OS = Offer.Status
COSTS = {"personnel": Decimal("4800.00"), "travel": Decimal("650"), "equipment": Decimal(0), "other": Decimal("50")}


def terms(aid: AssistanceRequest, **kw: Any) -> offers.Terms:
    values: dict[str, Any] = {
        "starts_on": aid.starts_on,
        "ends_on": aid.ends_on,
        "mode": "either",
        "costs": dict(COSTS),
        "notes": "",
    }
    values.update(kw)
    return offers.Terms(**values)


@pytest.fixture
def setup(world: Any) -> dict[str, Any]:
    place_world(world)
    compact(world, [world.ingham, world.guard, world.washtenaw])
    rae = make_responder(world, name="Responder", user=world["responder"])
    aid = aid_request(world)
    return {"rae": rae, "aid": aid}


def make_offer(world: Any, setup: dict[str, Any], **kw: Any) -> Offer:
    aid = setup["aid"]
    return offers.offer_create(
        actor=world["coordinator"],
        data=offers.OfferInput(
            request=aid, offering_org=world.guard, terms=terms(aid, **kw), responders=[(setup["rae"], "Lead")]
        ),
    )


def test_the_offer_table() -> None:
    legal = {(a, b) for a, targets in offers.OFFER_TRANSITIONS.items() for b in targets}
    assert legal == {
        (OS.SUBMITTED, OS.COUNTERED),
        (OS.SUBMITTED, OS.AGREED),
        (OS.SUBMITTED, OS.DECLINED),
        (OS.SUBMITTED, OS.WITHDRAWN),
        (OS.COUNTERED, OS.SUBMITTED),
        (OS.COUNTERED, OS.AGREED),
        (OS.COUNTERED, OS.WITHDRAWN),
        (OS.AGREED, OS.BINDING),
        (OS.AGREED, OS.DECLINED),
        (OS.AGREED, OS.WITHDRAWN),
    }


def _actor_for(world: Any, offer: Offer, to: str) -> Any:
    if to == OS.DECLINED:
        return world["ingham_admin"]
    if to == OS.WITHDRAWN:
        return world["coordinator"]
    return world["ingham_admin"] if offer.status in (OS.SUBMITTED, OS.AGREED) else world["coordinator"]


def _attempt(world: Any, offer: Offer, to: str) -> None:
    actor = _actor_for(world, offer, to)
    if to == OS.BINDING:  # both sides sign
        offers.offer_sign(actor=world["coordinator"], offer=offer, typed_name="Coordinator")
        offers.offer_sign(actor=world["ingham_admin"], offer=offer, typed_name="Ingham Admin")
    else:
        offers.offer_move(actor=actor, offer=offer, to=to, terms=terms(offer.request, notes=f"to {to}"), note="x")


@pytest.mark.parametrize(("source", "target"), list(itertools.product(OS.values, OS.values)))
def test_every_offer_transition(world: Any, setup: dict[str, Any], source: str, target: str) -> None:
    offer = make_offer(world, setup)
    Offer.objects.filter(pk=offer.pk).update(status=source)
    offer.refresh_from_db()
    legal = target in offers.OFFER_TRANSITIONS[source]
    before = AuditEvent.objects.filter(action__startswith="mutualaid.offer.").count()
    if legal:
        _attempt(world, offer, target)
        assert Offer.objects.get(pk=offer.pk).status == target
    else:
        with pytest.raises(ValidationError) as exc:
            _attempt(world, offer, target)
        text = " ".join(exc.value.messages)
        assert "cannot become" in text or "Only agreed terms are signed" in text, text
        assert Offer.objects.get(pk=offer.pk).status == source
        assert AuditEvent.objects.filter(action__startswith="mutualaid.offer.").count() == before


def test_request_offer_counter_agree_sign_bind_mission_order_deploy(world: Any, setup: dict[str, Any]) -> None:
    aid, rae = setup["aid"], setup["rae"]
    offer = make_offer(world, setup)
    assert offer.status == OS.SUBMITTED and offer.cost_total == Decimal("5500.00")
    deployment = Deployment.objects.get(offer_line__offer=offer)
    assert deployment.status == Deployment.Status.PROPOSED and deployment.responder == rae
    # The requester counters (fewer days, less travel); the offerer counters again; the requester accepts.
    shorter = terms(aid, ends_on=aid.starts_on + timedelta(days=4), costs={**COSTS, "travel": Decimal(300)})
    offer = offers.offer_counter(actor=world["ingham_admin"], offer=offer, terms=shorter, note="Five days will do")
    assert offer.status == OS.COUNTERED and offer.revision == 2
    with pytest.raises(PermissionDenied, match="offering organisation's turn"):
        offers.offer_accept_terms(actor=world["ingham_admin"], offer=offer)
    again = terms(aid, ends_on=aid.starts_on + timedelta(days=4), costs={**COSTS, "travel": Decimal(400)})
    offer = offers.offer_counter(actor=world["coordinator"], offer=offer, terms=again, note="Mileage")
    assert offer.status == OS.SUBMITTED and offer.revision == 3
    offer = offers.offer_accept_terms(actor=world["ingham_admin"], offer=offer)
    assert offer.status == OS.AGREED
    history = [(r.number, r.side, r.terms["costs"]["travel"]) for r in OfferRevision.objects.filter(offer=offer)]
    assert history == [(1, "offerer", "650.00"), (2, "requester", "300.00"), (3, "offerer", "400.00")]
    # Rae accepts in writing before the signatures.
    services.deployment_transition(
        actor=world["responder"], deployment=deployment, to=Deployment.Status.ACCEPTED, signature="Responder"
    )
    # Authorising before the agreement is binding is refused: the mission order authorises.
    with pytest.raises(ValidationError, match="mission order"):
        services.deployment_transition(actor=world["coordinator"], deployment=deployment, to="authorised")
    offers.offer_sign(actor=world["coordinator"], offer=offer, typed_name=" coordinator ", title="Guard CO")
    assert not BindingAgreement.objects.exists()
    offers.offer_sign(actor=world["ingham_admin"], offer=offer, typed_name="Ingham Admin", title="CIO")
    binding = BindingAgreement.objects.get(offer=offer)
    assert Offer.objects.get(pk=offer.pk).status == OS.BINDING
    snap = binding.snapshot
    assert snap["terms"]["costs"]["travel"] == "400.00" and snap["cost_total"] == "5250.00"
    assert snap["parties"]["requesting"]["name"] == "Ingham County"
    assert [s["typed_name"] for s in snap["signatures"]] == ["coordinator", "Ingham Admin"]
    assert offers.verify(binding)
    order = MissionOrder.objects.get(deployment=deployment)
    assert order.reporting_to == "Ingham Admin, CIO, Ingham County"
    assert order.ends_on == aid.starts_on + timedelta(days=4)
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.AUTHORISED and deployment.ends_on == order.ends_on
    deployment = services.deployment_transition(actor=world["coordinator"], deployment=deployment, to="active")
    assert deployment.status == Deployment.Status.ACTIVE
    assert AuditEvent.objects.filter(action="mutualaid.offer.binding").count() == 1


def test_the_binding_record_is_immutable(world: Any, setup: dict[str, Any]) -> None:
    offer = make_offer(world, setup)
    offers.offer_accept_terms(actor=world["ingham_admin"], offer=offer)
    offers.offer_sign(actor=world["coordinator"], offer=offer, typed_name="Coordinator")
    offers.offer_sign(actor=world["ingham_admin"], offer=offer, typed_name="Ingham Admin")
    binding = BindingAgreement.objects.get()
    binding.cost_total = Decimal(1)
    with pytest.raises(ValueError, match="never changed"):
        binding.save()
    with pytest.raises(ValueError, match="never deleted"):
        binding.delete()
    # A change behind the model's back shows: the digest no longer matches.
    BindingAgreement.objects.filter(pk=binding.pk).update(snapshot={**binding.snapshot, "cost_total": "1"})
    assert not offers.verify(BindingAgreement.objects.get())


@pytest.mark.parametrize(
    ("persona", "side", "reason"),
    [
        ("ingham_official", "requester", "Read-only official) is not authorised to request assistance"),
        ("responder", "offerer", "(Responder) is not authorised to offer assistance"),
        ("washtenaw_admin", "requester", "You are not a member of Ingham County"),
    ],
)
def test_a_signature_by_a_role_without_authority_is_refused(
    world: Any, setup: dict[str, Any], persona: str, side: str, reason: str
) -> None:
    offer = make_offer(world, setup)
    offers.offer_accept_terms(actor=world["ingham_admin"], offer=offer)
    user = world[persona]
    with pytest.raises(PermissionDenied) as exc:
        offers.offer_sign(actor=user, offer=offer, typed_name=user.full_name, side=side)
    assert reason in str(exc.value)
    assert "it authorises" in str(exc.value) or "not a member" in str(exc.value)
    assert not OfferSignature.objects.exists()


def test_signature_bad_input(world: Any, setup: dict[str, Any]) -> None:
    offer = make_offer(world, setup)
    with pytest.raises(ValidationError, match="Only agreed terms are signed"):
        offers.offer_sign(actor=world["ingham_admin"], offer=offer, typed_name="Ingham Admin")
    offers.offer_accept_terms(actor=world["ingham_admin"], offer=offer)
    with pytest.raises(ValidationError, match="Type your full name exactly"):
        offers.offer_sign(actor=world["ingham_admin"], offer=offer, typed_name="I. Admin")
    offers.offer_sign(actor=world["ingham_member"], offer=offer, typed_name="Ingham Member")  # members may request
    with pytest.raises(ValidationError, match="already signed"):
        offers.offer_sign(actor=world["ingham_admin"], offer=offer, typed_name="Ingham Admin")
    assert OfferSignature.objects.count() == 1


def test_a_team_package_offer_names_its_members(world: Any, setup: dict[str, Any]) -> None:
    from commonguard.mutualaid.models import TeamPackage

    aid, rae = setup["aid"], setup["rae"]
    template = TeamPackage.objects.filter(is_template=True).first()
    assert template is not None
    team = services.team_from_template(actor=world["coordinator"], template=template, provider=world.guard, name="CIRT")
    services.team_add_member(actor=world["coordinator"], team=team, responder=rae, role="Team lead")
    data = offers.OfferInput(request=aid, offering_org=world.guard, terms=terms(aid), team=team)
    with pytest.raises(ValidationError, match="active team package"):
        offers.offer_create(actor=world["coordinator"], data=data)  # still a draft
    TeamPackage.objects.filter(pk=team.pk).update(status=TeamPackage.Status.ACTIVE)
    team.refresh_from_db()
    offer = offers.offer_create(actor=world["coordinator"], data=data)
    assert offer.team == team
    assert [(r.responder, r.role) for r in offer.responder_rows.all()] == [(rae, "Team lead")]


def test_nothing_is_signed_under_an_agreement_that_no_longer_binds(world: Any, setup: dict[str, Any]) -> None:
    offer = make_offer(world, setup)
    offers.offer_accept_terms(actor=world["ingham_admin"], offer=offer)
    services.agreement_set_status(actor=world["liaison1"], agreement=offer.agreement, status="terminated")
    with pytest.raises(ValidationError, match="no longer binds both organisations"):
        offers.offer_sign(actor=world["coordinator"], offer=offer, typed_name="Coordinator")
    assert not OfferSignature.objects.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"costs": {**COSTS, "travel": Decimal(-1)}}, "cannot be negative"),
        ({"ends_on": "before"}, "cannot end before it starts"),
        ({"starts_on": "past"}, "cannot start in the past"),
    ],
)
def test_bad_offers_are_refused_and_nothing_is_stored(
    world: Any, setup: dict[str, Any], change: dict[str, Any], message: str
) -> None:
    aid = setup["aid"]
    if change.get("ends_on") == "before":
        change = {"ends_on": aid.starts_on - timedelta(days=1)}
    if change.get("starts_on") == "past":
        change = {"starts_on": today() - timedelta(days=3)}
    with pytest.raises(ValidationError, match=message):
        make_offer(world, setup, **change)
    assert not Offer.objects.exists() and not Deployment.objects.exists() and not AidNotice.objects.exists()


def test_offers_need_an_agreement_an_open_request_and_own_responders(world: Any, setup: dict[str, Any]) -> None:
    aid = setup["aid"]
    other = aid_request(world, org=world.lansing, actor=world["lansing_member"])  # Lansing signed no agreement
    with pytest.raises(ValidationError, match="No agreement in force"):
        offers.offer_create(
            actor=world["coordinator"],
            data=offers.OfferInput(
                request=other, offering_org=world.guard, terms=terms(other), responders=[(setup["rae"], "")]
            ),
        )
    with pytest.raises(PermissionDenied, match="coordinators or admins"):
        offers.offer_create(
            actor=world["responder"],
            data=offers.OfferInput(request=aid, offering_org=world.guard, terms=terms(aid), responders=[]),
        )
    with pytest.raises(ValidationError, match="Name at least one responder"):
        offers.offer_create(
            actor=world["coordinator"],
            data=offers.OfferInput(request=aid, offering_org=world.guard, terms=terms(aid), responders=[]),
        )
    AssistanceRequest.objects.filter(pk=aid.pk).update(status=AssistanceRequest.Status.CLOSED)
    with pytest.raises(ValidationError, match="no longer open"):
        make_offer(world, setup)
    assert not Offer.objects.exists()


def test_overlap_and_expired_credential_refused_at_deployment(world: Any, setup: dict[str, Any]) -> None:
    aid, rae = setup["aid"], setup["rae"]
    make_offer(world, setup)
    services.deployment_transition(
        actor=world["responder"],
        deployment=Deployment.objects.get(responder=rae),
        to=Deployment.Status.ACCEPTED,
        signature="Responder",
    )
    second = aid_request(world, org=world.washtenaw, actor=world["washtenaw_admin"])
    with pytest.raises(ValidationError, match="already committed"):
        offers.offer_create(
            actor=world["coordinator"],
            data=offers.OfferInput(
                request=second, offering_org=world.guard, terms=terms(second), responders=[(rae, "")]
            ),
        )
    assert Offer.objects.count() == 1
    # A credential that has expired by the start day refuses the start, even as an emergency.
    lapsing = make_responder(world, name="Lapsing Lee", credential_expires=today() + timedelta(days=30))
    offer = offers.offer_create(
        actor=world["coordinator"],
        data=offers.OfferInput(request=aid, offering_org=world.guard, terms=terms(aid), responders=[(lapsing, "")]),
    )
    d = Deployment.objects.get(offer_line__offer=offer)
    lapsing.credentials.update(expires_on=today() - timedelta(days=1))
    with pytest.raises(ValidationError, match="credentials have expired"):
        services.deployment_transition(actor=world["coordinator"], deployment=d, to="active", emergency=True)
    assert Deployment.objects.get(pk=d.pk).status == Deployment.Status.PROPOSED


def test_emergency_predeployment_paperwork_timer(world: Any, setup: dict[str, Any]) -> None:
    offer = make_offer(world, setup)
    d = Deployment.objects.get(offer_line__offer=offer)
    d = services.deployment_transition(actor=world["coordinator"], deployment=d, to="active", emergency=True)
    work = offers.paperwork(d)
    assert work is not None and not work.done and work.days_left == 30 and not work.overdue
    assert offers.paperwork(d, today() + timedelta(days=31)).overdue  # type: ignore[union-attr]
    Deployment.objects.filter(pk=d.pk).update(paperwork_due_on=today() - timedelta(days=1))
    assert [x.pk for x in offers.overdue_paperwork(world["coordinator"])] == [d.pk]
    assert offers.overdue_paperwork(world["washtenaw_member"]) == []
    page = sign_in(Client(), world["coordinator"]).get(f"/mutualaid/deployments/{d.pk}/").content.decode()
    assert "Paperwork overdue" in page
    assert "Paperwork overdue" in sign_in(Client(), world["coordinator"]).get("/mutualaid/").content.decode()
    assert "Paperwork overdue" not in sign_in(Client(), world["washtenaw_member"]).get("/mutualaid/").content.decode()
    offers.offer_accept_terms(actor=world["ingham_admin"], offer=offer)
    offers.offer_sign(actor=world["coordinator"], offer=offer, typed_name="Coordinator")
    offers.offer_sign(actor=world["ingham_admin"], offer=offer, typed_name="Ingham Admin")
    d.refresh_from_db()
    assert d.status == Deployment.Status.ACTIVE and offers.paperwork(d).done  # type: ignore[union-attr]
    assert offers.overdue_paperwork(world["coordinator"]) == []


def test_declining_an_offer_ends_its_proposed_deployments(world: Any, setup: dict[str, Any]) -> None:
    offer = make_offer(world, setup)
    with pytest.raises(PermissionDenied):
        offers.offer_close(actor=world["coordinator"], offer=offer, to=OS.DECLINED)
    offers.offer_close(actor=world["ingham_admin"], offer=offer, to=OS.DECLINED, reason="Filled locally")
    assert Deployment.objects.get().status == Deployment.Status.DECLINED


def test_a_counter_must_change_something(world: Any, setup: dict[str, Any]) -> None:
    offer = make_offer(world, setup)
    with pytest.raises(ValidationError, match="changes at least one term"):
        offers.offer_counter(actor=world["ingham_admin"], offer=offer, terms=terms(setup["aid"]))
    with pytest.raises(PermissionDenied, match="requesting organisation's turn"):
        offers.offer_counter(actor=world["coordinator"], offer=offer, terms=terms(setup["aid"], notes="x"))


# --- Matching fixes ----------------------------------------------------------------------------


def test_matching_refuses_a_closed_request(world: Any, setup: dict[str, Any]) -> None:
    aid = setup["aid"]
    for status in ("filled", "cancelled", "closed"):
        AssistanceRequest.objects.filter(pk=aid.pk).update(status=status)
        aid.refresh_from_db()
        with pytest.raises(ValidationError, match="only an open request is matched"):
            match_request(aid, user=world["coordinator"])


def test_matching_reads_the_roster_through_its_rule(world: Any, setup: dict[str, Any]) -> None:
    aid = setup["aid"]
    assert [c.name for c in match_request(aid, user=world["coordinator"]).responders] == ["Responder"]
    # The unvetted, and a removed member, read no roster: nobody is ranked for them.
    assert match_request(aid, user=world["unvetted"]).responders == []
    assert match_request(aid, user=world["removed_member"]).responders == []


# --- Pages and the read rule ------------------------------------------------------------------

# Who reads an offer and its binding record: both organisations' members, the state staff of the
# requester's state, the operator. Nobody else (answers like absent).
OFFER_READERS = {
    "ingham_member",
    "ingham_admin",
    "ingham_official",
    "coordinator",
    "responder",
    "liaison1",
    "liaison2",
    "analyst",
    "operator",
}


def _bound(world: Any, setup: dict[str, Any]) -> tuple[Offer, BindingAgreement, MissionOrder]:
    offer = make_offer(world, setup)
    offers.offer_accept_terms(actor=world["ingham_admin"], offer=offer)
    offers.offer_sign(actor=world["coordinator"], offer=offer, typed_name="Coordinator")
    offers.offer_sign(actor=world["ingham_admin"], offer=offer, typed_name="Ingham Admin")
    return offer, BindingAgreement.objects.get(), MissionOrder.objects.get()


@pytest.mark.parametrize("persona", PERSONAS)
def test_offer_pages_read_rule(world: Any, setup: dict[str, Any], as_persona: Any, persona: str) -> None:
    offer, binding, order = _bound(world, setup)
    client = as_persona(persona)
    for url, absent in (
        (f"/mutualaid/offers/{offer.pk}/", f"/mutualaid/offers/{offer.pk + 999}/"),
        (f"/mutualaid/binding/{binding.pk}/", f"/mutualaid/binding/{binding.pk + 999}/"),
        (f"/mutualaid/mission-orders/{order.pk}/", f"/mutualaid/mission-orders/{order.pk + 999}/"),
    ):
        response = client.get(url)
        if persona in ("anonymous",):
            assert response.status_code == 302
            continue
        if persona in ("unvetted", "removed_member"):
            assert response.status_code == 302  # sent home, like every mutual-aid page
            continue
        # (A mission order follows its deployment's rule, which here names the same people.)
        if persona in OFFER_READERS:
            assert response.status_code == 200, (persona, url)
        else:
            missing = client.get(absent)
            assert response.status_code == missing.status_code == 404, (persona, url)
            assert without_csrf(response.content) == without_csrf(missing.content)
    # No personal details on any of them.
    if persona in OFFER_READERS:
        for url in (f"/mutualaid/offers/{offer.pk}/", f"/mutualaid/binding/{binding.pk}/"):
            assert "555 0142" not in client.get(url).content.decode()


def test_offer_pages_flow(world: Any, setup: dict[str, Any]) -> None:
    aid, rae = setup["aid"], setup["rae"]

    def as_persona(name: str) -> Client:
        return sign_in(Client(), world[name])

    coordinator = as_persona("coordinator")
    page = coordinator.get(f"/mutualaid/requests/{aid.pk}/offer/?responder={rae.pk}")
    assert page.status_code == 200 and "Send the offer" in page.content.decode()
    bad = coordinator.post(
        f"/mutualaid/requests/{aid.pk}/offer/",
        {
            "offering_org": world.guard.pk,
            "responders": [rae.pk],
            "starts_on": aid.starts_on,
            "ends_on": aid.ends_on,
            "mode": "either",
            "cost_personnel": "100",
            "cost_travel": "-5",
        },
    )
    assert bad.status_code == 400 and not Offer.objects.exists()
    done = coordinator.post(
        f"/mutualaid/requests/{aid.pk}/offer/",
        {
            "offering_org": world.guard.pk,
            "responders": [rae.pk],
            "starts_on": aid.starts_on,
            "ends_on": aid.ends_on,
            "mode": "either",
            "cost_personnel": "1000",
            "cost_travel": "200",
        },
    )
    offer = Offer.objects.get()
    assert done.status_code == 302 and done["Location"] == f"/mutualaid/offers/{offer.pk}/"
    admin = as_persona("ingham_admin")
    counter = admin.post(
        f"/mutualaid/offers/{offer.pk}/",
        {
            "action": "counter",
            "starts_on": aid.starts_on,
            "ends_on": aid.starts_on,
            "mode": "either",
            "cost_personnel": "500",
            "cost_travel": "0",
            "note": "One day",
        },
    )
    assert counter.status_code == 302 and Offer.objects.get().status == OS.COUNTERED
    accepted = coordinator.post(f"/mutualaid/offers/{offer.pk}/", {"action": "accept"})
    assert accepted.status_code == 302, accepted.content.decode()[-3000:]
    official = as_persona("ingham_official")
    refused = official.post(f"/mutualaid/offers/{offer.pk}/", {"action": "sign", "typed_name": "Ingham Official"})
    assert refused.status_code == 400 and "not authorised to request assistance" in refused.content.decode()
    coordinator.post(f"/mutualaid/offers/{offer.pk}/", {"action": "sign", "typed_name": "Coordinator"})
    admin.post(f"/mutualaid/offers/{offer.pk}/", {"action": "sign", "typed_name": "Ingham Admin", "title": "CIO"})
    binding = BindingAgreement.objects.get()
    page = admin.get(f"/mutualaid/binding/{binding.pk}/").content.decode()
    assert binding.number in page and "Record intact" in page and "500.00" in page
    order = MissionOrder.objects.get()
    page = as_persona("responder").get(f"/mutualaid/mission-orders/{order.pk}/").content.decode()
    assert "Report to" in page and "Ingham Admin, CIO, Ingham County" in page
    request_page = admin.get(f"/mutualaid/requests/{aid.pk}/").content.decode()
    assert f"/mutualaid/offers/{offer.pk}/" in request_page
    AssistanceRequest.objects.filter(pk=aid.pk).update(status="closed")
    closed = admin.get(f"/mutualaid/requests/{aid.pk}/").content.decode()
    assert "Matching is only for open requests" in closed


def test_the_matches_api_refuses_a_closed_request(world: Any, setup: dict[str, Any], as_persona: Any) -> None:
    aid = setup["aid"]
    client = as_persona("ingham_admin")
    assert client.get(f"/api/v1/mutualaid/requests/{aid.pk}/matches/").status_code == 200
    AssistanceRequest.objects.filter(pk=aid.pk).update(status="closed")
    refused = client.get(f"/api/v1/mutualaid/requests/{aid.pk}/matches/")
    assert refused.status_code == 400
    assert "only an open request is matched" in refused.content.decode()
