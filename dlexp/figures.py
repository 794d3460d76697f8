"""Shared plotting: one style for every figure, saved as PNG and SVG side by side."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from dlexp.claims import mean_ci

plt.rcParams.update(
    {
        "figure.dpi": 110,
        "savefig.dpi": 130,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.frameon": False,
        "font.size": 10,
        "svg.hashsalt": "dlexp",
        "svg.fonttype": "none",
    }
)


def save(figure: plt.Figure, folder: Path, name: str) -> list[Path]:
    """Write `name`.png and `name`.svg into `folder` and close the figure."""
    paths = [folder / f"{name}.png", folder / f"{name}.svg"]
    figure.tight_layout()
    for path in paths:
        figure.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else None)
    plt.close(figure)
    return paths


def summarise(values: pd.DataFrame, by: Sequence[str], column: str = "value") -> pd.DataFrame:
    """Mean and 95% CI over seeds of `column`, per group of `by`."""
    rows = []
    for key, group in values.groupby(list(by), sort=True):
        mean, low, high = mean_ci(group[column].astype(float).tolist())
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, key)), "mean": mean, "low": low, "high": high})
    return pd.DataFrame(rows)


def summarise_on_log_scale(values: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Geometric mean and 95% CI over seeds, computed on log₁₀ of the value: the band of a
    quantity drawn on a log axis, which never reaches below zero."""
    summary = summarise(values.assign(value=np.log10(values["value"].astype(float))), by)
    columns = ["mean", "low", "high"]
    summary[columns] = 10.0 ** summary[columns]
    return summary


def line_with_band(ax: plt.Axes, x, summary: pd.DataFrame, **style) -> None:
    """A mean line with its 95% CI band (the band is skipped where the CI is undefined)."""
    (line,) = ax.plot(x, summary["mean"], **style)
    low, high = summary["low"].to_numpy(float), summary["high"].to_numpy(float)
    if np.isfinite(low).any():
        ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2, linewidth=0)


def scale_note(scale: str) -> str:
    """A subtitle that marks runs below lecture scale."""
    return "" if scale == "lecture" else f"\n[{scale} scale — not the lecture's protocol]"
