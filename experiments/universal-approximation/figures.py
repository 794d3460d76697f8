"""Figures: fitted curves, sup-error against width, training over epochs, parity by depth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from dlexp.figures import line_with_band, save, scale_note, summarise_on_log_scale

from .checks import best_eta, represented_errors, trained_errors

TARGET_LABEL = "f(x) = sin(2πx) + 0.5 sin(5πx)"


def figures(table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path) -> list[Path]:
    return [
        *figure_fits(table, scale, folder),
        *figure_error_vs_width(table, protocol, scale, folder),
        *figure_training(table, scale, folder),
        *figure_parity(table, protocol, scale, folder),
    ]


def at_best_eta(table: pd.DataFrame) -> pd.DataFrame:
    """The untrained parts as they are, and of the trained nets only each width's best η."""
    trained = table[table.part == "trained"].merge(best_eta(table), on=["width", "seed", "eta"])
    return pd.concat([table[table.part != "trained"], trained], ignore_index=True)


def curve(table: pd.DataFrame, **where: Any) -> pd.DataFrame:
    rows = table[table.metric == "fit"]
    for key, value in where.items():
        rows = rows[rows[key] == value]
    return rows.sort_values("x")


def figure_fits(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    table = at_best_eta(table)
    truth = curve(table, part="target")
    panels = (("represented", "best fit of N sigmoid units (least squares)"),
              ("trained", "trained by SGD with momentum, best η (seed 0)"))  # fmt: skip
    for ax, (part, title) in zip(axes, panels):
        ax.plot(truth.x, truth.value, color="black", linewidth=2.5, label=TARGET_LABEL)
        rows = table[(table.part == part) & (table.metric == "fit")]
        widths = sorted(rows.width.dropna().unique())
        colours = plt.cm.viridis(np.linspace(0.1, 0.85, len(widths)))
        for width, colour in zip(widths, colours):
            fit = curve(table, part=part, width=width, seed=0)
            ax.plot(fit.x, fit.value, color=colour, linewidth=1.2, label=f"N = {int(width)}")
        ax.set_title(title)
        ax.set_xlabel("x")
        ax.legend(fontsize=7, loc="lower left", ncol=2)
    axes[0].set_ylabel("F(x)")
    fig.suptitle(
        "One hidden layer: what N units can represent, and what SGD finds" + scale_note(scale)
    )
    return save(fig, folder, "fits")


def figure_error_vs_width(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    represented = represented_errors(table)
    ax.plot(
        represented.index, represented.values, "o-", label="best fit (what the width can represent)"
    )
    trained = summarise_on_log_scale(trained_errors(table), ["width"])
    line_with_band(
        ax, trained["width"], trained, marker="s", label="trained, best η (geometric mean, 95% CI)"
    )
    ax.set_xscale("log", base=2)
    ax.set_xticks(represented.index, [str(int(w)) for w in represented.index])
    ax.set_yscale("log")
    ax.set_xlabel("hidden units N (log scale)")
    ax.set_ylabel("sup-error max |F(x) − f(x)| on [0, 1] (log scale)")
    ax.set_title("Sup-error against width" + scale_note(scale))
    ax.legend(fontsize=8)
    return save(fig, folder, "sup_error_vs_width")


def figure_training(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    rows = at_best_eta(table)
    rows = rows[(rows.part == "trained") & (rows.metric == "sup_error")]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    summary = summarise_on_log_scale(rows, ["width", "epoch"])
    for width, group in summary.groupby("width"):
        line_with_band(ax, group["epoch"], group, label=f"N = {int(width)}")
    ax.set_yscale("log")
    ax.set_xlabel("epoch (mini-batch SGD)")
    ax.set_ylabel("sup-error on [0, 1] (log scale)")
    ax.set_title(
        "Training one hidden layer, each width at its best η\n(geometric mean, 95% CI over seeds)"
        + scale_note(scale)
    )
    ax.legend(fontsize=8, ncol=2)
    return save(fig, folder, "training")


def figure_parity(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    rows = table[(table.part == "parity") & (table.metric == "train_accuracy")]
    final = rows[rows.epoch == rows.epoch.max()]
    fig, ax = plt.subplots(figsize=(9.5, 4.5))
    for layers, group in final.groupby("layers"):
        jitter = (group.seed - group.seed.mean()) * 0.03
        label = "1 hidden layer" if layers == 1 else f"{int(layers)} hidden layers"
        ax.scatter(group.units * (1 + jitter), group.value * 100, label=label, alpha=0.8)
    bits = protocol["parity"]["bits"]
    ax.scatter([bits], [100], marker="*", s=180, color="black", zorder=3,
               label=f"construction: 1 layer of {bits} units")  # fmt: skip
    ax.axhline(100, color="grey", linewidth=0.8)
    ax.set_xscale("log", base=2)
    units = sorted({*final.units.astype(int), bits})
    ax.set_xticks(units, [str(u) for u in units])
    ax.set_xlabel("hidden units in total (log scale)")
    ax.set_ylabel(f"accuracy on all {2**bits} patterns (%)")
    ax.set_title(f"{bits}-bit parity after training, one dot per net and seed" + scale_note(scale))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return save(fig, folder, "parity_units")
