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
        "hub_state_name": state.name if state else settings.COMMONGUARD_STATE,
        "nav_viewer": viewer,
        "demo_mode": settings.DEMO,
    }
