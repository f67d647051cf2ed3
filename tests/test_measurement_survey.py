"""The relationship survey's cycle: survey owners open it (IT leads invited by e-mail through an
outbox), send reminders to those who have not answered, read the response rate and individual
answers (audited), close it. The answer link works once, for its recipient only."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from commonguard.core.models import AuditEvent
from commonguard.measurement import services, surveys
from commonguard.measurement.models import Survey, SurveyInvitation, SurveyMail, SurveyOwner, SurveyResponse
from tests.conftest import PERSONAS, VETTED_PERSONAS, sign_in
from tests.factories import MembershipFactory, UserFactory
from tests.measurement_helpers import answer, cities

pytestmark = pytest.mark.django_db
YEAR = timezone.now().year
RATINGS = {"information_sharing": "fair", "resource_sharing": "excellent", "education_training": "poor"}


@pytest.fixture
def owner(world):
    SurveyOwner.objects.create(state="MI", user=world["liaison1"])
    return world["liaison1"]


def _links(smtp) -> dict[str, str]:
    out = {}
    for message in smtp.messages:
        body = message.get_payload(decode=True).decode()
        out[message["To"]] = re.search(r"(/measurement/survey/answer/[^/\s]+/)", body).group(1)
    return out


def test_opening_invites_every_it_lead_through_the_outbox_once(world, owner, smtp, as_persona):
    response = as_persona("liaison1").post("/measurement/survey/manage/", {"year": YEAR})
    assert response.status_code == 302
    survey = Survey.objects.get(state="MI", year=YEAR)
    # Admins of approved local governments only: Ingham and Washtenaw (Lansing has no admin here).
    invited = set(survey.invitations.values_list("recipient__email", flat=True))
    assert invited == {"ingham_admin@example.test", "washtenaw_admin@example.test"}
    assert smtp.messages == []  # written in the transaction, sent by the worker
    assert set(SurveyMail.objects.values_list("status", flat=True)) == {"pending"}
    assert surveys.survey_mail_send()["sent"] == 2
    assert sorted(m["To"] for m in smtp.messages) == sorted(invited)
    assert "the link works once" in smtp.messages[0].get_payload(decode=True).decode()
    assert surveys.survey_mail_send()["sent"] == 0 and len(smtp.messages) == 2
    # Opening again adds nobody and sends nothing twice.
    surveys.survey_open(actor=owner, state="MI", year=YEAR)
    assert surveys.survey_mail_send()["sent"] == 0 and survey.invitations.count() == 2
    assert AuditEvent.objects.filter(action="survey.open").count() == 2


def test_a_worker_killed_after_claiming_loses_nothing(world, owner, smtp):
    surveys.survey_open(actor=owner, state="MI", year=YEAR)
    assert surveys._claim() is not None  # a worker claimed the batch, then died before sending
    assert surveys.survey_mail_send()["sent"] == 0  # within the lease
    SurveyMail.objects.update(claimed_at=timezone.now() - surveys.LEASE - timedelta(seconds=1))
    assert surveys.survey_mail_send()["sent"] == 2
    assert len(smtp.messages) == 2 and set(SurveyMail.objects.values_list("status", flat=True)) == {"sent"}


def test_an_smtp_failure_is_retried_not_lost(world, owner, settings, smtp):
    surveys.survey_open(actor=owner, state="MI", year=YEAR)
    good_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = 9  # nothing listens there
    assert surveys.survey_mail_send() == {"sent": 0, "skipped": 0, "failed": 0, "retry": 2}
    assert list(SurveyMail.objects.values_list("status", "attempts")) == [("retry", 1), ("retry", 1)]
    settings.EMAIL_PORT = good_port
    assert surveys.survey_mail_send()["sent"] == 0  # not before its retry time (30 s after the first try)
    waited = SurveyMail.objects.values_list("next_attempt_at", flat=True)
    assert all(at > timezone.now() + timedelta(seconds=20) for at in waited)
    SurveyMail.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert surveys.survey_mail_send()["sent"] == 2 and len(smtp.messages) == 2


def test_the_answer_link_works_once_for_its_recipient_only(world, owner, smtp, as_persona):
    surveys.survey_open(actor=owner, state="MI", year=YEAR)
    surveys.survey_mail_send()
    link = _links(smtp)["ingham_admin@example.test"]
    for persona in ("washtenaw_admin", "ingham_member", "liaison1"):
        assert as_persona(persona).get(link).status_code == 404
    assert as_persona("anonymous").get(link).status_code == 302  # sign in first
    assert as_persona("ingham_admin").get(link.replace("/answer/", "/answer/x")).status_code == 404
    client = as_persona("ingham_admin")
    page = client.get(link)
    assert page.status_code == 200 and "relationship survey: Ingham County" in page.content.decode()
    assert client.post(link, RATINGS).status_code == 302
    assert SurveyResponse.objects.get().organization == world.ingham
    assert SurveyInvitation.objects.get(organization=world.ingham).used_at is not None
    again = client.post(link, {**RATINGS, "information_sharing": "poor"}, follow=True)
    assert "This link has been used" in again.content.decode()
    assert SurveyResponse.objects.get().information_sharing == "fair"


def test_a_closed_survey_takes_no_answers(world, owner, as_persona):
    survey = surveys.survey_open(actor=owner, state="MI", year=YEAR)
    surveys.survey_close(actor=owner, survey=survey)
    response = as_persona("ingham_admin").post(f"/measurement/survey/{world.ingham.pk}/", RATINGS)
    assert response.status_code == 409
    assert f"The {YEAR} relationship survey is not open" in response.content.decode()
    api = as_persona("ingham_admin").post(
        "/api/v1/measurement/survey/answers/",
        {"organization": world.ingham.pk, **RATINGS},
        content_type="application/json",
    )
    assert api.status_code == 409 and api.json()["error"]["code"] == "survey_closed"
    assert not SurveyResponse.objects.exists()
    assert SurveyMail.objects.filter(status="pending").count() == 0  # unsent invitations dropped


def test_no_survey_at_all_takes_no_answers(world):
    with pytest.raises(surveys.SurveyClosed):
        services.survey_answer_submit(
            actor=world["ingham_admin"], organization=world.ingham, year=YEAR, ratings=RATINGS
        )
    assert not SurveyResponse.objects.exists()


def test_reminders_go_only_to_those_who_have_not_answered(world, owner, smtp, as_persona):
    survey = surveys.survey_open(actor=owner, state="MI", year=YEAR)
    surveys.survey_mail_send()
    services.survey_answer_submit(
        actor=world["washtenaw_admin"], organization=world.washtenaw, year=YEAR, ratings=RATINGS
    )
    smtp.messages.clear()
    response = as_persona("liaison1").post(f"/measurement/survey/manage/{YEAR}/", {"action": "remind"}, follow=True)
    assert "1 reminder queued." in response.content.decode()
    # Asking twice before the first is sent queues nothing more.
    assert surveys.survey_remind(actor=owner, survey=survey) == 0
    assert surveys.survey_mail_send()["sent"] == 1
    assert [m["To"] for m in smtp.messages] == ["ingham_admin@example.test"]
    assert smtp.messages[0]["Subject"].startswith("Reminder: Ingham County has not yet answered")
    # The periodic run: nothing within a week of the last e-mail; then one more, at most three in all.
    assert surveys.survey_remind_due() == 0
    later = timezone.now() + timedelta(days=8)
    assert surveys.survey_remind_due(now=later) == 1
    surveys.survey_mail_send()
    assert SurveyInvitation.objects.get(organization=world.ingham).reminders == 2


def test_invitation_mail_is_skipped_when_the_person_is_no_longer_the_it_lead(world, owner, smtp):
    surveys.survey_open(actor=owner, state="MI", year=YEAR)
    world.memberships["ingham_admin"].status = "removed"
    world.memberships["ingham_admin"].save()
    counts = surveys.survey_mail_send()
    assert counts["sent"] == 1 and counts["skipped"] == 1
    assert [m["To"] for m in smtp.messages] == ["washtenaw_admin@example.test"]


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_survey_owners_run_the_survey(world, owner, persona, as_persona):
    Survey.objects.create(state="MI", year=YEAR - 1, status="open", opened_at=timezone.now())
    client = as_persona(persona)
    pages = [
        client.get("/measurement/survey/manage/"),
        client.post("/measurement/survey/manage/", {"year": YEAR}),
        client.get(f"/measurement/survey/manage/{YEAR - 1}/"),
        client.post(f"/measurement/survey/manage/{YEAR - 1}/", {"action": "close"}),
    ]
    if persona == "liaison1":
        assert [p.status_code for p in pages] == [200, 302, 200, 302]
        assert Survey.objects.get(year=YEAR - 1).status == "closed"
    else:
        expected = {404} if persona in VETTED_PERSONAS else {302, 404}
        assert {p.status_code for p in pages} <= expected
        assert not Survey.objects.filter(year=YEAR).exists()
        assert Survey.objects.get(year=YEAR - 1).status == "open"


def test_response_rate_exact_for_owners_total_only_and_k_protected_for_others(world, owner, as_persona):
    region1 = cities(6, region=world.region1)
    region2 = cities(3, region=world.region2, county_fips="26161")
    for org in region1 + region2:
        MembershipFactory(user=UserFactory(), organization=org, role="org_admin", status="approved")
    surveys.survey_open(actor=owner, state="MI", year=YEAR)
    for org in region1[:5] + region2[:2]:
        answer(org, YEAR, "fair")
    page = as_persona("liaison1").get(f"/measurement/survey/manage/{YEAR}/").content.decode()
    assert re.search(r"Region 2</th><td[^>]*>4</td><td[^>]*>2</td><td[^>]*>50 %", page)
    assert re.search(r"Region 1</th><td[^>]*>7</td><td[^>]*>5</td><td[^>]*>71 %", page)
    rates = surveys.response_rates(Survey.objects.get(), exact=False)
    assert rates.by_region == [] and rates.by_size == [] and rates.total.answered == 7
    public = as_persona("washtenaw_member").get(f"/measurement/survey/results/?year={YEAR}").content.decode()
    assert "7 of 11 invited local governments answered (64 %)" in public
    assert "Region 2</th><td" not in public or ">2</td>" not in public


def test_reading_individual_answers_is_audited(world, owner, as_persona):
    answer(world.ingham, YEAR, "poor")
    assert as_persona("liaison1").get(f"/measurement/survey/answers/?year={YEAR}").status_code == 200
    event = AuditEvent.objects.get(action="survey.answers.read")
    assert event.kind == "read" and event.actor_id == world["liaison1"].pk and event.data["answers"] == 1
    assert as_persona("analyst").get(f"/measurement/survey/answers/?year={YEAR}").status_code == 404
    assert AuditEvent.objects.filter(action="survey.answers.read").count() == 1


def test_url_of_the_link_refuses_a_removed_recipient(world, owner, smtp):
    surveys.survey_open(actor=owner, state="MI", year=YEAR)
    surveys.survey_mail_send()
    link = _links(smtp)["ingham_admin@example.test"]
    world.memberships["ingham_admin"].role = "member"
    world.memberships["ingham_admin"].save()
    client = sign_in(Client(), world["ingham_admin"])
    assert client.get(link).status_code == 404
