"""Binds the request's address and id for the audit trail, and echoes the id back."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from commonguard.core import context


def client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: behind a proxy, configure the server (uvicorn --proxy-headers) to set it.
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = str(uuid.uuid4())
        channel = "api" if request.path.startswith(("/api/", "/taxii2/")) else "web"
        token = context.bind(
            context.RequestContext(ip_address=client_ip(request), request_id=request_id, channel=channel)
        )
        try:
            response = self.get_response(request)
        finally:
            context.reset(token)
        response["X-Request-ID"] = request_id
        return response
