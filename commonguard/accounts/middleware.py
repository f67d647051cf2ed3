"""Two-step sign-in enforcement.

After the password, a person who has an authenticator must enter its code before anything else;
a person whose role requires a second factor and has none must enrol first. API calls made with
a personal token are not affected (tokens are created from a verified session)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

_LIVE_STREAM = "/alerts/live/"
_EXEMPT_PREFIXES = ("/static/", "/accounts/logout/", "/accounts/mfa/", "/healthz")


class MfaRequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not request.path.startswith(_EXEMPT_PREFIXES):
            step = mfa_step_needed(request)
            if step is not None:
                if request.path == _LIVE_STREAM:  # an EventSource cannot follow a redirect to a form
                    return HttpResponse("Finish two-step sign-in first.", status=403, content_type="text/plain")
                if request.path.startswith("/api/"):
                    return JsonResponse(
                        {"error": {"code": "mfa_required", "message": "Finish two-step sign-in in the browser first."}},
                        status=401,
                    )
                target = reverse("accounts:mfa-verify" if step == "verify" else "accounts:mfa-setup")
                return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)


def mfa_step_needed(request: HttpRequest) -> str | None:
    """'verify' when the person has a device but has not used it this session, 'setup' when their
    role needs one and they have none, else None. Answered once per request (the middleware and
    the page layout both ask)."""
    if not hasattr(request, "_commonguard_mfa_step"):
        request._commonguard_mfa_step = _mfa_step(request)  # type: ignore[attr-defined]
    return request._commonguard_mfa_step  # type: ignore[attr-defined]


def _mfa_step(request: HttpRequest) -> str | None:
    from django_otp import user_has_device

    from commonguard.accounts.services import mfa_required

    user = request.user
    if user.is_verified():  # type: ignore[union-attr]
        return None
    if user_has_device(user, confirmed=True):
        return "verify"
    if mfa_required(user):
        return "setup"
    return None
