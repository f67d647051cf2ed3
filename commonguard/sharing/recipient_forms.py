"""Forms of what a recipient does with an alert beyond reading it: ask, reply, forward."""

from __future__ import annotations

from django import forms

from commonguard.sharing.forwarding import MAX_NOTE
from commonguard.sharing.models import MAX_QUESTION
from commonguard.web.forms import Form


class AskForm(Form):
    organization = forms.TypedChoiceField(label="Ask for", coerce=int)
    body = forms.CharField(
        label="Your question",
        max_length=MAX_QUESTION,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Markdown. Read by the author's organisation and yours only; "
        "the author sees your name and organisation.",
        error_messages={"required": "Write your question."},
    )


class ReplyForm(Form):
    body = forms.CharField(
        label="Your reply",
        max_length=MAX_QUESTION,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Write your reply."},
    )


class ForwardForm(Form):
    email = forms.CharField(
        label="E-mail address of the person",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
        error_messages={"required": "Enter the e-mail address to forward the alert to."},
    )
    note = forms.CharField(
        label="Note (optional)", required=False, max_length=MAX_NOTE, widget=forms.Textarea(attrs={"rows": 2})
    )
