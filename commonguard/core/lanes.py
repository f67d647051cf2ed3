"""Token API calls served on a few fixed threads with a short middleware chain (ADR 36).

Django's ASGI handler gives every request a thread of its own and runs each old-style middleware
hook through its own thread hop: about 2–4 ms of CPU per request before a view runs, and under a
burst hundreds of threads fighting for the interpreter lock and for database connections. Pages
need that handler (sessions, CSRF, messages, the live stream's disconnect handling); a call made
with an API token needs none of it. Such calls come here instead:

- **Lanes.** A lane is one thread with one `contextvars.Context` that lives as long as the process,
  like a WSGI worker thread: a request runs wholly on one lane (signals, middleware, view, a
  streaming body, `close()`), so the lane keeps its database connection between requests the way
  `CONN_MAX_AGE` (or the pool) intends, and the number of requests inside Django at once is the
  number of lanes. A request takes the lane with the fewest requests queued.
- **Middleware.** `settings.API_MIDDLEWARE`: the security headers, the common checks and the
  request context (audit trail, request id). No sessions, CSRF, messages, MFA redirects or CSP:
  a token call has no session, and the views authenticate the token themselves (DRF's schemes,
  TAXII's wrapper).

Only calls under `/api/`, `/taxii2/` or `/feeds/misp/` (the feed MISP instances pull) that carry
`Authorization: Bearer …` or `Basic …` take this path (`is_token_call`); everything else, including
a browser's calls to the same API with its session cookie, goes through Django's own handler.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix
from django.utils.module_loading import import_string

Scope = dict[str, Any]

TOKEN_PATHS = ("/api/", "/taxii2/", "/feeds/misp/")
TOKEN_SCHEMES = (b"bearer", b"basic")

_END = object()


def is_token_call(scope: Scope) -> bool:
    """An HTTP call under the API or TAXII that authenticates with a token (Bearer or Basic)."""
    if scope.get("type") != "http" or not scope.get("path", "").startswith(TOKEN_PATHS):
        return False
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return value.split(b" ", 1)[0].lower() in TOKEN_SCHEMES
    return False


class Lane:
    """One thread and one context that outlive the requests run on them."""

    def __init__(self, number: int) -> None:
        self.executor = ThreadPoolExecutor(1, thread_name_prefix=f"api-lane-{number}")
        self.context = contextvars.copy_context()
        self.queued = 0

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(self.context.run, function, *args))


class LaneHandler(ASGIHandler):
    """Django's request cycle, synchronous, with `middleware`, on `lanes` lanes."""

    # A body goes to the server in one message up to this size (Django's handler slices it in 64 KiB
    # messages: fifty for a 3 MB TAXII page, each a copy and a trip through the server's send).
    chunk_size = 8 * 2**20

    def __init__(self, middleware: Sequence[str], lanes: int) -> None:
        self.middleware_paths = tuple(middleware)
        super().__init__()
        self.lanes = [Lane(n) for n in range(max(1, lanes))]

    def load_middleware(self, is_async: bool = False) -> None:
        """The chain of `middleware_paths`, all synchronous (one thread runs the whole request)."""
        self._view_middleware: list[Callable[..., Any]] = []
        self._template_response_middleware: list[Callable[..., Any]] = []
        self._exception_middleware: list[Callable[..., Any]] = []
        handler = convert_exception_to_response(self._get_response)  # type: ignore[attr-defined]
        for path in reversed(self.middleware_paths):
            instance = import_string(path)(handler)
            if hasattr(instance, "process_view"):
                self._view_middleware.insert(0, instance.process_view)
            if hasattr(instance, "process_template_response"):
                self._template_response_middleware.append(instance.process_template_response)
            if hasattr(instance, "process_exception"):
                self._exception_middleware.append(instance.process_exception)
            handler = convert_exception_to_response(instance)
        self._middleware_chain = handler

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        lane = min(self.lanes, key=lambda each: each.queued)
        lane.queued += 1
        try:
            try:
                body = await self.read_body(receive)
            except RequestAborted:
                return
            try:
                response = await lane.run(self._respond, scope, body)
                try:
                    if response.streaming and not response.is_async:
                        # Pull a synchronous body on the lane that made it (its connection lives there).
                        response.streaming_content = _pulled(lane, iter(response.streaming_content))
                    await self.send_response(response, send)
                finally:
                    await lane.run(response.close)
            finally:
                body.close()
        finally:
            lane.queued -= 1

    def _respond(self, scope: Scope, body: Any) -> HttpResponseBase:
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error = self.create_request(scope, body)
        if request is None:
            assert error is not None  # create_request answers one or the other
            return error
        response = self.get_response(request)
        response._handler_class = self.__class__  # type: ignore[attr-defined]
        if isinstance(response, FileResponse):
            response.block_size = 2**18  # files stream in 256 KiB reads
        return response


async def _pulled(lane: Lane, parts: Iterator[Any]) -> AsyncIterator[Any]:
    while (part := await lane.run(next, parts, _END)) is not _END:
        yield part


def route(pages: Any, token_calls: Any) -> Any:
    """One ASGI application: token calls to `token_calls`, everything else to `pages`."""

    async def application(scope: Scope, receive: Any, send: Any) -> None:
        await (token_calls if is_token_call(scope) else pages)(scope, receive, send)

    return application
