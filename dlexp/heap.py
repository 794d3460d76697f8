"""Memory a worker process has freed, handed back to the system when it piles up.

glibc's heap keeps the memory a process frees and reuses it, returning it to the system only
from the heap's top. A worker starts with its parent's resident pages (the data and its scoring
chunks, shared) and allocates and frees some megabytes per test pass; over regularization's 400
epochs its heap kept up to 660 MB it no longer used: its peak ranged from 668 to 1,565 MB over
this project's runs, by hundreds of MB between identical ones (the issue's budget: 1.5 GB).
glibc's `malloc_trim(0)` after every epoch kept workers at their parent's size but made
regularization 5% slower (the pages are faulted in again); trimming only once a worker has
grown by `TRIM_GROWTH_MB` bounds its peak at no measurable cost: regularization at lecture
scale 205.5 s and 890 MB without, 206.1 and 208.9 s and 777 and 780 MB with (15 trims a run).
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable
from pathlib import Path

# Growth of a worker's resident memory (MB) at which its heap's free pages are handed back: more
# than a test pass allocates (a 1,000-image chunk of 12 784-100-10 nets: a few MB), far less
# than the budget's margin above the parent's resident memory.
TRIM_GROWTH_MB = 128.0

STATM = Path("/proc/self/statm")


def resident_mb() -> float | None:
    """This process's resident memory now (MB), where the platform tells it (Linux)."""
    try:
        pages = int(STATM.read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, IndexError, ValueError, AttributeError):
        return None


@functools.cache
def malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None where the C library has none (macOS, musl, Windows).
    Looked up among the symbols the process has loaded: `ctypes.util.find_library` would run
    a subprocess (2 ms) in every worker."""
    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except (OSError, TypeError):
        return None


class HeapTrimmer:
    """Called now and then (a worker calls it with its progress reports): once this process's
    resident memory has grown by `growth_mb` since it was made or last trimmed, hands the heap's
    free pages back to the system. Returns whether it trimmed."""

    def __init__(self, growth_mb: float = TRIM_GROWTH_MB) -> None:
        self.growth_mb = growth_mb
        self.trim = malloc_trim()
        self.baseline = resident_mb()

    def __call__(self) -> bool:
        if self.trim is None or self.baseline is None:
            return False
        now = resident_mb()
        if now is None or now - self.baseline < self.growth_mb:
            return False
        self.trim(0)
        self.baseline = resident_mb() or now
        return True
