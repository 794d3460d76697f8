"""Early stopping's figures: where the rule stops on the validation curves, which model it keeps,
and what that model scores on the test images against the model trained to the end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from dlexp.figures import save, scale_note

from .early_stopping import all_stops
from .run import NOISY_LABELS, UNREGULARISED
from .tables import curves

# One colour and marker per monitored quantity, in both figures.
STYLE = {
    "validation_accuracy": ("tab:blue", "o", "validation accuracy"),
    "validation_cost": ("tab:orange", "s", "validation cost"),
}
TEST = "test, mean over seeds"
VALIDATION = {"color": "grey", "linestyle": "--", "linewidth": 1, "label": "validation, mean"}
# Hollow circles around filled squares: both show where the two monitors keep the same epoch.
MARKER = {
    "validation_accuracy": {"s": 60, "facecolors": "none", "edgecolors": "tab:blue"},
    "validation_cost": {"s": 16, "color": "tab:orange"},
}
# The first epochs, where every net is still far from trained, are left out of the axis range.
SETTLED = 5


def monitored_groups(table: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The unregularised nets early stopping is read off, per training set and width."""
    all_epochs = curves(table)
    nets = all_epochs[
        (all_epochs.regulariser == UNREGULARISED) & all_epochs.validation_cost.notna()
    ]
    groups = nets.groupby(["part", "hidden", "label_noise"], sort=False)
    return [(net_title(*key), group) for key, group in groups]


def net_title(part: str, hidden: int, label_noise: float) -> str:
    labels = f"{label_noise:.0%} of labels flipped" if part == NOISY_LABELS else "clean labels"
    return f"784-{hidden}-10, {labels}"


def figure_early_stopping_curves(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    """Per monitored net: validation and test accuracy over the epochs (top) and the validation
    cost (bottom), with each seed's kept model (marker) and the epochs trained on after it until
    the rule stopped (line to the stop), for the first patience."""
    groups = monitored_groups(table)
    patience = protocol["patience"][0]
    stops = all_stops(table, [patience]).set_index(["variant", "seed", "monitor"])
    fig, axes = plt.subplots(
        2, len(groups), figsize=(4.6 * len(groups), 7), squeeze=False, sharex=True
    )
    for (title, group), (accuracy_ax, cost_ax) in zip(groups, axes.T):
        means = group.groupby("epoch")[["test_accuracy", "validation_accuracy", "validation_cost"]]
        means = means.mean()
        accuracy_ax.plot(100 * means.test_accuracy, color="black", linewidth=1, label=TEST)
        accuracy_ax.plot(100 * means.validation_accuracy, **VALIDATION)
        cost_ax.plot(means.validation_cost, **VALIDATION)
        for (variant, seed), model in group.groupby(["variant", "seed"]):
            model = model.set_index("epoch")
            for monitor, (colour, marker, name) in STYLE.items():
                stop = stops.loc[(variant, seed, monitor)]
                kept, end, accuracy = stop.kept_epoch, stop.stop_epoch, 100 * stop.test_kept
                style = MARKER[monitor] | {"marker": marker, "zorder": 4}
                label = f"kept by {name}, each seed" if seed == group.seed.min() else None
                accuracy_ax.plot([kept, end], [accuracy, accuracy], color=colour, linewidth=0.8)
                accuracy_ax.scatter(kept, accuracy, label=label, **style)
                if monitor == "validation_cost":
                    cost_ax.scatter(kept, model.loc[kept, "validation_cost"], **style)
        accuracy_ax.set_title(title, fontsize=10)
        accuracy_ax.set_ylabel("accuracy (%)")
        trained = means[means.index >= SETTLED]
        low = 100 * trained[["test_accuracy", "validation_accuracy"]].min().min()
        accuracy_ax.set_ylim(low - 2, 100 * trained.validation_accuracy.max() + 1.5)
        cost_ax.set_ylabel("validation cost C₀ (cross-entropy)")
        cost_ax.set_ylim(0.9 * trained.validation_cost.min(), 1.1 * trained.validation_cost.max())
        cost_ax.set_xlabel("epoch")
        accuracy_ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(
        f"Early stopping, no-improvement-in-{patience}: each seed's kept model (marker: its epoch "
        "and test accuracy) and the epochs trained after it until the rule stopped (line)"
        + scale_note(scale),
        fontsize=10,
    )
    return save(fig, folder, "early_stopping_curves")


def figure_early_stopping(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    """Per monitored net and monitored quantity: the test accuracy of the model each patience
    keeps against the model trained to the end (left), and the epochs trained before it stops
    (right); means over seeds."""
    stops = all_stops(table, protocol["patience"])
    names = {
        variant: title for title, group in monitored_groups(table) for variant in group.variant
    }
    stops = stops[stops.variant.isin(names)]
    order = {variant: index for index, variant in enumerate(names)}
    rows = sorted(dict.fromkeys(zip(stops.variant, stops.monitor)), key=lambda r: order[r[0]])
    ys = np.arange(len(rows))
    fig, (accuracy_ax, epoch_ax) = plt.subplots(
        1, 2, figsize=(12, 0.45 * len(rows) + 1.8), sharey=True
    )
    markers = dict(zip(protocol["patience"], ("o", "s", "^", "D", "v")))
    means = stops.groupby(["variant", "monitor", "patience"])[
        ["test_kept", "test_end", "stop_epoch", "last_epoch"]
    ].mean()
    for y, (variant, monitor) in zip(ys, rows):
        colour = STYLE[monitor][0]
        end = means.loc[(variant, monitor)]
        label = "trained to the end" if y == 0 else None
        accuracy_ax.scatter(
            100 * end.test_end.iloc[0], y, marker="x", color="black", label=label, zorder=3
        )
        epoch_ax.scatter(
            end.last_epoch.iloc[0], y, marker="x", color="black", label=label, zorder=3
        )
        for index, (patience, row) in enumerate(end.iterrows()):
            offset = 0.12 * (index - (len(end) - 1) / 2)
            style = {
                "marker": markers.get(patience, "o"),
                "facecolors": "none",
                "edgecolors": colour,
                "zorder": 4,
            }
            label = f"patience {patience}" if y == 0 else None
            accuracy_ax.scatter(100 * row.test_kept, y + offset, label=label, **style)
            epoch_ax.scatter(row.stop_epoch, y + offset, label=label, **style)
    labels = [f"{names[variant]}\nmonitoring {STYLE[monitor][2]}" for variant, monitor in rows]
    accuracy_ax.set_yticks(ys, labels, fontsize=8)
    accuracy_ax.invert_yaxis()
    accuracy_ax.set_xlabel("test accuracy of the kept model (%, mean over seeds)")
    epoch_ax.set_xlabel("epochs trained before the rule stops (mean over seeds)")
    epoch_ax.set_xlim(0, 1.05 * stops.last_epoch.max())
    for ax in (accuracy_ax, epoch_ax):
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(
        "Early stopping against training to the end (unregularised nets; markers by patience, "
        "blue: validation accuracy monitored, orange: validation cost)" + scale_note(scale),
        fontsize=10,
    )
    return save(fig, folder, "early_stopping")
