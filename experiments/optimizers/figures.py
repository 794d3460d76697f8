"""The optimiser figures: training cost per epoch for each η, validation accuracy against the
number of training examples processed for mini-batch SGD and full-batch gradient descent, and
plain SGD against momentum at the same η."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import matplotlib.ticker
import pandas as pd

from dlexp.figures import (
    cost_axis,
    line_with_band,
    save,
    scale_note,
    summarise,
    summarise_on_log_scale,
)

from .checks import COST, best_eta

FORM_LABELS = {
    "plain": "plain SGD",
    "heavy-ball": "momentum, heavy ball: v ← μv − ηg, w ← w + v",
    "one-step": "momentum, the slide's form: w ← w − η(μ g_prev + g)",
}


def figures(table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path) -> list[Path]:
    return [
        *figure_cost_per_eta(table, protocol, scale, folder),
        *figure_accuracy_vs_examples(table, protocol, scale, folder),
        *figure_momentum(table, protocol, scale, folder),
    ]


def net_note(protocol: dict[str, Any]) -> str:
    return f"784-{protocol['hidden_units']}-10 sigmoid nets, λ = {protocol['l2']:g}"


def epoch_axis(ax: plt.Axes) -> None:
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))


def figure_cost_per_eta(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    rows = table[(table.part == "eta") & (table.metric == COST) & (table.epoch > 0)]
    fig, ax = plt.subplots(figsize=(8, 5))
    summary = summarise_on_log_scale(rows, ["eta", "epoch"])
    for eta, group in summary.groupby("eta"):
        line_with_band(ax, group["epoch"], group, marker="o", label=f"η = {eta:g}")
    cost_axis(ax)
    epoch_axis(ax)
    ax.set_ylabel("training cost C = C₀ + (λ/2n)‖w‖² (log scale)")
    ax.legend(title=f"mini-batch {protocol['batch_size']}", loc="upper right")
    ax.set_title(
        f"Training cost per epoch for each learning rate\n{net_note(protocol)} "
        "(geometric mean over seeds, 95% CI band)" + scale_note(scale)
    )
    return save(fig, folder, "training_cost_per_eta")


def figure_accuracy_vs_examples(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    rows = table[table.part.isin(["eta", "full-batch"]) & (table.metric == "validation_accuracy")]
    rows = rows.assign(value=rows["value"] * 100)
    fig, ax = plt.subplots(figsize=(9, 5.2))
    styles = {
        "eta": ("tab:blue", f"mini-batch {protocol['batch_size']}"),
        "full-batch": ("tab:red", "full batch"),
    }
    for part, (colour, name) in styles.items():
        mine = rows[rows.part == part]
        if mine.empty:
            continue
        best = best_eta(
            mine[mine.epoch > 0].pivot_table(index="epoch", columns=["eta", "seed"], values="value")
        )
        summary = summarise(mine, ["eta", "examples"])
        for eta, group in summary.groupby("eta"):
            chosen = eta == best
            label = f"{name}, η = {eta:g}"
            if chosen:
                line_with_band(
                    ax,
                    group["examples"],
                    group,
                    color=colour,
                    marker="o",
                    label=label + " (its best η)",
                )
            else:  # the rest of its sweep, faint and without bands
                ax.plot(
                    group["examples"],
                    group["mean"],
                    color=colour,
                    alpha=0.45,
                    linestyle=":",
                    label=label,
                )
    ax.set_xlim(left=0)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:,.0f}"))
    ax.set_ylim(0, 100)
    ax.set_xlabel(
        f"training examples processed (one epoch = {protocol['train_images']:,} examples: "
        f"{protocol['train_images'] // protocol['batch_size']:,} mini-batch steps or one "
        "full-batch step)"
    )
    ax.set_ylabel(f"validation accuracy on {protocol['eval_images']:,} images (%)")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(
        "The same computation, spent on many small steps or on few exact ones\n"
        f"{net_note(protocol)} (mean ± 95% CI over seeds)" + scale_note(scale)
    )
    return save(fig, folder, "accuracy_vs_examples_processed")


def figure_momentum(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    etas = protocol["momentum"]["etas"]
    fig, axes = plt.subplots(2, len(etas), figsize=(6 * len(etas), 8), sharex=True, squeeze=False)
    metrics = {
        "validation_accuracy": f"validation accuracy on {protocol['eval_images']:,} images (%)",
        COST: "training cost C = C₀ + (λ/2n)‖w‖² (log scale)",
    }
    for column, eta in enumerate(etas):
        mine = table[table.part.isin(["eta", "momentum"]) & (table.eta == eta) & (table.epoch > 0)]
        for row, (metric, label) in enumerate(metrics.items()):
            ax = axes[row, column]
            values = mine[mine.metric == metric]
            if metric == "validation_accuracy":
                summary = summarise(values.assign(value=values["value"] * 100), ["form", "epoch"])
            else:
                summary = summarise_on_log_scale(values, ["form", "epoch"])
            for form in [f for f in FORM_LABELS if f in set(summary.form)]:
                group = summary[summary.form == form]
                line_with_band(ax, group["epoch"], group, marker="o", label=FORM_LABELS[form])
            if metric == COST:
                cost_axis(ax)
                epoch_axis(ax)
            else:
                ax.set_ylim(max(0.0, ax.get_ylim()[0]), min(100.0, ax.get_ylim()[1]))
            ax.set_ylabel(label)
            ax.set_title(f"η = {eta:g}" if row == 0 else "")
    axes[0, -1].legend(fontsize=8, loc="lower right")
    fig.suptitle(
        f"Plain SGD against momentum μ = {protocol['momentum']['mu']:g} at the same η, mini-batch "
        f"{protocol['batch_size']}\n{net_note(protocol)} (mean ± 95% CI over seeds; cost: "
        "geometric mean)" + scale_note(scale)
    )
    return save(fig, folder, "plain_vs_momentum")
