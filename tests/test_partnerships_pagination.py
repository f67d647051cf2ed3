"""Long lists of partnerships come in pages of 25 (Django's Paginator, as the directory), keeping
the filters in the page links; and the grant list reads its figures in a fixed number of queries."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from commonguard.partnerships import services
from commonguard.partnerships.models import Engagement, GrantProgram, Initiative
from tests.test_partnerships_events import make_event
from tests.test_partnerships_library import make_resource

pytestmark = pytest.mark.django_db
N = 27  # one full page of 25 and a second of 2


def _library(world):
    for i in range(N):
        make_resource(world, title=f"Playbook number {i:02d}")
    return "/partnerships/library/?q=playbook", "Playbook number"


def _events(world):
    for i in range(N):
        make_event(world, title=f"Tabletop number {i:02d}", starts_in=timedelta(days=3 + i))
    return "/partnerships/events/", "Tabletop number"


def _grants(world):
    GrantProgram.objects.bulk_create(
        GrantProgram(
            name=f"Programme number {i:02d}",
            state="MI",
            fiscal_year=2024,
            federal_award=Decimal("1000000"),
            cost_share_rate=Decimal("10"),
            administrator=world.state_it,
        )
        for i in range(N)
    )
    return "/partnerships/grants/", "Programme number"


def _engagements(world):
    Engagement.objects.bulk_create(
        Engagement(
            organization=world.ingham,
            liaison=world["liaison1"],
            kind="call",
            occurred_on=timezone.localdate() - timedelta(days=i),
            summary=f"Call number {i:02d}",
        )
        for i in range(N)
    )
    return "/partnerships/engagements/", "Call number"


def _initiatives(world):
    for i in range(N):
        services.initiative_create(
            actor=world["liaison1"],
            title=f"Initiative number {i:02d}",
            description="x",
            lead_org=world.state_it,
            partners=[],
            goals=[],
            status=Initiative.Status.ON_TRACK,
        )
    return "/partnerships/initiatives/", "Initiative number"


@pytest.mark.parametrize("build", [_library, _events, _grants, _engagements, _initiatives])
def test_long_lists_come_in_pages(world, as_persona, build):
    url, marker = build(world)
    client = as_persona("liaison1")
    first = client.get(url).content.decode()
    pattern = re.escape(marker) + r" \d\d"
    assert len(set(re.findall(pattern, first))) == 25 and "Page 1 of 2" in first
    joiner = "&" if "?" in url else "?"
    second = client.get(url + joiner + "page=2").content.decode()
    assert len(set(re.findall(pattern, second))) == 2 and "Page 2 of 2" in second
    assert not set(re.findall(pattern, first)) & set(re.findall(pattern, second))
    if "?q=" in url:  # the search is kept in the page links
        assert "q=playbook&amp;page=2" in first
    assert client.get(url + joiner + "page=99").status_code == 200  # past the end: the last page
