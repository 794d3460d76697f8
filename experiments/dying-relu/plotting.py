"""Shared pieces of the dying-ReLU figures: styles, a panel grid with a legend row, and the share
of units that carry no signal (ReLU: dead; leaky ReLU: never positive, though not dead)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from dlexp.figures import line_with_band, summarise

from .tables import diverged_models, metric, unit_name

LAYER_COLOURS = dict(zip((1, 2, 3), plt.cm.viridis([0.05, 0.45, 0.8])))
UNIT_STYLES = {
    "relu": {"linestyle": "-", "marker": "o"},
    "leaky": {"linestyle": "--", "marker": "s", "markerfacecolor": "none"},
}
DIVERGED_MARKERS = {"relu": "x", "leaky": "+"}
SHARE_LABEL = "share of the layer's units"
SHARE_NOTE = (
    "ReLU: dead (z ≤ 0 on every training image, so no gradient); "
    "leaky ReLU: never positive (still learns, not dead)"
)


def silent_share(table: pd.DataFrame) -> pd.DataFrame:
    """Per hidden layer: the ReLU nets' dead share and the leaky nets' never-positive share."""
    dead = metric(table, "dead_fraction")
    never = metric(table, "never_positive_fraction")
    return pd.concat([dead[dead.unit == "relu"], never[never.unit == "leaky"]])


def share_name(unit: str, leak: float) -> str:
    return f"{unit_name(unit, leak)}: " + ("dead" if unit == "relu" else "never positive")


def panels_with_legend_row(
    n_panels: int, ncols: int, panel_size: tuple[float, float], legend_height: float
) -> tuple[plt.Figure, list[plt.Axes], plt.Axes]:
    """A grid of panels (shared x axes) and below it one axis-less row that holds the legend."""
    nrows = -(-n_panels // ncols)
    width, height = panel_size
    fig = plt.figure(figsize=(max(width * ncols, 9.0), height * nrows + legend_height))
    cells = fig.add_gridspec(nrows + 1, ncols, height_ratios=[height] * nrows + [legend_height])
    panels: list[plt.Axes] = []
    for index in range(n_panels):
        first = panels[0] if panels else None
        panels.append(fig.add_subplot(cells[index // ncols, index % ncols], sharex=first))
    legend = fig.add_subplot(cells[-1, :])
    legend.axis("off")
    return fig, panels, legend


def diverged_note(table: pd.DataFrame, selection: pd.DataFrame) -> str:
    """`diverged (seeds): ReLU 2/3` for the models of `selection` whose weights became inf/NaN;
    empty when none did."""
    models = selection[["unit", "leak", "eta", "bias", "inputs"]].drop_duplicates()
    gone = diverged_models(table).merge(models)
    seeds = selection.seed.nunique()
    notes = [
        f"{unit_name(u, a)} {g.seed.nunique()}/{seeds}"
        for (u, a), g in gone.groupby(["unit", "leak"])
    ]
    return "\ndiverged (seeds): " + ", ".join(notes) if notes else ""


def by_unit(values: pd.DataFrame) -> list[tuple[tuple[str, float], pd.DataFrame]]:
    """Groups keyed (unit, leak): ReLU first, then leaky by slope."""
    groups = values.groupby(["unit", "leak"])
    return sorted(groups, key=lambda item: (item[0][0] != "relu", item[0][1]))


def share_over_epochs(ax: plt.Axes, values: pd.DataFrame) -> None:
    """Share per hidden layer against epoch, ReLU solid and leaky dashed, mean ± 95% CI."""
    for (unit, leak), group in by_unit(values.dropna(subset=["value"])):
        summary = summarise(group, ["layer", "epoch"])
        for layer, lines in summary.groupby("layer"):
            line_with_band(
                ax,
                lines["epoch"],
                lines,
                color=LAYER_COLOURS.get(layer, "gray"),
                markersize=4,
                label=f"{share_name(unit, leak)}, hidden layer {layer}",
                **UNIT_STYLES[unit],
            )


def every_net_diverged(ax: plt.Axes, values: pd.DataFrame) -> None:
    """Say so inside the panel when no net has a value after initialisation."""
    if values[values.epoch > 0].value.isna().all():
        ax.text(
            0.5,
            0.5,
            "every net diverged:\nno share after epoch 0",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=9,
        )


def epoch_axis(ax: plt.Axes, values: pd.DataFrame, bottom: bool) -> None:
    ax.set_xticks(sorted(values.epoch.unique()))
    if bottom:
        ax.set_xlabel("epoch (0 = initialisation)")
