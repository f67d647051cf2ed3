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


def taxii_body_limit(app: ASGIApp) -> ASGIApp:
    async def guarded(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("method") == "POST" and scope.get("path", "").startswith("/taxii2/"):
            from commonguard.interop.taxii import TAXII_MEDIA, max_content_length

            limit = max_content_length()
            declared = next((v for k, v in scope.get("headers", []) if k == b"content-length"), b"0")
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = False
            if too_big:
                body = json.dumps(
                    {
                        "title": "The body is larger than max_content_length.",
                        "description": f"At most {limit} bytes.",
                        "http_status": "413",
                    }
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 413,
                        "headers": [
                            (b"content-type", TAXII_MEDIA.encode()),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await app(scope, receive, send)

    return guarded
