"""The three initialisation experiments, one `part` each in the long table.

- `nielsen`: 784-30-10 sigmoid nets with N(0, 1/n_in) or N(0, 1) weights, trained as Nielsen
  ch. 3 does; after every epoch the validation accuracy and cost, and the fraction of hidden
  units whose input z is saturated (σ(z) below 0.01 or above 0.99) on the validation images.
- `equal`: the same net started with every weight equal; after every epoch its accuracy and the
  largest difference between two hidden units' parameters (`copy_difference`).
- `deep`: deep tanh and ReLU nets at initialisation; per hidden layer the standard deviation of
  the activations a^l (`activation_std`), ‖∂C/∂b^l‖ (`gradient_norm`), and for the first seed
  the histogram of a^l (`activation_histogram`, one row per bin: `bin` is its centre, in a for
  tanh and in log₁₀ a over the units with a > 0 for ReLU; value: the fraction of all a^l).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import torch

from dlexp.data import Split
from dlexp.finding import Protocol, RunContext, Training
from dlexp.measures import accuracy_and_cost, hidden_pre_activations
from dlexp.model_spec import ModelSpec
from dlexp.models import StackedMLP
from dlexp.table import long_row
from dlexp.trainer import Measure, Schedule, stacks

SATURATED = math.log(99.0)  # |z| beyond which σ(z) < 0.01 or σ(z) > 0.99
# Histogram bins: tanh activations lie in [−1, 1]; ReLU's positive ones span decades (from
# 10⁻¹⁴ when N(0, 0.01²) weights shrink them to 10¹⁰ when N(0, 1) weights blow them up).
BINS = {"tanh": (-1.0, 1.0, 40), "relu": (-14.0, 10.0, 48)}


def nielsen_specs(protocol: Protocol, seeds: list[int]) -> list[ModelSpec]:
    return [
        ModelSpec(
            variant=init,
            seed=seed,
            sizes=(784, protocol["hidden_units"], 10),
            weight_init=init,
            eta=protocol["eta"],
            l2=protocol["l2"],
            batch_size=protocol["batch_size"],
            params={"part": "nielsen", "init": init},
        )
        for init in protocol["inits"]
        for seed in seeds
    ]


def equal_specs(protocol: Protocol, seeds: list[int]) -> list[ModelSpec]:
    return [
        ModelSpec(
            variant="equal",
            seed=seed,
            sizes=(784, protocol["hidden_units"], 10),
            weight_init="equal",
            weight_value=protocol["equal"]["weight_value"],
            bias_mean=0.0,
            eta=protocol["eta"],
            l2=protocol["l2"],
            batch_size=protocol["batch_size"],
            params={"part": "equal", "init": "equal"},
        )
        for seed in seeds
    ]


def deep_specs(protocol: Protocol, seeds: list[int]) -> list[ModelSpec]:
    deep = protocol["deep"]
    return [
        ModelSpec(
            variant=f"{activation}-{init}",
            seed=seed,
            sizes=(784, *[deep["hidden_units"]] * deep["hidden_layers"], 10),
            activation=activation,
            output="softmax",
            weight_init=init,
            bias_std=0.0,  # biases 0, as Glorot & Bengio and He et al. start them
            params={"part": "deep", "activation": activation, "init": init},
        )
        for activation in deep["activations"]
        for init in deep["inits"]
        for seed in seeds
    ]


def saturation(images: torch.Tensor) -> Measure:
    """Per hidden layer, the fraction of its units' inputs z (over `images`) with |z| > ln 99."""

    def measure(net: StackedMLP) -> dict[str, torch.Tensor]:
        counts = None
        for zs in hidden_pre_activations(net, images):
            chunk = torch.stack([(z.abs() > SATURATED).sum(dim=(1, 2)) for z in zs], dim=1)
            counts = chunk if counts is None else counts + chunk
        assert counts is not None
        units = torch.tensor(net.sizes[1:-1], device=net.device)
        return {"saturated_fraction": counts.double() / (len(images) * units)}

    return measure


def copy_difference(net: StackedMLP) -> dict[str, torch.Tensor]:
    """Per model, the largest |difference| between hidden unit j and hidden unit 1 of a layer,
    over their incoming weights (rows of W^l), biases and outgoing weights (columns of W^{l+1})."""
    largest = torch.zeros(net.n_models, device=net.device, dtype=net.dtype)
    for layer in range(net.n_layers - 1):
        incoming, bias = net.weights[layer], net.biases[layer]
        outgoing = net.weights[layer + 1]
        for difference in (
            (incoming - incoming[:, :1, :]).abs().amax(dim=(1, 2)),
            (bias - bias[:, :1]).abs().amax(dim=1),
            (outgoing - outgoing[:, :, :1]).abs().amax(dim=(1, 2)),
        ):
            largest = torch.maximum(largest, difference)
    return {"copy_difference": largest}


def deep_rows(net: StackedMLP, probe: Split, histogram_seed: int) -> list[dict[str, Any]]:
    """Activation spread, gradient norm and (for `histogram_seed`) histogram, per hidden layer."""
    trace = net.forward(probe.images)
    _, grad_b = net.gradients(probe.images, probe.labels)
    rows = []
    for m, spec in enumerate(net.specs):
        for layer in range(net.n_layers - 1):
            a = trace.activations[layer][m]
            rows.append(row(spec, layer, "activation_std", a.std().item()))
            rows.append(row(spec, layer, "gradient_norm", grad_b[layer][m].norm().item()))
            if spec.seed == histogram_seed:
                rows += histogram_rows(spec, layer, a)
    return rows


def histogram_rows(spec: ModelSpec, layer: int, a: torch.Tensor) -> list[dict[str, Any]]:
    low, high, bins = BINS[spec.activation]
    values = a.flatten().double()
    if spec.activation == "relu":
        values = values[values > 0].log10()
    counts = torch.histc(values.clamp(low, high), bins=bins, min=low, max=high)
    width = (high - low) / bins
    return [
        {**row(spec, layer, "activation_histogram", count.item() / a.numel()), "bin": centre}
        for count, centre in zip(counts, [low + width * (i + 0.5) for i in range(bins)])
    ]


def row(spec: ModelSpec, layer: int, metric: str, value: float) -> dict[str, Any]:
    return long_row(spec.variant, spec.seed, 0, layer + 1, metric, value, **spec.params)


def measure(context: RunContext) -> pd.DataFrame:
    protocol = context.protocol
    mnist = context.mnist()
    train = mnist.train.subset(protocol["train_images"])
    validation = mnist.validation.subset(protocol["eval_images"])
    schedule = Schedule(protocol["epochs"])
    scores = accuracy_and_cost({"validation": validation})
    tables = context.train_together(
        [
            Training(
                nielsen_specs(protocol, context.seeds),
                train,
                schedule,
                [scores, saturation(validation.images)],
                "weight init: N(0, 1/n_in) vs N(0, 1)",
            ),
            Training(
                equal_specs(protocol, context.seeds),
                train,
                schedule,
                [scores, copy_difference],
                "weight init: equal weights",
            ),
        ]
    )
    probe = mnist.train.subset(protocol["deep"]["probe_images"])
    deep = [
        deep_rows(context.stack(group), probe, context.seeds[0])
        for group in stacks(deep_specs(protocol, context.seeds))
    ]
    tables.append(pd.DataFrame([r for rows in deep for r in rows]))
    return pd.concat(tables, ignore_index=True)
