"""The vanishing-gradient figures: gradient norms per layer at initialisation and during training
(Nielsen's sigmoid nets, then the deep nets of every network), the deep nets' accuracy, and the
exploding chain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from dlexp.figures import line_with_band, save, scale_note, summarise, summarise_on_log_scale

from .checks import (
    SIGMOID_SLOPE_AT_ZERO,
    best_etas,
    deep_at_best_eta,
    final_accuracy,
    gradient_norms,
    hidden_norms,
)
from .run import NETWORKS

GRADIENT_LABEL = r"speed of learning $\|\partial C/\partial b^l\|$ (log scale)"
NETWORK_TITLES = {
    "sigmoid": "sigmoid, N(0, 1/n_in)",
    "relu": "ReLU, the same N(0, 1/n_in) weights",
    "relu-he": "ReLU, He init N(0, 2/n_in)",
    "residual": "sigmoid + skip connections, N(0, 1/n_in)",
}


def figures(table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path) -> list[Path]:
    return [
        *figure_norms_at_initialisation(table, scale, folder),
        *figure_norms_over_training(table, scale, folder),
        *figure_deep_norms_over_training(table, scale, folder),
        *figure_deep_accuracy(table, scale, folder),
        *figure_exploding_chain(table, protocol["exploding"]["weight"], scale, folder),
    ]


def networks_in(table: pd.DataFrame) -> list[str]:
    return [n for n in NETWORKS if n in set(table.network)]


def panels(count: int, width: float = 4.2, height: float = 4.2) -> list[plt.Axes]:
    """One figure of `count` panels side by side sharing the y axis."""
    _, axes = plt.subplots(1, count, figsize=(width * count, height), sharey=True, squeeze=False)
    return list(axes[0])


def figure_norms_at_initialisation(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    norms = hidden_norms(table, ("depth", "deep"))
    norms = norms[norms.epoch == 0].drop_duplicates(["network", "depth", "seed", "layer"])
    summary = summarise_on_log_scale(norms, ["network", "depth", "layer"])
    axes = panels(len(networks_in(summary)))
    for ax, network in zip(axes, networks_in(summary)):
        for depth, group in summary[summary.network == network].groupby("depth"):
            line_with_band(ax, group["layer"], group, marker="o", label=f"{depth} hidden layers")
        ax.set_yscale("log")
        ax.set_title(NETWORK_TITLES[network], fontsize=10)
        ax.set_xlabel("hidden layer l (1 = next to the input)")
        ax.set_xticks(sorted(summary.layer.unique()))
        ax.legend(fontsize=8, loc="lower right")
    axes[0].set_ylabel(GRADIENT_LABEL)
    axes[0].figure.suptitle(
        "Gradient norm per hidden layer before training (geometric mean, 95% CI over seeds); "
        f"in the sigmoid net, σ' ≤ {SIGMOID_SLOPE_AT_ZERO:g} shrinks it layer by layer towards "
        "the input" + scale_note(scale)
    )
    return save(axes[0].figure, folder, "gradient_norm_per_layer_at_init")


def figure_norms_over_training(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    norms = hidden_norms(table)
    sigmoid = norms[norms.network == "sigmoid"]
    depths = sorted(sigmoid.depth.unique())
    axes = panels(len(depths), height=4)
    for ax, depth in zip(axes, depths):
        summary = summarise_on_log_scale(sigmoid[sigmoid.depth == depth], ["layer", "epoch"])
        for layer, group in summary.groupby("layer"):
            line_with_band(ax, group["epoch"], group, label=f"hidden layer {layer}")
        ax.set_yscale("log")
        ax.set_title(f"sigmoid, {depth} hidden layers")
        ax.set_xlabel("epoch (full-batch gradient descent)")
        ax.legend(fontsize=8)
    axes[0].set_ylabel(GRADIENT_LABEL)
    axes[0].figure.suptitle(
        "Nielsen's sigmoid nets: layers learn at vastly different speeds during training "
        "(geometric mean, 95% CI band)" + scale_note(scale)
    )
    return save(axes[0].figure, folder, "gradient_norm_over_training")


def figure_deep_norms_over_training(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    """Each network's deep net at its own best η: every hidden layer's norm over the epochs."""
    deep = deep_at_best_eta(table)
    norms = hidden_norms(deep, ("deep",))
    best = best_etas(table)
    networks = networks_in(norms)
    depth = int(norms.depth.max())
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, depth))
    axes = panels(len(networks))
    for ax, network in zip(axes, networks):
        mine = norms[norms.network == network]
        summary = summarise_on_log_scale(mine, ["layer", "epoch"])
        for layer, group in summary.groupby("layer"):
            label = {1: "layer 1 (next to the input)", depth: f"layer {depth} (next to the output)"}
            ax.plot(group["epoch"], group["mean"], color=colours[layer - 1], label=label.get(layer))
        ax.set_yscale("log")
        ax.set_title(f"{NETWORK_TITLES[network]}\nη = {best[network]:g} (its best)", fontsize=10)
        ax.set_xlabel("epoch (full-batch gradient descent)")
        ax.legend(fontsize=8, loc="lower left")
    axes[0].set_ylabel(GRADIENT_LABEL)
    axes[0].figure.suptitle(
        f"{depth} hidden layers during training: how far apart the layers' speeds stay "
        "(geometric mean over seeds; colour: hidden layer, dark = input side)" + scale_note(scale)
    )
    return save(axes[0].figure, folder, "deep_nets_gradient_norm_over_training")


def figure_deep_accuracy(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    """Left: validation accuracy after the last epoch against η (the sweep that picks each
    network's η); right: validation accuracy over the epochs at each network's best η."""
    final = final_accuracy(table)
    best = best_etas(table)
    deep = deep_at_best_eta(table)
    curves = deep[deep.metric == "validation_accuracy"]
    depth = int(table[table.part == "deep"].depth.max())
    fig, (left, right, key) = plt.subplots(
        1, 3, figsize=(13.5, 4.6), sharey=True, gridspec_kw={"width_ratios": [1, 1, 0.55]}
    )
    for network in networks_in(final):
        sweep = summarise(final[final.network == network], ["eta"])
        label = f"{NETWORK_TITLES[network]}\nbest η = {best[network]:g}"
        line_with_band(left, sweep["eta"], sweep, marker="o", label=label)
        chosen = sweep[sweep.eta == best[network]]
        left.plot(chosen["eta"], chosen["mean"], "k*", markersize=11)
        mine = curves[curves.network == network].assign(value=lambda t: t["value"] * 100)
        summary = summarise(mine, ["epoch"])
        line_with_band(right, summary["epoch"], summary)
    for ax in (left, right):
        ax.axhline(10, color="grey", linestyle=":", linewidth=1)
        ax.set_ylim(0, 100)
    left.set_xscale("log")
    etas = sorted(final.eta.unique())
    left.set_xticks(etas, [f"{eta:g}" for eta in etas])
    left.minorticks_off()
    left.set_xlabel("learning rate η (log scale; ★ = the network's best, used on the right)")
    left.set_ylabel("validation accuracy after the last epoch (%)")
    left.set_title("Each network's own η sweep")
    key.axis("off")
    key.legend(*left.get_legend_handles_labels(), fontsize=8, loc="center left", labelspacing=1.2)
    right.set_xlabel("epoch (full-batch gradient descent)")
    right.set_title("At its best η (dotted: chance, 10%)")
    fig.suptitle(
        f"{depth} hidden layers: validation accuracy (mean, 95% CI over seeds)" + scale_note(scale)
    )
    return save(fig, folder, "deep_nets_accuracy")


def figure_exploding_chain(
    table: pd.DataFrame, weight: float, scale: str, folder: Path
) -> list[Path]:
    factor = weight * SIGMOID_SLOPE_AT_ZERO
    chain = gradient_norms(table, "exploding")
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    start = chain[chain.epoch == 0].sort_values("layer")
    left.plot(start["layer"], start["value"], marker="o")
    left.set_yscale("log")
    left.set_xlabel("layer l (1 = next to the input; last = output neuron)")
    left.set_ylabel(r"$|\partial C/\partial b^l|$ (log scale)")
    left.set_title(f"At initialisation: ×{factor:g} per layer towards the input")
    floor = chain["value"][chain["value"] > 0].min() / 10
    output = int(chain.layer.max())
    for layer, group in chain.groupby("layer"):
        values = group["value"].abs()
        label = f"layer {layer}" + (" (output)" if layer == output else "")
        (line,) = right.plot(group["epoch"], values.where(values > 0), marker=".", label=label)
        zeros = group["epoch"][values == 0]
        right.plot(zeros, np.full(len(zeros), floor), "x", color=line.get_color(), markersize=4)
    trained = chain[chain.epoch > 0]
    dead = sorted(trained.groupby("layer")["value"].max().loc[lambda v: v == 0].index)
    if dead:
        right.annotate(
            f"layer{'s' if len(dead) > 1 else ''} {', '.join(map(str, dead))}: exactly 0 "
            "after the first step (×)",
            (0.97, 0.2),
            xycoords="axes fraction",
            ha="right",
            fontsize=8,
        )
    right.set_yscale("log")
    right.set_xlabel("epoch (gradient descent on the single input)")
    right.set_ylabel(r"$|\partial C/\partial b^l|$ (log scale; × = exactly 0)")
    right.set_title("Training it: the first step saturates the chain")
    right.legend(fontsize=7, ncol=2, loc="upper right")
    fig.suptitle(
        f"Exploding gradient: chain of sigmoid neurons, w = {weight:g}, z = 0" + scale_note(scale)
    )
    return save(fig, folder, "exploding_chain")
