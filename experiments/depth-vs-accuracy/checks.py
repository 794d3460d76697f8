"""The depth sweep's claim checks, on the final validation accuracies."""

from __future__ import annotations

from typing import Any

import pandas as pd

from dlexp.finding import Outcome
from dlexp.registry import reference_of

SLIDE = {int(depth): value for depth, value in reference_of(__file__)["accuracy_percent"].items()}
MAIN = "sigmoid"


def final_accuracy(table: pd.DataFrame, split: str = "validation") -> pd.DataFrame:
    """Accuracy in percent after the last epoch: one row per depth, output and seed."""
    rows = table[table.metric == f"{split}_accuracy"]
    rows = rows[rows.epoch == rows.epoch.max()]
    return rows.assign(value=rows["value"] * 100)[["depth", "output", "seed", "value"]]


def accuracy_by_depth(table: pd.DataFrame, output: str = MAIN) -> pd.DataFrame:
    """seed × depth table of final validation accuracy (%)."""
    final = final_accuracy(table)
    final = final[final.output == output]
    return final.pivot(index="seed", columns="depth", values="value")


def hidden_layer_helps(
    table: pd.DataFrame, protocol: dict[str, Any], min_gain_points: float
) -> Outcome:
    """One hidden layer beats none by at least `min_gain_points` in every seed."""
    by_depth = accuracy_by_depth(table)
    gain = by_depth[1] - by_depth[0]
    detail = f"0 hidden {by_depth[0].mean():.2f}%, 1 hidden {by_depth[1].mean():.2f}% (mean)"
    return Outcome(bool((gain >= min_gain_points).all()), gain.tolist(), detail)


def no_gain_beyond_two(table: pd.DataFrame, protocol: dict[str, Any]) -> Outcome:
    """The 3- and 4-layer means are not above the 2-layer mean."""
    by_depth = accuracy_by_depth(table)
    deeper = [d for d in (3, 4) if d in by_depth]
    differences = [float(v) for d in deeper for v in (by_depth[d] - by_depth[2])]
    means = by_depth.mean()
    passed = all(means[d] <= means[2] for d in deeper)
    detail = ", ".join(f"{d} hidden {means[d]:.2f}%" for d in [2, *deeper]) + " (mean)"
    return Outcome(passed, differences, detail)


def matches_slide_numbers(
    table: pd.DataFrame, protocol: dict[str, Any], tolerance_points: float
) -> Outcome:
    """Every depth's mean accuracy lies within `tolerance_points` of the slide's number."""
    means = accuracy_by_depth(table).mean()
    differences = {d: means[d] - SLIDE[d] for d in means.index if d in SLIDE}
    passed = all(abs(v) <= tolerance_points for v in differences.values())
    detail = "; ".join(f"{d} hidden: {means[d]:.2f}% vs slide {SLIDE[d]:.1f}%" for d in differences)
    return Outcome(passed, list(differences.values()), detail)


CHECKS = {
    "hidden_layer_helps": hidden_layer_helps,
    "no_gain_beyond_two": no_gain_beyond_two,
    "matches_slide_numbers": matches_slide_numbers,
}
