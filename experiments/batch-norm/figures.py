"""The batch-norm figures: validation accuracy over steps at the base η and at ten times it, the
final accuracy against η, and the input distribution of one sigmoid over training (Ioffe &
Szegedy 2015's Fig. 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from dlexp.figures import line_with_band, save, scale_note, summarise

from .checks import accuracy_curves, base_eta, steps_per_epoch, trained_at
from .run import PERCENTILES, UNIT

LABELS = {"plain": "plain sigmoid net", "batch-norm": "with batch normalisation"}
COLOURS = {"plain": "tab:blue", "batch-norm": "tab:orange"}


def figures(table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path) -> list[Path]:
    base = base_eta(table)
    if base is None:
        return []
    return [
        *figure_accuracy_over_steps(table, protocol, base, scale, folder),
        *figure_accuracy_vs_eta(table, protocol, base, scale, folder),
        *figure_unit_input(table, protocol, base, scale, folder),
    ]


def etas_shown(table: pd.DataFrame, base: float) -> list[float]:
    """The base η and ten times it, when the run has them."""
    etas = table.eta.dropna().unique()
    return [eta for eta in (base, 10 * base) if np.isclose(etas, eta, rtol=1e-9).any()]


def figure_accuracy_over_steps(
    table: pd.DataFrame, protocol: dict[str, Any], base: float, scale: str, folder: Path
) -> list[Path]:
    steps = steps_per_epoch(protocol)
    etas = etas_shown(table, base)
    fig, axes = plt.subplots(
        1, len(etas), figsize=(5.5 * len(etas), 4.4), sharey=True, squeeze=False
    )
    for ax, eta in zip(axes[0], etas):
        curves = trained_at(table, eta)
        start = table[(table.metric == "validation_accuracy") & (table.epoch == 0)]
        start = start.assign(value=start["value"] * 100)[curves.columns]
        curves = pd.concat([start[np.isclose(start.eta, eta, rtol=1e-9)], curves])
        summary = summarise(curves, ["network", "epoch"])
        for network in LABELS:
            group = summary[summary.network == network]
            line_with_band(
                ax, group["epoch"] * steps, group, color=COLOURS[network], label=LABELS[network]
            )
        ax.set_ylim(0, 100)
        ax.set_xlabel(f"mini-batch steps ({protocol['batch_size']} images each)")
        which = "the plain net's best η" if eta == base else "10 × the plain net's best η"
        ax.set_title(f"η = {eta:g}, {which}")
    axes[0, 0].set_ylabel(f"accuracy on {protocol['eval_images']:,} validation images (%)")
    axes[0, 0].legend(fontsize=8, loc="lower right")
    fig.suptitle(
        "Validation accuracy over training (mean ± 95% CI band over seeds)" + scale_note(scale)
    )
    return save(fig, folder, "validation_accuracy_over_steps")


def figure_accuracy_vs_eta(
    table: pd.DataFrame, protocol: dict[str, Any], base: float, scale: str, folder: Path
) -> list[Path]:
    curves = accuracy_curves(table)
    final = curves[curves.epoch == curves.epoch.max()]
    summary = summarise(final, ["network", "eta"])
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    for network in LABELS:
        group = summary[summary.network == network]
        ax.errorbar(
            group["eta"],
            group["mean"],
            yerr=[group["mean"] - group["low"], group["high"] - group["mean"]],
            fmt="o-",
            capsize=4,
            color=COLOURS[network],
            label=LABELS[network],
        )
    ax.set_xscale("log")
    etas = sorted(final.eta.unique())
    ax.set_xticks(etas, [eta_label(eta, base) for eta in etas])
    ax.minorticks_off()
    ax.set_ylim(0, 100)
    ax.set_xlabel("learning rate η (log scale)")
    ax.set_ylabel(f"validation accuracy after epoch {final.epoch.max()} (%)")
    ax.set_title("Final accuracy against η (mean ± 95% CI over seeds)" + scale_note(scale))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return save(fig, folder, "accuracy_vs_eta")


def eta_label(eta: float, base: float) -> str:
    """The tick of η, naming the base η and ten times it."""
    if np.isclose(eta, base, rtol=1e-9):
        return f"{eta:g}\nplain net's best"
    if np.isclose(eta, 10 * base, rtol=1e-9):
        return f"{eta:g}\n10 × that"
    return f"{eta:g}"


def figure_unit_input(
    table: pd.DataFrame, protocol: dict[str, Any], base: float, scale: str, folder: Path
) -> list[Path]:
    """Their Fig. 1b, c: the 15th, 50th and 85th percentile of one sigmoid's input, seed 0."""
    rows = table[table.metric.str.startswith("unit_input_p") & (table.seed == table.seed.min())]
    rows = rows[np.isclose(rows.eta, base, rtol=1e-9)]
    steps = steps_per_epoch(protocol)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
    for ax, network in zip(axes, LABELS):
        mine = rows[rows.network == network].pivot(index="epoch", columns="metric", values="value")
        low, middle, high = (mine[f"unit_input_p{p}"] for p in PERCENTILES)
        x = mine.index * steps
        colour = COLOURS[network]
        ax.fill_between(x, low, high, color=colour, alpha=0.25, linewidth=0,
                        label=f"{PERCENTILES[0]}th to {PERCENTILES[2]}th percentile")  # fmt: skip
        ax.plot(x, middle, color=colour, label="median (50th percentile)")
        ax.set_title(LABELS[network])
        ax.set_xlabel(f"mini-batch steps ({protocol['batch_size']} images each)")
        ax.legend(fontsize=8, loc="upper right")
    axes[0].set_ylabel("input of the sigmoid (z; with batch norm γẑ + β)")
    fig.suptitle(
        f"Input of one sigmoid (unit {UNIT + 1} of hidden layer {protocol['hidden_layers']}) over "
        f"{protocol['distribution_images']:,} validation images, η = {base:g}, seed "
        f"{int(rows.seed.min())};\nbefore training the batch-norm net uses its initial running "
        "statistics (mean 0, variance 1) and equals the plain net" + scale_note(scale)
    )
    return save(fig, folder, "unit_input_distribution")
