"""The initialisation figures: validation accuracy over the first epochs per initialisation
(with the saturated hidden units behind it), and per layer of the deep nets the activations'
spread, the gradient norm and the activations' histograms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import matplotlib.ticker
import pandas as pd

from dlexp.figures import line_with_band, save, scale_note, summarise, summarise_on_log_scale

from .run import BINS

INIT_LABELS = {
    "normalized": "N(0, 1/n_in), Nielsen's choice",
    "large": "N(0, 1), the deck's w ← N(0, 1)",
    "equal": "every weight equal",
    "glorot": "Glorot: N(0, 2/(n_in + n_out))",
    "he": "He: N(0, 2/n_in)",
    "small": "N(0, 0.01²)",
}
INIT_ORDER = ["normalized", "glorot", "he", "large", "small", "equal"]
ACTIVATION_LABELS = {"tanh": "tanh hidden units", "relu": "ReLU hidden units"}


def figures(table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path) -> list[Path]:
    return [
        *figure_first_epochs(table, protocol, scale, folder),
        *figure_deep_statistics(table, protocol, scale, folder),
        *figure_deep_histograms(table, protocol, scale, folder),
    ]


def ordered(inits) -> list[str]:
    return sorted(set(inits), key=lambda i: INIT_ORDER.index(i) if i in INIT_ORDER else 99)


def figure_first_epochs(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    shallow = table[table.part.isin(["nielsen", "equal"])]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    accuracy = shallow[shallow.metric == "validation_accuracy"]
    accuracy = accuracy.assign(value=accuracy["value"] * 100)
    summary = summarise(accuracy[accuracy.part == "nielsen"], ["init", "epoch"])
    for init in ordered(summary.init):
        group = summary[summary.init == init]
        line_with_band(left, group["epoch"], group, marker="o", label=INIT_LABELS.get(init, init))
    equal_seeds(left, shallow)
    left.axhline(10, color="grey", linestyle=":", linewidth=1)
    left.annotate("chance (10%)", (0, 10), xytext=(6, 3), textcoords="offset points", fontsize=8)
    left.set_ylim(0, 100)
    left.set_xlabel("epoch (0 = before training)")
    left.set_ylabel(f"validation accuracy on {protocol['eval_images']:,} images (%)")
    left.set_title("Accuracy over the first epochs")
    left.legend(fontsize=8, loc="upper right", bbox_to_anchor=(1.0, 0.855))  # in the empty band
    saturated = shallow[shallow.metric == "saturated_fraction"]
    saturated = saturated.assign(value=saturated["value"] * 100)
    summary = summarise(saturated, ["init", "epoch"])
    for init in ordered(summary.init):
        group = summary[summary.init == init]
        line_with_band(right, group["epoch"], group, marker="o", label=INIT_LABELS.get(init, init))
    right.set_ylim(0, 100)
    right.set_xlabel("epoch (0 = before training)")
    right.set_ylabel("hidden inputs z with σ(z) < 0.01 or > 0.99 (%)")
    right.set_title("Saturated hidden units (on the validation images)")
    right.legend(fontsize=8, loc="upper right")
    for ax in (left, right):
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    fig.suptitle(
        f"784-{protocol['hidden_units']}-10 sigmoid nets, η = {protocol['eta']:g}, λ = "
        f"{protocol['l2']:g}, mini-batch {protocol['batch_size']} (mean ± 95% CI over seeds)"
        + scale_note(scale)
    )
    return save(fig, folder, "accuracy_over_first_epochs")


def equal_seeds(ax: plt.Axes, shallow: pd.DataFrame) -> None:
    """One line per equal-weight net (their seeds need not agree): solid while its hidden units
    are still exact copies, dashed once they differ."""
    equal = shallow[shallow.part == "equal"]
    broken = equal[equal.metric == "copy_difference"].groupby("seed")["value"].max() != 0
    accuracy = equal[equal.metric == "validation_accuracy"]
    labelled = set()
    for seed, curve in accuracy.groupby("seed"):
        differ = bool(broken.get(seed, False))
        label = (
            "every weight equal: units differ by the end (one line per seed)"
            if differ
            else "every weight equal: units stay exact copies (one line per seed)"
        )
        ax.plot(
            curve["epoch"],
            curve["value"] * 100,
            color="tab:green",
            linestyle="--" if differ else "-",
            marker=".",
            label=None if differ in labelled else label,
        )
        labelled.add(differ)


def deep_title(protocol: dict[str, Any]) -> str:
    deep = protocol["deep"]
    return (
        f"{deep['hidden_layers']} hidden layers of {deep['hidden_units']} units at "
        f"initialisation, on {deep['probe_images']:,} training images"
    )


def figure_deep_statistics(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    deep = table[table.part == "deep"]
    activations = [a for a in ACTIVATION_LABELS if a in set(deep.activation)]
    metrics = {
        "activation_std": "std of the activations aˡ\n(log scale)",
        "gradient_norm": "‖∂C/∂bˡ‖, the layer's speed of learning\n(log scale)",
    }
    fig, axes = plt.subplots(
        2, len(activations), figsize=(6 * len(activations), 8), sharex=True, squeeze=False
    )
    for column, activation in enumerate(activations):
        for row, (metric, label) in enumerate(metrics.items()):
            ax = axes[row, column]
            values = deep[(deep.activation == activation) & (deep.metric == metric)]
            summary = summarise_on_log_scale(values, ["init", "layer"])
            for init in ordered(summary.init):
                group = summary[summary.init == init]
                line_with_band(
                    ax, group["layer"], group, marker="o", label=INIT_LABELS.get(init, init)
                )
            ax.set_yscale("log")
            ax.set_ylabel(label)
            ax.set_title(ACTIVATION_LABELS[activation] if row == 0 else "")
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
            if row == 1:
                ax.set_xlabel("hidden layer (1 = next to the input)")
    axes[0, -1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(
        "Flat lines: the layer statistics stay in range; falling or rising: they collapse or "
        f"explode\n{deep_title(protocol)} (geometric mean over seeds, 95% CI band)"
        + scale_note(scale)
    )
    return save(fig, folder, "deep_layer_statistics")


def figure_deep_histograms(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    rows = table[(table.part == "deep") & (table.metric == "activation_histogram")]
    activations = [a for a in ACTIVATION_LABELS if a in set(rows.activation)]
    inits = ordered(rows.init)
    fig, axes = plt.subplots(
        len(activations),
        len(inits),
        figsize=(3.6 * len(inits) + 1.2, 3.4 * len(activations) + 0.8),
        squeeze=False,
        layout="constrained",  # leaves room for the colour bar, which tight_layout does not
    )
    layers = int(rows.layer.max())
    colours = plt.get_cmap("viridis")
    for r, activation in enumerate(activations):
        low, high, bins = BINS[activation]
        width = (high - low) / bins
        for c, init in enumerate(inits):
            ax = axes[r, c]
            mine = rows[(rows.activation == activation) & (rows.init == init)]
            for layer, group in mine.groupby("layer"):
                group = group.sort_values("bin")
                ax.step(
                    group["bin"],
                    group["value"] * 100,
                    where="mid",
                    color=colours((layer - 1) / max(layers - 1, 1)),
                    linewidth=1.2,
                )
            ax.set_xlim(low - width, high + width)
            ax.set_title(
                f"{ACTIVATION_LABELS[activation]}\n{INIT_LABELS.get(init, init)}", fontsize=9
            )
            ax.set_xlabel("activation a" if activation == "tanh" else "log₁₀ a (units with a > 0)")
            if c == 0:
                ax.set_ylabel("share of all activations (%)")
    mappable = plt.cm.ScalarMappable(
        cmap=colours, norm=matplotlib.colors.Normalize(vmin=1, vmax=layers)
    )
    fig.colorbar(mappable, ax=axes, label="hidden layer (1 = next to the input)", shrink=0.8)
    fig.suptitle(f"Activations per layer (first seed): {deep_title(protocol)}" + scale_note(scale))
    return save(fig, folder, "deep_activation_histograms")
