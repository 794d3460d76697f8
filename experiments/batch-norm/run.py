"""Sigmoid nets with and without batch normalisation at every η of the sweep, every seed.

Ioffe & Szegedy 2015's MNIST net: 784-100-100-100-10, sigmoid hidden units, a softmax output
with log-likelihood cost, mini-batches of 60. Their "small random Gaussian values" give no
standard deviation; both nets here start from Nielsen's N(0, 1/n_in) weights and N(0, 1) biases
(the same draws seed for seed), which suit the plain net: a smaller spread would slow the plain
net for a reason that is the initialisation, not batch norm. `batch-norm` normalises every hidden
pre-activation with the mini-batch's mean and variance while training (running averages at test
time) and learns γ, β per unit.

After every epoch (one pass over `train_images`: at lecture scale 100 steps): accuracy and cost on
the validation images, and the 15th, 50th and 85th percentile of the input that the first unit of
the last hidden layer's sigmoid receives, over the first `distribution_images` validation images
(with batch norm that input is γẑ + β; their Fig. 1b, c).
"""

from __future__ import annotations

import pandas as pd
import torch

from dlexp.finding import Protocol, RunContext
from dlexp.measures import accuracy_and_cost
from dlexp.model_spec import ModelSpec
from dlexp.models import StackedMLP
from dlexp.trainer import Measure, Schedule

NETWORKS = {"plain": False, "batch-norm": True}
PERCENTILES = (15, 50, 85)
UNIT = 0  # the unit whose input distribution is followed, in the last hidden layer


def net_spec(protocol: Protocol, network: str, seed: int, eta: float) -> ModelSpec:
    return ModelSpec(
        variant=network,
        seed=seed,
        sizes=(784, *[protocol["hidden_units"]] * protocol["hidden_layers"], 10),
        output="softmax",
        eta=eta,
        batch_size=protocol["batch_size"],
        batch_norm=NETWORKS[network],
        params={"network": network, "eta": eta},
    )


def specs(protocol: Protocol, seeds: list[int]) -> list[ModelSpec]:
    return [
        net_spec(protocol, network, seed, eta)
        for network in NETWORKS
        for eta in protocol["etas"]
        for seed in seeds
    ]


def unit_input_percentiles(images: torch.Tensor) -> Measure:
    """`unit_input_p15`, `_p50`, `_p85`: percentiles of the input of the last hidden layer's
    first sigmoid over `images`, in test mode."""
    levels = torch.tensor(PERCENTILES, dtype=torch.float64) / 100

    def measure(net: StackedMLP) -> dict[str, torch.Tensor]:
        z = net.forward(images.to(net.device)).zs[-2][:, :, UNIT].double()
        values = torch.quantile(z, levels.to(z.device), dim=1)
        return {f"unit_input_p{p}": values[i] for i, p in enumerate(PERCENTILES)}

    return measure


def measure(context: RunContext) -> pd.DataFrame:
    protocol = context.protocol
    mnist = context.mnist()
    validation = mnist.validation.subset(protocol["eval_images"])
    watched = mnist.validation.subset(protocol["distribution_images"]).images
    return context.train(
        specs(protocol, context.seeds),
        mnist.train.subset(protocol["train_images"]),
        Schedule(protocol["epochs"]),
        [accuracy_and_cost({"validation": validation}), unit_input_percentiles(watched)],
        "batch norm: sigmoid nets with and without, every η",
    )
