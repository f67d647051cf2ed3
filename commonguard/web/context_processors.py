from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from commonguard.accounts.viewer import viewer_for
from commonguard.orgs.states import STATES


def hub(request: HttpRequest) -> dict[str, Any]:
    viewer = viewer_for(getattr(request, "user", None))
    state = STATES.get(settings.COMMONGUARD_STATE)
    return {
        "hub_state": settings.COMMONGUARD_STATE,
        "hub_state_name": state.name if state else settings.COMMONGUARD_STATE,
        "nav_viewer": viewer,
        "demo_mode": settings.DEMO,
        "live_feed": lambda: _live_feed(request, viewer.is_vetted),
        "live_notify": lambda: _live_notify(request, viewer.is_vetted),
    }


def _live_feed(request: HttpRequest, vetted: bool) -> bool:
    """The live feed runs on pages of vetted people who are through two-step sign-in."""
    from commonguard.accounts.middleware import mfa_step_needed

    return vetted and mfa_step_needed(request) is None


def _live_notify(request: HttpRequest, vetted: bool) -> bool:
    """Whether the live feed may pop up browser notifications (asked only by pages that show it)."""
    if not vetted:
        return False
    from commonguard.sharing.models import AlertPreference

    preference = AlertPreference.objects.filter(user_id=request.user.pk or 0).first()
    return preference is None or preference.browser_notifications
