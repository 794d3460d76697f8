"""The dying-ReLU figures. Here the η sweep: dead units per layer over epochs, the final dead share
and the validation accuracy against η; `start_figures` draws the bad starts and the inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from dlexp.figures import line_with_band, save, scale_note, summarise

from .plotting import (
    DIVERGED_MARKERS,
    LAYER_COLOURS,
    SHARE_LABEL,
    SHARE_NOTE,
    UNIT_STYLES,
    by_unit,
    diverged_note,
    epoch_axis,
    every_net_diverged,
    panels_with_legend_row,
    share_name,
    share_over_epochs,
    silent_share,
)
from .start_figures import figure_bad_starts_over_epochs, figure_inputs
from .tables import diverged_models, final, metric, sweep, unit_name

SWEEP_UNITS = ["relu", "leaky"]


def figures(table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path) -> list[Path]:
    etas = protocol["etas"]
    return [
        *figure_dead_share_over_epochs(table, etas, scale, folder),
        *figure_final_dead_share_vs_eta(table, etas, scale, folder),
        *figure_validation_accuracy_vs_eta(table, protocol, scale, folder),
        *figure_bad_starts_over_epochs(table, protocol, scale, folder),
        *figure_inputs(table, protocol, scale, folder),
    ]


def sweep_models(values: pd.DataFrame, protocol_etas: list[float]) -> pd.DataFrame:
    """The η sweep's ReLU and slide-slope leaky nets (the other slopes run only at one η)."""
    values = sweep(values, protocol_etas)
    slide_leak = values[values.unit == "leaky"].leak.min()
    return values[(values.unit == "relu") | (values.leak == slide_leak)]


def figure_dead_share_over_epochs(
    table: pd.DataFrame, etas: list[float], scale: str, folder: Path
) -> list[Path]:
    shares = sweep_models(silent_share(table), etas)
    panels = [(f"η = {eta:g}", group) for eta, group in shares.groupby("eta")]
    ncols = min(3, len(panels))
    fig, axes, legend = panels_with_legend_row(len(panels), ncols, (4.0, 3.2), 0.9)
    for index, (ax, (name, values)) in enumerate(zip(axes, panels)):
        share_over_epochs(ax, values)
        every_net_diverged(ax, values)
        ax.set_title(name + diverged_note(table, values), fontsize=9)
        ax.set_ylim(-0.03, 1.03)
        if index % ncols == 0:
            ax.set_ylabel(SHARE_LABEL)
        epoch_axis(ax, values, bottom=index + ncols >= len(panels))
    legend.legend(*axes[0].get_legend_handles_labels(), loc="center", ncol=2, fontsize=8)
    fig.suptitle(
        "Units lost as training goes on, by learning rate η (b = 0, pixels in [0, 1]; mean ± 95% "
        f"CI over seeds)\n{SHARE_NOTE}" + scale_note(scale),
        fontsize=10,
    )
    return save(fig, folder, "dead_share_over_epochs")


def eta_axis(ax: plt.Axes, etas: list[float]) -> None:
    ax.set_xscale("log")
    ax.set_xticks(etas, [f"{eta:g}" for eta in etas], fontsize=8)
    ax.minorticks_off()
    ax.set_xlabel("learning rate η (log scale)")


def against_eta(ax: plt.Axes, values: pd.DataFrame, label: str) -> None:
    for (unit, leak), group in by_unit(values.dropna(subset=["value"])):
        summary = summarise(group, ["eta"])
        line_with_band(
            ax,
            summary["eta"],
            summary,
            color="tab:blue" if unit == "relu" else "tab:orange",
            label=label.format(name=share_name(unit, leak), unit=unit_name(unit, leak)),
            **UNIT_STYLES[unit],
        )


def mark_diverged(ax: plt.Axes, points: pd.DataFrame) -> None:
    """A marker at (η, y) for each diverged model of `points`: × ReLU, + leaky ReLU."""
    for (unit, leak), group in by_unit(points):
        ax.scatter(
            group.eta,
            group.y,
            marker=DIVERGED_MARKERS[unit],
            s=50,
            color="tab:blue" if unit == "relu" else "tab:orange",
            clip_on=False,
            zorder=5,
            label=f"{unit_name(unit, leak)} diverged (weights became inf/NaN)",
        )


def figure_final_dead_share_vs_eta(
    table: pd.DataFrame, etas: list[float], scale: str, folder: Path
) -> list[Path]:
    shares = final(sweep_models(silent_share(table), etas))
    layers = sorted(shares.layer.unique())
    fig, axes, legend = panels_with_legend_row(len(layers), len(layers), (4.6, 3.8), 0.8)
    gone = sweep_models(diverged_models(table), etas)
    gone = gone.assign(y=gone.unit.map({"relu": 1.05, "leaky": 1.11}))
    for ax, layer in zip(axes, layers):
        against_eta(ax, shares[shares.layer == layer], "{name}")
        mark_diverged(ax, gone.drop_duplicates(["unit", "leak", "eta"]))
        eta_axis(ax, etas)
        ax.set_ylim(-0.03, 1.13)
        ax.set_title(f"hidden layer {layer}", color=LAYER_COLOURS.get(layer, "black"))
    axes[0].set_ylabel(f"{SHARE_LABEL}\nafter the last epoch")
    legend.legend(*axes[0].get_legend_handles_labels(), loc="center", ncol=2, fontsize=8)
    fig.suptitle(
        "Units lost after the last epoch against η (b = 0, pixels in [0, 1]; mean ± 95% CI over "
        "seeds; a diverged net is marked at the top)\n" + SHARE_NOTE + scale_note(scale),
        fontsize=10,
    )
    return save(fig, folder, "final_dead_share_vs_eta")


def figure_validation_accuracy_vs_eta(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    etas = protocol["etas"]
    accuracy = final(sweep_models(metric(table, "validation_accuracy"), etas))
    fig, ax = plt.subplots(figsize=(9.0, 5.2))
    against_eta(ax, accuracy, "{unit}")
    ax.axhline(0.1, color="gray", linewidth=0.8, linestyle=":", label="chance (10 classes)")
    keys = ["unit", "leak", "eta", "bias", "inputs", "seed"]
    gone = sweep_models(diverged_models(table), etas).merge(accuracy[[*keys, "value"]])
    mark_diverged(ax, gone.rename(columns={"value": "y"}))
    leaky_gone = gone[gone.unit == "leaky"].eta
    if len(leaky_gone):
        ax.axvspan(leaky_gone.min() / 1.15, max(etas) * 1.15, color="gray", alpha=0.12, lw=0)
        ax.text(
            leaky_gone.min(),
            0.5,
            ' η too large for either:\n leaky nets diverge too\n ("Maybe η is too big?")',
            fontsize=8,
            va="center",
        )
    eta_axis(ax, etas)
    ax.set_ylim(0, 1)
    ax.set_ylabel("validation accuracy after the last epoch\n(10,000 validation images)")
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title(
        "Validation accuracy against η: ReLU vs leaky ReLU (b = 0, pixels in [0, 1])\n"
        "mean ± 95% CI over seeds; a diverged net (× ReLU, + leaky) counts at its accuracy"
        + scale_note(scale),
        fontsize=10,
    )
    return save(fig, folder, "validation_accuracy_vs_eta")
