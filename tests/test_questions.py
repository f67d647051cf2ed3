"""Questions to an alert's author: who reads a thread (persona matrix on every channel), 404 like
absent, anonymity toward the asker on page, API and e-mail, who may write, bad input, and the
notices through a real SMTP server."""

from __future__ import annotations

import re
from email.header import decode_header, make_header

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command

from commonguard.accounts.models import Membership
from commonguard.core.models import AuditEvent
from commonguard.core.tlp import TLP
from commonguard.sharing.models import Question, QuestionReply
from commonguard.sharing.questions import question_ask, question_reply
from commonguard.sharing.services import AlertInput, alert_revoke, alert_update
from tests.conftest import PERSONAS
from tests.sharing_helpers import make_alert


def same_page(a, b) -> bool:
    """Two pages alike but for their CSRF tokens."""

    def strip(content: bytes) -> str:
        return re.sub(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+', r"\1", content.decode())

    return a.status_code == b.status_code and strip(a.content) == strip(b.content)


# A GREEN alert from Ingham, asked about by Washtenaw: every vetted person reads the alert, but only
# Ingham's and Washtenaw's members read the thread (not state staff, not the operator, not Lansing).
THREAD_READERS = {"ingham_member", "ingham_admin", "ingham_official", "washtenaw_member", "washtenaw_admin"}
QUESTION = "Did the phish reach your *payroll* staff?"
REPLY = "Only two mailboxes; we blocked the sender."


def _thread(world, *, tlp=TLP.GREEN, anonymous=False, **extra):
    alert = make_alert(world["ingham_member"], world.ingham, tlp, anonymous=anonymous, **extra)
    question = question_ask(actor=world["washtenaw_member"], alert=alert, organization=world.washtenaw, body=QUESTION)
    question_reply(actor=world["ingham_admin"], question=question, body=REPLY)
    return alert, question


@pytest.mark.parametrize("persona", PERSONAS)
def test_who_reads_a_thread_on_every_channel(world, as_persona, persona):
    alert, question = _thread(world)
    readable = persona in THREAD_READERS
    user = None if persona == "anonymous" else world[persona]
    assert Question.objects.visible_to(user).filter(pk=question.pk).exists() is readable
    assert QuestionReply.objects.visible_to(user).filter(question=question).exists() is readable
    client = as_persona(persona)
    page = client.get(f"/alerts/{alert.uuid}/")
    if persona in {"anonymous", "unvetted", "removed_member"}:
        assert page.status_code == 302
    else:
        assert page.status_code == 200
        text = page.content.decode()
        assert ("payroll</em> staff" in text) is readable
        assert ("we blocked the sender" in text) is readable
    listing = client.get(f"/api/v1/alerts/{alert.uuid}/questions/")
    detail = client.get(f"/api/v1/alerts/{alert.uuid}/questions/{question.pk}/")
    missing = client.get(f"/api/v1/alerts/{alert.uuid}/questions/{question.pk + 999}/")
    if persona == "anonymous":
        assert listing.status_code in {401, 403} and detail.status_code in {401, 403}
        return
    if persona in {"unvetted", "removed_member"}:  # cannot read the alert: it is absent for them
        assert listing.status_code == 404
    else:
        assert listing.status_code == 200
        assert [t["id"] for t in listing.json()] == ([question.pk] if readable else [])
    if readable:
        assert detail.status_code == 200
        assert [p["body"] for p in detail.json()["posts"]] == [QUESTION, REPLY]
    else:  # exactly like a thread that does not exist
        assert (detail.status_code, detail.content) == (missing.status_code, missing.content) == (404, missing.content)
        reply = client.post(f"/api/v1/alerts/{alert.uuid}/questions/{question.pk}/replies/", {"body": "hi"})
        assert reply.status_code == 404
        if persona in {"unvetted", "removed_member"}:
            return
        page_reply = client.post(
            f"/alerts/{alert.uuid}/questions/{question.pk}/replies/", {f"reply-{question.pk}-body": "x"}
        )
        missing_reply = client.post(f"/alerts/{alert.uuid}/questions/{question.pk + 999}/replies/", {"x": "y"})
        assert page_reply.status_code == 404 and same_page(page_reply, missing_reply)
        assert QuestionReply.objects.count() == 1


def test_a_thread_follows_the_alert_read_rule(world, as_persona):
    """Only while the alert is readable: Washtenaw dropped from an AMBER audience loses the thread."""
    alert, question = _thread(world, tlp=TLP.AMBER, recipient_orgs=[world.washtenaw])
    assert Question.objects.visible_to(world["washtenaw_admin"]).count() == 1
    data = AlertInput(title=alert.title, summary=alert.summary, category=alert.category, tlp=TLP.AMBER)
    data.recipient_orgs = [world.lansing]
    alert_update(actor=world["ingham_member"], alert=alert, data=data)
    assert Question.objects.visible_to(world["washtenaw_admin"]).count() == 0
    assert Question.objects.visible_to(world["washtenaw_member"]).count() == 0  # the asker too
    assert Question.objects.visible_to(world["lansing_member"]).count() == 0  # the new audience: not a party
    client = as_persona("washtenaw_member")
    hidden = client.get(f"/api/v1/alerts/{alert.uuid}/questions/")
    missing = client.get("/api/v1/alerts/00000000-0000-4000-8000-000000000001/questions/")
    assert (hidden.status_code, hidden.content) == (missing.status_code, missing.content)
    assert hidden.status_code == 404
    with pytest.raises(PermissionDenied):
        question_reply(actor=world["washtenaw_member"], question=question, body="Still there?")


def test_red_thread_is_read_by_the_named_person_not_their_colleagues(world):
    alert = make_alert(world["ingham_member"], world.ingham, TLP.RED, recipient_people=[world["washtenaw_member"]])
    question = question_ask(actor=world["washtenaw_member"], alert=alert, organization=world.washtenaw, body="Q?")
    readers = {p for p in PERSONAS if p != "anonymous" and Question.objects.visible_to(world[p]).filter(pk=question.pk)}
    assert readers == {"ingham_member", "washtenaw_member"}  # the author and the named person


def test_anonymity_holds_toward_the_asker_on_page_api_and_mail(world, as_persona):
    alert, _question = _thread(world, anonymous=True)
    asker = as_persona("washtenaw_member")
    page = asker.get(f"/alerts/{alert.uuid}/").content.decode()
    api = asker.get(f"/api/v1/alerts/{alert.uuid}/questions/").content.decode()
    for text in (page, api):
        assert "The author (a county in Region 1)" in text
        assert "Ingham" not in text and "ingham" not in text
    author_side = as_persona("ingham_member").get(f"/alerts/{alert.uuid}/").content.decode()
    assert "Ingham Admin, Ingham County (author)" in author_side
    assert "Washtenaw Member, Washtenaw County" in author_side


def test_who_may_write_and_bad_input_store_nothing(world):
    amber = make_alert(world["ingham_member"], world.ingham, TLP.AMBER, recipient_orgs=[world.washtenaw])
    with pytest.raises(PermissionDenied):  # cannot read the alert
        question_ask(actor=world["lansing_member"], alert=amber, organization=world.lansing, body="Q?")
    with pytest.raises(PermissionDenied):  # not their organisation
        question_ask(actor=world["washtenaw_member"], alert=amber, organization=world.guard, body="Q?")
    with pytest.raises(ValidationError, match="does not ask itself"):
        question_ask(actor=world["ingham_admin"], alert=amber, organization=world.ingham, body="Q?")
    for body in ["", "   ", "x" * 5001]:
        with pytest.raises(ValidationError):
            question_ask(actor=world["washtenaw_member"], alert=amber, organization=world.washtenaw, body=body)
    alert_revoke(actor=world["ingham_member"], alert=amber, reason="Wrong domain")
    with pytest.raises(ValidationError, match="revoked alert takes no new questions"):
        question_ask(actor=world["washtenaw_member"], alert=amber, organization=world.washtenaw, body="Q?")
    assert Question.objects.count() == 0
    _green, question = _thread(world)
    for persona in ["lansing_member", "analyst", "operator", "coordinator"]:
        with pytest.raises(PermissionDenied):
            question_reply(actor=world[persona], question=question, body="Me too")
    with pytest.raises(ValidationError):
        question_reply(actor=world["ingham_admin"], question=question, body=" ")
    assert QuestionReply.objects.count() == 1
    actions = list(AuditEvent.objects.filter(action__startswith="alert.question").values_list("action", flat=True))
    assert sorted(actions) == ["alert.question", "alert.question_reply"]


def test_ask_and_reply_through_the_pages(world, as_persona):
    alert = make_alert(world["ingham_member"], world.ingham, TLP.GREEN)
    asker = as_persona("washtenaw_member")
    page = asker.get(f"/alerts/{alert.uuid}/").content.decode()
    assert "Ask the author a question" in page
    hostile = "Look <script>alert(1)</script> [x](javascript:alert(1)) **now**"
    answer = asker.post(
        f"/alerts/{alert.uuid}/questions/", {"ask-organization": world.washtenaw.pk, "ask-body": hostile}
    )
    question = Question.objects.get()
    assert answer.status_code == 302 and answer["Location"].endswith(f"#question-{question.pk}")
    shown = asker.get(f"/alerts/{alert.uuid}/").content.decode()
    assert "<strong>now</strong>" in shown and "<script>alert(1)" not in shown and 'href="javascript' not in shown
    author = as_persona("ingham_admin")
    author.post(f"/alerts/{alert.uuid}/questions/{question.pk}/replies/", {f"reply-{question.pk}-body": "Block it."})
    reply = QuestionReply.objects.get()
    assert (reply.from_author, reply.organization, reply.user) == (True, world.ingham, world["ingham_admin"])
    # Bad input: nothing stored, the reason shown.
    empty = asker.post(
        f"/alerts/{alert.uuid}/questions/", {"ask-organization": world.washtenaw.pk, "ask-body": ""}, follow=True
    )
    assert "Write your question." in empty.content.decode()
    foreign = asker.post(f"/alerts/{alert.uuid}/questions/", {"ask-organization": world.ingham.pk, "ask-body": "Q"})
    assert foreign.status_code == 302
    assert Question.objects.count() == 1


def test_the_api_asks_and_replies(world, as_persona):
    alert = make_alert(world["ingham_member"], world.ingham, TLP.GREEN, anonymous=True)
    asker = as_persona("washtenaw_member")
    created = asker.post(
        f"/api/v1/alerts/{alert.uuid}/questions/", {"body": "Which sender?"}, content_type="application/json"
    )
    assert created.status_code == 201, created.content
    thread = created.json()
    assert thread["organization"]["name"] == "Washtenaw County"
    bad = asker.post(f"/api/v1/alerts/{alert.uuid}/questions/", {"body": ""}, content_type="application/json")
    assert bad.status_code == 400 and "body" in bad.json()["error"]["fields"]
    other = asker.post(
        f"/api/v1/alerts/{alert.uuid}/questions/",
        {"body": "Q", "organization": world.ingham.pk},
        content_type="application/json",
    )
    assert other.status_code == 400 and "organization" in other.json()["error"]["fields"]
    author = as_persona("ingham_official")
    replied = author.post(
        f"/api/v1/alerts/{alert.uuid}/questions/{thread['id']}/replies/",
        {"body": "bad.example"},
        content_type="application/json",
    )
    assert replied.status_code == 201
    seen_by_asker = as_persona("washtenaw_member").get(f"/api/v1/alerts/{alert.uuid}/questions/{thread['id']}/").json()
    assert [(p["who"], p["from_author"]) for p in seen_by_asker["posts"]] == [
        ("Washtenaw Member, Washtenaw County", False),
        ("The author (a county in Region 1)", True),
    ]
    assert Question.objects.count() == 1 and QuestionReply.objects.count() == 1


# --- E-mail through the worker and a real SMTP server ----------------------------------------------


def _run_worker() -> None:
    call_command("db_worker", "--batch", "--queue-name", "*", "--no-reload", verbosity=0)


def _subject(message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def _text(message) -> str:
    return message.get_payload(decode=True).decode()


@pytest.mark.django_db(transaction=True)
def test_notices_reach_the_other_side_and_anonymity_holds_in_mail(world, smtp):
    alert = make_alert(world["ingham_member"], world.ingham, TLP.GREEN, anonymous=True)
    _run_worker()
    smtp.messages.clear()  # the alert's own fan-out
    question = question_ask(actor=world["washtenaw_member"], alert=alert, organization=world.washtenaw, body=QUESTION)
    _run_worker()
    assert sorted(m["To"] for m in smtp.messages) == [
        "ingham_admin@example.test",
        "ingham_member@example.test",
        "ingham_official@example.test",
    ]
    assert _subject(smtp.messages[0]).startswith("[TLP:GREEN] A question about “")
    assert "Washtenaw Member, Washtenaw County wrote" in _text(smtp.messages[0])
    smtp.messages.clear()
    question_reply(actor=world["ingham_admin"], question=question, body=REPLY)
    _run_worker()
    assert [m["To"] for m in smtp.messages] == ["washtenaw_member@example.test"]
    text = _text(smtp.messages[0])
    assert "The author (a county in Region 1) wrote" in text and REPLY in text
    assert "Ingham" not in text and "ingham" not in text
    smtp.messages.clear()
    question_reply(actor=world["washtenaw_admin"], question=question, body="Thanks!")
    _run_worker()  # the follow-up reaches the author and the colleague who answered, not the asker's side
    assert sorted(m["To"] for m in smtp.messages) == ["ingham_admin@example.test", "ingham_member@example.test"]


@pytest.mark.django_db(transaction=True)
def test_notice_recipients_are_checked_again_at_send_time(world, smtp):
    alert = make_alert(world["ingham_member"], world.ingham, TLP.GREEN)
    _run_worker()
    smtp.messages.clear()
    question = question_ask(actor=world["washtenaw_member"], alert=alert, organization=world.washtenaw, body=QUESTION)
    question_reply(actor=world["ingham_admin"], question=question, body=REPLY)
    # Before the worker runs: the asker leaves Washtenaw; Ingham's official leaves Ingham.
    Membership.objects.filter(user__in=[world["washtenaw_member"], world["ingham_official"]]).update(status="removed")
    _run_worker()
    assert sorted(m["To"] for m in smtp.messages) == ["ingham_admin@example.test", "ingham_member@example.test"]
