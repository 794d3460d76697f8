"""Python's cyclic garbage collector kept off the objects a process keeps until it ends.

A full collection walks every object the collector tracks. After torch, pandas and matplotlib
are imported that is hundreds of thousands of objects (modules, classes, functions) which live
until the process ends, so walking them finds nothing. In a forked child a walk costs more:
it writes to each object's header, so the child copies every page of its parent's heap it
touches. Measured on a tiny mse-vs-bce run: the painter spent 0.72–0.80 s in full
collections (four while it imported matplotlib and the figure code, one of 0.38–0.41 s while
it drew), the main process 0.20 s while it imported torch, and two of the five renderers one
collection each of 0.25–0.32 s, a third of their rendering; with `long_lived` around the
imports (the painter's included, which freezes what it inherited with them) and `after_fork`
in every renderer and worker, none of these is left (the run: 6.2–6.3 → 5.2–5.4 s).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def long_lived() -> Iterator[None]:
    """Within, the collector pauses (what is made here, such as imported modules, lives until
    the process ends); on leaving, every object made so far is frozen: later collections never
    walk it. Objects frozen are still freed when no longer referenced; only a reference cycle
    among them would never be."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def after_fork() -> None:
    """First thing in a forked child: freeze what it inherited, so that its collections walk
    only the objects it makes itself (and never copy its parent's pages by walking theirs)."""
    gc.freeze()
