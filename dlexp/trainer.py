"""The batched trainer: every model of an experiment trained as one stacked computation.

Models that share an architecture are stacked into one `StackedMLP`; each keeps its own
initialisation, its own shuffling, its own mini-batches and dropout masks (all drawn from its own
generator, in the order a lone model would draw them), and its own η, λ and cost. So each model
ends exactly where it would end if it were trained alone, up to floating-point summation order.

One step of mini-batch gradient descent with the lectures' L2 and L1 penalties (λ/n weight decay):

    w ← (1 − ηλ₂/n) w − (ηλ₁/n) sgn(w) − (η/m) Σ_x ∂C_x/∂w,        b ← b − (η/m) Σ_x ∂C_x/∂b
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd
import torch

from dlexp.data import Split
from dlexp.models import ModelSpec, StackedMLP, Trace
from dlexp.progress import Advance
from dlexp.table import long_row

Measure = Callable[[StackedMLP], dict[str, torch.Tensor]]
"""Per-epoch measurement: metric name → tensor [M] (whole network) or [M, L] (per layer).

One measure serves every stack of a `train` call, in turn: a measure that keeps state between
epochs must keep it per stack (per `net`)."""


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


def total_steps(specs: list[ModelSpec], n: int, epochs: int) -> int:
    """Progress units of `train`: model-steps (each mini-batch step of each model)."""
    return sum(epochs * -(-n // spec.batch_size) for spec in specs)


def stacks(specs: list[ModelSpec]) -> list[list[ModelSpec]]:
    """The specs grouped by architecture, in order of first appearance."""
    groups: dict[tuple, list[ModelSpec]] = {}
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
    targets = net.targets(data.labels)
    sgd_step = SGDStep(net, n=len(data))
    records = [measure_all(net, measures, epoch=0)]
    for epoch in range(1, schedule.epochs + 1):
        for rows, masks in epoch_batches(net, len(data)):
            x = data.images.index_select(0, rows).view(net.n_models, -1, data.images.shape[1])
            y = targets.index_select(0, rows).view(net.n_models, -1, targets.shape[1])
            sgd_step(net.forward(x, masks), y, masks)
            if advance is not None:
                advance(net.n_models)
        if schedule.measured(epoch):
            records.append(measure_all(net, measures, epoch=epoch))
    return measurement_table(net, records)


class SGDStep:
    """One gradient-descent step for every parameter of every model, layer by layer.

    For each layer, as backpropagation reaches it:
        W ← (1 − ηλ₂/n) W − (ηλ₁/n) sgn(W) − (η/m) Σ_x δ_x a_xᵀ,      b ← b − (η/m) Σ_x δ_x
    with η, λ₂, λ₁ each model's own. The product Σ δ aᵀ is accumulated straight into W.
    """

    def __init__(self, net: StackedMLP, n: int) -> None:
        self.net = net
        specs = net.specs
        self.eta = self._per_model([s.eta for s in specs])
        self.decay = self._per_model([1.0 - s.eta * s.l2 / n for s in specs])
        self.shrink = self._per_model([s.eta * s.l1 / n for s in specs])
        self.l1 = any(s.l1 > 0 for s in specs)
        self._ones: dict[int, torch.Tensor] = {}

    def _per_model(self, values: list[float]) -> float | torch.Tensor:
        """A scalar when every model shares the value, else a column [M, 1, 1]."""
        if len(set(values)) == 1:
            return float(values[0])
        return torch.tensor(values, device=self.net.device).view(-1, 1, 1)

    def ones(self, m: int) -> torch.Tensor:
        """[M, 1, m] ones, kept per batch size: Σ_x δ_x as a batched product updates b in place."""
        if m not in self._ones:
            self._ones[m] = torch.ones(self.net.n_models, 1, m, device=self.net.device)
        return self._ones[m]

    def __call__(self, trace: Trace, y: torch.Tensor, masks: list[torch.Tensor] | None) -> None:
        m = y.shape[1]
        ones = self.ones(m)
        uniform_eta = isinstance(self.eta, float)
        alpha = -self.eta / m if uniform_eta else -1.0 / m
        for layer, delta, previous in self.net.backprop(trace, y, masks):
            weight, bias = self.net.weights[layer], self.net.bias_rows[layer]
            step = delta if uniform_eta else delta * self.eta
            signs = weight.sign() if self.l1 else None
            if isinstance(self.decay, float):
                weight.baddbmm_(step.mT, previous, beta=self.decay, alpha=alpha)
            else:
                weight.mul_(self.decay)
                weight.baddbmm_(step.mT, previous, alpha=alpha)
            if signs is not None:
                weight.sub_(signs.mul_(self.shrink))
            bias.baddbmm_(ones, step, alpha=alpha)


def epoch_batches(
    net: StackedMLP, n: int
) -> Iterable[tuple[torch.Tensor, list[torch.Tensor] | None]]:
    """One epoch's mini-batches: per step the example indices of every model, flattened to
    [M·m], and the dropout masks [M, m, units] of each hidden layer (None without dropout).

    Each model shuffles with its own generator and then draws its epoch's dropout masks from it.
    """
    m_size = net.specs[0].batch_size
    order = torch.stack([torch.randperm(n, generator=g) for g in net.generators])
    masks = epoch_dropout_masks(net, n) if net.dropout else None
    order = order.to(net.device)
    for start in range(0, n, m_size):
        rows = order[:, start : start + m_size]
        step_masks = None
        if masks is not None:
            step_masks = [mask[:, start : start + m_size] for mask in masks]
        yield rows.reshape(-1), step_masks


def epoch_dropout_masks(net: StackedMLP, n: int) -> list[torch.Tensor]:
    """Per hidden layer [M, n, units], aligned with the epoch's example order: for each
    mini-batch, each hidden unit is kept (1) with probability p or deleted (0) for the whole
    mini-batch, as in the lecture's description of dropout.

    A model draws masks for its own hidden layers only; its pass-through layers get ones.
    """
    widths = net.sizes[1:-1]
    m_size = net.specs[0].batch_size
    batches = -(-n // m_size)
    per_model = []
    for m, (spec, generator) in enumerate(zip(net.specs, net.generators)):
        layers = [torch.ones(n, w) for w in widths]
        if spec.keep_prob < 1.0:
            for layer in range(net.depths[m]):
                kept = torch.rand(batches, widths[layer], generator=generator) < spec.keep_prob
                layers[layer] = kept.float().repeat_interleave(m_size, dim=0)[:n]
        per_model.append(layers)
    return [
        torch.stack([layers[i] for layers in per_model]).to(net.device) for i in range(len(widths))
    ]


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
    rows = []
    for epoch, values in records:
        for metric, tensor in values.items():
            for m, spec in enumerate(net.specs):
                for layer, value in model_layers(net, m, tensor):
                    rows.append(
                        long_row(
                            spec.variant, spec.seed, epoch, layer, metric, value, **spec.params
                        )
                    )
    return pd.DataFrame(rows)


def model_layers(net: StackedMLP, m: int, tensor: torch.Tensor) -> list[tuple[int, float]]:
    """(layer number, value) pairs of model m; layer 0 stands for the whole network."""
    if tensor.dim() == 1:
        return [(0, tensor[m].item())]
    own = net.own_layers(m)
    if tensor.shape[1] == net.n_layers - 1:
        own = own[:-1]
    values = tensor[m].tolist()
    return [(number, values[index]) for number, index in enumerate(own, start=1)]
