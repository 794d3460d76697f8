"""The dying-ReLU figures of the bad starts (negative biases, shifted inputs) with ReLU and leaky
ReLU at a stable η, and of the inputs: dead units at initialisation, raw against [0, 1] pixels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from dlexp.figures import line_with_band, save, scale_note, summarise

from .plotting import (
    LAYER_COLOURS,
    SHARE_LABEL,
    SHARE_NOTE,
    by_unit,
    diverged_note,
    epoch_axis,
    every_net_diverged,
    share_name,
    share_over_epochs,
    silent_share,
)
from .tables import at_epoch, inputs_name, metric, relu, shift_of, start_name, unit_name

UNIT_COLOURS = ["black", "tab:orange", "tab:red", "tab:brown"]
BAR_NAMES = {
    "centred": "centred:\nx − mean",
    "normalised": 'x in [0, 1]\n(dlexp\'s\n"normalised")',
    "raw": "raw:\nx in\n[0, 255]",
}


def starts_of(values: pd.DataFrame, eta: float) -> pd.DataFrame:
    """The bad starts' models and, as the remedy beside them, the centred-pixel nets."""
    negative = (values.bias < 0) & (values.inputs == "normalised") & (values.eta == eta)
    return values[negative | values.inputs.str.startswith("shifted") | (values.inputs == "centred")]


def start_order(item: tuple[tuple[float, str], pd.DataFrame]) -> tuple:
    """Negative biases first (b = −0.5 before −1), then the inputs by shift, centred last."""
    (bias, inputs), _ = item
    return (inputs != "normalised", -bias, inputs == "centred", shift_of(inputs))


def figure_bad_starts_over_epochs(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    """A row per bad start; a column per unit (the share of each layer lost) and one of accuracy."""
    eta = protocol["bad_starts"]["eta"]
    shares = starts_of(silent_share(table), eta)
    accuracy = starts_of(metric(table, "validation_accuracy"), eta)
    units = sorted(
        shares[["unit", "leak"]].drop_duplicates().itertuples(index=False),
        key=lambda u: (u.unit != "relu", u.leak),
    )
    starts = sorted(shares.groupby(["bias", "inputs"]), key=start_order)
    ncols = len(units) + 1
    fig = plt.figure(figsize=(3.3 * ncols, 2.6 * len(starts) + 2.2))
    cells = fig.add_gridspec(len(starts) + 1, ncols, height_ratios=[2.6] * len(starts) + [0.3])
    axes = np.array(
        [
            [fig.add_subplot(cells[row, column]) for column in range(ncols)]
            for row in range(len(starts))
        ]
    )
    legend = fig.add_subplot(cells[-1, :])
    legend.axis("off")
    for row, ((bias, inputs), values) in enumerate(starts):
        model_eta = values.eta.iloc[0]
        for column, unit in enumerate(units):
            ax = axes[row, column]
            own = values[(values.unit == unit.unit) & (values.leak == unit.leak)]
            if own.empty:
                ax.text(0.5, 0.5, "not trained", transform=ax.transAxes, ha="center", color="gray")
            else:
                share_over_epochs(ax, own)
                every_net_diverged(ax, own)
            ax.set_ylim(-0.03, 1.03)
            ax.set_title(
                share_name(unit.unit, unit.leak) + diverged_note(table, own) if len(own) else "",
                fontsize=8,
            )
            if column == 0:
                ax.set_ylabel(
                    f"{start_name(bias, inputs)}\nη = {model_eta:.2g}\n{SHARE_LABEL}", fontsize=8
                )
        ax = axes[row, -1]
        own = accuracy[(accuracy.bias == bias) & (accuracy.inputs == inputs)]
        for index, ((unit, leak), group) in enumerate(by_unit(own)):
            summary = summarise(group, ["epoch"])
            line_with_band(
                ax,
                summary["epoch"],
                summary,
                color=UNIT_COLOURS[index % 4],
                marker=".",
                label=unit_name(unit, leak),
            )
        ax.axhline(0.1, color="gray", linewidth=0.8, linestyle=":")
        ax.set_ylim(0, 1)
        ax.set_title("validation accuracy", fontsize=8)
    for row, line in enumerate(axes):
        for ax in line:
            epoch_axis(ax, shares, bottom=row == len(axes) - 1)
    handles = [
        plt.Line2D([], [], color=colour, label=f"hidden layer {layer}")
        for layer, colour in LAYER_COLOURS.items()
    ] + [
        plt.Line2D(
            [],
            [],
            color=UNIT_COLOURS[index],
            marker=".",
            label=f"accuracy: {unit_name(u.unit, u.leak)}",
        )
        for index, u in enumerate(units)
    ]
    legend.legend(handles=handles, loc="center", ncol=len(handles), fontsize=8)
    fig.suptitle(
        f"Bad starts at a stable η: negative bias b (η = {eta:g}) and inputs shifted away from 0 "
        "(at the η that gives their first layer the same step),\nwith pixels centred on their mean "
        f"as the remedy beside them; mean ± 95% CI over seeds.\n{SHARE_NOTE}" + scale_note(scale),
        fontsize=9,
    )
    return save(fig, folder, "bad_starts_over_epochs")


def figure_inputs(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    """Left: each layer's dead share at initialisation by inputs (b = 0). Right: raw against
    [0, 1] pixels at the same small η, over epochs."""
    dead = relu(metric(table, "dead_fraction"))
    dead = dead[dead.bias == 0]
    raw_etas = protocol["raw_inputs"]["etas"]
    fig, axes = plt.subplots(
        1,
        1 + len(raw_etas),
        figsize=(6.5 + 3.8 * len(raw_etas), 4.8),
        squeeze=False,
        gridspec_kw={"width_ratios": [1.5] + [1] * len(raw_etas)},
    )
    start = at_epoch(dead, 0).drop_duplicates(["inputs", "seed", "layer"])
    order = sorted(start.inputs.unique(), key=lambda i: (shift_of(i), i == "raw"))
    layers = sorted(start.layer.unique())
    ax, width = axes[0, 0], 0.8 / len(layers)
    for offset, layer in enumerate(layers):
        means = start[start.layer == layer].groupby("inputs")["value"].mean().reindex(order)
        ax.bar(
            np.arange(len(order)) + (offset - (len(layers) - 1) / 2) * width,
            means,
            width,
            color=LAYER_COLOURS.get(layer, "gray"),
            label=f"hidden layer {layer}",
        )
        for x, value in zip(
            np.arange(len(order)) + (offset - (len(layers) - 1) / 2) * width, means
        ):
            ax.text(x, value + 0.01, f"{value:.2f}", ha="center", fontsize=6, rotation=90)
    names = [BAR_NAMES.get(i, inputs_name(i).replace("pixels", "x")) for i in order]
    ax.set_xticks(range(len(order)), names, fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("dead share of the layer at initialisation")
    ax.set_title("ReLU nets before training (b = 0), by inputs", fontsize=9)
    ax.legend(fontsize=8)
    for ax, eta in zip(axes[0, 1:], raw_etas):
        values = dead[(dead.eta == eta) & dead.inputs.isin(["raw", "normalised"])]
        for inputs, style in (("raw", "-"), ("normalised", "--")):
            summary = summarise(
                values[values.inputs == inputs].dropna(subset=["value"]), ["layer", "epoch"]
            )
            for layer, lines in summary.groupby("layer"):
                line_with_band(
                    ax,
                    lines["epoch"],
                    lines,
                    color=LAYER_COLOURS.get(layer, "gray"),
                    linestyle=style,
                    marker="o" if inputs == "raw" else "s",
                    markersize=4,
                    label=f"{inputs_name(inputs)}, layer {layer}",
                )
        ax.set_ylim(-0.03, 1.03)
        ax.set_ylabel("dead share of the layer")
        ax.set_title(
            f"η = {eta:g}: raw [0, 255] vs [0, 1] pixels" + diverged_note(table, values), fontsize=9
        )
        epoch_axis(ax, values, bottom=True)
    if len(raw_etas):
        axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(
        "Inputs: non-centred pixels leave units dead at initialisation; raw [0, 255] pixels do not "
        "(with b = 0 every z only scales by 255)\nbut kill units during the first epoch, as each "
        "update is 255× larger relative to z (mean ± 95% CI over seeds)" + scale_note(scale),
        fontsize=9,
    )
    return save(fig, folder, "inputs_and_dead_units")
