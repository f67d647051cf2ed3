"""An ASGI guard in front of Django for TAXII POSTs: Django's ASGI handler reads the whole body
before any view runs, so a body larger than the API root's max_content_length is refused here, from
its Content-Length, before a byte of it is read (TAXII 2.1 §5.5: 413). The view checks again for
servers that reach it directly (WSGI, the test client)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


# STIX bundle uploads (page and API) have a limit of their own; the margin is multipart's envelope.
UPLOAD_PATHS = ("/stix/imports/", "/api/v1/stix/imports/")
UPLOAD_MARGIN = 64 * 1024


def _limit_for(scope: Scope) -> int | None:
    if scope["type"] != "http" or scope.get("method") != "POST":
        return None
    path = scope.get("path", "")
    if path.startswith("/taxii2/"):
        from commonguard.interop.taxii import max_content_length

        return max_content_length()
    if path in UPLOAD_PATHS:
        from commonguard.interop.imports import max_bytes

        return max_bytes() + UPLOAD_MARGIN
    return None


def _too_big(path: str, limit: int) -> tuple[bytes, bytes]:
    """A TAXII error resource under /taxii2/, the REST API's error elsewhere."""
    if path.startswith("/taxii2/"):
        from commonguard.interop.taxii import TAXII_MEDIA

        error = {
            "title": "The body is larger than max_content_length.",
            "description": f"At most {limit} bytes.",
            "http_status": "413",
        }
        return TAXII_MEDIA.encode(), json.dumps(error).encode()
    message = f"The bundle is over {limit // (1024 * 1024)} MB."
    return b"application/json", json.dumps({"error": {"code": "too_large", "message": message, "fields": {}}}).encode()


def taxii_body_limit(app: ASGIApp) -> ASGIApp:
    async def guarded(scope: Scope, receive: Any, send: Any) -> None:
        limit = _limit_for(scope)
        if limit is not None:
            declared = next((v for k, v in scope.get("headers", []) if k == b"content-length"), b"0")
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = False
            if too_big:
                media, body = _too_big(scope.get("path", ""), limit)
                await send(
                    {
                        "type": "http.response.start",
                        "status": 413,
                        "headers": [
                            (b"content-type", media),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await app(scope, receive, send)

    return guarded
