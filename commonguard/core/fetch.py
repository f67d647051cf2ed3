"""Reading a source the hub imports from: an http(s) URL or a file on the hub's server, never more
than a limit (one byte over it is read to tell "too big" from "exactly the limit")."""

from __future__ import annotations

import urllib.request
from pathlib import Path

FETCH_TIMEOUT = 60


class FetchError(Exception):
    """The source could not be read (the message says which and why)."""


def fetch_bytes(source: str, *, limit: int, user_agent: str) -> bytes:
    """The bytes of `source`, at most `limit` + 1 of them: the caller tells an oversized source by its length."""
    if source.startswith(("http://", "https://")):
        request = urllib.request.Request(source, headers={"User-Agent": user_agent})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:  # noqa: S310 - http(s) only
                raw: bytes = response.read(limit + 1)
        except OSError as exc:  # URLError, HTTPError and timeouts are all OSErrors
            raise FetchError(f"Could not fetch {source}: {exc}") from exc
        return raw
    try:
        with Path(source).open("rb") as handle:
            return handle.read(limit + 1)
    except OSError as exc:
        raise FetchError(f"Could not read {source}: {exc.strerror or exc}") from exc
