"""The ensembles' claim checks, on the test accuracies after the last epoch, for each model
trained (the MLP and the CNN): a claim holds when it holds for every one of them.

E_i(k) is the mean accuracy of the ensembles of k nets that contain net i; E(k), its mean over i,
is the mean accuracy of all ensembles of k nets; E(1) is the mean single net.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from dlexp.finding import Outcome

NAMES = {"cnn": "CNN", "mlp": "MLP"}
VOTE_NAMES = {"majority_vote": "majority vote", "mean_softmax": "mean softmax"}


def by_size(table: pd.DataFrame, model: str, vote: str) -> pd.DataFrame:
    """seed × k table of E_i(k) in percent after the last epoch."""
    prefix, suffix = f"{vote}_accuracy_", "_nets"
    rows = table[(table.model == model) & table.metric.str.startswith(prefix)]
    rows = rows[rows.epoch == rows.epoch.max()]
    size = rows.metric.str.removeprefix(prefix).str.removesuffix(suffix).astype(int)
    wide = rows.assign(k=size).pivot(index="seed", columns="k", values="value")
    return wide.sort_index(axis=1) * 100


def models_of(table: pd.DataFrame) -> list[str]:
    return [m for m in ("mlp", "cnn") if m in set(table.model)]


def per_model(
    table: pd.DataFrame, vote: str, check: Callable[[pd.DataFrame], tuple[bool, list[float], str]]
) -> Outcome:
    """`check(E_i(k) table)` for each model; it holds when it holds for every one."""
    models = models_of(table)
    results = []
    for model in models:
        accuracy = by_size(table, model, vote)
        if accuracy.shape[1] < 2:
            results.append((model, False, [], "not measured: fewer than 2 nets voted"))
            continue
        results.append((model, *check(accuracy)))
    if not results:
        return Outcome(False, [], "not measured: no model in the table")
    return Outcome(
        all(passed for _, passed, _, _ in results),
        [v for _, _, values, _ in results for v in values],
        "; ".join(f"{NAMES.get(m, m)}: {detail}" for m, _, _, detail in results),
    )


def floor_problem(single: pd.Series, floor_percent: float) -> str:
    under = single[~(single > floor_percent)]
    if under.empty:
        return ""
    return (
        f"; under the {floor_percent:g}% floor: {len(under)} of {len(single)} nets "
        f"(lowest {under.min():.2f}%)"
    )


def sizes_line(means: pd.Series) -> str:
    return ", ".join(f"{k}: {value:.2f}%" for k, value in means.items())


def vote_beats_single(
    table: pd.DataFrame,
    protocol: dict[str, Any],
    vote: str,
    min_gain_points: float,
    floor_percent: float,
) -> Outcome:
    """For each model and every ensemble size k ≥ 2, E(k) − E(1) ≥ `min_gain_points`; every net
    alone is above `floor_percent`. Value per net i: the vote of all nets minus net i alone."""

    def check(accuracy: pd.DataFrame) -> tuple[bool, list[float], str]:
        means, single = accuracy.mean(), accuracy[1]
        gains = means.drop(1) - means[1]
        floor = floor_problem(single, floor_percent)
        detail = f"{VOTE_NAMES[vote]} test accuracy by number of nets {sizes_line(means)}"
        passed = bool((gains >= min_gain_points).all()) and not floor
        return passed, (accuracy[accuracy.columns.max()] - single).tolist(), detail + floor

    return per_model(table, vote, check)


def diminishing_returns(
    table: pd.DataFrame,
    protocol: dict[str, Any],
    vote: str,
    tolerance_points: float,
    floor_percent: float,
) -> Outcome:
    """For each model the gain of one more net, Δ(k) = E(k+1) − E(k), is positive for the
    second net, never grows by more than `tolerance_points` from one k to the next, and the
    last net added gains less than the second; every net alone is above `floor_percent`.
    Value per net i: Δ_i(1) − Δ_i(M − 1), the second net's gain minus the last one's."""

    def check(accuracy: pd.DataFrame) -> tuple[bool, list[float], str]:
        if accuracy.shape[1] < 3:
            return False, [], "not measured: returns diminish only from 3 nets on"
        steps = accuracy.diff(axis=1).drop(columns=accuracy.columns[0])
        gains = steps.mean()
        first, last = gains.index[0], gains.index[-1]
        growth = gains.diff().dropna()
        floor = floor_problem(accuracy[1], floor_percent)
        passed = (
            gains[first] > 0
            and gains[last] < gains[first]
            and bool((growth <= tolerance_points).all())
            and not floor
        )
        detail = f"{VOTE_NAMES[vote]} gain of the k-th net " + ", ".join(
            f"{k}: {value:+.3f}" for k, value in gains.items()
        )
        return passed, (steps[first] - steps[last]).tolist(), detail + floor

    return per_model(table, vote, check)


CHECKS = {"vote_beats_single": vote_beats_single, "diminishing_returns": diminishing_returns}
