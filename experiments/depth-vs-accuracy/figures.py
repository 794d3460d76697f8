"""The depth sweep's figures: accuracy against depth, and validation error per epoch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd

from dlexp.figures import line_with_band, save, scale_note, summarise

from .checks import SLIDE, final_accuracy

OUTPUT_LABELS = {
    "sigmoid": "sigmoid outputs + cross-entropy",
    "softmax": "softmax + log-likelihood",
}


def figures(table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path) -> list[Path]:
    return [
        *figure_accuracy_vs_depth(table, scale, folder),
        *figure_accuracy_per_epoch(table, scale, folder),
    ]


def figure_accuracy_vs_depth(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    final = final_accuracy(table)
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for output, group in summarise(final, ["output", "depth"]).groupby("output"):
        ax.errorbar(
            group["depth"],
            group["mean"],
            yerr=[group["mean"] - group["low"], group["high"] - group["mean"]],
            marker="o",
            capsize=4,
            label=f"measured: {OUTPUT_LABELS.get(output, output)}",
        )
    depths = sorted(final.depth.unique())
    ax.plot(
        depths,
        [SLIDE.get(d, np.nan) for d in depths],
        "k*",
        markersize=11,
        linestyle="none",
        label="the slide's number",
    )
    ax.set_xticks(depths)
    ax.set_ylim(top=min(100.0, ax.get_ylim()[1]), bottom=max(0.0, ax.get_ylim()[0]))
    ax.set_xlabel("number of hidden layers (30 sigmoid units each)")
    ax.set_ylabel("validation accuracy after the last epoch (%)")
    ax.set_title("Depth vs accuracy on MNIST (mean ± 95% CI over seeds)" + scale_note(scale))
    ax.legend(fontsize=8, loc="lower right")
    return save(fig, folder, "accuracy_vs_depth")


def figure_accuracy_per_epoch(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    """Validation error per epoch on a log scale: it shows both the deep nets' slow first
    epochs (tens of percent) and the tenths of a point that separate the depths at the end."""
    rows = table[table.metric == "validation_accuracy"]
    rows = rows[rows.epoch > 0].assign(value=lambda r: (1 - r["value"]) * 100)
    outputs = list(dict.fromkeys(o for o in OUTPUT_LABELS if o in set(rows.output)))
    fig, axes = plt.subplots(1, len(outputs), figsize=(5.5 * len(outputs), 4.2), sharey=True)
    for ax, output in zip(np.atleast_1d(axes), outputs):
        summary = summarise(rows[rows.output == output], ["depth", "epoch"])
        for depth, group in summary.groupby("depth"):
            line_with_band(ax, group["epoch"], group, label=f"{depth} hidden")
        ax.set_yscale("log")
        ax.set_yticks([1, 2, 3, 5, 10, 20, 50, 100])
        ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(OUTPUT_LABELS[output])
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.legend(fontsize=8, loc="upper right")
    np.atleast_1d(axes)[0].set_ylabel("validation error (%, log scale)")
    fig.suptitle(
        "Validation error per epoch, a line per depth (mean, 95% CI band)" + scale_note(scale)
    )
    return save(fig, folder, "validation_error_per_epoch")
