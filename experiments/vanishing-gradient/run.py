"""The networks of the vanishing-gradient experiment and what is measured on them.

Three parts, each marked in the table's `part` column:

- `depth`: Nielsen's ch. 5 set-up, sigmoid nets of 2, 3 and 4 hidden layers trained at his η,
  ‖∂C/∂b^l‖ per layer before training and every `measure_every` epochs; the other networks of the
  same depths at initialisation only (what the init-only comparison needs).
- `deep`: nets of `deep.depth` hidden layers (10: where a vanishing gradient shows in accuracy),
  every network at every η of its own sweep `deep.etas` (compared at its own best η), with the
  per-layer gradient norms and the accuracy on the training images and the validation images.
- `exploding`: the slides' chain of single sigmoid neurons with every w = 100 and z = 0.

The networks separate the activation from the initialisation: `relu` has the sigmoid net's very
weights (the same draws, seed for seed), `relu-he` has He et al.'s, and `residual` is the sigmoid
net itself with skip connections.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch

from dlexp.data import Split
from dlexp.finding import RunContext, Training
from dlexp.measures import accuracy_and_cost, layer_gradient_norms
from dlexp.model_spec import ModelSpec
from dlexp.models import StackedMLP
from dlexp.registry import ExperimentError
from dlexp.trainer import Schedule

NETWORKS: dict[str, dict[str, Any]] = {
    # Nielsen's standard initialisation: weights N(0, 1/n_in), biases N(0, 1).
    "sigmoid": {"activation": "sigmoid"},
    # Only the activation changed: the sigmoid net's own weight draws. Biases 0, as He et al.
    # 2015 set them: N(0, 1) biases would switch a ReLU off for every input whenever b < −|w·x|
    # (the slides' badly initialised, dead ReLU), which is another experiment.
    "relu": {"activation": "relu", "bias_std": 0.0},
    # ReLU with He et al. 2015's N(0, 2/n_in), which makes up for ReLU halving the variance.
    "relu-he": {"activation": "relu", "weight_init": "he", "bias_std": 0.0},
    # The sigmoid net, its initialisation included, with skips a^l = a^{l-1} + σ(z^l).
    "residual": {"activation": "sigmoid", "residual": True},
}


def net_spec(
    protocol: dict[str, Any], network: str, depth: int, seed: int, eta: float, part: str
) -> ModelSpec:
    """One net 784-30-…-30-10 trained by full-batch gradient descent (Nielsen's ch. 5)."""
    return ModelSpec(
        variant=f"{network}-{depth}",
        seed=seed,
        sizes=(784, *[protocol["hidden_units"]] * depth, 10),
        eta=eta,
        l2=protocol["l2"],
        batch_size=protocol["train_images"],
        params={"network": network, "depth": depth, "eta": eta, "part": part},
        **NETWORKS[network],
    )


def depth_specs(protocol: dict[str, Any], seeds: list[int], networks: list[str]) -> list[ModelSpec]:
    """`networks` at every depth of `depths` and seed, at the protocol's η (Nielsen's)."""
    return [
        net_spec(protocol, network, depth, seed, protocol["eta"], "depth")
        for network in networks
        for depth in protocol["depths"]
        for seed in seeds
    ]


def deep_specs(protocol: dict[str, Any], seeds: list[int]) -> list[ModelSpec]:
    """Every network at the deep depth, at every η of its own sweep, every seed."""
    deep = protocol["deep"]
    for network in protocol["networks"]:
        if network not in deep["etas"]:
            raise ExperimentError(
                f"deep.etas gives no learning rates for network {network!r}; add "
                f"--set 'deep.etas.{network}=[0.1, 0.3]' or drop it from networks."
            )
    return [
        net_spec(protocol, network, deep["depth"], seed, eta, "deep")
        for network in protocol["networks"]
        for eta in deep["etas"][network]
        for seed in seeds
    ]


def chain_spec(depth: int) -> ModelSpec:
    """The slides' chain of single sigmoid neurons, `depth` hidden ones and an output neuron."""
    return ModelSpec(
        variant="exploding-chain",
        seed=0,
        sizes=(1, *[1] * depth, 1),
        batch_size=1,
        params={"network": "exploding-chain", "depth": depth, "part": "exploding"},
    )


def set_exploding(net: StackedMLP, weight: float, x: float) -> StackedMLP:
    """The chain with every w equal to `weight` and each bias b_l = −w·a_{l−1}, so that z_l = 0
    and σ'(z_l) = 1/4 on the input x."""
    a = x
    for w, b in zip(net.weights, net.biases):
        w.fill_(weight)
        b.fill_(-weight * a)
        a = 0.5
    return net


def measure(context: RunContext) -> pd.DataFrame:
    protocol = context.protocol
    deep_nets = deep_specs(protocol, context.seeds)
    mnist = context.mnist()
    images = mnist.train.subset(protocol["train_images"])
    norms = layer_gradient_norms(images)
    schedule = Schedule(protocol["epochs"], protocol["measure_every"])
    others = [n for n in protocol["networks"] if n != "sigmoid"]
    accuracy = accuracy_and_cost(
        # The very images the nets learn from, and held-out images (all 10,000 at lecture scale).
        {"train": images, "validation": mnist.validation.subset(protocol["deep"]["eval_images"])}
    )
    nielsen = Training(
        depth_specs(protocol, context.seeds, ["sigmoid"]),
        images,
        schedule,
        [norms],
        "vanishing gradient: sigmoid nets, full-batch epochs",
    )
    at_init = Training(
        depth_specs(protocol, context.seeds, others),
        images,
        Schedule(0),
        [norms],
        "vanishing gradient: the other nets at initialisation",
    )
    deep = Training(
        deep_nets, images, schedule, [norms, accuracy], "vanishing gradient: deep nets, every η"
    )
    trainings = [nielsen, *([at_init] if others else []), deep]
    tables = context.train_together(trainings)
    return pd.concat([*tables, exploding_chain(context)], ignore_index=True)


def exploding_chain(context: RunContext) -> pd.DataFrame:
    """The chain at initialisation, then trained by gradient descent on its single input."""
    chain = context.protocol["exploding"]
    net = set_exploding(context.stack([chain_spec(chain["depth"])]), chain["weight"], x=1.0)
    single = Split(torch.ones(1, 1), torch.zeros(1, dtype=torch.long)).to(context.device)
    return context.train_stack(
        net, single, Schedule(chain["epochs"]), [layer_gradient_norms(single)], "exploding chain"
    )
