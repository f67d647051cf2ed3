"""Asking for help from an incident report (issue 5's "one action to ask for help", consumed by mutual aid)."""

from __future__ import annotations

import re
from typing import Any

from django.utils import timezone

from commonguard.incidents.models import ReportEvent
from commonguard.mutualaid.models import AssistanceRequest
from tests.incident_helpers import make_report
from tests.mutualaid_helpers import place_world


def test_a_reporter_asks_for_help_from_the_report_and_the_request_links_back(world: Any, as_persona: Any) -> None:
    place_world(world)
    report = make_report(world["ingham_member"], world.ingham, extra={"help_wanted": "Two people to rebuild AD."})
    client = as_persona("ingham_member")
    page = client.get(f"/incidents/{report.uuid}/")
    assert f"/mutualaid/requests/?report={report.uuid}".encode() in page.content
    form = client.get(f"/mutualaid/requests/?report={report.uuid}")
    assert form.status_code == 200
    body = form.content.decode()
    assert "Two people to rebuild AD." in body
    assert re.search(r'value="ransomware-recovery"[^>]*checked', body)  # a ransomware report's first guess
    assert not re.search(r'value="elections"[^>]*checked', body)
    response = client.post(
        "/mutualaid/requests/",
        {
            "requesting_org": world.ingham.pk,
            "title": "Help with: ransomware",
            "description": "Two people to rebuild AD.",
            "skills": ["ad-rebuild", "ransomware-recovery"],
            "mode": "either",
            "starts_on": timezone.localdate().isoformat(),
            "duration_days": 5,
            "headcount": 2,
            "priority": "high",
            "report": str(report.uuid),
        },
    )
    assert response.status_code == 302, response.content[:500]
    aid = AssistanceRequest.objects.get(title="Help with: ransomware")
    assert aid.incident_report == report
    assert ReportEvent.objects.filter(report=report, kind="aid_requested").exists()
    assert b"Help asked: Help with: ransomware" in client.get(f"/incidents/{report.uuid}/").content
    detail = client.get(f"/mutualaid/requests/{aid.pk}/")
    assert f"/incidents/{report.uuid}/".encode() in detail.content
    # A coordinator handles the request but may not read the confidential report: it is not named to them.
    coordinator = as_persona("coordinator").get(f"/mutualaid/requests/{aid.pk}/")
    if coordinator.status_code == 200:
        assert f"/incidents/{report.uuid}/".encode() not in coordinator.content


def test_a_report_someone_may_not_read_is_never_linked(world: Any, as_persona: Any) -> None:
    """Another organisation's report uuid prefills nothing and links nothing (as if it did not exist)."""
    place_world(world)
    other = make_report(world["washtenaw_member"], world.washtenaw)
    client = as_persona("ingham_member")
    form = client.get(f"/mutualaid/requests/?report={other.uuid}")
    assert form.status_code == 200 and other.title.encode() not in form.content
    client.post(
        "/mutualaid/requests/",
        {
            "requesting_org": world.ingham.pk,
            "title": "Sneaky link",
            "description": "x",
            "skills": ["forensics"],
            "mode": "remote",
            "starts_on": timezone.localdate().isoformat(),
            "duration_days": 1,
            "headcount": 1,
            "priority": "normal",
            "report": str(other.uuid),
        },
    )
    assert AssistanceRequest.objects.filter(title="Sneaky link", incident_report__isnull=True).exists()
    assert not ReportEvent.objects.filter(report=other, kind="aid_requested").exists()
