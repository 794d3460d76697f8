"""The initialisation claims' checks. A part or variant a check needs but the run did not
measure makes it FAIL, saying so."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from dlexp.finding import Outcome

SCALED = {"tanh": "glorot", "relu": "he"}  # each activation's own scale (Glorot 2010, He 2015)
UNSCALED = ("large", "small")  # N(0, 1) and N(0, 0.01²)


def validation_accuracy(table: pd.DataFrame, part: str) -> pd.DataFrame:
    """(epoch, seed) × init table of the validation accuracy in percent."""
    rows = table[(table.part == part) & (table.metric == "validation_accuracy")]
    return rows.pivot_table(index=["epoch", "seed"], columns="init", values="value") * 100


def absent(found: pd.DataFrame, needed: list[str]) -> str | None:
    missing = [name for name in needed if name not in found.columns]
    return f"not measured: {', '.join(missing)}" if missing else None


def normalized_learns_faster(
    table: pd.DataFrame, protocol: dict[str, Any], min_gain_points: float
) -> Outcome:
    """After epoch 1, N(0, 1/n_in) beats N(0, 1) by `min_gain_points` in every seed, and it is
    ahead after every epoch of the run, in every seed."""
    accuracy = validation_accuracy(table, "nielsen")
    if (problem := absent(accuracy, ["normalized", "large"])) is not None:
        return Outcome(False, [], problem)
    trained = accuracy[accuracy.index.get_level_values("epoch") > 0]
    gap = trained["normalized"] - trained["large"]
    first = gap.xs(1, level="epoch")
    means = trained.groupby(level="epoch").mean()
    detail = "validation accuracy per epoch, N(0, 1/n_in) vs N(0, 1): " + ", ".join(
        f"{epoch}: {row.normalized:.2f}% vs {row.large:.2f}%" for epoch, row in means.iterrows()
    )
    saturated = table[
        (table.part == "nielsen") & (table.metric == "saturated_fraction") & (table.epoch == 0)
    ]
    if not saturated.empty:
        share = saturated.groupby("init")["value"].mean() * 100
        detail += (
            f"; hidden inputs saturated (|z| > ln 99) at the start: "
            f"{share.get('normalized', math.nan):.1f}% vs {share.get('large', math.nan):.1f}%"
        )
    passed = bool((first >= min_gain_points).all() and (gap > 0).all())
    return Outcome(passed, first.tolist(), detail)


def equal_weights_stay_copies(table: pd.DataFrame, protocol: dict[str, Any]) -> Outcome:
    """The largest difference between hidden units of an equal-weight net is exactly 0 after
    the last epoch (and at every epoch before it), in every seed."""
    rows = table[(table.part == "equal") & (table.metric == "copy_difference")]
    if rows.empty:
        return Outcome(False, [], "not measured: no equal-weight net")
    last = rows[rows.epoch == rows.epoch.max()].sort_values("seed")["value"]
    worst = rows.groupby("epoch")["value"].max()
    broken = worst[worst != 0]
    detail = f"largest difference between hidden units after epoch {rows.epoch.max()}: "
    detail += ", ".join(f"{v:.3g}" for v in last)
    if not broken.empty:
        detail += f"; first non-zero after epoch {broken.index.min()} ({broken.iloc[0]:.3g})"
    return Outcome(bool((rows["value"] == 0).all()), last.tolist(), detail)


def equal_weights_do_not_train(
    table: pd.DataFrame, protocol: dict[str, Any], min_gap_points: float
) -> Outcome:
    """After the last epoch the equal-weight net is at least `min_gap_points` of validation
    accuracy below the N(0, 1/n_in) net of the same seed."""
    accuracy = pd.concat(
        [validation_accuracy(table, "nielsen"), validation_accuracy(table, "equal")], axis=1
    )
    if (problem := absent(accuracy, ["normalized", "equal"])) is not None:
        return Outcome(False, [], problem)
    last = accuracy.xs(accuracy.index.get_level_values("epoch").max(), level="epoch")
    gap = (last["normalized"] - last["equal"]).dropna()
    detail = (
        "validation accuracy after the last epoch: equal weights "
        + ", ".join(f"{v:.2f}%" for v in last["equal"].dropna())
        + f" (per seed), N(0, 1/n_in) {last['normalized'].mean():.2f}% (mean); chance is 10%"
    )
    return Outcome(bool(len(gap) and (gap >= min_gap_points).all()), gap.tolist(), detail)


def drift_decades(table: pd.DataFrame) -> pd.DataFrame:
    """Per deep net (activation, init, seed), log₁₀ of how much each statistic grows on its way
    through the hidden layers: the activations' standard deviation forward (last ÷ first hidden
    layer), ‖∂C/∂b^l‖ backward (first ÷ last); and `largest`, the larger size of the two.
    A statistic that reaches 0, inf or NaN counts as an infinite drift."""
    rows = table[(table.part == "deep") & table.metric.isin(["activation_std", "gradient_norm"])]
    keys = ["activation", "init", "seed", "metric"]
    first = rows[rows.layer == 1].set_index(keys)["value"].astype(float)
    last = rows.loc[rows.groupby(keys)["layer"].idxmax()].set_index(keys)["value"].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        grows = np.log10(last / first)
    backward = grows.index.get_level_values("metric") == "gradient_norm"
    grows[backward] = -grows[backward]
    drift = grows.unstack("metric")
    drift["largest"] = drift.abs().max(axis=1, skipna=False).fillna(math.inf)
    return drift


def scaled_init_keeps_layers_in_range(
    table: pd.DataFrame, protocol: dict[str, Any], in_range: float, out_of_range: float
) -> Outcome:
    """Glorot (tanh) and He (ReLU) drift by at most `in_range` between the first and the last
    hidden layer; N(0, 1) and N(0, 0.01²) by more than `out_of_range`, for both activations in
    every seed. Value per seed: the decades between the least-drifting unscaled net and the
    most-drifting scaled one."""
    drift = drift_decades(table)
    if drift.empty:
        return Outcome(False, [], "not measured: no deep net")
    present = set(drift.index.droplevel("seed"))
    scaled = [(a, i) for a, i in SCALED.items()]
    unscaled = [(a, i) for a in SCALED for i in UNSCALED]
    missing = [f"{a} with {i}" for a, i in scaled + unscaled if (a, i) not in present]
    if missing:
        return Outcome(False, [], f"not measured: {', '.join(missing)}")
    largest = drift["largest"].unstack("seed")
    good, bad = largest.loc[scaled], largest.loc[unscaled]
    margin = bad.min() - good.max()
    passed = bool(
        (good <= math.log10(in_range)).all().all() and (bad > math.log10(out_of_range)).all().all()
    )
    factors = drift.groupby(["activation", "init"])[["activation_std", "gradient_norm"]].mean()
    detail = (
        "growth through the hidden layers (geometric mean over seeds) of the activations' std "
        "(forward) and ‖∂C/∂b^l‖ (backward): "
    )
    detail += ", ".join(
        f"{a} {i} ×{10**row.activation_std:.3g} and ×{10**row.gradient_norm:.3g}"
        for (a, i), row in factors.loc[scaled + unscaled].iterrows()
    )
    return Outcome(passed, margin.tolist(), detail)


CHECKS = {
    "normalized_learns_faster": normalized_learns_faster,
    "equal_weights_stay_copies": equal_weights_stay_copies,
    "equal_weights_do_not_train": equal_weights_do_not_train,
    "scaled_init_keeps_layers_in_range": scaled_init_keeps_layers_in_range,
}
