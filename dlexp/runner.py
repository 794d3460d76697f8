"""Running one experiment: resolve its protocol, train and measure, check claims, write results."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from dlexp.claims import Verdict, check_claims
from dlexp.data import MNIST, load_mnist
from dlexp.registry import Experiment, ExperimentError
from dlexp.results import provenance, run_folder, write_run
from dlexp.trainer import Advance


class DeviceError(ExperimentError):
    """The requested device is not available."""


def pick_device(name: str) -> torch.device:
    """`auto` is CUDA when present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(
            "--device cuda was asked for but no CUDA GPU is available; use --device cpu."
        )
    try:
        return torch.device(name)
    except RuntimeError:
        raise DeviceError(f"unknown device {name!r}; use auto, cpu or cuda.") from None


def use_cpu_threads(device: torch.device) -> None:
    """One intra-op thread on the CPU unless OMP_NUM_THREADS says otherwise.

    The stacked matrices are small (mini-batches of 10), so a second thread gains little, while
    OpenMP threads that spin-wait on a busy machine made training up to 30× slower when measured.
    """
    if device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)


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


@dataclass
class RunContext:
    """What a finding's `run` gets: the protocol, seeds, device, data and progress."""

    protocol: dict[str, Any]
    seeds: list[int]
    device: torch.device
    reporter: Reporter
    data_dir: Path | None = None
    _mnist: MNIST | None = field(default=None, repr=False)

    def mnist(self) -> MNIST:
        """MNIST (Nielsen's 50k/10k/10k split) on the run's device, loaded once."""
        if self._mnist is None:
            self._mnist = load_mnist(self.data_dir, progress=not self.reporter.quiet).to(
                self.device
            )
        return self._mnist

    def task(self, description: str, total: int) -> Advance:
        return self.reporter.task(description, total)


@dataclass(frozen=True)
class RunResult:
    experiment: Experiment
    scale: str
    folder: Path
    verdicts: list[Verdict]
    wall_seconds: float


def run_experiment(
    experiment: Experiment,
    *,
    scale: str,
    overrides: list[str],
    seeds: int | None,
    device: torch.device,
    out: Path,
    reporter: Reporter,
    data_dir: Path | None = None,
) -> RunResult:
    """Train and measure at `scale`, check the claims, and write the run folder atomically."""
    if seeds is not None:
        overrides = [*overrides, f"seeds={seeds}"]
    protocol = experiment.resolve(scale, overrides)
    use_cpu_threads(device)
    seed_list = list(range(int(protocol["seeds"])))
    context = RunContext(protocol, seed_list, device, reporter, data_dir)
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    with reporter.session():
        table = experiment.module.run(context)
    wall = time.perf_counter() - clock
    verdicts = check_claims(experiment, table, protocol)
    info = {
        "experiment": experiment.name,
        "title": experiment.title,
        "declaration": str(experiment.path),
        "finding": experiment.finding,
        "scale": scale,
        "protocol": protocol,
        "overrides": overrides,
        "seeds": seed_list,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(wall, 2),
        **provenance(device),
        "claims": [v.to_dict() for v in verdicts],
    }
    folder = run_folder(out, experiment.name, scale)
    write_run(folder, table, info, lambda t, f: experiment.module.figures(t, protocol, scale, f))
    return RunResult(experiment, scale, folder, verdicts, wall)
