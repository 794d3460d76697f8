"""Plain, residual and batch-normalised sigmoid nets at every depth, η and seed, one budget.

Every net is 784-64-…-64-10 with sigmoid hidden units and a softmax output with log-likelihood
cost, Nielsen's initialisation (weights N(0, 1/n_in), biases N(0, 1)), trained by mini-batch SGD.
The three networks differ in one thing each, with the very same weight draws seed for seed:

- `plain`: a^l = σ(z^l);
- `residual`: a^l = a^{l−1} + σ(z^l) on every hidden layer after the first (the first changes
  the width from 784 to 64), deck "Introduction to Deep Learning"'s y = x + R(x);
- `batch-norm`: the plain net with every hidden pre-activation normalised over the mini-batch.

Sigmoid with N(0, 1/n_in) is where plain nets degrade: σ' ≤ 1/4, and these weights keep the
backpropagated error's size per unit, so each plain layer shrinks it by about σ'(z), some five
times; twenty layers leave the first one 10⁻¹³ of the output layer's gradient. Each net is
measured at every η of the sweep; the checks compare each (network, depth) at its own best η.

After every epoch: accuracy and cost on all training images and on the validation images, and
‖∂C/∂b^l‖ per layer with C averaged over the first `gradient_images` training images.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch

from dlexp.data import Split
from dlexp.finding import Protocol, RunContext
from dlexp.measures import accuracy_and_cost, evaluate, layer_gradient_norms
from dlexp.model_spec import ModelSpec
from dlexp.models import StackedMLP
from dlexp.trainer import Schedule

NETWORKS: dict[str, dict[str, Any]] = {
    "plain": {},
    "residual": {"residual": True},
    "batch-norm": {"batch_norm": True},
}
# Images per forward pass when scoring: a stack of nets 20 layers deep keeps every layer's
# activations of a chunk, so 10,000 at once would take gigabytes.
EVALUATION_CHUNK = 500


def net_spec(protocol: Protocol, network: str, depth: int, seed: int, eta: float) -> ModelSpec:
    return ModelSpec(
        variant=f"{network}-{depth}",
        seed=seed,
        sizes=(784, *[protocol["hidden_units"]] * depth, 10),
        output="softmax",
        eta=eta,
        batch_size=protocol["batch_size"],
        params={"network": network, "depth": depth, "eta": eta},
        **NETWORKS[network],
    )


def specs(protocol: Protocol, seeds: list[int], depth: int) -> list[ModelSpec]:
    """Every network at `depth`, at every η and seed: one stack per network."""
    return [
        net_spec(protocol, network, depth, seed, eta)
        for network in NETWORKS
        for eta in protocol["etas"]
        for seed in seeds
    ]


def chunked(net: StackedMLP, split: Split) -> tuple[torch.Tensor, torch.Tensor]:
    """`dlexp.measures.evaluate` in chunks of `EVALUATION_CHUNK` images."""
    return evaluate(net, split, chunk=EVALUATION_CHUNK)


def measure(context: RunContext) -> pd.DataFrame:
    protocol = context.protocol
    mnist = context.mnist()
    train = mnist.train.subset(protocol["train_images"])
    measures = [
        # The very images the nets learn from, all of them, and held-out images.
        accuracy_and_cost(
            {"train": train, "validation": mnist.validation.subset(protocol["eval_images"])},
            chunked,
        ),
        layer_gradient_norms(train.subset(protocol["gradient_images"])),
    ]
    # Each depth on its own: in a stack of several depths every net computes the deepest one's
    # layers (as pass-throughs), which would cost the shallow nets as much as the deepest.
    tables = [
        context.train(
            specs(protocol, context.seeds, depth),
            train,
            Schedule(protocol["epochs"]),
            measures,
            f"residual depth: {depth} hidden layers",
        )
        for depth in protocol["depths"]
    ]
    return pd.concat(tables, ignore_index=True)
