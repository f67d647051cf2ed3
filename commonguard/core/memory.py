"""Keep the server's large buffers in the heap (glibc only).

glibc serves an allocation above its mmap threshold (128 KiB at start, raised as big blocks are
freed) with a fresh mmap, and every 4 KiB page of it is faulted in when first written. A TAXII page
of 1,000 ATT&CK objects is a 3 MB body, built and sent as a few such buffers per request; on the
2-vCPU VM of the benchmarks a page fault costs about 5 µs, so one fresh 3 MB buffer costs almost 4 ms,
more than the copy into it (bench/taxii/README.md). Raising the threshold to 32 MiB (glibc's
maximum) and keeping up to 128 MiB of freed memory in the heap lets the next request reuse the
pages. The cost is resident memory that is not handed back to the system at once: at most the
trim threshold per arena, which a server process reuses on its next large response.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 128 * 1024 * 1024


def keep_large_buffers() -> bool:
    """Apply the settings above; False (and nothing changed) where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        mallopt = None
    if mallopt is None:
        return False
    done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    if not done:
        log.warning("mallopt refused the buffer settings; large responses will fault in fresh pages")
    return done
