"""Events: registration up to capacity, then the waiting list (nothing lost), promotion when a place
frees (with an e-mail), attendance by organisers only, reminders once, and the per-person iCalendar
feed behind an unguessable, revocable token."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from icalendar import Calendar

from commonguard.partnerships import services
from commonguard.partnerships.models import CalendarFeed, Event, Registration


def make_event(world: Any, *, capacity: int = 2, starts_in: timedelta = timedelta(days=3), **kw: Any) -> Event:
    start = timezone.now() + starts_in
    return services.event_create(
        actor=world["liaison1"],
        title=kw.get("title", "Ransomware tabletop exercise"),
        kind=Event.Kind.EXERCISE,
        description="A county's file servers are encrypted on a Friday evening.",
        starts_at=start,
        ends_at=start + timedelta(hours=3),
        location="State EOC",
        capacity=capacity,
        organizer_org=world.state_it,
    )


def _register(client: Client, event: Event, org_pk: int) -> Any:
    return client.post(f"/partnerships/events/{event.pk}/", {"action": "register", "organization": org_pk})


def test_over_capacity_goes_to_the_waiting_list_and_a_freed_place_is_promoted(
    world, as_persona, mailoutbox, django_capture_on_commit_callbacks
):
    event = make_event(world, capacity=2)
    for persona, org in [("ingham_member", world.ingham), ("washtenaw_member", world.washtenaw)]:
        assert _register(as_persona(persona), event, org.pk).status_code == 302
    client = as_persona("lansing_member")
    response = _register(client, event, world.lansing.pk)
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "The event is full: you are on the waiting list" in page
    statuses = dict(Registration.objects.values_list("user__email", "status"))
    assert statuses == {
        "ingham_member@example.test": "registered",
        "washtenaw_member@example.test": "registered",
        "lansing_member@example.test": "waitlisted",
    }
    # Registering twice is a clear error; nothing changes.
    again = _register(client, event, world.lansing.pk)
    assert again.status_code == 400
    assert "You are already on the waiting list for this event." in again.content.decode()
    assert Registration.objects.count() == 3

    mine = Registration.objects.get(user=world["ingham_member"])
    with django_capture_on_commit_callbacks(execute=True):
        cancel = as_persona("ingham_member").post(
            f"/partnerships/events/{event.pk}/", {"action": "cancel", "registration": mine.pk}
        )
    assert cancel.status_code == 302
    promoted = Registration.objects.get(user=world["lansing_member"])
    assert promoted.status == "registered" and promoted.promoted_at is not None
    assert Registration.objects.filter(event=event, status="registered").count() == 2
    assert [m.to for m in mailoutbox] == [["lansing_member@example.test"]]
    assert "A place is yours" in mailoutbox[0].subject


def test_someone_else_cannot_cancel_or_see_a_registration(world, as_persona):
    event = make_event(world)
    registration = services.event_register(actor=world["ingham_member"], event=event, organization=world.ingham)
    client = as_persona("washtenaw_member")
    response = client.post(f"/partnerships/events/{event.pk}/", {"action": "cancel", "registration": registration.pk})
    assert response.status_code == 404
    assert Registration.objects.get(pk=registration.pk).status == "registered"
    assert "Ingham Member" not in client.get(f"/partnerships/events/{event.pk}/").content.decode()
    # The organisers see who registered.
    assert "Ingham Member" in as_persona("liaison2").get(f"/partnerships/events/{event.pk}/").content.decode()
    assert set(Registration.objects.visible_to(world["washtenaw_member"])) == set()
    assert set(Registration.objects.visible_to(world["analyst"])) == {registration}


def test_attendance_is_recorded_by_organisers_only(world, as_persona):
    event = make_event(world)
    registration = services.event_register(actor=world["ingham_member"], event=event, organization=world.ingham)
    data = {"action": "present", "registration": registration.pk}
    as_persona("ingham_admin").post(f"/partnerships/events/{event.pk}/", data)
    assert Registration.objects.get(pk=registration.pk).attended is None
    as_persona("liaison1").post(f"/partnerships/events/{event.pk}/", data)
    assert Registration.objects.get(pk=registration.pk).attended is True


def test_closed_events_refuse_registration(world):
    past = make_event(world, starts_in=timedelta(days=-2), title="Old briefing")
    with pytest.raises(ValidationError, match="over"):
        services.event_register(actor=world["ingham_member"], event=past, organization=world.ingham)
    cancelled = make_event(world, title="Cancelled")
    Event.objects.filter(pk=cancelled.pk).update(cancelled=True)
    with pytest.raises(ValidationError, match="cancelled"):
        services.event_register(actor=world["ingham_member"], event=cancelled, organization=world.ingham)
    assert not Registration.objects.exists()


def test_bad_event_input_is_a_clear_error(world, as_persona):
    client = as_persona("liaison1")
    start = timezone.localtime() + timedelta(days=5)
    response = client.post(
        "/partnerships/events/new/",
        {
            "title": "Briefing",
            "kind": "briefing",
            "description": "x",
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "location": "Online",
            "capacity": "0",
            "organizer_org": world.state_it.pk,
        },
    )
    assert response.status_code == 400
    assert "greater than or equal to 1" in response.content.decode()
    assert not Event.objects.exists()
    # A member without an admin role cannot create events at all.
    assert as_persona("ingham_member").get("/partnerships/events/new/").status_code == 403


def test_reminders_go_once_to_registered_people_only(world, mailoutbox):
    soon = make_event(world, capacity=1, starts_in=timedelta(hours=20))
    later = make_event(world, starts_in=timedelta(days=5), title="Later")
    services.event_register(actor=world["ingham_member"], event=soon, organization=world.ingham)
    services.event_register(actor=world["washtenaw_member"], event=soon, organization=world.washtenaw)  # waiting
    services.event_register(actor=world["lansing_member"], event=later, organization=world.lansing)
    assert services.event_send_reminders() == 1
    assert [m.to for m in mailoutbox] == [["ingham_member@example.test"]]
    assert services.event_send_reminders() == 0


def test_calendar_feed_token_shows_my_events_and_is_revocable(world, as_persona):
    event = make_event(world, capacity=1)
    other = make_event(world, title="Someone else's event")
    services.event_register(actor=world["ingham_admin"], event=event, organization=world.ingham)
    services.event_register(actor=world["ingham_member"], event=event, organization=world.ingham)  # waiting
    services.event_register(actor=world["washtenaw_member"], event=other, organization=world.washtenaw)
    client = as_persona("ingham_member")
    page = client.post("/partnerships/calendar/", {"action": "create"}).content.decode()
    url = re.search(r'<code id="feed-url">[^<]*(/partnerships/calendar/[^<]+\.ics)</code>', page).group(1)
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert len(token) >= 40
    assert not CalendarFeed.objects.filter(token_hash=token).exists()  # only the hash is stored

    anonymous = Client()
    response = anonymous.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    summaries = [str(c["summary"]) for c in calendar.walk("VEVENT")]
    assert summaries == ["Ransomware tabletop exercise (waiting list)"]
    assert [str(c["status"]) for c in calendar.walk("VEVENT")] == ["TENTATIVE"]

    # A new link replaces the old one; revoking stops every link.
    client.post("/partnerships/calendar/", {"action": "create"})
    assert anonymous.get(url).status_code == 404
    client.post("/partnerships/calendar/", {"action": "revoke"})
    assert not CalendarFeed.objects.filter(user=world["ingham_member"], revoked_at__isnull=True).exists()
    assert anonymous.get("/partnerships/calendar/not-a-real-token.ics").status_code == 404


def test_a_removed_member_s_calendar_feed_shows_nothing(world, as_persona):
    event = make_event(world)
    services.event_register(actor=world["lansing_member"], event=event, organization=world.lansing)
    token = services.calendar_feed_create(actor=world["lansing_member"])
    membership = world.memberships["lansing_member"]
    membership.status = "removed"
    membership.save()
    response = Client().get(f"/partnerships/calendar/{token}.ics")
    assert response.status_code == 200
    assert Calendar.from_ical(response.content).walk("VEVENT") == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_people_racing_for_the_last_place_get_one_place_and_one_waiting_list(world):
    import threading

    from django.db import connection

    event = make_event(world, capacity=1)
    barrier = threading.Barrier(3)
    results: list[str] = []
    errors: list[BaseException] = []

    def register(name: str, org: Any) -> None:
        try:
            barrier.wait()
            results.append(services.event_register(actor=world[name], event=event, organization=org).status)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    people = [("ingham_member", world.ingham), ("washtenaw_member", world.washtenaw), ("lansing_member", world.lansing)]
    threads = [threading.Thread(target=register, args=person) for person in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert sorted(results) == ["registered", "waitlisted", "waitlisted"]
    assert Registration.objects.filter(event=event, status="registered").count() == 1
