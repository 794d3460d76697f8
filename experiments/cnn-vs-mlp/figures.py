"""The CNN-versus-MLP figures: the CNN's learned first-layer kernels, test accuracy against the
shift of the test images, and each model's error (the η sweep on the validation split, the test
error at each model's best η beside LeNet-5's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd

from dlexp.figures import save, scale_note, summarise

from .checks import LENET5_ERROR, NAMES, best_etas, final

COLOURS = {"cnn": "tab:blue", "mlp": "tab:orange"}


def figures(table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path) -> list[Path]:
    return [
        *figure_kernels(table, scale, folder),
        *figure_accuracy_vs_shift(table, protocol, scale, folder),
        *figure_error_per_model(table, scale, folder),
    ]


def label(model: str, best: dict[str, float]) -> str:
    return f"{NAMES[model]} (η = {best[model]:g})" if model in best else NAMES[model]


def figure_kernels(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    """One row per seed of the CNN at its best η: its 5×5 kernels, weights on one colour scale
    centred at zero."""
    best = best_etas(table)
    rows = table[table.metric.str.startswith("conv1_kernel_") & (table.eta == best.get("cnn"))]
    if rows.empty:
        return []
    index = rows.metric.str.removeprefix("conv1_kernel_").str.split("_", expand=True).astype(int)
    rows = rows.assign(map=index[0], row=index[1], col=index[2])
    seeds, maps = sorted(rows.seed.unique()), sorted(rows["map"].unique())
    side = int(rows["row"].max())
    limit = float(np.abs(rows["value"]).max())
    fig, axes = plt.subplots(
        len(seeds),
        len(maps),
        figsize=(1.5 * len(maps) + 1.2, 1.5 * len(seeds) + 1.1),
        squeeze=False,
        layout="constrained",  # places the shared colour bar, which tight_layout cannot
    )
    for i, seed in enumerate(seeds):
        for j, number in enumerate(maps):
            kernel = rows[(rows.seed == seed) & (rows["map"] == number)]
            grid = np.zeros((side, side))
            grid[kernel["row"] - 1, kernel["col"] - 1] = kernel["value"]
            ax = axes[i, j]
            image = ax.imshow(grid, cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(True)
            if i == 0:
                ax.set_title(f"map {number}", fontsize=9)
            if j == 0:
                ax.set_ylabel(f"seed {seed}", fontsize=9)
    fig.colorbar(image, ax=axes, shrink=0.8, label="weight (red > 0, blue < 0)")
    fig.suptitle(
        f"Learned {side}×{side} kernels of the first layer of the CNN trained at η = "
        f"{best['cnn']:g}, one row per seed" + scale_note(scale),
        fontsize=10,
    )
    return save(fig, folder, "first_layer_kernels")


def at_best_eta(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    best = best_etas(table)
    rows = final(table, metric)
    return rows[rows.eta == rows.model.map(best)]


def figure_accuracy_vs_shift(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    best = best_etas(table)
    shifts = [0, *sorted(protocol["shifts"])]
    parts = [
        at_best_eta(table, "test_accuracy" if s == 0 else f"test_shifted_{s}px_accuracy").assign(
            shift=s
        )
        for s in shifts
    ]
    values = pd.concat(parts, ignore_index=True)
    values = values.assign(value=values["value"] * 100)
    fig, ax = plt.subplots(figsize=(7, 4.6))
    for index, (model, group) in enumerate(summarise(values, ["model", "shift"]).groupby("model")):
        ax.errorbar(
            group["shift"] + 0.03 * (2 * index - 1),  # a small sideways step keeps CIs apart
            group["mean"],
            yerr=[group["mean"] - group["low"], group["high"] - group["mean"]],
            marker="o",
            capsize=4,
            color=COLOURS.get(model),
            label=label(model, best),
        )
    ax.set_xticks(shifts)
    ax.set_xlabel("shift of every test image (pixels; each image left, right, up or down)")
    ax.set_ylabel("test accuracy (%)")
    low, high = ax.get_ylim()
    ax.set_ylim(max(0.0, low - 1), min(100.0, high + 0.5))
    ax.legend(loc="lower left")
    ax.set_title("Accuracy on shifted test digits (mean ± 95% CI over seeds)" + scale_note(scale))
    return save(fig, folder, "accuracy_vs_shift")


def figure_error_per_model(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    """Left: the η sweeps' validation error; right: the test error at each model's best η."""
    best = best_etas(table)
    fig, (sweep, bars) = plt.subplots(1, 2, figsize=(11, 4.6), width_ratios=[1.3, 1])
    validation = final(table, "validation_accuracy")
    validation = validation.assign(value=(1 - validation["value"]) * 100)
    for model, group in summarise(validation, ["model", "eta"]).groupby("model"):
        sweep.errorbar(
            group["eta"],
            group["mean"],
            yerr=[group["mean"] - group["low"], group["high"] - group["mean"]],
            marker="o",
            capsize=4,
            color=COLOURS.get(model),
            label=NAMES[model],
        )
        chosen = group[group.eta == best[model]]
        sweep.plot(
            chosen["eta"],
            chosen["mean"],
            marker="*",
            markersize=16,
            color=COLOURS.get(model),
            linestyle="none",
        )
    sweep.plot([], [], "k*", markersize=12, linestyle="none", label="best η (used on the right)")
    sweep.set_xscale("log")
    sweep.set_yscale("log")
    etas = sorted(validation["eta"].unique())
    sweep.set_xticks(etas, [f"{eta:g}" for eta in etas])
    sweep.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    sweep.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    sweep.yaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    sweep.set_xlabel("learning rate η (log scale)")
    sweep.set_ylabel("validation error after the last epoch (%, log scale)")
    sweep.set_title("Each model's η sweep")
    sweep.legend(fontsize=8)
    test = at_best_eta(table, "test_accuracy")
    test = test.assign(value=(1 - test["value"]) * 100)
    summary = summarise(test, ["model"])
    positions = np.arange(len(summary))
    bars.bar(
        positions,
        summary["mean"],
        yerr=[summary["mean"] - summary["low"], summary["high"] - summary["mean"]],
        capsize=6,
        color=[COLOURS.get(m) for m in summary["model"]],
    )
    for x, mean in zip(positions, summary["mean"]):
        bars.annotate(f"{mean:.2f}%", (x, mean), textcoords="offset points", xytext=(14, 4))
    bars.axhline(
        LENET5_ERROR,
        color="k",
        linestyle="--",
        linewidth=1,
        label=f"LeNet-5, LeCun et al. 1998: {LENET5_ERROR:g}% (20 epochs, 60,000 images)",
    )
    bars.set_ylim(0, max(summary["high"].max(), summary["mean"].max()) * 1.3)
    bars.legend(fontsize=8, loc="upper left")
    bars.set_xticks(positions, [label(m, best) for m in summary["model"]])
    bars.set_ylabel("test error after the last epoch (%)")
    bars.set_title("Test error at each model's best η")
    fig.suptitle("CNN vs MLP on MNIST (mean ± 95% CI over seeds)" + scale_note(scale))
    return save(fig, folder, "test_error_per_model")
