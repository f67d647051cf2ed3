"""Who is asking, from where: carried through a request for the audit trail (a contextvar, so it
works the same under ASGI and in the worker)."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    ip_address: str | None = None
    request_id: str = ""
    channel: str = "system"  # web, api, worker, system, cli


_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "commonguard_request_context",
    default=RequestContext(),  # noqa: B039 - frozen dataclass, immutable
)


def current() -> RequestContext:
    return _current.get()


def bind(ctx: RequestContext) -> contextvars.Token[RequestContext]:
    return _current.set(ctx)


def reset(token: contextvars.Token[RequestContext]) -> None:
    _current.reset(token)
