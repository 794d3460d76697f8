"""The residual-depth checks, on each (network, depth) at its own best η of the sweep.

A network's best η at a depth is the one with the highest training accuracy after the last epoch,
averaged over seeds: the claims are about fitting the training images, and a shared η could
favour one network. A depth or network a check needs but the run did not train makes it FAIL,
saying so.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from dlexp.finding import Outcome
from dlexp.registry import reference_of

# He et al. 2016's ImageNet top-1 errors (%), the published analogue named in each detail.
HE_2016 = reference_of(__file__)["he_2016_top1_error_percent"]


def he_2016(*nets: str) -> str:
    """`He et al. 2016, ImageNet top-1 error: plain-18 27.94%, plain-34 28.54%`."""
    return "He et al. 2016, ImageNet top-1 error: " + ", ".join(
        f"{net} {HE_2016[net]:g}%" for net in nets
    )


def final_rows(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    rows = table[table.metric == metric]
    return rows[rows.epoch == rows.epoch.max()]


def best_eta(table: pd.DataFrame) -> pd.DataFrame:
    """Per network and depth, the η with the highest mean final training accuracy: columns
    network, depth, eta."""
    means = final_rows(table, "train_accuracy").groupby(["network", "depth", "eta"])["value"].mean()
    best = means.dropna().reset_index().sort_values("eta")  # ties: the smallest η
    best = best.loc[best.groupby(["network", "depth"])["value"].idxmax()]
    return best[["network", "depth", "eta"]]


def at_best_eta(rows: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Those of `rows` (rows of `table`) of each (network, depth) at its best η."""
    return rows.merge(best_eta(table), on=["network", "depth", "eta"])


def accuracy(table: pd.DataFrame, network: str, split: str = "train") -> pd.DataFrame:
    """seed × depth: accuracy (%) after the last epoch of `network` at each depth's best η."""
    rows = at_best_eta(final_rows(table, f"{split}_accuracy"), table)
    rows = rows[rows.network == network]
    return rows.pivot(index="seed", columns="depth", values="value") * 100


def described(table: pd.DataFrame, network: str) -> str:
    """`plain training (validation) accuracy 2 hidden 95.1% (93.0%, η 1), …` (means)."""
    train, held_out = accuracy(table, network).mean(), accuracy(table, network, "validation").mean()
    etas = best_eta(table).set_index(["network", "depth"])["eta"]
    return f"{network} training (validation) accuracy " + ", ".join(
        f"{d} hidden {train[d]:.1f}% ({held_out[d]:.1f}%, η {etas[(network, d)]:g})"
        for d in train.index
    )


def under_floor(values: pd.Series, floor_percent: float, what: str) -> str:
    """`; under the 50% floor: <what> in 2 of 3 seeds (lowest 9.8%)`, or '' when none is."""
    under = values[~(values > floor_percent)]
    if under.empty:
        return ""
    return (
        f"; under the {floor_percent:g}% floor: {what} in {len(under)} of {len(values)} seeds "
        f"(lowest {under.min():.1f}%)"
    )


def not_measured(table: pd.DataFrame, networks: list[str], depths: int) -> str | None:
    """Why a check cannot be made, or None."""
    absent = [n for n in networks if n not in set(table.network)]
    if absent:
        return f"not measured: no {', '.join(absent)} net in the table"
    if table.depth.nunique() < depths:
        return f"not measured: the check compares {depths} depths, the run trained fewer"
    return None


def deeper_plain_trains_worse(
    table: pd.DataFrame, protocol: dict[str, Any], margin_points: float, floor_percent: float
) -> Outcome:
    """The deepest plain net's training accuracy is at least `margin_points` below the shallowest
    plain net's in every seed, and the shallowest fits its training images (above the floor):
    worse on the very images it learns from is not overfitting."""
    if (absent := not_measured(table, ["plain"], 2)) is not None:
        return Outcome(False, [], absent)
    train = accuracy(table, "plain")
    shallow, deepest = train.columns.min(), train.columns.max()
    change = train[deepest] - train[shallow]
    detail = (
        described(table, "plain")
        + under_floor(train[shallow], floor_percent, "shallowest")
        + f" ({he_2016('plain-18', 'plain-34')})"
    )
    passed = bool((change <= -margin_points).all()) and (train[shallow] > floor_percent).all()
    return Outcome(bool(passed), change.tolist(), detail)


def trains_deepest(
    table: pd.DataFrame, network: str, margin_points: float, floor_percent: float, published: str
) -> Outcome:
    """`network`'s deepest net fits its training images at least `margin_points` better than the
    deepest plain net in every seed, and is above the floor (value: the gain in points)."""
    if (absent := not_measured(table, ["plain", network], 1)) is not None:
        return Outcome(False, [], absent)
    deepest = table.depth.max()
    mine, plain = accuracy(table, network)[deepest], accuracy(table, "plain")[deepest]
    gain = mine - plain
    detail = (
        f"{deepest} hidden layers: {network} {mine.mean():.1f}%, plain {plain.mean():.1f}% "
        f"training accuracy (mean); {described(table, network)}"
        + under_floor(mine, floor_percent, f"{network} {deepest} hidden")
        + f" ({published})"
    )
    passed = bool((gain >= margin_points).all()) and bool((mine > floor_percent).all())
    return Outcome(passed, gain.tolist(), detail)


def residual_trains_deepest(
    table: pd.DataFrame, protocol: dict[str, Any], margin_points: float, floor_percent: float
) -> Outcome:
    """Skip connections: the deepest residual net fits its training images far better than the
    deepest plain net."""
    published = he_2016("plain-34", "resnet-18", "resnet-34")
    return trains_deepest(table, "residual", margin_points, floor_percent, published)


def batch_norm_trains_deepest(
    table: pd.DataFrame, protocol: dict[str, Any], margin_points: float, floor_percent: float
) -> Outcome:
    """Batch normalisation: the deepest batch-normalised net fits its training images far better
    than the deepest plain net."""
    published = "batch-normalised plain nets: " + he_2016("plain-18", "plain-34")
    return trains_deepest(table, "batch-norm", margin_points, floor_percent, published)


def first_to_last_hidden(table: pd.DataFrame, network: str, epoch: int) -> pd.Series:
    """Per seed, ‖∂C/∂b^1‖ / ‖∂C/∂b^L‖ of the deepest `network` net (L its last hidden layer)
    at its best η after `epoch` epochs."""
    deepest = table.depth.max()
    rows = table[(table.metric == "gradient_norm") & (table.epoch == epoch)]
    rows = at_best_eta(rows, table)
    rows = rows[(rows.network == network) & (rows.depth == deepest)]
    norms = rows.pivot(index="seed", columns="layer", values="value")
    return norms[1] / norms[deepest]


def residual_gradient_reaches_first_layer(
    table: pd.DataFrame, protocol: dict[str, Any], factor: float
) -> Outcome:
    """Before training (the very same weights with and without skips), in the deepest nets, the
    first hidden layer's share of the last hidden layer's gradient ‖∂C/∂b^1‖ / ‖∂C/∂b^L‖ is at
    least `factor` times larger with skip connections than without, in every seed (value:
    log₁₀ of that factor)."""
    if (absent := not_measured(table, ["plain", "residual"], 1)) is not None:
        return Outcome(False, [], absent)
    ratios = {n: first_to_last_hidden(table, n, 0) for n in ("plain", "residual")}
    gain = (ratios["residual"] / ratios["plain"]).apply(math.log10)
    last = table.epoch.max()
    after = {n: first_to_last_hidden(table, n, last).mean() for n in ("plain", "residual")}
    detail = (
        f"{table.depth.max()} hidden layers, ‖∂C/∂b¹‖ / ‖∂C/∂b^L‖ before training: plain "
        f"{ratios['plain'].mean():.2g}, residual {ratios['residual'].mean():.2g} (mean); after "
        f"epoch {last}: plain {after['plain']:.2g}, residual {after['residual']:.2g}"
    )
    return Outcome(bool((gain >= math.log10(factor)).all()), gain.tolist(), detail)


CHECKS = {
    "deeper_plain_trains_worse": deeper_plain_trains_worse,
    "residual_trains_deepest": residual_trains_deepest,
    "residual_gradient_reaches_first_layer": residual_gradient_reaches_first_layer,
    "batch_norm_trains_deepest": batch_norm_trains_deepest,
}
