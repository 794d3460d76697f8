"""Vanishing and exploding gradients: in a sigmoid network layers learn at vastly different speeds.

The lecture's argument: moving back one layer multiplies the gradient by w·σ'(z), and σ'(z) ≤ 1/4,
so with |w| ≤ 1 the gradient ‖∂C/∂b^l‖ shrinks towards the input and early layers learn slowly.
With every w = 100 and biases chosen so that z = 0, each factor is 100·σ'(0) = 25 and the gradient
explodes instead: the gradient is unstable. ReLU (He initialisation) and skip connections keep
the per-layer norms close to each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from dlexp.data import Split
from dlexp.figures import line_with_band, save, scale_note, summarise_on_log_scale
from dlexp.finding import Outcome, RunContext
from dlexp.measures import layer_gradient_norms
from dlexp.models import ModelSpec, StackedMLP
from dlexp.trainer import Schedule

NETWORKS = {
    "sigmoid": {"activation": "sigmoid"},
    "relu": {"activation": "relu", "weight_init": "he", "bias_std": 0.0},
    "residual": {"activation": "sigmoid", "residual": True},
}


def network_specs(protocol: dict[str, Any], seeds: list[int]) -> list[ModelSpec]:
    """Every network × depth × seed, trained by full-batch gradient descent."""
    specs = []
    for network in protocol["networks"]:
        for depth in protocol["depths"]:
            for seed in seeds:
                specs.append(
                    ModelSpec(
                        variant=f"{network}-{depth}",
                        seed=seed,
                        sizes=(784, *[protocol["hidden_units"]] * depth, 10),
                        eta=protocol["eta"],
                        l2=protocol["l2"],
                        batch_size=protocol["train_images"],
                        params={"network": network, "depth": depth, "part": "depth"},
                        **NETWORKS[network],
                    )
                )
    return specs


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
    images = context.mnist().train.subset(protocol["train_images"])
    specs = network_specs(protocol, context.seeds)
    epochs = protocol["epochs"]
    table = context.train(
        specs,
        images,
        Schedule(epochs),
        [layer_gradient_norms(images)],
        "vanishing gradient: full-batch epochs",
    )
    chain = protocol["exploding"]
    net = set_exploding(context.stack([chain_spec(chain["depth"])]), chain["weight"], x=1.0)
    single = Split(torch.ones(1, 1), torch.zeros(1, dtype=torch.long)).to(context.device)
    exploding = context.train_stack(
        net, single, Schedule(chain["epochs"]), [layer_gradient_norms(single)], "exploding chain"
    )
    return pd.concat([table, exploding], ignore_index=True)


def gradient_norms(table: pd.DataFrame, part: str = "depth") -> pd.DataFrame:
    return table[(table.metric == "gradient_norm") & (table.part == part)]


def hidden_norms(table: pd.DataFrame) -> pd.DataFrame:
    """Per-layer gradient norms of the hidden layers only (the output layer dropped)."""
    norms = gradient_norms(table)
    return norms[norms.layer <= norms.depth]


def per_network(table: pd.DataFrame, epoch: int) -> dict[tuple[str, int, int], np.ndarray]:
    """(network, depth, seed) → the hidden layers' norms at `epoch`, from the input side."""
    at = hidden_norms(table)
    at = at[at.epoch == epoch].sort_values("layer")
    return {
        (network, int(depth), int(seed)): group["value"].to_numpy(float)
        for (network, depth, seed), group in at.groupby(["network", "depth", "seed"])
    }


def gradient_grows_towards_output(
    table: pd.DataFrame, protocol: dict[str, Any], max_first_to_last: float
) -> Outcome:
    """Sigmoid nets, every depth and seed: norms increase layer by layer towards the output, at
    initialisation and after the last epoch, and first/last < `max_first_to_last` at init."""
    final = int(gradient_norms(table).epoch.max())
    start = {k: v for k, v in per_network(table, 0).items() if k[0] == "sigmoid"}
    end = {k: v for k, v in per_network(table, final).items() if k[0] == "sigmoid"}
    increasing = [bool(np.all(np.diff(v) > 0)) for v in [*start.values(), *end.values()]]
    ratios = {k: v[0] / v[-1] for k, v in start.items()}
    by_depth = pd.Series(ratios).groupby(level=1).mean()
    detail = (
        f"increasing in {sum(increasing)}/{len(increasing)} (network, epoch 0 and {final}); "
        "first/last at init by depth: "
        + ", ".join(f"{d} hidden: {r:.3f}" for d, r in by_depth.items())
    )
    passed = all(increasing) and all(r < max_first_to_last for r in ratios.values())
    return Outcome(passed, list(ratios.values()), detail)


def exploding_factor(table: pd.DataFrame, protocol: dict[str, Any], factor: float) -> Outcome:
    """In the chain with w = 100 and z = 0, each layer's |∂C/∂b| is `factor` (25) times the
    next layer's, at initialisation."""
    chain = gradient_norms(table, "exploding")
    values = chain[chain.epoch == 0].sort_values("layer")["value"].to_numpy(float)
    ratios = values[:-1] / values[1:]
    passed = bool(np.allclose(ratios, factor, rtol=1e-6, atol=0.0))
    detail = (
        f"consecutive ratios {', '.join(f'{r:.6g}' for r in ratios)}; first layer {values[0]:.3g}"
    )
    return Outcome(passed, ratios.tolist(), detail)


def spread(norms: np.ndarray) -> float:
    """max/min of the hidden layers' gradient norms: 1 when all layers learn at one speed."""
    return float(norms.max() / norms.min())


def mitigations_keep_layers_together(
    table: pd.DataFrame, protocol: dict[str, Any], min_advantage: float
) -> Outcome:
    """ReLU and residual nets: at initialisation their spread (max/min over hidden layers) is
    below the sigmoid net's for every depth and seed, and at the deepest depth the sigmoid spread
    is at least `min_advantage` times theirs."""
    start = per_network(table, 0)
    deepest = max(protocol["depths"])
    advantages, below = [], []
    for (network, depth, seed), norms in start.items():
        if network == "sigmoid":
            continue
        ratio = spread(start[("sigmoid", depth, seed)]) / spread(norms)
        below.append(ratio > 1)
        if depth == deepest:
            advantages.append(ratio)
    spreads = pd.Series({k: spread(v) for k, v in start.items()}).groupby(level=0).mean()
    detail = "mean spread at init: " + ", ".join(f"{n} {s:.2f}" for n, s in spreads.items())
    passed = all(below) and all(a >= min_advantage for a in advantages)
    return Outcome(passed, advantages, detail)


CHECKS = {
    "gradient_grows_towards_output": gradient_grows_towards_output,
    "exploding_factor": exploding_factor,
    "mitigations_keep_layers_together": mitigations_keep_layers_together,
}


def figures(table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path) -> list[Path]:
    return [
        *figure_norms_at_initialisation(table, scale, folder),
        *figure_norms_over_training(table, scale, folder),
        *figure_exploding_chain(table, scale, folder),
    ]


GRADIENT_LABEL = r"speed of learning $\|\partial C/\partial b^l\|$ (log scale)"


def figure_norms_at_initialisation(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    norms = hidden_norms(table)
    summary = summarise_on_log_scale(norms[norms.epoch == 0], ["network", "depth", "layer"])
    networks = list(dict.fromkeys(n for n in NETWORKS if n in set(summary.network)))
    fig, axes = plt.subplots(1, len(networks), figsize=(4 * len(networks), 4.2), sharey=True)
    for ax, network in zip(np.atleast_1d(axes), networks):
        for depth, group in summary[summary.network == network].groupby("depth"):
            line_with_band(ax, group["layer"], group, marker="o", label=f"{depth} hidden layers")
        ax.set_yscale("log")
        ax.set_title(NETWORK_TITLES[network])
        ax.set_xlabel("hidden layer l (1 = next to the input)")
        ax.set_xticks(sorted(summary.layer.unique()))
        ax.legend(fontsize=8)
    np.atleast_1d(axes)[0].set_ylabel(GRADIENT_LABEL)
    fig.suptitle(
        "Gradient norm per hidden layer at initialisation (geometric mean, 95% CI over seeds)"
        + scale_note(scale)
    )
    return save(fig, folder, "gradient_norm_per_layer_at_init")


NETWORK_TITLES = {
    "sigmoid": "sigmoid, N(0, 1/n_in)",
    "relu": "ReLU, He init N(0, 2/n_in)",
    "residual": "sigmoid with skip connections",
}


def figure_norms_over_training(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    norms = hidden_norms(table)
    sigmoid = norms[norms.network == "sigmoid"]
    depths = sorted(sigmoid.depth.unique())
    fig, axes = plt.subplots(1, len(depths), figsize=(4.2 * len(depths), 4), sharey=True)
    for ax, depth in zip(np.atleast_1d(axes), depths):
        summary = summarise_on_log_scale(sigmoid[sigmoid.depth == depth], ["layer", "epoch"])
        for layer, group in summary.groupby("layer"):
            line_with_band(ax, group["epoch"], group, label=f"hidden layer {layer}")
        ax.set_yscale("log")
        ax.set_title(f"sigmoid, {depth} hidden layers")
        ax.set_xlabel("epoch (full-batch gradient descent)")
        ax.legend(fontsize=8)
    np.atleast_1d(axes)[0].set_ylabel(GRADIENT_LABEL)
    fig.suptitle(
        "Layers learn at vastly different speeds during training (geometric mean, 95% CI band)"
        + scale_note(scale)
    )
    return save(fig, folder, "gradient_norm_over_training")


def figure_exploding_chain(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    chain = gradient_norms(table, "exploding")
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    start = chain[chain.epoch == 0].sort_values("layer")
    left.plot(start["layer"], start["value"], marker="o")
    left.set_yscale("log")
    left.set_xlabel("layer l (1 = next to the input; last = output neuron)")
    left.set_ylabel(r"$|\partial C/\partial b^l|$ (log scale)")
    left.set_title("At initialisation: ×25 per layer towards the input")
    floor = chain["value"][chain["value"] > 0].min() / 10
    for layer, group in chain.groupby("layer"):
        values = group["value"].abs()
        (line,) = right.plot(
            group["epoch"], values.where(values > 0), marker=".", label=f"layer {layer}"
        )
        zeros = group["epoch"][values == 0]
        right.plot(zeros, np.full(len(zeros), floor), "x", color=line.get_color(), markersize=4)
    right.set_yscale("log")
    right.set_xlabel("epoch (gradient descent on the single input)")
    right.set_ylabel(r"$|\partial C/\partial b^l|$ (log scale; × = exactly 0)")
    right.set_title("Training it: the first step saturates the chain")
    right.legend(fontsize=7, ncol=2)
    fig.suptitle("Exploding gradient: chain of sigmoid neurons, w = 100, z = 0" + scale_note(scale))
    return save(fig, folder, "exploding_chain")
