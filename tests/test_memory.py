"""core/memory.py: the ASGI server's large-buffer setting takes on glibc (Debian, where it runs)."""

from __future__ import annotations

import platform

import pytest

from commonguard.core.memory import keep_large_buffers


def test_large_buffers_stay_in_the_heap_on_glibc() -> None:
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt's settings are glibc's")
    assert keep_large_buffers() is True
