"""The ensembles' figures: test error against the number of nets voting, and the gain of each
net added, per model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd

from dlexp.figures import save, scale_note

from .checks import NAMES, VOTE_NAMES, by_size, models_of

STYLES = {"majority_vote": {"marker": "o"}, "mean_softmax": {"marker": "s", "linestyle": "--"}}


def figures(table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path) -> list[Path]:
    return [*figure_error_vs_size(table, scale, folder), *figure_gain_per_net(table, scale, folder)]


def eta_of(table: pd.DataFrame, model: str) -> str:
    etas = table.loc[table.model == model, "eta"].unique()
    return f"η = {etas[0]:g}" if len(etas) == 1 else ""


def figure_error_vs_size(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    """Per model: each net alone (dots) and the mean test error of all ensembles of k nets."""
    models = models_of(table)
    fig, axes = plt.subplots(1, len(models), figsize=(5.8 * len(models), 4.6), squeeze=False)
    for ax, model in zip(axes[0], models):
        for vote, style in STYLES.items():
            error = 100 - by_size(table, model, vote)
            ax.plot(error.columns, error.mean(), label=f"{VOTE_NAMES[vote]} of k nets", **style)
        single = 100 - by_size(table, model, "majority_vote")[1]
        ax.plot(np.ones(len(single)), single, "k.", markersize=8, alpha=0.6, label="each net alone")
        ax.set_xticks(by_size(table, model, "majority_vote").columns)
        ax.set_xlabel("number of nets voting, k")
        ax.set_ylabel("test error (%)")
        ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%.2f"))
        ax.set_title(f"{NAMES.get(model, model)} ({eta_of(table, model)})")
        ax.legend(fontsize=8, loc="upper right")
    fig.suptitle(
        "Test error of an ensemble: mean over every ensemble of k nets" + scale_note(scale)
    )
    return save(fig, folder, "error_vs_ensemble_size")


def figure_gain_per_net(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    """Per model and vote: Δ(k) = E(k) − E(k − 1), the accuracy gained by the k-th net."""
    models = models_of(table)
    fig, axes = plt.subplots(1, len(models), figsize=(5.8 * len(models), 4.2), squeeze=False)
    width = 0.38
    for ax, model in zip(axes[0], models):
        for index, vote in enumerate(STYLES):
            gains = by_size(table, model, vote).mean().diff().dropna()
            ax.bar(gains.index + (index - 0.5) * width, gains, width, label=VOTE_NAMES[vote])
        ax.axhline(0, color="k", linewidth=0.8)
        ax.set_xticks(gains.index)
        ax.set_xlabel("the k-th net added to the vote")
        ax.set_ylabel("test accuracy gained (points)")
        ax.set_title(f"{NAMES.get(model, model)} ({eta_of(table, model)})")
        ax.legend(fontsize=8, loc="upper right")
    fig.suptitle(
        "Diminishing returns: accuracy gained by each further net, E(k) − E(k − 1)"
        + scale_note(scale)
    )
    return save(fig, folder, "gain_per_added_net")
