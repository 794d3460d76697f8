"""The convolutional stacks' trainer: `train_convnets` is `dlexp.trainer.train` for `ConvSpec`s.

Models that share an architecture are one `StackedConvNet`; each keeps its own initialisation,
its own shuffling and mini-batches (drawn from its own generator, in the order a lone model would
draw them), its own η, λ and momentum. Each step is mini-batch gradient descent on each model's own
mean cost, the gradient from autograd:

    g = (1/m) Σ_x ∂C_x/∂w + (λ/n) w        (the L2 term on weights only, not on biases)
    v ← μ v − η g,   w ← w + v             (heavy ball; μ = 0 is plain SGD: w ← w − η g)

The models never mix: the summed cost of all models has, for each model's parameters, exactly the
gradient of that model's own cost.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
import torch

from dlexp.convnet import ConvSpec, StackedConvNet
from dlexp.measures import accuracy_and_cost
from dlexp.progress import Advance
from dlexp.splits import Split
from dlexp.table import long_table
from dlexp.trainer import Schedule, stacks

ConvMeasure = Callable[[StackedConvNet], dict[str, torch.Tensor]]
"""Per-epoch measurement: metric name → tensor [M] (whole network) or [M, L] (per layer)."""


def train_convnets(
    specs: list[ConvSpec],
    data: Split,
    schedule: Schedule,
    measures: Iterable[ConvMeasure],
    *,
    device: torch.device | str = "cpu",
    advance: Advance | None = None,
) -> pd.DataFrame:
    """Train every model of `specs` on `data`; the long table of `dlexp.trainer.train`."""
    measures = list(measures)
    tables = [
        train_conv_stack(StackedConvNet(group, device), data, schedule, measures, advance=advance)
        for group in stacks(specs)
    ]
    return pd.concat(tables, ignore_index=True)


class ConvSGD:
    """The update of every parameter of every model, with each model's own η, λ/n and μ."""

    def __init__(self, net: StackedConvNet, n: int) -> None:
        self.net = net
        specs = net.specs
        self.momentum = any(s.momentum > 0 for s in specs)
        self.velocity: list[torch.Tensor | None] = [None] * len(net.parameters)
        self.eta, self.decay, self.mu = [], [], []
        for index, parameter in enumerate(net.parameters):
            is_weight = index % 2 == 0
            self.eta.append(self.per_model(parameter, [s.eta for s in specs]))
            self.decay.append(
                self.per_model(parameter, [s.l2 / n if is_weight else 0.0 for s in specs])
            )
            self.mu.append(self.per_model(parameter, [s.momentum for s in specs]))

    def per_model(self, parameter: torch.Tensor, values: list[float]) -> float | torch.Tensor:
        """A scalar when the models share the value, else a tensor that broadcasts over
        `parameter` (its first dimension is M·out for a convolution, M for a dense layer)."""
        if len(set(values)) == 1:
            return float(values[0])
        m = self.net.n_models
        column = torch.tensor(values, device=parameter.device, dtype=parameter.dtype)
        column = column.repeat_interleave(len(parameter) // m)
        return column.view(-1, *[1] * (parameter.dim() - 1))

    def __call__(self, gradients: tuple[torch.Tensor, ...]) -> None:
        with torch.no_grad():
            for index, (parameter, grad) in enumerate(zip(self.net.parameters, gradients)):
                decay, eta = self.decay[index], self.eta[index]
                if not isinstance(decay, float) or decay != 0.0:
                    grad = grad + parameter * decay
                if isinstance(eta, float) and not self.momentum:
                    parameter.add_(grad, alpha=-eta)
                    continue
                step = grad * eta
                if self.momentum:
                    velocity = self.velocity[index]
                    step = step if velocity is None else step - velocity * self.mu[index]
                    self.velocity[index] = -step
                parameter.sub_(step)


def train_conv_stack(
    net: StackedConvNet,
    data: Split,
    schedule: Schedule,
    measures: list[ConvMeasure],
    *,
    advance: Advance | None = None,
) -> pd.DataFrame:
    """Train one stack for `schedule.epochs` epochs, measuring before training and after epochs."""
    data = data.to(net.device)
    n, m_size = len(data), net.specs[0].batch_size
    sgd = ConvSGD(net, n)
    records = [measure_conv(net, measures, epoch=0)]
    for epoch in range(1, schedule.epochs + 1):
        order = torch.stack([torch.randperm(n, generator=g) for g in net.generators])
        order = order.to(net.device)
        for start in range(0, n, m_size):
            rows = order[:, start : start + m_size]
            x = data.gather(rows.reshape(-1)).view(*rows.shape, -1)
            cost = net.cost(net.logits(x), data.labels[rows]).mean(1).sum()
            sgd(torch.autograd.grad(cost, net.parameters))
            if advance is not None:
                advance(net.n_models)
        if schedule.measured(epoch):
            records.append(measure_conv(net, measures, epoch=epoch))
    return conv_table(net, records)


def measure_conv(
    net: StackedConvNet, measures: list[ConvMeasure], epoch: int
) -> tuple[int, dict[str, torch.Tensor]]:
    values: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for measure in measures:
            values.update(measure(net))
    return epoch, {k: v.detach().to("cpu", torch.float64) for k, v in values.items()}


def conv_table(net: StackedConvNet, records: list[tuple[int, dict]]) -> pd.DataFrame:
    """Long format: one row per model, epoch, layer (0: whole network; 1… from the input) and
    metric."""
    return long_table(net.specs, records, conv_layers)


def conv_layers(m: int, tensor: torch.Tensor) -> list[tuple[int, float]]:
    """(layer, value) pairs of model m: layer 0 for a whole-network tensor [M], 1… for [M, L]."""
    if tensor.dim() == 1:
        return [(0, tensor[m].item())]
    return list(enumerate(tensor[m].tolist(), start=1))


def conv_logits(net: StackedConvNet, images: torch.Tensor, chunk: int = 1_000) -> torch.Tensor:
    """z^L [M, n, outputs] of every model for images [n, C·H·W], chunk by chunk, no gradient."""
    with torch.no_grad():
        return torch.cat(
            [net.logits(images[start : start + chunk]) for start in range(0, len(images), chunk)],
            dim=1,
        )


def conv_evaluate(net: StackedConvNet, split: Split) -> tuple[torch.Tensor, torch.Tensor]:
    """Per model: mean cost C₀ and accuracy on `split` [M] each."""
    split = split.to(net.device)
    z = conv_logits(net, split.images)
    cost = net.cost(z, split.labels).double().mean(1)
    accuracy = (z.argmax(-1) == split.labels).double().mean(1)
    return cost, accuracy


def conv_accuracy_and_cost(splits: dict[str, Split]) -> ConvMeasure:
    """A measure reporting `<split>_cost` and `<split>_accuracy` for each named split."""
    return accuracy_and_cost(splits, score=conv_evaluate)


def after_training(measure: Callable[[Any], dict[str, torch.Tensor]]) -> Callable:
    """`measure` (of either trainer), skipped before training: the first call for each stack
    returns nothing. With `Schedule(epochs, measure_every=epochs)` it runs after the last epoch
    only, for findings whose claims and figures use nothing else."""
    seen: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def wrapped(net: Any) -> dict[str, torch.Tensor]:
        if net not in seen:
            seen[net] = True
            return {}
        return measure(net)

    return wrapped
