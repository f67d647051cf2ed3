"""A person's iCalendar feed: the events they hold a place for or wait for, as they may read them."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from icalendar import Calendar
from icalendar import Event as IcsEvent

from commonguard.partnerships.models import Event, Registration


def calendar_for(user: Any, *, host: str) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//CommonGuard//Partnership events//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "CommonGuard events")
    registrations = (
        Registration.objects.visible_to(user)
        .filter(user=user, status__in=Registration.OPEN_STATUSES, event__in=Event.objects.visible_to(user))
        .select_related("event")
    )
    for registration in registrations:
        event = registration.event
        item = IcsEvent()
        item.add("uid", f"{event.uid}@{host}")
        item.add("dtstamp", timezone.now())
        item.add("dtstart", event.starts_at)
        item.add("dtend", event.ends_at)
        waiting = registration.status == Registration.Status.WAITLISTED
        item.add("summary", f"{event.title}{' (waiting list)' if waiting else ''}")
        item.add("location", event.location)
        item.add("description", event.description)
        item.add("status", "CANCELLED" if event.cancelled else ("TENTATIVE" if waiting else "CONFIRMED"))
        calendar.add_component(item)
    return calendar.to_ical()
