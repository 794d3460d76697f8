"""The residual-depth figures: accuracy against depth per network (training and validation), the
gradient norm per layer of the deepest nets, and training accuracy per epoch; every net at its
own best η."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import matplotlib.ticker
import pandas as pd

from dlexp.figures import line_with_band, save, scale_note, summarise, summarise_on_log_scale

from .checks import at_best_eta, final_rows

LABELS = {
    "plain": "plain: a = σ(z)",
    "residual": "residual: a = a_prev + σ(z)",
    "batch-norm": "plain + batch norm",
}
# Batch norm dashed: before training it equals the plain net, whose line stays visible beneath.
STYLES = {"plain": "o-", "residual": "s-", "batch-norm": "^--"}
MARKER_SIZES = {"plain": 8, "residual": 6, "batch-norm": 4}
CHANCE_PERCENT = 10.0


def figures(table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path) -> list[Path]:
    chosen = at_best_eta(table, table)
    return [
        *figure_accuracy_vs_depth(chosen, protocol, scale, folder),
        *figure_gradient_per_layer(chosen, scale, folder),
        *figure_accuracy_per_epoch(chosen, scale, folder),
    ]


def networks_of(table: pd.DataFrame) -> list[str]:
    return [n for n in LABELS if n in set(table.network)]


def chance_line(ax: plt.Axes) -> None:
    ax.axhline(CHANCE_PERCENT, color="grey", linestyle=":", linewidth=1)
    ax.annotate(
        "chance (10 classes)",
        (0.5, CHANCE_PERCENT - 1),
        xycoords=("axes fraction", "data"),
        ha="center",
        va="top",
        fontsize=8,
        color="grey",
    )


def depth_axis(ax: plt.Axes, depths: list[int], width: int) -> None:
    ax.set_xscale("log")
    ax.set_xticks(depths, [str(d) for d in depths])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xlabel(f"hidden layers ({width} sigmoid units each; log scale)")


def figure_accuracy_vs_depth(
    chosen: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 4.6), sharey=True)
    depths = sorted(chosen.depth.unique())
    for ax, split in zip(axes, ("train", "validation")):
        rows = final_rows(chosen, f"{split}_accuracy")
        summary = summarise(rows.assign(value=rows["value"] * 100), ["network", "depth"])
        for network in networks_of(rows):
            group = summary[summary.network == network]
            ax.errorbar(
                group["depth"],
                group["mean"],
                yerr=[group["mean"] - group["low"], group["high"] - group["mean"]],
                fmt=STYLES[network],
                capsize=4,
                label=LABELS[network],
            )
        chance_line(ax)
        depth_axis(ax, depths, protocol["hidden_units"])
        ax.set_ylim(0, 100)
        ax.set_title(
            f"on the {protocol['train_images']:,} training images"
            if split == "train"
            else f"on {protocol['eval_images']:,} validation images"
        )
    axes[0].set_ylabel(f"accuracy after epoch {chosen.epoch.max()} (%)")
    axes[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(
        "Accuracy against depth, each net at its own best η (mean ± 95% CI over seeds):\n"
        "worse on the training images too is not overfitting" + scale_note(scale)
    )
    return save(fig, folder, "accuracy_vs_depth")


def figure_gradient_per_layer(chosen: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    """‖∂C/∂b^l‖ against l in the deepest nets, before training and after the last epoch."""
    deepest = chosen.depth.max()
    rows = chosen[(chosen.metric == "gradient_norm") & (chosen.depth == deepest)]
    last = rows.epoch.max()
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 4.6), sharey=True)
    for ax, epoch in zip(axes, (0, last)):
        at = rows[rows.epoch == epoch]
        summary = summarise_on_log_scale(at, ["network", "layer"])
        for network in networks_of(at):
            group = summary[summary.network == network]
            marker, line = STYLES[network][0], STYLES[network][1:]
            line_with_band(
                ax,
                group["layer"],
                group,
                marker=marker,
                markersize=MARKER_SIZES[network],
                linestyle=line,
                label=LABELS[network],
            )
        ax.set_yscale("log")
        ax.set_xlabel(f"layer l (1 = first hidden, {deepest + 1} = output)")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_title("before training" if epoch == 0 else f"after epoch {epoch}")
    axes[0].set_ylabel("‖∂C/∂bˡ‖, speed of learning of layer l (log scale)")
    axes[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(
        f"Gradient per layer in the {deepest}-hidden-layer nets (geometric mean over seeds, 95% CI"
        " band);\nbefore training, the batch-norm net uses its initial running statistics and "
        "equals the plain net" + scale_note(scale)
    )
    return save(fig, folder, "gradient_per_layer")


def figure_accuracy_per_epoch(chosen: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    rows = chosen[chosen.metric == "train_accuracy"]
    networks = networks_of(rows)
    fig, axes = plt.subplots(
        1, len(networks), figsize=(4.2 * len(networks) + 1.2, 4.2), sharey=True, squeeze=False
    )
    for ax, network in zip(axes[0], networks):
        mine = rows[rows.network == network]
        summary = summarise(mine.assign(value=mine["value"] * 100), ["depth", "epoch"])
        for depth, group in summary.groupby("depth"):
            line_with_band(ax, group["epoch"], group, marker="o", label=f"{depth} hidden layers")
        chance_line(ax)
        ax.set_ylim(0, 100)
        ax.set_title(LABELS[network])
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    axes[0, 0].set_ylabel("training accuracy (%)")
    axes[0, -1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(
        "Training accuracy per epoch, each net at its own best η (mean over seeds, 95% CI band)"
        + scale_note(scale)
    )
    return save(fig, folder, "training_accuracy_per_epoch")
