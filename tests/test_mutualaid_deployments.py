"""Deployments: proposed → accepted in writing → authorised → active → extended → released →
debriefed; every move tried; the emergency pre-deployment with its paperwork timer; bad input."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from commonguard.core.models import AuditEvent
from commonguard.mutualaid import services
from commonguard.mutualaid.models import Credential, Deployment, Responder
from tests.mutualaid_helpers import aid_request, make_responder, today

D = Deployment.Status
ALL = list(D.values)
LEGAL = {(a, b) for a, targets in services.DEPLOYMENT_TRANSITIONS.items() for b in targets}


def test_the_table_is_the_one_in_the_issue() -> None:
    chain = [D.PROPOSED, D.ACCEPTED, D.AUTHORISED, D.ACTIVE, D.EXTENDED, D.RELEASED, D.DEBRIEFED]
    expected = set(itertools.pairwise(chain)) | {
        (D.PROPOSED, D.DECLINED),
        (D.ACTIVE, D.RELEASED),
        (D.EXTENDED, D.EXTENDED),
        # Emergency pre-deployment: before the paperwork.
        (D.PROPOSED, D.ACTIVE),
        (D.ACCEPTED, D.ACTIVE),
    }
    assert expected == LEGAL


def _deployment(world: Any, status: str) -> Deployment:
    r = make_responder(world, name="Responder", user=world["responder"])
    aid = aid_request(world)
    return Deployment.objects.create(
        request=aid, responder=r, status=status, starts_on=aid.starts_on, ends_on=aid.ends_on
    )


def _move(world: Any, d: Deployment, to: str) -> Deployment:
    actor = world["responder"] if to in (D.ACCEPTED, D.DECLINED) else world["coordinator"]
    return services.deployment_transition(
        actor=actor,
        deployment=d,
        to=to,
        signature="Responder",
        emergency=True,
        extend_to=d.ends_on + timedelta(days=3),
    )


@pytest.mark.parametrize(("source", "target"), [(a, b) for a in ALL for b in ALL])
def test_every_transition(world: Any, source: str, target: str) -> None:
    d = _deployment(world, source)
    before = AuditEvent.objects.filter(action__startswith="mutualaid.deployment.").count()
    if (source, target) in LEGAL:
        done = _move(world, d, target)
        assert Deployment.objects.get(pk=d.pk).status == target == done.status
        assert AuditEvent.objects.filter(action=f"mutualaid.deployment.{target}").exists()
    else:
        with pytest.raises(ValidationError) as exc:
            _move(world, d, target)
        assert "cannot become" in " ".join(exc.value.messages)
        assert Deployment.objects.get(pk=d.pk).status == source
        assert AuditEvent.objects.filter(action__startswith="mutualaid.deployment.").count() == before


def test_the_written_path(world: Any) -> None:
    d = _deployment(world, D.PROPOSED)
    with pytest.raises(ValidationError, match="Type your full name exactly"):
        services.deployment_transition(actor=world["responder"], deployment=d, to=D.ACCEPTED, signature="R.")
    d = services.deployment_transition(actor=world["responder"], deployment=d, to=D.ACCEPTED, signature=" responder ")
    assert d.accepted_signature == "responder" and d.accepted_at is not None
    with pytest.raises(ValidationError, match="not authorised in writing yet"):
        services.deployment_transition(actor=world["coordinator"], deployment=d, to=D.ACTIVE)
    d = services.deployment_transition(actor=world["coordinator"], deployment=d, to=D.AUTHORISED)
    d = services.deployment_transition(actor=world["coordinator"], deployment=d, to=D.ACTIVE)
    assert not d.emergency_predeploy and d.paperwork_due_on is None
    with pytest.raises(ValidationError, match="new end date after"):
        services.deployment_transition(actor=world["coordinator"], deployment=d, to=D.EXTENDED, extend_to=d.ends_on)
    d = services.deployment_transition(actor=world["coordinator"], deployment=d, to=D.RELEASED)
    d = services.deployment_transition(actor=world["coordinator"], deployment=d, to=D.DEBRIEFED)
    assert d.released_at and d.debriefed_at


def test_emergency_predeployment_sets_the_paperwork_timer(world: Any) -> None:
    d = _deployment(world, D.PROPOSED)
    d = services.deployment_transition(actor=world["coordinator"], deployment=d, to=D.ACTIVE, emergency=True)
    assert d.emergency_predeploy and d.paperwork_due_on == today() + timedelta(days=30)
    event = AuditEvent.objects.get(action="mutualaid.deployment.active")
    assert "emergency pre-deployment" in event.summary


@pytest.mark.parametrize("persona", ["ingham_admin", "washtenaw_admin", "analyst", "operator", "responder"])
def test_a_role_without_authority_cannot_authorise(world: Any, persona: str) -> None:
    d = _deployment(world, D.ACCEPTED)
    with pytest.raises(PermissionDenied):
        services.deployment_transition(actor=world[persona], deployment=d, to=D.AUTHORISED)
    assert Deployment.objects.get(pk=d.pk).status == D.ACCEPTED


def test_only_the_responder_signs_acceptance(world: Any) -> None:
    d = _deployment(world, D.PROPOSED)
    with pytest.raises(PermissionDenied, match="Only the responder"):
        services.deployment_transition(actor=world["coordinator"], deployment=d, to=D.ACCEPTED, signature="Responder")
    assert Deployment.objects.get(pk=d.pk).accepted_at is None


def test_overlapping_deployments_are_refused(world: Any) -> None:
    r = make_responder(world, name="Responder", user=world["responder"])
    first = aid_request(world)
    d1 = services.deployment_propose(actor=world["coordinator"], request=first, responder=r)
    services.deployment_transition(actor=world["responder"], deployment=d1, to=D.ACCEPTED, signature="Responder")
    second = aid_request(world, org=world.washtenaw, actor=world["washtenaw_admin"])
    with pytest.raises(ValidationError, match="already committed"):
        services.deployment_propose(actor=world["coordinator"], request=second, responder=r)
    assert Deployment.objects.filter(responder=r).count() == 1
    # Proposed for a later window, then the first is extended into it: refused too.
    later = services.deployment_propose(
        actor=world["coordinator"], request=second, responder=r, starts_on=d1.ends_on + timedelta(days=2), days=3
    )
    services.deployment_transition(actor=world["responder"], deployment=later, to=D.ACCEPTED, signature="Responder")
    services.deployment_transition(actor=world["coordinator"], deployment=d1, to=D.ACTIVE, emergency=True)
    with pytest.raises(ValidationError, match="committed elsewhere"):
        services.deployment_transition(
            actor=world["coordinator"], deployment=d1, to=D.EXTENDED, extend_to=d1.ends_on + timedelta(days=5)
        )


def test_expired_credential_at_deployment_time_is_refused(world: Any) -> None:
    d = _deployment(world, D.AUTHORISED)
    Credential.objects.create(responder=d.responder, name="GCIH", expires_on=d.starts_on - timedelta(days=1))
    with pytest.raises(ValidationError, match="credentials have expired: GCIH"):
        services.deployment_transition(actor=world["coordinator"], deployment=d, to=D.ACTIVE)
    assert Deployment.objects.get(pk=d.pk).status == D.AUTHORISED


def test_inactive_or_conflicted_responders_cannot_start(world: Any) -> None:
    d = _deployment(world, D.AUTHORISED)
    services.responder_set_conflicts(actor=world["coordinator"], responder=d.responder, organizations=[world.ingham])
    with pytest.raises(ValidationError, match="conflict of interest"):
        services.deployment_transition(actor=world["coordinator"], deployment=d, to=D.ACTIVE)
    Responder.objects.filter(pk=d.responder_id).update(status="inactive")
    with pytest.raises(ValidationError, match="inactive on the roster"):
        services.deployment_transition(actor=world["coordinator"], deployment=d, to=D.ACTIVE)


def test_proposals_need_an_active_unconflicted_responder(world: Any) -> None:
    r = make_responder(world, name="Screening", status="screening")
    aid = aid_request(world)
    with pytest.raises(ValidationError, match="not active"):
        services.deployment_propose(actor=world["coordinator"], request=aid, responder=r)
    with pytest.raises(PermissionDenied):
        services.deployment_propose(actor=world["ingham_admin"], request=aid, responder=r)
    assert not Deployment.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"duration_days": 0}, "duration_days"),
        ({"skills": []}, "skills"),
        ({"title": " "}, "title"),
        ({"starts_on": today() - timedelta(days=5)}, "starts_on"),
        ({"mode": "teleport"}, "mode"),
    ],
)
def test_bad_requests_are_refused(world: Any, change: dict[str, Any], field: str) -> None:
    data = services.RequestInput(
        requesting_org=world.ingham, title="Help", description="Ransomware", skills=["forensics"], starts_on=today()
    )
    for k, v in change.items():
        setattr(data, k, v)
    with pytest.raises(ValidationError) as exc:
        services.request_create(actor=world["ingham_admin"], data=data)
    assert field in exc.value.message_dict
    with pytest.raises(PermissionDenied):
        services.request_create(
            actor=world["ingham_official"],
            data=services.RequestInput(
                requesting_org=world.ingham, title="Help", description="x", skills=["forensics"], starts_on=today()
            ),
        )
    assert not services.AssistanceRequest.objects.exists()
