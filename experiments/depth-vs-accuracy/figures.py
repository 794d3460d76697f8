"""The depth sweep's figures: accuracy against depth beside the slide's and LeCun et al. 1998's
numbers, validation error per epoch, and training against validation accuracy and the training
error and cost per epoch, which answer the slide's "overfitting?"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd

from dlexp.figures import (
    cost_axis,
    line_with_band,
    save,
    scale_note,
    summarise,
    summarise_on_log_scale,
)

from .checks import LINEAR_1998, SLIDE, final_accuracy, outputs_of

OUTPUT_LABELS = {
    "sigmoid": "sigmoid outputs + cross-entropy",
    "softmax": "softmax + log-likelihood",
}
COST_LABELS = {"sigmoid": "cross-entropy", "softmax": "negative log-likelihood"}
ERROR_TICKS = [0.1, 0.2, 0.5, 1, 2, 3, 5, 10, 20, 50, 100]


def figures(table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path) -> list[Path]:
    return [
        *figure_accuracy_vs_depth(table, scale, folder),
        *figure_accuracy_per_epoch(table, scale, folder),
        *figure_training_vs_validation(table, scale, folder),
        *figure_training_per_epoch(table, protocol, scale, folder),
    ]


def label_of(output: str) -> str:
    return OUTPUT_LABELS.get(output, output)


def error_axis(ax: plt.Axes) -> None:
    """A log axis of error in percent, ticked in plain numbers, never above 100%."""
    ax.set_yscale("log")
    low, high = ax.get_ylim()
    high = min(high, 100.0)
    ax.set_yticks([t for t in ERROR_TICKS if low <= t <= high] or ERROR_TICKS)
    ax.set_ylim(low, high)
    ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def legend_outside(ax: plt.Axes) -> None:
    """The legend to the right of `ax`, where it covers no data."""
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))


def percent_axis(ax: plt.Axes) -> None:
    """An accuracy axis kept within 0–100%, with a little room around the data."""
    low, high = ax.get_ylim()
    ax.set_ylim(max(0.0, low - 0.5), min(100.0, high + 0.5))


def depth_axis(ax: plt.Axes, depths: list[int]) -> None:
    ax.set_xticks(depths)
    ax.set_xlim(min(depths) - 0.3, max(depths) + 0.3)
    ax.set_xlabel("number of hidden layers (30 sigmoid units each)")


def errorbars(ax: plt.Axes, summary: pd.DataFrame, **style) -> None:
    ax.errorbar(
        summary["depth"],
        summary["mean"],
        yerr=[summary["mean"] - summary["low"], summary["high"] - summary["mean"]],
        capsize=4,
        **style,
    )


def figure_accuracy_vs_depth(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    final = final_accuracy(table)
    fig, ax = plt.subplots(figsize=(8, 5))
    summary = summarise(final, ["output", "depth"])
    outputs = outputs_of(summary)
    for index, output in enumerate(outputs):
        # A small sideways shift per output layer keeps the two CI bars apart.
        shift = 0.08 * (index - (len(outputs) - 1) / 2)
        group = summary[summary.output == output]
        errorbars(
            ax,
            group.assign(depth=group.depth + shift),
            marker="o",
            label=f"measured: {label_of(output)}",
        )
    depths = sorted(final.depth.unique())
    ax.plot(
        depths,
        [SLIDE.get(d, np.nan) for d in depths],
        "k*",
        markersize=12,
        markeredgecolor="white",
        linestyle="none",
        zorder=5,
        label="the slide's number",
    )
    if 0 in depths:
        ax.plot(
            [0],
            [LINEAR_1998],
            marker="s",
            markersize=16,
            markerfacecolor="none",
            markeredgecolor="tab:red",
            linestyle="none",
            zorder=4,
            label=f"LeCun et al. 1998, linear classifier: {LINEAR_1998:g}% on the test set "
            f"({100 - LINEAR_1998:.1f}% error),\nthe slide's number without a hidden layer; "
            "not this protocol's net",
        )
    depth_axis(ax, depths)
    percent_axis(ax)
    ax.set_ylabel("validation accuracy after the last epoch (%)")
    ax.set_title("Depth vs accuracy on MNIST (mean ± 95% CI over seeds)" + scale_note(scale))
    ax.legend(fontsize=8, loc="best")
    return save(fig, folder, "accuracy_vs_depth")


def figure_accuracy_per_epoch(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    """Validation error per epoch on a log scale: it shows both the deep nets' slow first
    epochs (tens of percent) and the tenths of a point that separate the depths at the end."""
    return per_epoch_panels(
        table,
        ["validation_accuracy"],
        ["validation error (%, log scale)"],
        "Validation error per epoch, a line per depth (geometric mean over seeds, 95% CI band)"
        + scale_note(scale),
        folder,
        "validation_error_per_epoch",
    )


def figure_training_per_epoch(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    """Training error and cost per epoch, scored on every training image after each epoch."""
    return per_epoch_panels(
        table,
        ["train_accuracy", "train_cost"],
        [
            "training error (%, log scale)",
            "training cost C₀ per image, {cost}\n(no L2 term; log scale)",
        ],
        f"On all {protocol['train_images']:,} training images: error and cost per epoch, a line "
        "per depth (geometric mean over seeds, 95% CI band)" + scale_note(scale),
        folder,
        "training_error_and_cost_per_epoch",
    )


def per_epoch_panels(
    table: pd.DataFrame,
    metrics: list[str],
    labels: list[str],
    title: str,
    folder: Path,
    name: str,
) -> list[Path]:
    """One row per metric, one column per output layer; accuracies are drawn as error (%)."""
    rows = table[(table.epoch > 0) & table.metric.isin(metrics)]
    outputs = outputs_of(rows)
    fig, axes = plt.subplots(
        len(metrics),
        len(outputs),
        figsize=(5.5 * len(outputs), 3.8 * len(metrics) + 0.6),
        sharex=True,
        squeeze=False,
    )
    for row, (metric, label) in enumerate(zip(metrics, labels)):
        values = rows[rows.metric == metric]
        if metric.endswith("_accuracy"):
            values = values.assign(value=(1 - values["value"]) * 100)
        for column, output in enumerate(outputs):
            ax = axes[row, column]
            summary = summarise_on_log_scale(values[values.output == output], ["depth", "epoch"])
            for depth, group in summary.groupby("depth"):
                line_with_band(ax, group["epoch"], group, label=f"{depth} hidden")
            if metric.endswith("_accuracy"):
                error_axis(ax)
            else:
                cost_axis(ax)
            ax.set_ylabel(label.format(cost=COST_LABELS.get(output, "")))
            ax.set_title(label_of(output) if row == 0 else "")
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
            if row == len(metrics) - 1:
                ax.set_xlabel("epoch")
    legend_outside(axes[0, -1])
    fig.suptitle(title)
    return save(fig, folder, name)


def figure_training_vs_validation(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    """The slide's "overfitting?": a deeper net that overfits is better on its training images
    and worse on held-out ones; one that does not learn is worse on both."""
    splits = {"train": "training images", "validation": "validation images"}
    finals = pd.concat(
        [final_accuracy(table, split).assign(split=split) for split in splits], ignore_index=True
    )
    outputs = outputs_of(finals)
    fig, axes = plt.subplots(
        1, len(outputs), figsize=(5.5 * len(outputs), 4.6), sharey=True, squeeze=False
    )
    depths = sorted(finals.depth.unique())
    for ax, output in zip(axes[0], outputs):
        summary = summarise(finals[finals.output == output], ["split", "depth"])
        for (split, label), marker in zip(splits.items(), "os"):
            errorbars(ax, summary[summary.split == split], marker=marker, label=f"on the {label}")
        depth_axis(ax, depths)
        percent_axis(ax)
        ax.set_title(label_of(output))
    legend_outside(axes[0, -1])
    axes[0, 0].set_ylabel("accuracy after the last epoch (%)")
    fig.suptitle(
        "Why can adding a layer lower the performance? Overfitting would raise training accuracy"
        "\nwhile validation accuracy falls (mean ± 95% CI over seeds)" + scale_note(scale)
    )
    return save(fig, folder, "training_vs_validation_accuracy")
