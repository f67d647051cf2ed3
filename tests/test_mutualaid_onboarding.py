"""Responder onboarding as a state machine: every move tried, legal ones done, illegal ones refused
with a clear message and nothing changed; the guards; credential reminders by real e-mail."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command

from commonguard.core.models import AuditEvent
from commonguard.mutualaid import services
from commonguard.mutualaid.models import Credential, Responder, ResponderPrivate
from commonguard.mutualaid.reminders import credentials_remind
from tests.mutualaid_helpers import make_responder, place_world, today

S = Responder.Status
ALL = list(S.values)
LEGAL = {(a, b) for a, targets in services.TRANSITIONS.items() for b in targets}


def test_the_table_is_the_one_in_the_issue() -> None:
    chain = [S.APPLIED, S.SCREENING, S.BACKGROUND_CHECK, S.AGREEMENT_SIGNED, S.TRAINING, S.ACTIVE]
    expected = {(a, b) for a, b in itertools.pairwise(chain)}
    expected |= {(S.ACTIVE, S.INACTIVE), (S.INACTIVE, S.ACTIVE)}
    expected |= {(s, S.SEPARATED) for s in ALL if s != S.SEPARATED}
    assert expected == LEGAL


def _ready(world: Any, status: str) -> Responder:
    """A responder in `status` who meets every guard (clear check, a training, valid credentials)."""
    r = make_responder(world, status=S.APPLIED)
    coord = world["coordinator"]
    services.background_check_record(actor=coord, responder=r, result="clear", checked_on=today())
    services.training_add(actor=coord, responder=r, name="ICS-100", completed_on=today())
    Responder.objects.filter(pk=r.pk).update(status=status)
    r.refresh_from_db()
    return r


@pytest.mark.parametrize(("source", "target"), [(a, b) for a in ALL for b in ALL])
def test_every_transition(world: Any, source: str, target: str) -> None:
    r = _ready(world, source)
    before = AuditEvent.objects.filter(action="mutualaid.responder.status").count()
    if (source, target) in LEGAL:
        done = services.responder_transition(actor=world["coordinator"], responder=r, to=target)
        assert done.status == target
        assert Responder.objects.get(pk=r.pk).status == target
        event = AuditEvent.objects.filter(action="mutualaid.responder.status").latest("at")
        assert event.data["from"] == source and event.data["to"] == target
    else:
        with pytest.raises(ValidationError) as exc:
            services.responder_transition(actor=world["coordinator"], responder=r, to=target)
        message = " ".join(exc.value.message_dict["status"])
        assert "cannot become" in message
        assert str(S(target).label).lower() in message
        assert Responder.objects.get(pk=r.pk).status == source
        assert AuditEvent.objects.filter(action="mutualaid.responder.status").count() == before


def test_separation_is_final_and_says_so(world: Any) -> None:
    r = _ready(world, S.SEPARATED)
    with pytest.raises(ValidationError, match="separation is final"):
        services.responder_transition(actor=world["coordinator"], responder=r, to=S.ACTIVE)


def test_unknown_status_is_refused(world: Any) -> None:
    r = _ready(world, S.APPLIED)
    with pytest.raises(ValidationError, match="not an onboarding status"):
        services.responder_transition(actor=world["coordinator"], responder=r, to="deployed")


def test_agreement_needs_a_clear_background_check(world: Any) -> None:
    coord = world["coordinator"]
    r = make_responder(world, status=S.BACKGROUND_CHECK)
    assert r.background_check == Responder.BackgroundCheck.PENDING
    with pytest.raises(ValidationError, match="background check must be complete and clear"):
        services.responder_transition(actor=coord, responder=r, to=S.AGREEMENT_SIGNED)
    services.background_check_record(actor=coord, responder=r, result="adverse", checked_on=today())
    with pytest.raises(ValidationError, match="complete and clear"):
        services.responder_transition(actor=coord, responder=r, to=S.AGREEMENT_SIGNED)
    assert Responder.objects.get(pk=r.pk).status == S.BACKGROUND_CHECK
    services.background_check_record(actor=coord, responder=r, result="clear", checked_on=today())
    assert services.responder_transition(actor=coord, responder=r, to=S.AGREEMENT_SIGNED).agreement_signed_on == today()


def test_activation_needs_training_and_valid_credentials(world: Any) -> None:
    coord = world["coordinator"]
    r = make_responder(world, status=S.TRAINING)
    with pytest.raises(ValidationError, match="at least one completed training"):
        services.responder_transition(actor=coord, responder=r, to=S.ACTIVE)
    services.training_add(actor=coord, responder=r, name="ICS-100", completed_on=today())
    services.credential_add(actor=coord, responder=r, name="GCFA", expires_on=today() - timedelta(days=1))
    with pytest.raises(ValidationError, match="credentials have lapsed: GCFA"):
        services.responder_transition(actor=coord, responder=r, to=S.ACTIVE)
    Credential.objects.filter(responder=r).update(expires_on=today() + timedelta(days=400))
    assert services.responder_transition(actor=coord, responder=r, to=S.ACTIVE).status == S.ACTIVE


@pytest.mark.parametrize("persona", ["responder", "ingham_admin", "washtenaw_admin", "analyst", "operator"])
def test_only_the_programme_coordinators_move_responders(world: Any, persona: str) -> None:
    r = _ready(world, S.APPLIED)
    with pytest.raises(PermissionDenied):
        services.responder_transition(actor=world[persona], responder=r, to=S.SCREENING)
    with pytest.raises(PermissionDenied):
        services.background_check_record(actor=world[persona], responder=r, result="clear", checked_on=today())
    assert Responder.objects.get(pk=r.pk).status == S.APPLIED
    assert ResponderPrivate.objects.get(responder=r).background_check_result == "clear"  # from _ready, unchanged


def test_bad_roster_input_is_refused_and_nothing_stored(world: Any) -> None:
    coord = world["coordinator"]
    count = Responder.objects.count()
    bad = [
        ({"home_county_fips": "MI-65"}, "home_county_fips"),
        ({"source": "mercenary"}, "source"),
        ({"full_name": "  "}, "full_name"),
        ({"skills": ["forensics", "astrology"]}, "skills"),
    ]
    for change, field in bad:
        data = services.ResponderInput(
            programme=world.guard, full_name="Pat", email="pat@example.test", source="guard", home_county_fips="26065"
        )
        for k, v in change.items():
            setattr(data, k, v)
        with pytest.raises(ValidationError) as exc:
            services.responder_create(actor=coord, data=data)
        assert field in exc.value.message_dict
    assert Responder.objects.count() == count
    r = _ready(world, S.APPLIED)
    with pytest.raises(ValidationError, match="expire before it was issued"):
        services.credential_add(
            actor=coord, responder=r, name="X", issued_on=today(), expires_on=today() - timedelta(1)
        )
    with pytest.raises(ValidationError, match="end before it starts"):
        services.availability_add(actor=coord, responder=r, starts_on=today(), ends_on=today() - timedelta(days=1))


def test_home_county_centroid_is_copied(world: Any) -> None:
    place_world(world)
    r = make_responder(world, county="26161")
    assert (round(r.latitude, 2), round(r.longitude, 2)) == (42.25, -83.84)


# --- Credential reminders ------------------------------------------------------------------------


def test_expiring_credentials_warn_responder_and_coordinator_once(world: Any, smtp: Any) -> None:
    soon = today() + timedelta(days=20)
    r = make_responder(world, name="Casey Lee", credential_expires=soon)
    make_responder(world, name="Far Off", credential_expires=today() + timedelta(days=90))
    result = credentials_remind(today())
    assert (result.warned, result.messages, result.lapsed) == (1, 2, 0)
    to = sorted(m["To"] for m in smtp.messages)
    assert to == ["casey.lee@example.test", "coordinator@example.test"]
    bodies = {m["To"]: m.get_payload(decode=True).decode() for m in smtp.messages}
    assert f"GCIH: expires {soon:%Y-%m-%d}" in bodies["casey.lee@example.test"]
    assert "Casey Lee's credentials" in bodies["coordinator@example.test"]
    assert f"/mutualaid/responders/{r.pk}/" in bodies["coordinator@example.test"]
    # A second run does not repeat the warning; a renewed credential (new expiry) is warned again later.
    assert credentials_remind(today()).messages == 0
    assert len(smtp.messages) == 2


def test_lapsed_credentials_make_the_responder_inactive(world: Any, smtp: Any) -> None:
    r = make_responder(world, name="Old Cert", credential_expires=today() + timedelta(days=2))
    result = credentials_remind(today() + timedelta(days=3))
    assert result.lapsed == 1
    r.refresh_from_db()
    assert r.status == S.INACTIVE
    event = AuditEvent.objects.filter(action="mutualaid.responder.status").latest("at")
    assert "lapsed: GCIH" in event.summary and event.actor is None
    # Renewed, the coordinator reactivates.
    Credential.objects.filter(responder=r).update(expires_on=today() + timedelta(days=365))
    assert services.responder_transition(actor=world["coordinator"], responder=r, to=S.ACTIVE).status == S.ACTIVE


def test_reminder_command(world: Any, smtp: Any) -> None:
    from io import StringIO

    make_responder(world, name="Casey Lee", credential_expires=today() + timedelta(days=30))
    out = StringIO()
    call_command("mutualaid_reminders", stdout=out)
    assert "1 credential(s) warned in 2 e-mail(s)" in out.getvalue()


# --- The page ------------------------------------------------------------------------------------


def test_coordinator_moves_a_responder_on_the_page(world: Any, as_persona: Any) -> None:
    r = make_responder(world, status=S.APPLIED)
    client = as_persona("coordinator")
    page = client.get(f"/mutualaid/responders/{r.pk}/").content.decode()
    assert "Move to: screening" in page and "Move to: active" not in page
    response = client.post(f"/mutualaid/responders/{r.pk}/", {"to": "screening"}, follow=True)
    assert "is now screening" in response.content.decode()
    assert Responder.objects.get(pk=r.pk).status == S.SCREENING
    # An illegal move posted by hand: refused with the reason, nothing changed.
    response = client.post(f"/mutualaid/responders/{r.pk}/", {"to": "active"}, follow=True)
    assert "cannot become active; they can become: background check, separated" in response.content.decode()
    assert Responder.objects.get(pk=r.pk).status == S.SCREENING


def test_others_cannot_move_a_responder_on_the_page(world: Any, as_persona: Any) -> None:
    r = make_responder(world)  # active: every vetted person sees the profile
    client = as_persona("ingham_admin")
    assert "Move to:" not in client.get(f"/mutualaid/responders/{r.pk}/").content.decode()
    response = client.post(f"/mutualaid/responders/{r.pk}/", {"to": "inactive"}, follow=True)
    assert "Only the programme" in response.content.decode()
    assert Responder.objects.get(pk=r.pk).status == S.ACTIVE
    # A responder in onboarding is not on the visible roster: the same 404 as none.
    hidden = make_responder(world, name="In Screening", status=S.SCREENING)
    assert client.post(f"/mutualaid/responders/{hidden.pk}/", {"to": "separated"}).status_code == 404
    assert Responder.objects.get(pk=hidden.pk).status == S.SCREENING
