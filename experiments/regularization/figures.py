"""The regularization figures, drawn from the results table alone (early stopping's are in
`stopping_figures`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from dlexp.figures import line_with_band, save, scale_note, summarise, summarise_on_log_scale

from .run import INPUT_DROPOUT, NOISY_LABELS, SMALL_DATA, UNREGULARISED
from .stopping_figures import figure_early_stopping, figure_early_stopping_curves
from .tables import (
    curves,
    final_epoch,
    final_weight_histograms,
    label_of,
    other_lambda,
    unregularised_lecture_net,
    variants,
)
from .weight_histograms import WEIGHT_COUNT


def colours(table: pd.DataFrame) -> dict[str, Any]:
    """One colour per regularisation label, the same in every panel: black for none, blues for
    L2 (darker = larger λ), orange for L1, green for dropout, purple for dropout + L2, brown for
    dropout on the inputs too (grey for any other combination)."""
    labels = {label_of(row): row for row in variants(table).itertuples()}
    l2 = sorted(r.lambda_l2 for r in labels.values() if r.regulariser == "L2")
    blues = dict(zip(l2, plt.cm.Blues(np.linspace(0.35, 0.95, max(len(l2), 1)))))
    fixed = {
        UNREGULARISED: "black",
        "L1": "tab:orange",
        "dropout": "tab:green",
        "dropout + L2": "tab:purple",
        INPUT_DROPOUT: "tab:brown",
    }
    return {
        label: blues[row.lambda_l2]
        if row.regulariser == "L2"
        else fixed.get(row.regulariser, "tab:gray")
        for label, row in labels.items()
    }


def mask_note(table: pd.DataFrame) -> str:
    """Which dropout masks the run drew: "dropout masks per mini-batch" (or per example)."""
    modes = " and per ".join(sorted(table.dropout_masks.dropna().unique()))
    return f"dropout masks per {modes}"


def figures(table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path) -> list[Path]:
    return [
        *figure_overfitting(table, protocol, scale, folder),
        *figure_regularisers(table, protocol, scale, folder),
        *figure_gap(table, scale, folder),
        *figure_weight_histograms(table, protocol, scale, folder),
        *figure_early_stopping_curves(table, protocol, scale, folder),
        *figure_early_stopping(table, protocol, scale, folder),
    ]


def figure_overfitting(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    """The lecture's overfitting picture: training cost keeps falling, test accuracy stalls."""
    net = unregularised_lecture_net(table, protocol)
    fig, (cost_ax, accuracy_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    cost = summarise_on_log_scale(net.assign(value=net["train_cost"]), ["epoch"])
    line_with_band(cost_ax, cost["epoch"], cost, color="black")
    cost_ax.set_yscale("log")
    cost_ax.set_xlabel("epoch")
    cost_ax.set_ylabel("training cost C₀ (cross-entropy; geometric mean, log scale)")
    cost_ax.set_title("The cost on the training images keeps falling…", fontsize=10)
    for metric, colour, name in (
        ("train_accuracy", "tab:red", "training images"),
        ("test_accuracy", "tab:blue", "test images"),
    ):
        summary = summarise(net.assign(value=100 * net[metric]), ["epoch"])
        line_with_band(accuracy_ax, summary["epoch"], summary, color=colour, label=name)
        last = summary.iloc[-1]
        accuracy_ax.annotate(
            f"{last['mean']:.1f}% at epoch {last['epoch']:.0f}",
            (last["epoch"], last["mean"]),
            xytext=(-4, -12),
            textcoords="offset points",
            ha="right",
            fontsize=8,
            color=colour,
        )
    accuracy_ax.set_ylim(0, 102)
    accuracy_ax.set_xlabel("epoch")
    accuracy_ax.set_ylabel("classification accuracy (%)")
    accuracy_ax.set_title("…while the test accuracy stops improving", fontsize=10)
    accuracy_ax.legend(loc="center right")
    fig.suptitle(
        f"Overfitting: 784-{protocol['hidden_units']}-10 sigmoid net, no regularisation, "
        f"{protocol['train_images']:,} training images (mean and 95% CI over seeds)"
        + scale_note(scale),
        fontsize=10,
    )
    return save(fig, folder, "overfitting")


def network_title(part: str, hidden: int, images: int, label_noise: float) -> str:
    """784-30-10 on 1,000 training images (, 20% of their labels flipped)."""
    noise = f", {label_noise:.0%} of their labels flipped" if part == NOISY_LABELS else ""
    return f"784-{hidden}-10 on {images:,} training images{noise}"


def network_groups(all_epochs: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The models split by training set and width, each with a title: 784-30-10 on 1,000
    images, 784-100-10 on 1,000 images, the noisy labels, 784-100-10 on all 50,000."""
    groups = all_epochs.groupby(["part", "hidden", "train_images", "label_noise"], sort=False)
    return [(network_title(*key), group) for key, group in groups]


def figure_regularisers(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    """Per network and training set: training cost and test accuracy per variant, L2 at the
    lecture's λ only (every λ of the sweep is in the train_test_gap figure)."""
    shown = [row.variant for row in variants(table).itertuples() if not other_lambda(row, protocol)]
    all_epochs = curves(table)
    groups = network_groups(all_epochs[all_epochs.variant.isin(shown)])
    palette = colours(table)
    fig, axes = plt.subplots(len(groups), 2, figsize=(13, 3.6 * len(groups)), squeeze=False)
    for (title, group), (cost_ax, accuracy_ax) in zip(groups, axes):
        for _, model in group.groupby("variant", sort=False):
            label = label_of(model.iloc[0])
            style = {"color": palette[label], "label": label, "linewidth": 1.2}
            cost = summarise_on_log_scale(model.assign(value=model["train_cost"]), ["epoch"])
            line_with_band(cost_ax, cost["epoch"], cost, **style)
            accuracy = summarise(model.assign(value=100 * model["test_accuracy"]), ["epoch"])
            line_with_band(accuracy_ax, accuracy["epoch"], accuracy, **style)
        cost_ax.set_yscale("log")
        cost_ax.set_ylabel("training cost C₀ (geometric mean, log scale)")
        accuracy_ax.set_ylabel("test accuracy (%)")
        trained = group[group.epoch > 0]
        accuracy_ax.set_ylim(
            100 * trained.test_accuracy.quantile(0.02) - 2,
            min(100.0, 100 * trained.test_accuracy.max() + 2),
        )
        for ax in (cost_ax, accuracy_ax):
            ax.set_title(title, fontsize=10)
            ax.set_xlabel("epoch")
        accuracy_ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(
        "Training cost and test accuracy per regularisation, L2 at the lecture's λ\n"
        f"(mean and 95% CI over seeds; {mask_note(table)})" + scale_note(scale),
        fontsize=11,
    )
    return save(fig, folder, "regularisers_over_training")


def bars_with_ci(ax: plt.Axes, summary: pd.DataFrame, colours_: list[Any], digits: int) -> None:
    """Horizontal bars of the means with their 95% CI, the mean written beside each bar."""
    ys = np.arange(len(summary))
    errors = np.vstack([summary["mean"] - summary["low"], summary["high"] - summary["mean"]])
    ax.barh(
        ys,
        summary["mean"],
        color=colours_,
        alpha=0.8,
        xerr=np.nan_to_num(errors),
        capsize=2,
        error_kw={"linewidth": 0.8},
    )
    ends = np.fmax(summary["mean"], summary["high"].fillna(summary["mean"]))
    for y, mean, end in zip(ys, summary["mean"], ends):
        ax.annotate(
            f"{mean:.{digits}f}",
            (end, y),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=7,
        )
    ax.grid(axis="y", visible=False)


def figure_gap(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    """Per variant at the last epoch: test accuracy, train–test gap and ‖w‖, with 95% CI."""
    final = final_epoch(table)
    rows = variants(table).set_index("variant")
    order = rows.index.tolist()
    palette = colours(table)
    bar_colours = [palette[label_of(row)] for row in rows.itertuples()]
    fig, axes = plt.subplots(1, 3, figsize=(14, 0.3 * len(order) + 1.9), sharey=True)
    panels = (
        ("test_accuracy", 100.0, "test accuracy (%)", 1),
        ("gap", 100.0, "train − test accuracy (points)", 1),
        ("weight_norm", 1.0, "weight norm ‖w‖₂", 0),
    )
    for ax, (metric, factor, xlabel, digits) in zip(axes, panels):
        summary = summarise(final.assign(value=factor * final[metric]), ["variant"])
        bars_with_ci(ax, summary.set_index("variant").loc[order], bar_colours, digits)
        ax.set_xlabel(f"{xlabel} at the last epoch")
    low = 100 * final.test_accuracy.min()
    axes[0].set_xlim(max(0.0, 10 * math.floor(low / 10) - 10), 100)
    axes[0].set_yticks(np.arange(len(order)), order, fontsize=8)
    axes[0].invert_yaxis()
    fig.suptitle(
        "Generalisation per variant (mean and 95% CI over seeds); 'full data' = all the "
        f"training images; {mask_note(table)}" + scale_note(scale),
        fontsize=10,
    )
    return save(fig, folder, "train_test_gap")


def figure_weight_histograms(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    """|w| histograms after training: no regularisation, L2 and L1 at the lecture's λ."""
    counts = table[table.metric == WEIGHT_COUNT]
    counts = counts[(counts.part == SMALL_DATA) & (counts.hidden == protocol["hidden_units"])]
    lam = protocol["l2"]
    shown = counts[
        (counts.regulariser == UNREGULARISED)
        | ((counts.regulariser == "L2") & np.isclose(counts.lambda_l2, lam))
        | (counts.regulariser == "L1")
    ]
    palette = colours(table)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    initial = shown[(shown.epoch == 0) & (shown.regulariser == UNREGULARISED)]
    drawn = [("at initialisation", initial, "grey", "--", 3)]  # on top: no regularisation
    final = final_weight_histograms(shown)  # barely moves the weights, and hides under it
    for _, group in final.groupby("variant", sort=False):
        label = label_of(group.iloc[0])
        drawn.append((f"{label}, after training", group, palette[label], "-", 2))
    for name, group, colour, style, order in drawn:
        fractions = group.assign(
            value=group["value"] / group.groupby("seed")["value"].transform("sum")
        )
        summary = summarise(fractions, ["w_low", "w_high"]).sort_values("w_low")
        edges = np.append(summary["w_low"].to_numpy(float), summary["w_high"].iloc[-1])
        edges[0], edges[-1] = edges[1] / 10**0.25, edges[-2] * 10**0.25
        ax.stairs(
            100 * summary["mean"],
            edges,
            color=colour,
            linestyle=style,
            linewidth=1.6,
            label=name,
            zorder=order,
        )
    l1_step = protocol["eta"] * protocol["l1"] / protocol["train_images"]
    ax.axvline(l1_step, color="tab:orange", linestyle=":", linewidth=1)
    ax.annotate(
        f"one L1 step ηλ/n = {l1_step:.0e}",
        (l1_step, 0.55),
        xycoords=("data", "axes fraction"),
        xytext=(4, 0),
        textcoords="offset points",
        va="top",
        fontsize=8,
        color="tab:orange",
    )
    ax.set_xscale("log")
    ax.set_xlabel("weight magnitude |w| (log scale; the outer bins also hold |w| < 10⁻⁶ and > 100)")
    ax.set_ylabel("share of the weights per bin (%, 4 bins per decade)")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(
        f"Weight magnitudes, 784-{protocol['hidden_units']}-10 on {protocol['train_images']:,} "
        "images (mean over seeds)" + scale_note(scale),
        fontsize=10,
    )
    return save(fig, folder, "weight_histograms")
