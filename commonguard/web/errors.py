from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError


def apply_validation_error(
    form: forms.Form, exc: ValidationError | PermissionDenied, default_field: str | None = None
) -> None:
    """Show a service's error on the form: field errors on their fields, the rest at the top."""
    if isinstance(exc, PermissionDenied):
        form.add_error(None, str(exc))
        return
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            target = field if field in form.fields else None
            for error in errors:
                form.add_error(target, error.messages)
        return
    form.add_error(default_field if default_field in form.fields else None, exc.messages)


def form_errors_text(form: forms.Form) -> str:
    """All of a form's errors as one sentence, for a flash message."""
    return "; ".join(str(error) for errors in form.errors.values() for error in errors)


def set_choices(form: forms.Form, name: str, choices: Any) -> None:
    cast(forms.ChoiceField, form.fields[name]).choices = choices


def error_text(exc: ValidationError | PermissionDenied) -> str:
    """A service's refusal as one sentence for a flash message."""
    return " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
