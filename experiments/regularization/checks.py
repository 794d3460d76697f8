"""The regularization claims' checks, on the results table alone."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dlexp.finding import Outcome

from .early_stopping import early_stopping
from .run import INPUT_DROPOUT, NOISY_LABELS, SMALL_DATA, UNREGULARISED
from .tables import (
    final_epoch,
    lecture_lambda,
    near_zero_fractions,
    paired_with_unregularised,
    plateau_epoch,
    points,
    unregularised_lecture_net,
)


def test_accuracy_stops_improving(
    table: pd.DataFrame, protocol: dict[str, Any], within_points: float, max_plateau_fraction: float
) -> Outcome:
    """Unregularised, every seed: the test accuracy comes within `within_points` of its best by
    `max_plateau_fraction` of the epochs, while the training cost keeps falling: it is lower at
    the last epoch than at that plateau epoch. The values are the plateau epochs."""
    plateaus, passed, detail = [], [], []
    for seed, model in unregularised_lecture_net(table, protocol).groupby("seed"):
        model = model.set_index("epoch").sort_index()
        plateau = plateau_epoch(model["test_accuracy"], within_points / 100)
        cost, last = model["train_cost"], int(model.index[-1])
        plateaus.append(plateau)
        passed.append(cost.iloc[-1] < cost.loc[plateau] and plateau <= max_plateau_fraction * last)
        detail.append(
            f"seed {seed}: test accuracy within {within_points:g} point of its best "
            f"({points(model['test_accuracy'].max())}%) from epoch {plateau} of {last}; training "
            f"cost {cost.loc[plateau]:.3g} there, {cost.iloc[-1]:.3g} at the end"
        )
    return Outcome(bool(plateaus) and all(passed), plateaus, "; ".join(detail))


def memorises_training_data(
    table: pd.DataFrame, protocol: dict[str, Any], min_train_accuracy: float, min_gap_points: float
) -> Outcome:
    """Unregularised, every seed: at the last epoch the training accuracy is at least
    `min_train_accuracy` and exceeds the test accuracy by at least `min_gap_points`."""
    all_epochs = unregularised_lecture_net(table, protocol)
    final = all_epochs[all_epochs.epoch == all_epochs.epoch.max()].sort_values("seed")
    passed = bool(len(final)) and bool(
        (final.train_accuracy >= min_train_accuracy).all()
        and (100 * final.gap >= min_gap_points).all()
    )
    detail = "; ".join(
        f"seed {row.seed}: train {points(row.train_accuracy)}%, test {points(row.test_accuracy)}%"
        for row in final.itertuples()
    )
    return Outcome(passed, (100 * final.gap).tolist(), detail)


def beats_unregularised(table: pd.DataFrame, protocol: dict[str, Any], kind: str) -> Outcome:
    """Every model of regulariser `kind` (L2 at the lecture's λ) against the unregularised model
    of the same data, width and seed at the last epoch: higher test accuracy and a smaller gap.
    The values are the test accuracy gains in points."""
    final = final_epoch(table)
    chosen = final[final.regulariser == kind]
    if kind == "L2":
        lam = chosen.part.map(lambda part: lecture_lambda(protocol, part))
        chosen = chosen[np.isclose(chosen.lambda_l2, lam)]
    pairs = paired_with_unregularised(final, chosen)
    gains = pairs.test_accuracy - pairs.test_accuracy_none
    passed = bool(len(pairs)) and bool((gains > 0).all() and (pairs.gap < pairs.gap_none).all())
    detail = "; ".join(
        f"{variant}: test {points(group.test_accuracy.mean())}% vs "
        f"{points(group.test_accuracy_none.mean())}%, gap {points(group.gap.mean())} vs "
        f"{points(group.gap_none.mean())} points (mean over seeds), higher in "
        f"{int((group.test_accuracy > group.test_accuracy_none).sum())}/{len(group)} seeds"
        for variant, group in pairs.groupby("variant", sort=False)
    )
    return Outcome(passed, (100 * gains).tolist(), detail)


def l2_generalises_better(table: pd.DataFrame, protocol: dict[str, Any]) -> Outcome:
    """L2 at the lecture's λ against no regularisation, every width, data size and seed."""
    return beats_unregularised(table, protocol, "L2")


def dropout_generalises_better(table: pd.DataFrame, protocol: dict[str, Any]) -> Outcome:
    """Dropout on the hidden units (kept with p) against no regularisation, every width and seed."""
    return beats_unregularised(table, protocol, "dropout")


def input_dropout_generalises_better(table: pd.DataFrame, protocol: dict[str, Any]) -> Outcome:
    """Dropout on the inputs and the hidden units against no regularisation, every width and
    seed; the detail adds hidden-only dropout's test accuracy beside it."""
    outcome = beats_unregularised(table, protocol, INPUT_DROPOUT)
    final = final_epoch(table)
    hidden_only = final[final.regulariser == "dropout"].groupby("hidden").test_accuracy.mean()
    beside = ", ".join(f"{h} hidden {points(a)}%" for h, a in hidden_only.items())
    detail = f"{outcome.detail}; hidden-only dropout: {beside}" if beside else outcome.detail
    return Outcome(outcome.passed, outcome.values, detail)


def l2_shrinks_weights(table: pd.DataFrame, protocol: dict[str, Any]) -> Outcome:
    """Every L2 model ends with a smaller ‖w‖ than the unregularised model of the same data,
    width and seed, and over the λ sweep (one width, one seed) ‖w‖ falls as λ grows: a bigger
    coefficient, a bigger penalty. The values are the ratios ‖w‖_L2 / ‖w‖_none."""
    final = final_epoch(table)
    pairs = paired_with_unregularised(final, final[final.regulariser == "L2"])
    ratios = pairs.weight_norm / pairs.weight_norm_none
    sweep = final[(final.regulariser.isin([UNREGULARISED, "L2"])) & (final.part == SMALL_DATA)]
    sweep = sweep[sweep.hidden == protocol["hidden_units"]].sort_values("lambda_l2")
    falling = sweep.groupby("seed").weight_norm.apply(
        lambda norms: bool(np.all(np.diff(norms) < 0))
    )
    by_variant = ratios.groupby(pairs.variant, sort=False).mean()
    detail = "mean ‖w‖ ratio: " + ", ".join(f"{v}: {r:.2f}" for v, r in by_variant.items())
    detail += f"; ‖w‖ falls with λ in {int(falling.sum())}/{len(falling)} seeds"
    passed = bool(len(pairs)) and bool((ratios < 1).all()) and bool(len(falling) and falling.all())
    return Outcome(passed, ratios.tolist(), detail)


def l1_drives_weights_to_zero(
    table: pd.DataFrame, protocol: dict[str, Any], near_zero: float
) -> Outcome:
    """The L1 model has a larger fraction of weights with |w| < `near_zero` than the L2 model
    of the same λ, width and seed; the values are the differences in points."""
    fractions = near_zero_fractions(table, near_zero)
    l1 = fractions[fractions.regulariser == "L1"]
    l2 = fractions[fractions.regulariser == "L2"]
    pairs = l1.merge(
        l2,
        left_on=["part", "hidden", "seed", "lambda_l1"],
        right_on=["part", "hidden", "seed", "lambda_l2"],
        suffixes=("_l1", "_l2"),
    )
    differences = pairs.near_zero_l1 - pairs.near_zero_l2
    detail = "; ".join(
        f"seed {row.seed}: |w| < {near_zero:g} for {points(row.near_zero_l1)}% of the weights "
        f"with L1 λ = {row.lambda_l1_l1:g}, {points(row.near_zero_l2)}% with L2"
        for row in pairs.itertuples()
    )
    passed = bool(len(pairs)) and bool((differences > 0).all())
    return Outcome(passed, (100 * differences).tolist(), detail)


def stopped_unregularised(table: pd.DataFrame, part: str, patience: int, monitor: str):
    """Early stopping of the unregularised nets of `part`, per model."""
    stops = early_stopping(table, patience, monitor)
    return stops[(stops.part == part) & (stops.regulariser == UNREGULARISED)]


def span(values: pd.Series) -> str:
    """ "7" or "5–9": the range of some epochs."""
    low, high = int(values.min()), int(values.max())
    return f"{low}" if low == high else f"{low}–{high}"


def stops_detail(stops: pd.DataFrame) -> str:
    """Per width: where the rule stops, which epoch it keeps, and the test accuracies."""
    return "; ".join(
        f"{hidden} hidden: stops at epoch {span(group.stop_epoch)} of {group.last_epoch.max()}, "
        f"keeps epoch {span(group.kept_epoch)}: "
        f"test {points(group.test_kept.mean())}% vs {points(group.test_end.mean())}% trained to "
        f"the end (its own peak, in hindsight: {points(group.test_peak.mean())}% at epoch "
        f"{group.peak_epoch.median():.0f}; means and medians over seeds)"
        for hidden, group in stops.groupby("hidden")
    )


def early_stopping_costs_nothing(
    table: pd.DataFrame,
    protocol: dict[str, Any],
    patience: int,
    monitor: str,
    max_shortfall_points: float,
    max_stop_fraction: float,
    min_accuracy: float,
) -> Outcome:
    """Clean labels, every unregularised net and seed: the model early stopping keeps scores no
    more than `max_shortfall_points` below the one trained to the end, training stops by
    `max_stop_fraction` of the epochs, and the net trained (end accuracy ≥ `min_accuracy`).
    The values are kept − end test accuracy in points."""
    stops = stopped_unregularised(table, SMALL_DATA, patience, monitor)
    close = 100 * stops.gain >= -max_shortfall_points
    early = stops.epoch_fraction <= max_stop_fraction
    trained = stops.test_end >= min_accuracy
    conditions = {
        f"within {max_shortfall_points:g} point of the end": close,
        f"stopped by {max_stop_fraction:.0%} of the epochs": early,
        f"above the {min_accuracy:.0%} floor": trained,
    }
    passed = bool(len(stops)) and all(bool(held.all()) for held in conditions.values())
    counts = ", ".join(
        f"{name} in {int(held.sum())}/{len(held)}" for name, held in conditions.items()
    )
    return Outcome(passed, (100 * stops.gain).tolist(), f"{counts}; {stops_detail(stops)}")


def early_stopping_beats_the_end(
    table: pd.DataFrame,
    protocol: dict[str, Any],
    patience: int,
    monitor: str,
    min_gain_points: float,
) -> Outcome:
    """Noisy labels, every seed: the model early stopping keeps scores at least
    `min_gain_points` above the one trained to the end; the values are the gains in points."""
    stops = stopped_unregularised(table, NOISY_LABELS, patience, monitor)
    better = 100 * stops.gain >= min_gain_points
    passed = bool(len(stops)) and bool(better.all())
    counts = f"at least {min_gain_points:g} point better in {int(better.sum())}/{len(better)}"
    return Outcome(passed, (100 * stops.gain).tolist(), f"{counts}; {stops_detail(stops)}")


CHECKS = {
    "test_accuracy_stops_improving": test_accuracy_stops_improving,
    "memorises_training_data": memorises_training_data,
    "l2_generalises_better": l2_generalises_better,
    "dropout_generalises_better": dropout_generalises_better,
    "input_dropout_generalises_better": input_dropout_generalises_better,
    "l2_shrinks_weights": l2_shrinks_weights,
    "l1_drives_weights_to_zero": l1_drives_weights_to_zero,
    "early_stopping_costs_nothing": early_stopping_costs_nothing,
    "early_stopping_beats_the_end": early_stopping_beats_the_end,
}
