"""The demo state has a mutual-aid roster, agreements in force and an open request; seeding twice
changes nothing; the demo county's people can call on their neighbours and see ranked matches."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.utils import timezone

from commonguard.accounts.models import User
from commonguard.mutualaid.demo import COMPACT
from commonguard.mutualaid.matching import match_request
from commonguard.mutualaid.models import Agreement, AssistanceRequest, Responder, TeamPackage
from commonguard.mutualaid.selectors import neighbours_on_call
from commonguard.orgs.models import Organization


def test_demo_mutual_aid(db: Any, settings: Any, tmp_path: Any) -> None:
    settings.COMMONGUARD_SHARED_DATA = tmp_path / "absent"
    call_command("demo", "--state", "MI", verbosity=0)
    assert Agreement.objects.get(name=COMPACT).status == "in_force"
    assert Responder.objects.count() == 18
    assert Responder.objects.filter(status="active").count() == 14
    rita = Responder.objects.get(user__email="responder@demo.test")
    assert rita.programme.kind == "volunteer_corps" and rita.status == "active"
    assert TeamPackage.objects.filter(is_template=False, status="active").count() == 1
    aid = AssistanceRequest.objects.get(title__startswith="Ransomware")
    ingham = Organization.objects.get(county_fips="26065", kind="county")
    assert aid.requesting_org == ingham
    admin = User.objects.get(email="admin.ingham@demo.test")
    # An offer countered, agreed and signed by both sides: a binding record with its mission orders.
    from commonguard.mutualaid.models import BindingAgreement, MissionOrder, Offer

    binding = BindingAgreement.objects.get(request=aid)
    assert binding.offer.revisions.count() == 2 and binding.snapshot["terms"]["costs"]["personnel"] == "10300.00"
    assert MissionOrder.objects.filter(binding=binding).count() == 2
    assert Offer.objects.filter(request=aid, status="submitted").count() == 1
    result = match_request(aid, user=admin)
    assert len(result.responders) >= 5 and result.teams
    assert result.excluded["conflict"] == 1
    neighbours = neighbours_on_call(admin, ingham, timezone.localdate())
    assert len(neighbours) >= 8 and all(n.can_request for n in neighbours)

    def counts() -> tuple[int, ...]:
        return tuple(m.objects.count() for m in (Agreement, Responder, TeamPackage, AssistanceRequest))

    before = counts()
    call_command("demo", "--state", "MI", verbosity=0)
    assert counts() == before
