"""The checks: representation error against width, training against representation, and parity
shallow versus deep."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from dlexp.finding import Outcome


def represented_errors(table: pd.DataFrame) -> pd.Series:
    """width → sup-error of the best fit of that width."""
    rows = table[(table.part == "represented") & (table.metric == "sup_error")]
    return rows.set_index("width")["value"].sort_index()


def best_eta(table: pd.DataFrame) -> pd.DataFrame:
    """Per width and seed, the η of the sweep whose net ended with the lowest training cost
    (a diverged net's NaN cost is never chosen): columns width, seed, eta."""
    rows = table[(table.part == "trained") & (table.metric == "train_cost")]
    final = rows[rows.epoch == rows.epoch.max()].dropna(subset=["value"])
    best = final.loc[final.groupby(["width", "seed"])["value"].idxmin()]
    return best[["width", "seed", "eta"]]


def trained_errors(table: pd.DataFrame, metric: str = "sup_error") -> pd.DataFrame:
    """Final sup-error of each width's trained net at its best η: columns width, seed, value."""
    rows = table[(table.part == "trained") & (table.metric == metric)]
    final = rows[rows.epoch == rows.epoch.max()]
    chosen = final.merge(best_eta(table), on=["width", "seed", "eta"])
    return chosen[["width", "seed", "eta", "value"]]


def representation_error_falls_with_width(
    table: pd.DataFrame, protocol: dict[str, Any], epsilon: float
) -> Outcome:
    """Cybenko: the best fit's sup-error shrinks as N grows, below ε at the widest width."""
    errors = represented_errors(table)
    falling = bool(np.all(np.diff(errors.to_numpy()) < 0))
    widest = float(errors.iloc[-1])
    detail = ", ".join(f"N = {int(w)}: {e:.3g}" for w, e in errors.items())
    return Outcome(falling and widest < epsilon, [widest], detail)


def training_falls_short(table: pd.DataFrame, protocol: dict[str, Any], factor: float) -> Outcome:
    """At the widest trained width, SGD (at its best η) ends at least `factor` times above the
    best fit."""
    trained = trained_errors(table)
    widest = int(trained.width.max())
    represented = represented_errors(table)
    if widest not in represented.index:
        return Outcome(False, [], f"no best fit of width {widest} to compare with")
    ratios = trained[trained.width == widest].sort_values("seed")["value"] / represented[widest]
    detail = (
        f"width {widest}: trained {trained[trained.width == widest].value.mean():.3g} "
        f"(mean), best fit {represented[widest]:.3g}"
    )
    return Outcome(bool((ratios >= factor).all()), ratios.tolist(), detail)


def parity_construction_is_exact(table: pd.DataFrame, protocol: dict[str, Any]) -> Outcome:
    """The n-unit construction classifies every pattern."""
    rows = table[table.part == "parity-construction"]
    accuracy = float(rows["value"].iloc[0]) if len(rows) else math.nan
    bits = protocol["parity"]["bits"]
    detail = f"{bits} hidden units, all {2**bits} patterns: accuracy {accuracy:.4f}"
    return Outcome(accuracy == 1.0, [accuracy], detail)


def units_needed(final: pd.DataFrame) -> float:
    """The fewest hidden units among the nets that classify every pattern (∞ when none does)."""
    learned = final[final["value"] == 1.0]
    return float(learned.units.min()) if len(learned) else math.inf


def deep_learns_parity_with_fewer_units(
    table: pd.DataFrame, protocol: dict[str, Any], fraction: float
) -> Outcome:
    """Per seed: units needed by nets of ≥ 2 hidden layers / units needed by one hidden layer.
    When no shallow net learned, the largest shallow net tried stands in (a lower bound on what
    one hidden layer needs, so the ratio is an upper bound)."""
    rows = table[(table.part == "parity") & (table.metric == "train_accuracy")]
    final = rows[rows.epoch == rows.epoch.max()]
    ratios, notes = [], []
    for seed, nets in final.groupby("seed"):
        shallow = units_needed(nets[nets.layers == 1])
        deep = units_needed(nets[nets.layers >= 2])
        if math.isinf(shallow):
            shallow = float(nets[nets.layers == 1].units.max())
            notes.append(f"seed {seed}: no single hidden layer learned; {shallow:.0f} stands in")
        ratios.append(deep / shallow)
        notes.append(f"seed {seed}: deep {deep:g} units, shallow {shallow:g}")
    passed = bool(ratios) and all(r <= fraction for r in ratios)
    return Outcome(passed, ratios, "; ".join(notes))


CHECKS = {
    "representation_error_falls_with_width": representation_error_falls_with_width,
    "training_falls_short": training_falls_short,
    "parity_construction_is_exact": parity_construction_is_exact,
    "deep_learns_parity_with_fewer_units": deep_learns_parity_with_fewer_units,
}
