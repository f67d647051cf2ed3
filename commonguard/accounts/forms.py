from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import password_validators_help_text_html

from commonguard.accounts.models import Role
from commonguard.web.forms import Form, UswdsFormMixin


class SignInForm(UswdsFormMixin, AuthenticationForm):
    username = forms.EmailField(
        label="E-mail address", widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )
    password = forms.CharField(
        label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    error_messages = {
        "invalid_login": "That e-mail address and password do not match an account. Check both and try again.",
        "inactive": "This account is disabled. Ask your organisation's admin.",
    }


class OtpForm(Form):
    token = forms.CharField(
        label="Code from your authenticator app (or a recovery code)",
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}),
    )


class TotpConfirmForm(Form):
    token = forms.CharField(
        label="The 6-digit code your app shows now",
        max_length=10,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


class RegisterForm(Form):
    full_name = forms.CharField(
        label="Full name", max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    email = forms.EmailField(label="Work e-mail address", widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    title = forms.CharField(
        label="Job title",
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "organization-title"}),
    )
    phone = forms.CharField(
        label="Work phone", max_length=40, required=False, widget=forms.TextInput(attrs={"autocomplete": "tel"})
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 12 characters; not a common password.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.password_help_html = password_validators_help_text_html()


# Roles a person may ask for when joining. State-staff and coordinator roles are given by the
# agency's admin after joining (they need vetting by the agency itself).
JOINABLE_ROLES = [Role.MEMBER, Role.ORG_ADMIN, Role.RESPONDER, Role.OFFICIAL]


class JoinForm(Form):
    organization = forms.IntegerField(widget=forms.HiddenInput)
    role = forms.ChoiceField(
        label="Your role there",
        choices=[(r.value, r.label) for r in JOINABLE_ROLES],
        initial=Role.MEMBER,
        help_text="Liaison, analyst and coordinator roles are given by your agency's admin after you join.",
    )
    message = forms.CharField(
        label="Note for the person who approves you",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Say who you are there, so they can recognise you.",
    )


class TokenCreateForm(Form):
    name = forms.CharField(
        label="What is this token for?", max_length=100, help_text="For example: SIEM indicator pull"
    )
    expires_at = forms.DateField(
        label="Expires on (optional)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
