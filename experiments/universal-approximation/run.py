"""What one hidden layer represents, what training finds, and parity shallow versus deep.

Rows (long table), by `part`:
- `represented`: per width, the sup-error of the best least-squares fit of N evenly spread sigmoid
  units (`sup_error`) and the fitted curve at the plotting points (`fit`, with `x`);
- `trained`: per width, η and seed, `sup_error` and `train_cost` over the epochs, and the final
  `fit` (each width's η is chosen afterwards by the training cost, see `checks.best_eta`);
- `target`: f itself at the plotting points;
- `parity`: per (hidden layers, width) and seed, `train_accuracy` over the epochs on all 2^n
  patterns; `parity-construction`: the n-unit construction's accuracy.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import pandas as pd
import torch

from dlexp.data import Split
from dlexp.finding import Protocol, RunContext, Training
from dlexp.measures import accuracy_and_cost
from dlexp.model_spec import ModelSpec
from dlexp.models import StackedMLP
from dlexp.table import long_row
from dlexp.trainer import Measure, Schedule

PLOT_POINTS = 201
CONSTRUCTION_GAIN = 20.0  # β: steep enough that each σ is a step on integer counts


def target(x: torch.Tensor) -> torch.Tensor:
    """f(x) = sin(2πx) + 0.5 sin(5πx), the continuous function to approximate on [0, 1]."""
    return torch.sin(2 * math.pi * x) + 0.5 * torch.sin(5 * math.pi * x)


def sigmoid_features(width: int, steepness_per_unit: float, x: torch.Tensor) -> torch.Tensor:
    """Columns σ(s(x − c_i)) of the N units, then 1 (the bias); c_i = (i + ½)/N, s = steepness·N."""
    x = x.double()
    centres = (torch.arange(width, dtype=torch.float64) + 0.5) / width
    features = torch.sigmoid(steepness_per_unit * width * (x - centres))
    return torch.cat([features, torch.ones(len(x), 1, dtype=torch.float64)], dim=1)


def best_fit(
    width: int, steepness_per_unit: float, fit_on: torch.Tensor, at: torch.Tensor
) -> torch.Tensor:
    """F(x) = Σ v_i σ(s(x − c_i)) + c at the points `at`, with v and c the least-squares fit of f
    on the points `fit_on` (float64): what width N can represent."""
    # The SVD driver: the default (gelsy, QR with pivoting) gave different last digits from one
    # call to the next on this machine's MKL; gelsd gives the same fit every time.
    weights = torch.linalg.lstsq(
        sigmoid_features(width, steepness_per_unit, fit_on),
        target(fit_on.double()),
        driver="gelsd",
    ).solution
    return (sigmoid_features(width, steepness_per_unit, at) @ weights)[:, 0]


def represented(protocol: Protocol) -> list[dict[str, Any]]:
    grid = torch.linspace(0, 1, protocol["grid_points"]).unsqueeze(1)
    plot = torch.linspace(0, 1, PLOT_POINTS).unsqueeze(1)
    rows = [
        long_row("target", 0, 0, 0, "fit", float(y), part="target", x=float(x))
        for x, y in zip(plot[:, 0], target(plot)[:, 0])
    ]
    for width in protocol["represented_widths"]:
        fit = best_fit(width, protocol["steepness_per_unit"], grid, grid)
        error = float((fit - target(grid.double())[:, 0]).abs().max())
        params = {"part": "represented", "width": width}
        rows.append(long_row(f"represented-{width}", 0, 0, 0, "sup_error", error, **params))
        curve = best_fit(width, protocol["steepness_per_unit"], grid, plot)
        rows += [
            long_row(f"represented-{width}", 0, 0, 0, "fit", float(y), **params, x=float(x))
            for x, y in zip(plot[:, 0], curve)
        ]
    return rows


def fit_errors(
    grid: torch.Tensor, inputs: Callable[[torch.Tensor], torch.Tensor], data: Split
) -> Measure:
    """Per model: max over the grid of |F(x) − f(x)| (`sup_error`) and the mean quadratic cost
    on the training points (`train_cost`, which picks each width's η)."""
    truth = target(grid)[:, 0]

    def measure(net: StackedMLP) -> dict[str, torch.Tensor]:
        output = net.forward(inputs(grid).to(net.device)).output[..., 0]
        trace = net.forward(data.images.to(net.device))
        return {
            "sup_error": (output - truth.to(net.device)).abs().max(dim=1).values,
            "train_cost": net.cost(trace, data.labels.to(net.device)).mean(dim=1),
        }

    return measure


class FinalCurves:
    """A measure that reports nothing per epoch; `rows` gives each trained net's F(x) at the
    plotting points after the last epoch (metric "fit", with x)."""

    def __init__(self, plot: torch.Tensor, inputs: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.plot, self.inputs = plot, inputs

    def __call__(self, net: StackedMLP) -> dict[str, torch.Tensor]:
        return {}

    def rows(self, net: StackedMLP, final_epoch: int) -> pd.DataFrame:
        with torch.no_grad():
            curves = net.forward(self.inputs(self.plot).to(net.device)).output[..., 0].cpu()
        return pd.DataFrame(
            [
                long_row(spec.variant, spec.seed, final_epoch, 0, "fit", float(y), **spec.params,
                         x=float(x))
                for spec, curve in zip(net.specs, curves)
                for x, y in zip(self.plot[:, 0], curve)
            ]
        )  # fmt: skip


def trained(context: RunContext) -> Training:
    """Every width × η × seed, each width's nets one stack: sup-error and training cost over the
    epochs, and the final curves."""
    protocol = context.protocol

    def inputs(x: torch.Tensor) -> torch.Tensor:
        """x ∈ [0, 1] scaled to the net's input range, centred on 0."""
        return protocol["input_scale"] * (x - 0.5)

    points = torch.rand(protocol["train_points"], 1, generator=torch.Generator().manual_seed(0))
    data = Split(inputs(points), target(points)[:, 0])
    grid = torch.linspace(0, 1, protocol["grid_points"]).unsqueeze(1)
    plot = torch.linspace(0, 1, PLOT_POINTS).unsqueeze(1)
    specs = [
        ModelSpec(
            variant=f"trained-{width}",
            seed=seed,
            sizes=(1, width, 1),
            output="linear",
            cost="quadratic",
            eta=eta,
            momentum=protocol["momentum"],
            batch_size=protocol["batch_size"],
            params={"part": "trained", "width": width, "eta": eta},
        )
        for width in protocol["trained_widths"]
        for eta in protocol["etas"]
        for seed in context.seeds
    ]
    return Training(
        specs,
        data,
        Schedule(protocol["epochs"], measure_every=max(1, protocol["epochs"] // 25)),
        [fit_errors(grid, inputs, data), FinalCurves(plot, inputs)],
        "universal approximation: trained widths",
        # Nets of one hidden unit to 64 cost a step each whatever their number: a width's
        # stack is not cut (that would only repeat the steps), the six widths fill the cores.
        whole_stacks=True,
    )


def parity_data(bits: int) -> Split:
    """All 2^bits patterns of ±1 inputs, labelled 1 when an odd number of them are +1."""
    patterns = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=bits)))
    return Split(patterns, ((patterns > 0).sum(dim=1) % 2).long())


def parity_construction(net: StackedMLP, bits: int) -> StackedMLP:
    """n hidden units h_k = σ(β(#ones − k + ½)), k = 1…n, fire when at least k inputs are +1;
    the output Σ_k (−1)^(k+1) h_k is 1 for an odd count and 0 for an even one, so the output
    z = β(Σ_k (−1)^(k+1) h_k − ½) is positive exactly for odd parity."""
    k = torch.arange(1, bits + 1, dtype=torch.float32)
    # #ones = (Σx + n)/2 for x ∈ {−1, 1}, so β(#ones − k + ½) = (β/2)Σx + β(n/2 − k + ½)
    net.weights[0][0] = torch.full((bits, bits), CONSTRUCTION_GAIN / 2)
    net.biases[0][0] = CONSTRUCTION_GAIN * (bits / 2 - k + 0.5)
    net.weights[1][0] = CONSTRUCTION_GAIN * ((-1.0) ** (k + 1)).unsqueeze(0)
    net.biases[1][0] = -CONSTRUCTION_GAIN / 2
    return net


def parity(context: RunContext) -> Training:
    """Shallow and deep tanh nets × seeds on all 2^n patterns of n-bit parity."""
    settings = context.protocol["parity"]
    bits = settings["bits"]
    data = parity_data(bits).to(context.device)
    shapes = [(1, width) for width in settings["shallow_widths"]]
    shapes += [tuple(shape) for shape in settings["deep"]]
    specs = [
        ModelSpec(
            variant=f"parity-{layers}x{width}",
            seed=seed,
            sizes=(bits, *[width] * layers, 1),
            activation="tanh",
            eta=settings["eta"],
            batch_size=settings["batch_size"],
            params={"part": "parity", "layers": layers, "width": width, "units": layers * width},
        )
        for layers, width in shapes
        for seed in context.seeds
    ]
    schedule = Schedule(settings["epochs"], measure_every=max(1, settings["epochs"] // 30))
    return Training(specs, data, schedule, [accuracy_and_cost({"train": data})], "parity")


def parity_constructed(context: RunContext) -> pd.DataFrame:
    """The n-unit construction's accuracy on all 2^n patterns."""
    bits = context.protocol["parity"]["bits"]
    data = parity_data(bits).to(context.device)
    construction = parity_construction(
        context.stack([ModelSpec("parity-construction", 0, (bits, bits, 1))]), bits
    )
    accuracy = accuracy_and_cost({"train": data})(construction)["train_accuracy"]
    params = {"part": "parity-construction", "layers": 1, "width": bits, "units": bits}
    row = long_row("parity-construction", 0, 0, 0, "train_accuracy", float(accuracy[0]), **params)
    return pd.DataFrame([row])


def measure(context: RunContext) -> pd.DataFrame:
    """The least-squares fits, then the trained widths and parity nets trained together."""
    return pd.concat(
        [
            pd.DataFrame(represented(context.protocol)),
            *context.train_together([trained(context), parity(context)]),
            parity_constructed(context),
        ],
        ignore_index=True,
    )
