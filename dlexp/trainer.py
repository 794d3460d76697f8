"""The batched trainer: every model of an experiment trained as one stacked computation.

Models that share an architecture are stacked into one `StackedMLP`; each keeps its own
initialisation, its own shuffling, its own mini-batches and dropout masks (all drawn from its own
generator, in the order a lone model would draw them), its own η, λ, momentum and cost, its own
velocities and batch-norm statistics. So each model ends exactly where it would end if it were
trained alone, up to floating-point summation order. Each step is `dlexp.sgd.SGDStep`'s mini-batch
gradient descent with the lectures' L2 and L1 penalties (λ/n weight decay) and momentum; a long
training that `dlexp.compiled_epoch` covers runs the same equations as compiled epochs instead.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

import pandas as pd
import torch

from dlexp.compiled_epoch import CompiledEpochs, compiles
from dlexp.data import Split
from dlexp.dropout import Masks, epoch_masks, no_masks
from dlexp.model_spec import ModelSpec
from dlexp.models import StackedMLP
from dlexp.progress import Advance
from dlexp.sgd import SGDStep
from dlexp.table import long_table

T = TypeVar("T")
Measure = Callable[[StackedMLP], dict[str, torch.Tensor]]
"""Per-epoch measurement: metric name → tensor [M] (whole network) or [M, L] (per layer).

One measure serves every stack of a `train` call, in turn, each maybe in its own worker process
(`dlexp.workers`): a measure that keeps state between epochs must keep it per stack (per `net`),
and hand what it kept back as rows of the table (`MeasureWithRows`), never as its own attributes.
"""


@runtime_checkable
class MeasureWithRows(Protocol):
    """A measure that also adds rows of its own to the stack's table after the last epoch (say,
    histograms of what it kept), in the table's long format."""

    def __call__(self, net: StackedMLP) -> dict[str, torch.Tensor]: ...

    def rows(self, net: StackedMLP, final_epoch: int) -> pd.DataFrame: ...


@dataclass(frozen=True)
class Schedule:
    """How long to train and when to measure: epoch 0 is the untrained network."""

    epochs: int
    measure_every: int = 1

    def measured(self, epoch: int) -> bool:
        return epoch % self.measure_every == 0 or epoch == self.epochs


def train(
    specs: list[ModelSpec],
    data: Split,
    schedule: Schedule,
    measures: Iterable[Measure],
    *,
    device: torch.device | str = "cpu",
    advance: Advance | None = None,
) -> pd.DataFrame:
    """Train every model in `specs` on `data` and return the measurements as a tidy table.

    Columns: variant, seed, epoch, layer (0 for whole-network metrics, 1… per layer), metric,
    value, then each model's `params`.
    """
    measures = list(measures)
    tables = [
        train_stack(StackedMLP(group, device), data, schedule, measures, advance=advance)
        for group in stacks(specs)
    ]
    return pd.concat(tables, ignore_index=True)


def total_steps(specs: Sequence[Any], n: int, epochs: int) -> int:
    """Progress units of `train` (and of the conv trainer's): model-steps (each mini-batch step
    of each model, of any spec with a `batch_size`)."""
    return sum(epochs * -(-n // spec.batch_size) for spec in specs)


def stacks(specs: Sequence[T]) -> list[list[T]]:
    """The specs (MLPs' or convnets': anything with an `architecture`) grouped by architecture, in
    order of first appearance."""
    groups: dict[tuple, list[T]] = {}
    for spec in specs:
        groups.setdefault(spec.architecture, []).append(spec)
    return list(groups.values())


def train_stack(
    net: StackedMLP,
    data: Split,
    schedule: Schedule,
    measures: list[Measure],
    *,
    advance: Advance | None = None,
) -> pd.DataFrame:
    """Train one stack for `schedule.epochs` epochs, measuring before training and after epochs."""
    data = data.to(net.device)
    if net.norm is not None and len(data) % net.specs[0].batch_size == 1:
        raise ValueError(
            "batch normalisation needs at least 2 examples in every mini-batch, the last included"
        )
    images, targets = data.images.to(net.dtype), net.targets(data.labels)
    sgd_step = SGDStep(net, n=len(data))
    # Full-batch gradient descent: every model sees every example, so the images are shared
    # (one matrix product for the first layer of all models, no per-model copy); the order of
    # the examples within the one batch does not change the gradient.
    full_batch = net.specs[0].batch_size >= len(data) and not net.input_dropout
    shared_targets = targets.expand(net.n_models, *targets.shape)

    def stacked_epoch() -> None:
        # The backward pass is written out, so autograd has nothing to record: in inference
        # mode each operation skips its dispatch (a 12-net depth-sweep step 436–697 → 415–531 µs).
        with torch.inference_mode():
            for rows, masks in epoch_batches(net, len(data)):
                if full_batch:
                    x, y = images, shared_targets
                else:
                    x = data.gather(rows).to(net.dtype).view(net.n_models, -1, images.shape[1])
                    y = targets.index_select(0, rows).view(net.n_models, -1, targets.shape[1])
                sgd_step(net.forward(x, masks), y, masks)
                if advance is not None:
                    advance(net.n_models)

    one_epoch = stacked_epoch
    if compiles(net.specs, len(data), schedule.epochs, net.device, net.dtype):
        one_epoch = compiled_epochs_of(net, data, targets, advance)
    records = [measure_all(net, measures, epoch=0)]
    for epoch in range(1, schedule.epochs + 1):
        one_epoch()
        if schedule.measured(epoch):
            records.append(measure_all(net, measures, epoch=epoch))
    extra = [m.rows(net, schedule.epochs) for m in measures if isinstance(m, MeasureWithRows)]
    return pd.concat([measurement_table(net, records), *extra], ignore_index=True)


def compiled_epochs_of(
    net: StackedMLP, data: Split, targets: torch.Tensor, advance: Advance | None
) -> Callable[[], None]:
    """`train_stack`'s epoch as `dlexp.compiled_epoch` runs it: each model's order drawn as the
    torch step draws it, the progress reported once per epoch."""
    epochs = CompiledEpochs(net, len(data))
    inputs = data.images.to(net.dtype) if data.pixels is None else data.pixels
    steps = net.n_models * -(-len(data) // net.specs[0].batch_size)

    def one_epoch() -> None:
        epochs(inputs, targets, epoch_order(net, len(data)))
        if advance is not None:
            advance(steps)

    return one_epoch


def epoch_batches(net: StackedMLP, n: int) -> Iterable[tuple[torch.Tensor, Masks]]:
    """One epoch's mini-batches: per step the example indices of every model, flattened to
    [M·m], and the step's dropout masks.

    Each model shuffles with its own generator and then draws its epoch's dropout masks from it.
    """
    m_size = net.specs[0].batch_size
    order = epoch_order(net, n)
    dropout = net.dropout or net.input_dropout
    masks = epoch_masks(net, n) if dropout else itertools.repeat(no_masks(net))
    order = order.to(net.device)
    for start, step_masks in zip(range(0, n, m_size), masks):
        yield order[:, start : start + m_size].reshape(-1), step_masks


def epoch_order(net: StackedMLP, n: int) -> torch.Tensor:
    """[M, n]: the order in which each model takes the n examples this epoch, drawn from its
    own generator."""
    return torch.stack([torch.randperm(n, generator=g) for g in net.generators])


def measure_all(net: StackedMLP, measures: list[Measure], epoch: int) -> tuple[int, dict]:
    values: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for measure in measures:
            values.update(measure(net))
    return epoch, {k: v.detach().to("cpu", torch.float64) for k, v in values.items()}


def measurement_table(net: StackedMLP, records: list[tuple[int, dict]]) -> pd.DataFrame:
    """Long format: one row per model, epoch, layer and metric.

    A per-layer tensor has one column per layer of the stack ([M, L]) or per hidden layer
    ([M, L − 1]); each model reports its own layers only, numbered 1… from the input.
    """
    return long_table(net.specs, records, lambda m, tensor: model_layers(net, m, tensor))


def model_layers(net: StackedMLP, m: int, tensor: torch.Tensor) -> list[tuple[int, float]]:
    """(layer number, value) pairs of model m; layer 0 stands for the whole network."""
    if tensor.dim() == 1:
        return [(0, tensor[m].item())]
    own = net.own_layers(m)
    if tensor.shape[1] == net.n_layers - 1:
        own = own[:-1]
    values = tensor[m].tolist()
    return [(number, values[index]) for number, index in enumerate(own, start=1)]
