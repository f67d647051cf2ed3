"""Edit pages of partnerships: library resources (owning organisation's editors; sharing groups limited
to the author's), events (capacity up promotes the waiting list in order; below the registered is
refused), sub-awards (the programme's administrators), goals marked met. A form opened before
someone else's change is refused as out of date (409), nothing saved."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from commonguard.core.models import AuditEvent
from commonguard.core.tlp import TLP
from commonguard.partnerships import services
from commonguard.partnerships.models import Event, Goal, Initiative, Registration, Resource, SubAward
from commonguard.sharing.models import SharingGroup
from tests.conftest import PERSONAS, VETTED_PERSONAS
from tests.factories import UserFactory
from tests.test_partnerships_events import make_event
from tests.test_partnerships_library import make_resource

pytestmark = pytest.mark.django_db


def _fields(resource: Resource, **over: object) -> dict[str, object]:
    data = {
        "title": resource.title,
        "kind": resource.kind,
        "summary": resource.summary,
        "url": resource.url,
        "tlp": resource.tlp,
        "tags": "",
        "csf_categories": resource.csf_categories,
        "recipient_people": "",
        "version": services.version_of(resource),
    }
    data.update(over)
    return data


# --- Library ---------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_the_owning_organisations_editors_edit_a_resource(world, as_persona, persona):
    resource = make_resource(world)  # GREEN, shared by Ingham
    client = as_persona(persona)
    page = client.get(f"/partnerships/library/{resource.pk}/edit/")
    saved = client.post(f"/partnerships/library/{resource.pk}/edit/", _fields(resource, title="Renamed"))
    resource.refresh_from_db()
    if persona in {"ingham_member", "ingham_admin"}:
        assert page.status_code == 200 and saved.status_code == 302
        assert resource.title == "Renamed"
    else:
        # Officials, other organisations, state staff and the operator: like absent.
        assert page.status_code in ({404} if persona in VETTED_PERSONAS else {302, 404})
        assert saved.status_code == page.status_code
        assert resource.title != "Renamed"


def test_a_hidden_resources_edit_page_answers_like_a_missing_one(world, as_persona):
    red = make_resource(world, tlp=TLP.RED, data={"recipient_people": [world["ingham_admin"]]})
    client = as_persona("washtenaw_member")
    hidden = client.get(f"/partnerships/library/{red.pk}/edit/")
    missing = client.get("/partnerships/library/999999/edit/")
    assert hidden.status_code == missing.status_code == 404


def test_a_stale_resource_form_is_refused_and_nothing_saved(world, as_persona):
    resource = make_resource(world)
    old = services.version_of(resource)
    client = as_persona("ingham_admin")
    assert (
        client.post(f"/partnerships/library/{resource.pk}/edit/", _fields(resource, title="First")).status_code == 302
    )
    second = client.post(f"/partnerships/library/{resource.pk}/edit/", _fields(resource, title="Second", version=old))
    assert second.status_code == 409 and "This form is out of date" in second.content.decode()
    resource.refresh_from_db()
    assert resource.title == "First"


def test_bad_resource_edit_is_a_clear_error(world, as_persona):
    resource = make_resource(world)
    response = as_persona("ingham_member").post(
        f"/partnerships/library/{resource.pk}/edit/", _fields(resource, tlp=TLP.AMBER, title="")
    )
    body = response.content.decode()
    assert response.status_code == 400 and "This field is required" in body
    resource.refresh_from_db()
    assert resource.tlp == TLP.GREEN


def test_the_library_form_names_only_sharing_groups_the_author_belongs_to(world, as_persona):
    mine = SharingGroup.objects.create(name="Region 1 counties", owner=world.state_it)
    mine.organizations.add(world.ingham, world.lansing)
    other = SharingGroup.objects.create(name="Washtenaw townships", owner=world.washtenaw)
    other.organizations.add(world.washtenaw)
    client = as_persona("ingham_member")
    form = client.get("/partnerships/library/new/").content.decode()
    assert "Region 1 counties" in form and "Washtenaw townships" not in form
    fields = {
        "title": "AMBER playbook for the region",
        "kind": "playbook",
        "summary": "x",
        "url": "https://www.example.net/p",
        "author_org": world.ingham.pk,
        "tlp": TLP.AMBER,
    }
    refused = client.post("/partnerships/library/new/", {**fields, "recipient_groups": [other.pk]})
    assert refused.status_code == 400 and not Resource.objects.exists()
    with pytest.raises(Exception, match="sharing groups your organisation belongs to"):
        services.resource_create(
            actor=world["ingham_member"],
            data=services.ResourceInput(
                title="t",
                kind="playbook",
                summary="s",
                author_org=world.ingham,
                tlp=TLP.AMBER,
                url="https://www.example.net/x",
                recipient_groups=[other],
            ),
        )
    assert client.post("/partnerships/library/new/", {**fields, "recipient_groups": [mine.pk]}).status_code == 302
    resource = Resource.objects.get()
    assert list(resource.recipient_groups.all()) == [mine]
    # Lansing is in the group: its member now reads the AMBER resource; Washtenaw does not.
    assert Resource.objects.visible_to(world["lansing_member"]).filter(pk=resource.pk).exists()
    assert not Resource.objects.visible_to(world["washtenaw_member"]).filter(pk=resource.pk).exists()


# --- Events ----------------------------------------------------------------------------------


def _event_fields(event: Event, **over: object) -> dict[str, object]:
    tz = timezone.get_current_timezone()
    data = {
        "title": event.title,
        "kind": event.kind,
        "description": event.description,
        "starts_at": event.starts_at.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
        "ends_at": event.ends_at.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
        "location": event.location,
        "capacity": event.capacity,
        "version": services.version_of(event),
    }
    data.update(over)
    return data


def _people(world, n):
    from tests.factories import MembershipFactory

    out = []
    for _ in range(n):
        user = UserFactory()
        MembershipFactory(user=user, organization=world.washtenaw, status="approved")
        out.append(user)
    return out


def test_raising_capacity_promotes_the_waiting_list_in_order(
    world, as_persona, mailoutbox, django_capture_on_commit_callbacks
):
    event = make_event(world, capacity=1)
    people = _people(world, 4)
    for person in people:
        services.event_register(actor=person, event=event, organization=world.washtenaw)
    waiting = list(Registration.objects.filter(event=event, status="waitlisted").order_by("created_at", "id"))
    assert [r.user for r in waiting] == people[1:]
    client = as_persona("liaison1")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/partnerships/events/{event.pk}/edit/", _event_fields(event, capacity=3))
    assert response.status_code == 302
    statuses = {r.user_id: r.status for r in Registration.objects.filter(event=event)}
    assert [statuses[p.pk] for p in people] == ["registered", "registered", "registered", "waitlisted"]
    assert sorted(m.to[0] for m in mailoutbox) == sorted([people[1].email, people[2].email])
    assert AuditEvent.objects.filter(action="event.update").count() == 1


def test_lowering_capacity_below_the_registered_is_refused(world, as_persona):
    event = make_event(world, capacity=3)
    for person in _people(world, 2):
        services.event_register(actor=person, event=event, organization=world.washtenaw)
    response = as_persona("liaison1").post(
        f"/partnerships/events/{event.pk}/edit/", _event_fields(event, capacity=1, title="Renamed")
    )
    assert response.status_code == 400
    assert "2 people are registered, so the capacity cannot go below 2" in response.content.decode()
    event.refresh_from_db()
    assert (event.capacity, event.title) == (3, "Ransomware tabletop exercise")
    ok = as_persona("liaison1").post(f"/partnerships/events/{event.pk}/edit/", _event_fields(event, capacity=2))
    assert ok.status_code == 302
    event.refresh_from_db()
    assert event.capacity == 2


def test_a_stale_event_form_is_refused(world, as_persona):
    event = make_event(world, capacity=3)
    old = _event_fields(event)
    client = as_persona("liaison1")
    assert client.post(f"/partnerships/events/{event.pk}/edit/", {**old, "location": "Room B"}).status_code == 302
    stale = client.post(f"/partnerships/events/{event.pk}/edit/", {**old, "capacity": 9})
    assert stale.status_code == 409
    event.refresh_from_db()
    assert (event.location, event.capacity) == ("Room B", 3)


@pytest.mark.parametrize("persona", ["ingham_admin", "ingham_member", "washtenaw_admin", "coordinator"])
def test_only_organisers_edit_an_event(world, as_persona, persona):
    event = make_event(world, capacity=3)
    client = as_persona(persona)
    assert client.get(f"/partnerships/events/{event.pk}/edit/").status_code == 404
    assert client.post(f"/partnerships/events/{event.pk}/edit/", _event_fields(event, capacity=9)).status_code == 404
    event.refresh_from_db()
    assert event.capacity == 3


# --- Sub-awards ------------------------------------------------------------------------------


@pytest.fixture
def award(world):
    program = services.grant_program_create(
        actor=world["liaison1"],
        name="State and Local Cybersecurity Grant Program",
        fiscal_year=2024,
        federal_award=Decimal("1000000"),
        cost_share_rate=Decimal("30"),
        administrator=world.state_it,
    )
    return services.sub_award_save(
        actor=world["liaison1"],
        program=program,
        organization=world.ingham,
        amount=Decimal("100000"),
        match_amount=Decimal("30000"),
        objective="MFA everywhere",
        project="Roll out MFA.",
        status="applied",
        self_assessment_done=False,
    )


def _award_fields(award: SubAward, **over: object) -> dict[str, object]:
    data = {
        "organization": award.organization_id,
        "amount": "100000",
        "match_amount": "30000",
        "objective": award.objective,
        "project": award.project,
        "status": award.status,
        "version": services.version_of(award),
    }
    data.update(over)
    return data


@pytest.mark.parametrize("persona", ["liaison1", "analyst", "ingham_admin", "ingham_member", "washtenaw_admin"])
def test_state_grants_staff_edit_a_sub_award(world, as_persona, award, persona):
    url = f"/partnerships/grants/{award.program_id}/awards/{award.pk}/edit/"
    client = as_persona(persona)
    page = client.get(url)
    saved = client.post(url, _award_fields(award, status="awarded", self_assessment_done="on"))
    award.refresh_from_db()
    if persona in {"liaison1", "analyst"}:
        assert page.status_code == 200 and saved.status_code == 302
        assert (award.status, award.self_assessment_done) == ("awarded", True)
    else:
        assert page.status_code == saved.status_code == 404
        assert award.status == "applied"


def test_a_stale_or_bad_sub_award_form_is_refused(world, as_persona, award):
    url = f"/partnerships/grants/{award.program_id}/awards/{award.pk}/edit/"
    old = _award_fields(award)
    client = as_persona("liaison1")
    assert client.post(url, {**old, "status": "awarded"}).status_code == 302
    assert client.post(url, {**old, "status": "declined"}).status_code == 409
    bad = client.post(url, {**_award_fields(SubAward.objects.get()), "objective": " "})
    assert bad.status_code == 400
    assert SubAward.objects.get().status == "awarded"


# --- Initiative goals ------------------------------------------------------------------------


def test_managers_mark_goals_met_and_others_cannot(world, as_persona):
    initiative = services.initiative_create(
        actor=world["liaison1"],
        title="Regional SOC cooperative",
        description="Shared monitoring.",
        lead_org=world.state_it,
        partners=[(world.ingham, "Forward firewall logs.")],
        goals=["All partner logs reach the SOC"],
        status=Initiative.Status.ON_TRACK,
    )
    goal = Goal.objects.get()
    url = f"/partnerships/initiatives/{initiative.pk}/"
    refused = as_persona("ingham_admin").post(url, {"action": "goal_met", "goal": goal.pk}, follow=True)
    assert "Only the initiative" in refused.content.decode()
    goal.refresh_from_db()
    assert not goal.met
    assert as_persona("washtenaw_member").post(url, {"action": "goal_met", "goal": goal.pk}).status_code == 404
    page = as_persona("liaison1").post(url, {"action": "goal_met", "goal": goal.pk}, follow=True).content.decode()
    goal.refresh_from_db()
    assert goal.met and "Mark not met" in page
    assert AuditEvent.objects.filter(action="initiative.goal").count() == 1
