from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission

from commonguard.accounts.viewer import viewer_for


class IsVettedUser(BasePermission):
    """Signed in (session or token). What each person sees is then decided by visible_to; an
    unvetted person simply sees empty lists and 404s, never an error that reveals anything."""

    message = "Authentication credentials were not provided or are invalid."

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(viewer_for(request.user).is_authenticated)
