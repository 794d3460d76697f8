"""Progress bars with ETA (rich), or nothing when quiet (`--quiet`, or the CI variable set)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from rich.progress import Progress

Advance = Callable[[int], None]


def quiet_by_default() -> bool:
    """Progress bars are off under CI (the CI variable set)."""
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


class Reporter:
    """Rich progress bars with ETA, or nothing when quiet."""

    def __init__(self, quiet: bool, console: Console | None = None) -> None:
        self.quiet = quiet
        self.console = console or Console(stderr=True)
        self.progress: Progress | None = None

    @contextmanager
    def session(self) -> Iterator[Reporter]:
        """One live progress display; nested sessions share the outer one."""
        if self.quiet or self.progress is not None:
            yield self
            return
        from rich.progress import (  # 0.1 s to import, only for a display
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        with self.progress:
            yield self
        self.progress = None

    def task(self, description: str, total: int) -> Advance:
        """A new bar of `total` steps; returns the function that advances it."""
        if self.progress is None:
            return lambda _n: None
        task = self.progress.add_task(description, total=total)
        progress = self.progress
        return lambda n: progress.advance(task, n)
