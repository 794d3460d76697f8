"""The interface between the engine and an experiment's own code.

An experiment is a folder: `experiment.toml` (the declaration the registry reads) beside a small
Python package whose `__init__.py` defines `FINDING = Finding(...)`:

- `protocol`: the pydantic model of the declaration's `[protocol]` table (types and ranges),
- `measure(context)`: trains and measures, returning the long results table,
- `checks`: the claim checks by name, each `check(table, protocol, **params) -> Outcome`,
- `uses_mnist`: whether `measure` reads MNIST, so that the runner checks it is there before
  any training (False for a finding on synthetic data).

Beside it, the package's `figures` module defines `figures(table, protocol, scale, folder)`, which
draws the figures from the table alone; it is imported only to draw (`dlexp.painter`), so that
training never waits for matplotlib. The runner and the report call these; nothing here imports
them.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from pydantic import BaseModel

from dlexp.compiled_epoch import compiles, warm_up
from dlexp.conv_trainer import conv_layers, train_conv_stack
from dlexp.convnet import ConvSpec, StackedConvNet
from dlexp.data import MNIST, Split, load_files, locate_mnist, mnist_provenance
from dlexp.model_spec import ModelSpec
from dlexp.models import StackedMLP
from dlexp.progress import Advance, Reporter
from dlexp.registry import EXPERIMENTS_DIR
from dlexp.table import long_row, long_table
from dlexp.trainer import Measure, Schedule, stacks, total_steps, train_stack
from dlexp.workers import (
    MIN_FORKED_MODEL_STEPS,
    MLP_MODELS_PER_SHARD,
    cut,
    enough_shards,
    pair_up,
    run_jobs,
)

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


DIVERGED = "diverged"


@dataclass
class RunContext:
    """What a finding's `measure` gets: the protocol, seeds, device, data and the trainer.

    It counts what was trained (models and model-steps, for the run's speed) and notes every
    model that diverged: one whose weights or measurements became inf or NaN (a too large η).
    Those are data, not crashes: `diverged_rows()` marks them for the results table."""

    protocol: Protocol
    seeds: list[int]
    device: torch.device
    reporter: Reporter
    data_dir: Path | None = None
    workers: int = 1
    data_provenance: dict[str, Any] | None = None
    models: int = 0
    model_steps: int = 0
    diverged: list[dict[str, Any]] = field(default_factory=list)
    _mnist: MNIST | None = field(default=None, repr=False)

    def mnist(self) -> MNIST:
        """MNIST (Nielsen's 50k/10k/10k split) on the run's device, loaded once; where it was
        read from (folder, checksums) is kept for run.json."""
        if self._mnist is None:
            files = locate_mnist(self.data_dir, progress=not self.reporter.quiet)
            self.data_provenance = mnist_provenance(files)
            self._mnist = load_files(files).to(self.device)
        return self._mnist

    def train(
        self,
        specs: list[ModelSpec] | list[ConvSpec],
        data: Split,
        schedule: Schedule,
        measures: Iterable[Measure],
        description: str,
        *,
        whole_stacks: bool = False,
    ) -> pd.DataFrame:
        """Train every model of `specs` on the run's device, with a progress bar: one
        `Training`, see `train_together`."""
        training = Training(specs, data, schedule, list(measures), description, whole_stacks)
        return self.train_together([training])[0]

    def train_together(self, trainings: list[Training]) -> list[pd.DataFrame]:
        """Train several independent sets of models at once, one progress bar and results table
        each. Models that share an architecture are stacked; the stacks are cut into shards
        (`Training.shards`), and the shards of every training are trained together on `workers`
        cores (`dlexp.workers`), so that a short training keeps the second core busy beside a
        long one. MLPs
        (`ModelSpec`) train with the hand-written backpropagation, convolutional nets
        (`ConvSpec`) with autograd (`dlexp.conv_trainer`). On a GPU stacks are never cut: one
        large stacked product is what a GPU does well."""
        shards = [training.shards(cut_stacks=self.device.type == "cpu") for training in trainings]
        jobs, costs, advances = [], [], []
        for training, parts in zip(trainings, shards):
            advance = self.reporter.task(training.description, training.steps(training.specs))
            for shard in parts:
                jobs.append(functools.partial(train_shard, shard, training, self.device))
                costs.append(training.cost(shard))
                advances.append(advance)
        steps = sum(training.steps(training.specs) for training in trainings)
        workers = self.workers if steps >= MIN_FORKED_MODEL_STEPS else 1
        if workers > 1:  # the workers inherit the compiled epochs loaded here
            for training, parts in zip(trainings, shards):
                for shard in parts:
                    if training.compiles(shard, self.device):
                        warm_up(shard[0], training.data)
        results = iter(run_jobs(jobs, costs, workers, advances))
        tables = []
        for training, parts in zip(trainings, shards):
            parts_tables, outputs = [], []
            for shard in parts:
                table, finite, output = next(results)
                self.models += len(shard)
                self.model_steps += training.steps(shard)
                self._note_diverged(shard, finite, table, training.schedule.epochs)
                parts_tables.append(table)
                outputs.append(output)
            if training.joint is not None:
                epochs = training.schedule.epochs
                parts_tables.append(joint_table(training.joint, epochs, parts, outputs))
            tables.append(pd.concat(parts_tables, ignore_index=True))
        return tables

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
        """Train one hand-made stack, in this process, with a progress bar."""
        advance = self.reporter.task(
            description, total_steps(net.specs, len(data), schedule.epochs)
        )
        table = train_stack(net, data, schedule, list(measures), advance=advance)
        self.models += net.n_models
        self.model_steps += total_steps(net.specs, len(data), schedule.epochs)
        self._note_diverged(net.specs, net.finite(), table, schedule.epochs)
        return table

    def _note_diverged(
        self, specs: list, finite: list[bool], table: pd.DataFrame, epochs: int
    ) -> None:
        """Note each model whose parameters (`finite` False) or measurements are not finite,
        with the first epoch at which a measurement was not (or the last epoch)."""
        broken = table[~np.isfinite(table["value"].to_numpy(dtype=float))]
        for m, spec in enumerate(specs):
            mine = (broken["variant"] == spec.variant) & (broken["seed"] == spec.seed)
            for key, value in spec.params.items():
                if key in broken and isinstance(value, (str, int, float)) and value == value:
                    mine &= broken[key] == value  # (lists and NaN cannot be compared so)
            epochs_broken = broken.loc[mine, "epoch"]
            if finite[m] and epochs_broken.empty:
                continue
            epoch = int(epochs_broken.min()) if not epochs_broken.empty else epochs
            self.diverged.append(
                long_row(spec.variant, spec.seed, epoch, 0, DIVERGED, 1.0, **spec.params)
            )

    def diverged_rows(self) -> pd.DataFrame:
        """One row per diverged model: metric `diverged`, value 1, at the epoch it diverged."""
        return pd.DataFrame(self.diverged)


@dataclass(frozen=True)
class JointMeasure:
    """A measure of a training's models together, after its last epoch (an ensemble's vote):
    each shard hands back `outputs(stack)`, [models of the shard, ...] (say, each net's output
    on the test images); `measure` gets them for every model of the training, shard after
    shard, and returns metric → [M], recorded at the last epoch as a measure's values are.
    So the shards stay cut for training, on both cores, and still vote together."""

    outputs: Callable[[Any], torch.Tensor]
    measure: Callable[[torch.Tensor], dict[str, torch.Tensor]]


@dataclass(frozen=True)
class Training:
    """What `RunContext.train_together` trains: models, their data and schedule, the measures
    taken after epochs, the progress bar's label, and a `joint` measure of all its models after
    training. `whole_stacks` keeps each stack uncut (universal-approximation's one-step stacks,
    which cutting would only repeat)."""

    specs: list[ModelSpec] | list[ConvSpec]
    data: Split
    schedule: Schedule
    measures: list[Measure]
    description: str
    whole_stacks: bool = False
    joint: JointMeasure | None = None

    @property
    def convolutional(self) -> bool:
        return bool(self.specs) and all(isinstance(spec, ConvSpec) for spec in self.specs)

    def steps(self, specs: list) -> int:
        """Model-steps of training `specs` (the progress bar's units)."""
        return total_steps(specs, len(self.data), self.schedule.epochs)

    def cost(self, shard: list) -> int:
        """What the workers order a shard's job by, costliest first: its model-steps weighed by
        a forward pass's multiply-adds. By model-steps alone cnn-vs-mlp's MLP shards went
        before its LeNet-5 trio, which then ran last and alone (its shards, 56, 3 × 37–40 and
        2 × 4 s, ended at 98.5 s); the LeNet-5s first, the MLPs fill the gap (81.4 and 86.6 s
        on a faster hour; alternating, 101.2 and 118.7 → 95.5 and 105.9 s)."""
        return self.steps(shard) * shard[0].multiply_adds

    def compiles(self, shard: list, device: torch.device) -> bool:
        """Whether a shard of this training's models takes compiled epochs."""
        epochs = self.schedule.epochs
        return not self.convolutional and compiles(shard, len(self.data), epochs, device)

    def shards(self, cut_stacks: bool) -> list[list]:
        """The stacks, cut into shards unless `cut_stacks` is False or stacks stay whole: each
        stack of MLPs into shards of at most the models per shard (`cut`), of LeNet-5s into
        pairs, none left alone (`pair_up`), and a training left with one shard has it halved
        for the two cores. A shard pays its own per-step overhead, so small
        stacks stay whole when other shards keep both cores busy (the depth sweep's 6 nets
        without a hidden layer: one shard, not two; 120.9–124.6 → 114.6–116.0 s). Each
        training is cut on its own, so it is cut alike whether trained alone or together."""
        stacked = stacks(self.specs)
        if self.whole_stacks or not cut_stacks:
            return stacked
        if self.convolutional:
            return enough_shards([shard for group in stacked for shard in pair_up(group)])
        return enough_shards(
            [shard for group in stacked for shard in cut(group, MLP_MODELS_PER_SHARD)]
        )


def train_shard(
    specs: list[ModelSpec] | list[ConvSpec],
    training: Training,
    device: torch.device,
    advance: Advance,
) -> tuple[pd.DataFrame, list[bool], np.ndarray | None]:
    """One shard of a training, stacked and trained (in whichever process runs it): its results
    table, per model whether its parameters stayed finite, and its outputs for the training's
    joint measure (None without one)."""
    data, schedule, measures = training.data, training.schedule, training.measures
    if training.convolutional:
        net: StackedConvNet | StackedMLP = StackedConvNet(specs, device)
        table = train_conv_stack(net, data, schedule, measures, advance=advance)
    else:
        net = StackedMLP(specs, device)
        table = train_stack(net, data, schedule, measures, advance=advance)
    outputs = None
    if training.joint is not None:  # as NumPy: a worker's tensor would go by shared memory,
        with torch.no_grad():  # which ends with the worker before the parent reads it
            outputs = training.joint.outputs(net).cpu().numpy()
    return table, net.finite(), outputs


def joint_table(
    joint: JointMeasure, epochs: int, shards: list[list], outputs: list[np.ndarray]
) -> pd.DataFrame:
    """The rows of the `joint` measure of the `shards`' `outputs`, at the last of `epochs`."""
    values = joint.measure(torch.from_numpy(np.concatenate(outputs)))
    record = (epochs, {k: v.to(torch.float64) for k, v in values.items()})
    models = [spec for shard in shards for spec in shard]
    return long_table(models, [record], conv_layers)


@dataclass(frozen=True)
class Finding:
    """What an experiment's code provides (see the module docstring)."""

    protocol: type[BaseModel]
    measure: Callable[[RunContext], pd.DataFrame]
    checks: Mapping[str, Check]
    uses_mnist: bool = True


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
