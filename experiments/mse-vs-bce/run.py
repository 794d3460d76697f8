"""Slow learning with MSE: a confidently wrong sigmoid neuron barely learns; with BCE, fast.

The lecture's derivation, for a sigmoid output ŷ = σ(z), z = w·x + b:

    quadratic cost        C = ½(ŷ − y)²                       ∂C/∂w = x (ŷ − y) σ'(z)
    binary cross-entropy  C = −[y ln ŷ + (1 − y) ln(1 − ŷ)]   ∂C/∂w = x (ŷ − y)

With the quadratic cost (MSE) a neuron whose output is far off *and* saturated (|z| large, so
σ'(z) ≈ 0) gets almost no gradient: "counter-intuitive: big mistakes should lead to big learning
steps". With binary cross-entropy (BCE) σ'(z) cancels: the larger the error, the more it learns.

Two parts, each comparing like with like. (1) One sigmoid neuron with input x = 1 and target
y = 0, started unsaturated ((w, b) = (0.6, 0.9), ŷ ≈ 0.82) and saturated ((2, 2), ŷ ≈ 0.98),
trained by gradient descent. Across the costs only what η cannot change is compared: the gradient
at each start, and each cost's own slow-down from the saturated start (its ratio of epochs, the
same for every small η). (2) MNIST with a 784-30-10 sigmoid network, each cost at every η of its
own sweep (MSE's error signal is at most ¼ of BCE's, so its good η is larger), started with
large N(0, 1) weights (many outputs saturated and wrong) and with N(0, 1/n) weights: the costs
are compared at their own best η, and BCE's lead under one initialisation against the other.
Softmax + NLL is shown as a third line.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch

from dlexp.data import Split
from dlexp.finding import RunContext
from dlexp.measures import accuracy_and_cost
from dlexp.model_spec import ModelSpec
from dlexp.models import StackedMLP
from dlexp.trainer import Measure, Schedule

COSTS = {
    "mse": {"output": "sigmoid", "cost": "quadratic"},
    "bce": {"output": "sigmoid", "cost": "cross-entropy"},
    "softmax-nll": {"output": "softmax", "cost": "cross-entropy"},
}
STARTS = ("unsaturated", "saturated")
NEURON_COSTS = ("mse", "bce")
INPUT_X = 1.0
TARGET_Y = 0
INITS = {"large": "N(0, 1)", "normalized": "N(0, 1/n)"}  # the weights'; biases N(0, 1) in both


def neuron_specs(neuron: dict[str, Any]) -> list[ModelSpec]:
    """Both starts × both costs: one sigmoid neuron each, plain gradient descent on one example."""
    return [
        ModelSpec(
            variant=f"{cost}, {start} start",
            seed=0,
            sizes=(1, 1),
            eta=neuron["eta"],
            batch_size=1,
            params={"part": "neuron", "cost": cost, "start": start, "eta": neuron["eta"]},
            **COSTS[cost],
        )
        for start in STARTS
        for cost in NEURON_COSTS
    ]


def single_neuron(net: StackedMLP, neuron: dict[str, Any]) -> StackedMLP:
    """The stack of single neurons, each with its start's (w, b) written in."""
    for m, spec in enumerate(net.specs):
        w, b = neuron[spec.params["start"]]
        net.weights[0][m].fill_(w)
        net.biases[0][m].fill_(b)
    return net


def neuron_readings(example: Split) -> Measure:
    """The lecture's picture of a single neuron on its one example: output ŷ, cost C, ∂C/∂w and
    ∂C/∂b (= ∂C/∂z, since ∂z/∂b = 1)."""

    def measure(net: StackedMLP) -> dict[str, torch.Tensor]:
        trace = net.forward(example.images)
        grad_w, grad_b = net.gradients(example.images, example.labels)
        return {
            "output": trace.output[:, 0, 0],
            "cost": net.cost(trace, example.labels)[:, 0],
            "dC_dw": grad_w[0][:, 0, 0],
            "dC_db": grad_b[0][:, 0],
        }

    return measure


def output_gradient_magnitude(probe: Split) -> Measure:
    """Mean |∂C_x/∂z^L_j| over the probe's examples x and output units j: how hard the output
    layer is pushed to learn. δ^L = (ŷ − y) σ'(z) for MSE, ŷ − y for BCE and softmax + NLL."""

    def measure(net: StackedMLP) -> dict[str, torch.Tensor]:
        trace = net.forward(probe.images)
        delta = net.output_error(trace, net.targets(probe.labels))
        return {"output_gradient": delta.abs().mean(dim=(1, 2))}

    return measure


def mnist_specs(mnist: dict[str, Any], seeds: list[int]) -> list[ModelSpec]:
    """Every initialisation × cost × η of that cost's sweep × seed: 784-30-10 sigmoid nets."""
    return [
        ModelSpec(
            variant=f"{cost}, {init} init, η = {eta:g}",
            seed=seed,
            sizes=(784, mnist["hidden_units"], 10),
            weight_init=init,
            eta=eta,
            batch_size=mnist["batch_size"],
            params={"part": "mnist", "cost": cost, "init": init, "eta": eta},
            **COSTS[cost],
        )
        for init in INITS
        for cost in COSTS
        for eta in mnist["eta_sweep"][cost]
        for seed in seeds
    ]


def measure(context: RunContext) -> pd.DataFrame:
    neuron, mnist = context.protocol["neuron"], context.protocol["mnist"]
    example = Split(torch.full((1, 1), INPUT_X), torch.tensor([TARGET_Y])).to(context.device)
    neurons = context.train_stack(
        single_neuron(context.stack(neuron_specs(neuron)), neuron),
        example,
        Schedule(neuron["epochs"]),
        [neuron_readings(example)],
        "single neuron: gradient descent",
    )
    data = context.mnist()
    images = data.train.subset(mnist["train_images"])
    validation = data.validation.subset(mnist["validation_images"])
    probe = data.train.subset(mnist["gradient_images"])
    specs = mnist_specs(mnist, context.seeds)
    measures = [accuracy_and_cost({"validation": validation}), output_gradient_magnitude(probe)]
    table = context.train(
        specs, images, Schedule(mnist["epochs"]), measures, "MNIST: each cost × initialisation × η"
    )
    return pd.concat([neurons, table], ignore_index=True)
