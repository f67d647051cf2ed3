from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from commonguard.accounts.viewer import viewer_for


def vetted_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in and vetted; an unvetted person is sent home, where their own request is shown."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not viewer_for(request.user).is_vetted:
            return redirect("web:home")
        return view(request, *args, **kwargs)

    return wrapper
