"""The CNN-versus-MLP claim checks, on the numbers after the last epoch.

Each net is compared at its own good η: the η of its sweep with the highest mean validation
accuracy (the test split decides nothing). A model the run did not train makes a check FAIL,
saying so.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dlexp.finding import Outcome
from dlexp.registry import reference_of

REFERENCE = reference_of(__file__)
LENET5_ERROR = float(REFERENCE["lenet5_test_error_percent"])
MODELS = ("cnn", "mlp")
NAMES = {"cnn": "CNN", "mlp": "MLP"}


def final(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows of `metric` after the last epoch: model, eta, seed, value."""
    rows = table[table.metric == metric]
    rows = rows[rows.epoch == rows.epoch.max()]
    return rows[["model", "eta", "seed", "value"]]


def best_etas(table: pd.DataFrame) -> dict[str, float]:
    """Each model's η with the highest mean validation accuracy after the last epoch."""
    means = final(table, "validation_accuracy").groupby(["model", "eta"])["value"].mean()
    return {model: float(means[model].idxmax()) for model in MODELS if model in means.index}


def at_best(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """seed × model table of `metric` (in percent for accuracies) at each model's best η."""
    best = best_etas(table)
    rows = final(table, metric)
    rows = rows[rows.eta == rows.model.map(best)]
    wide = rows.pivot(index="seed", columns="model", values="value")
    return wide * 100 if metric.endswith("accuracy") else wide


def not_measured(table: pd.DataFrame) -> str | None:
    absent = [m for m in MODELS if m not in best_etas(table)]
    if absent:
        return f"not measured: no {' or '.join(NAMES[m] for m in absent)} in the table"
    return None


def floor_problem(accuracy: pd.DataFrame, floor_percent: float) -> str:
    """`; under the 90% floor: MLP 2 of 3 seeds (lowest 11.35%)`, or nothing."""
    found = []
    for model in accuracy.columns:
        under = accuracy[model][~(accuracy[model] > floor_percent)]
        if len(under):
            share = f"{len(under)} of {len(accuracy)} seeds"
            found.append(f"{NAMES[model]} {share} ({under.min():.2f}%)")
    return f"; under the {floor_percent:g}% floor: " + ", ".join(found) if found else ""


def total_parameters(table: pd.DataFrame) -> dict[str, int]:
    rows = table[(table.metric == "parameters")]
    first = rows[rows.seed == rows.seed.min()].drop_duplicates(["model", "layer"])
    return {model: int(group["value"].sum()) for model, group in first.groupby("model")}


def cnn_beats_mlp(
    table: pd.DataFrame,
    protocol: dict[str, Any],
    min_gain_points: float,
    min_parameter_ratio: float,
    floor_percent: float,
) -> Outcome:
    """At each one's best η, the CNN's test accuracy beats the MLP's of the same seed by at least
    `min_gain_points` in every seed; the MLP has at least `min_parameter_ratio` times the CNN's
    parameters, and both are above `floor_percent`."""
    if (absent := not_measured(table)) is not None:
        return Outcome(False, [], absent)
    accuracy, best = at_best(table, "test_accuracy"), best_etas(table)
    gain = (accuracy["cnn"] - accuracy["mlp"]).dropna()
    counts = total_parameters(table)
    ratio = counts.get("mlp", 0) / counts.get("cnn", float("nan"))
    errors = 100 - accuracy.mean()
    detail = (
        f"test error CNN {errors['cnn']:.2f}% (η = {best['cnn']:g}; LeNet-5 in LeCun et al. 1998: "
        f"{LENET5_ERROR:g}%), MLP {errors['mlp']:.2f}% (η = {best['mlp']:g}); parameters CNN "
        f"{counts.get('cnn', 0):,}, MLP {counts.get('mlp', 0):,} ({ratio:.2f}×)"
    )
    floor = floor_problem(accuracy, floor_percent)
    passed = (
        len(gain) > 0
        and bool((gain >= min_gain_points).all())
        and ratio >= min_parameter_ratio
        and not floor
    )
    return Outcome(passed, gain.tolist(), detail + floor)


def weight_sharing(table: pd.DataFrame, protocol: dict[str, Any], min_ratio: float) -> Outcome:
    """Every convolutional layer has at most 1/`min_ratio` of the parameters of the dense layer
    it replaces (same input and output units). Value per CNN seed: the smallest ratio of its
    layers (dense / convolutional parameters)."""
    rows = table[(table.model == "cnn") & table.metric.isin(["parameters", "dense_parameters"])]
    rows = rows.drop_duplicates(["seed", "layer", "metric"])
    wide = rows.pivot(index=["seed", "layer"], columns="metric", values="value")
    if "dense_parameters" not in wide or wide["dense_parameters"].isna().all():
        return Outcome(False, [], "not measured: no convolutional layer's parameters in the table")
    wide = wide.dropna()
    ratios = wide["dense_parameters"] / wide["parameters"]
    first = wide.loc[wide.index.get_level_values("seed")[0]]
    detail = ", ".join(
        f"layer {layer}: {int(r.parameters):,} shared vs {int(r.dense_parameters):,} dense "
        f"({r.dense_parameters / r.parameters:,.0f}× fewer)"
        for layer, r in first.iterrows()
    )
    smallest = ratios.groupby(level="seed").min()
    return Outcome(bool((ratios >= min_ratio).all()), smallest.tolist(), detail)


def translation_equivariant(
    table: pd.DataFrame, protocol: dict[str, Any], tolerance: float
) -> Outcome:
    """For every trained CNN and shift, the first feature maps of the shifted images equal the
    shifted feature maps (interior, float64) within `tolerance` relative to the largest map
    value."""
    rows = table[table.metric.str.startswith("equivariance_error_")]
    if rows.empty:
        return Outcome(False, [], "not measured: no equivariance error in the table")
    worst = rows.groupby("seed")["value"].max()
    by_shift = rows.groupby("metric")["value"].max()
    detail = "largest relative error " + ", ".join(
        f"{metric.removeprefix('equivariance_error_')}: {value:.1e}"
        for metric, value in by_shift.items()
    )
    passed = bool((rows["value"] <= tolerance).all())
    return Outcome(passed, worst.tolist(), detail)


def cnn_more_robust_to_shifts(
    table: pd.DataFrame, protocol: dict[str, Any], floor_percent: float
) -> Outcome:
    """At each one's best η and for every shift, the CNN's test accuracy drops less than the
    MLP's of the same seed (drop = unshifted − shifted, in points); both unshifted nets are
    above `floor_percent`."""
    if (absent := not_measured(table)) is not None:
        return Outcome(False, [], absent)
    unshifted = at_best(table, "test_accuracy")
    shifts = sorted(protocol["shifts"])
    margins, parts, passed = [], [], True
    for s in shifts:
        moved = at_best(table, f"test_shifted_{s}px_accuracy")
        if moved.empty:
            return Outcome(False, [], f"not measured: no test images shifted by {s} px")
        drop = unshifted - moved
        margin = (drop["mlp"] - drop["cnn"]).dropna()
        margins += margin.tolist()
        passed &= len(margin) > 0 and bool((margin > 0).all())
        parts.append(
            f"{s} px: CNN {moved['cnn'].mean():.2f}% (−{drop['cnn'].mean():.2f}), "
            f"MLP {moved['mlp'].mean():.2f}% (−{drop['mlp'].mean():.2f})"
        )
    floor = floor_problem(unshifted, floor_percent)
    detail = (
        f"unshifted CNN {unshifted['cnn'].mean():.2f}%, MLP {unshifted['mlp'].mean():.2f}%; "
        + "; ".join(parts)
    )
    return Outcome(passed and not floor, margins, detail + floor)


CHECKS = {
    "cnn_beats_mlp": cnn_beats_mlp,
    "weight_sharing": weight_sharing,
    "translation_equivariant": translation_equivariant,
    "cnn_more_robust_to_shifts": cnn_more_robust_to_shifts,
}
