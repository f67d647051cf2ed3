"""Request types for views that only signed-in people reach (the decorators guarantee it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.http import HttpRequest

if TYPE_CHECKING:
    from django_htmx.middleware import HtmxDetails

    from commonguard.accounts.models import User


class AuthedRequest(HttpRequest):
    user: User
    htmx: HtmxDetails


def acting_user(request: Any) -> User:
    """The signed-in person of a DRF or Django request whose permission check already ran."""
    return cast("User", request.user)
