"""The interface between the engine and an experiment's own code.

An experiment is a folder: `experiment.toml` (the declaration the registry reads) beside a small
Python package whose `__init__.py` defines `FINDING = Finding(...)`:

- `protocol`: the pydantic model of the declaration's `[protocol]` table (types and ranges),
- `measure(context)`: trains and measures, returning the long results table,
- `checks`: the claim checks by name, each `check(table, protocol, **params) -> Outcome`,
- `figures(table, protocol, scale, folder)`: draws the figures from the table alone.

The runner and the report call these; nothing here imports them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from pydantic import BaseModel

from dlexp.data import MNIST, Split, load_mnist
from dlexp.models import ModelSpec, StackedMLP
from dlexp.progress import Reporter
from dlexp.registry import EXPERIMENTS_DIR
from dlexp.trainer import Measure, Schedule, total_steps, train, train_stack

Protocol = dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """What a claim check found: whether the claim held, the per-seed statistic it is about (one
    value per seed, so that the mean and its confidence interval describe seed-to-seed variation)
    and one line of detail."""

    passed: bool
    values: Sequence[float]
    detail: str


Check = Callable[..., Outcome]
Figures = Callable[[pd.DataFrame, Protocol, str, Path], list[Path]]


@dataclass
class RunContext:
    """What a finding's `measure` gets: the protocol, seeds, device, data and the trainer."""

    protocol: Protocol
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

    def train(
        self,
        specs: list[ModelSpec],
        data: Split,
        schedule: Schedule,
        measures: Iterable[Measure],
        description: str,
    ) -> pd.DataFrame:
        """Train every model of `specs` on the run's device, with a progress bar."""
        steps = total_steps(specs, len(data), schedule.epochs)
        advance = self.reporter.task(description, steps)
        return train(specs, data, schedule, measures, device=self.device, advance=advance)

    def stack(self, specs: list[ModelSpec]) -> StackedMLP:
        """A stack of `specs` on the run's device, for findings that set weights by hand."""
        return StackedMLP(specs, self.device)

    def train_stack(
        self,
        net: StackedMLP,
        data: Split,
        schedule: Schedule,
        measures: Iterable[Measure],
        description: str,
    ) -> pd.DataFrame:
        """Train one hand-made stack, with a progress bar."""
        advance = self.reporter.task(
            description, total_steps(net.specs, len(data), schedule.epochs)
        )
        return train_stack(net, data, schedule, list(measures), advance=advance)


@dataclass(frozen=True)
class Finding:
    """What an experiment's code provides (see the module docstring)."""

    protocol: type[BaseModel]
    measure: Callable[[RunContext], pd.DataFrame]
    checks: Mapping[str, Check]
    figures: Figures


CODE_FILE = "__init__.py"


def load_code(folder: Path) -> Finding:
    """Import the experiment package in `folder` and return its `FINDING`.

    Shipped experiments are imported as `dlexp.experiments.<name>`; a user's folder under a name
    made from its path, so two folders never share a module.
    """
    folder = folder.resolve()
    module_name = package_name(folder)
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            module_name, folder / CODE_FILE, submodule_search_locations=[str(folder)]
        )
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import the experiment code in {folder}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
    finding = getattr(sys.modules[module_name], "FINDING", None)
    if not isinstance(finding, Finding):
        raise ImportError(f"{folder / CODE_FILE} defines no FINDING = Finding(...)")
    return finding


def package_name(folder: Path) -> str:
    """`dlexp.experiments.<name>` for a shipped folder, a path-derived name for any other."""
    slug = re.sub(r"\W", "_", folder.name)
    if folder.parent == EXPERIMENTS_DIR.resolve():
        return f"dlexp.experiments.{slug}"
    digest = hashlib.sha1(str(folder).encode()).hexdigest()[:10]
    return f"dlexp_user_experiment_{slug}_{digest}"
