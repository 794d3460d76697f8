"""The depth sweep's claim checks, on the accuracies after the last epoch.

Each check covers every output layer the run trained (the slide's softmax, and the sigmoid outputs
with cross-entropy of Nielsen's nets, which the slide's numbers come from): a claim holds when it
holds for each of them. A depth a check needs but the run did not train makes it FAIL, saying so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from dlexp.finding import Outcome
from dlexp.registry import reference_of

REFERENCE = reference_of(__file__)
SLIDE = {int(depth): value for depth, value in REFERENCE["accuracy_percent"].items()}
# The slide's 88% without a hidden layer is the test accuracy of LeCun et al. 1998's linear
# classifier (12.0% test error), a different model and training from the nets trained here.
LINEAR_1998 = float(REFERENCE["lecun_1998_linear_accuracy_percent"])
OUTPUTS = ("sigmoid", "softmax")


def final_accuracy(table: pd.DataFrame, split: str = "validation") -> pd.DataFrame:
    """Accuracy in percent after the last epoch: one row per depth, output and seed."""
    rows = table[table.metric == f"{split}_accuracy"]
    rows = rows[rows.epoch == rows.epoch.max()]
    return rows.assign(value=rows["value"] * 100)[["depth", "output", "seed", "value"]]


def accuracy_by_depth(table: pd.DataFrame, output: str, split: str = "validation") -> pd.DataFrame:
    """seed × depth table of the accuracy (%) after the last epoch."""
    final = final_accuracy(table, split)
    final = final[final.output == output]
    return final.pivot(index="seed", columns="depth", values="value")


def final_cost(table: pd.DataFrame, output: str, split: str) -> pd.Series:
    """Mean cost C₀ per image after the last epoch, by depth (empty when not measured)."""
    rows = table[(table.metric == f"{split}_cost") & (table.output == output)]
    return rows[rows.epoch == rows.epoch.max()].groupby("depth")["value"].mean()


def outputs_of(table: pd.DataFrame) -> list[str]:
    """The output layers in the table, the sigmoid outputs (the slide's numbers) first."""
    present = set(table.output)
    return [o for o in OUTPUTS if o in present] + sorted(present - set(OUTPUTS))


def missing(by_depth: pd.DataFrame, needed: list[int]) -> str | None:
    """Why a check cannot be made (a depth it needs was not trained), or None."""
    absent = [d for d in needed if d not in by_depth.columns]
    if not absent:
        return None
    return f"not measured: add depth(s) {', '.join(map(str, absent))} to the protocol's depths"


def beyond_two(by_depth: pd.DataFrame) -> tuple[list[int], str | None]:
    """The depths above two, or why the 2-layer comparison cannot be made."""
    deeper = [d for d in by_depth.columns if d > 2]
    return deeper, missing(by_depth, [2, *(deeper or [3])])


def per_output(
    table: pd.DataFrame, check: Callable[[str], tuple[bool, list[float], str]]
) -> Outcome:
    """Run `check(output)` for each output layer; it holds when it holds for every one."""
    results = [(output, *check(output)) for output in outputs_of(table)]
    return Outcome(
        all(passed for _, passed, _, _ in results),
        [v for _, _, values, _ in results for v in values],
        "; ".join(f"{output}: {detail}" for output, _, _, detail in results),
    )


def below_floor(by_depth: pd.DataFrame, depths: list[int], floor_percent: float) -> list[str]:
    """Each depth with a net under the floor, as `3 hidden: 2 of 3 seeds (lowest 11.35%)`."""
    found = []
    for depth in depths:
        under = by_depth[depth][~(by_depth[depth] > floor_percent)]
        if len(under):
            found.append(
                f"{depth} hidden: {len(under)} of {len(by_depth)} seeds (lowest {under.min():.2f}%)"
            )
    return found


def hidden_layer_helps(
    table: pd.DataFrame, protocol: dict[str, Any], min_gain_points: float
) -> Outcome:
    """One hidden layer beats none by at least `min_gain_points` in every seed."""

    def check(output: str) -> tuple[bool, list[float], str]:
        by_depth = accuracy_by_depth(table, output)
        if (absent := missing(by_depth, [0, 1])) is not None:
            return False, [], absent
        gain = by_depth[1] - by_depth[0]
        detail = f"0 hidden {by_depth[0].mean():.2f}%, 1 hidden {by_depth[1].mean():.2f}% (mean)"
        return bool((gain >= min_gain_points).all()), gain.tolist(), detail

    return per_output(table, check)


def no_gain_beyond_two(
    table: pd.DataFrame, protocol: dict[str, Any], tolerance_points: float, floor_percent: float
) -> Outcome:
    """Each depth above two is within ±`tolerance_points` of the 2-layer mean validation
    accuracy (two-sided: the slide has them all ≈ equal), and every net of two or more hidden
    layers is above `floor_percent`: nets at chance, which agree with each other, never pass."""

    def check(output: str) -> tuple[bool, list[float], str]:
        by_depth = accuracy_by_depth(table, output)
        deeper, absent = beyond_two(by_depth)
        if absent is not None:
            return False, [], absent
        means = by_depth.mean()
        gaps = {d: means[d] - means[2] for d in deeper}
        failing = below_floor(by_depth, [2, *deeper], floor_percent)
        detail = f"validation 2 hidden {means[2]:.2f}%, " + ", ".join(
            f"{d} hidden {means[d]:.2f}% ({gaps[d]:+.2f})" for d in deeper
        )
        if failing:
            detail += f"; under the {floor_percent:g}% floor: " + ", ".join(failing)
        passed = all(abs(gap) <= tolerance_points for gap in gaps.values()) and not failing
        return passed, [float(v) for d in deeper for v in by_depth[d] - by_depth[2]], detail

    return per_output(table, check)


def not_better_on_training_set(
    table: pd.DataFrame, protocol: dict[str, Any], tolerance_points: float, floor_percent: float
) -> Outcome:
    """Each depth above two gains at most `tolerance_points` of training accuracy over the
    2-layer mean, and every net compared is above the floor on its training set.

    Overfitting would show as a deeper net fitting its training set better while doing worse
    on held-out images. One-sided on purpose: a deeper net that fits its training set *worse*
    is just as much "not overfitting" (it points at training, not at generalisation); the floor
    keeps a net that did not train at all from passing.
    """

    def check(output: str) -> tuple[bool, list[float], str]:
        train = accuracy_by_depth(table, output, "train")
        deeper, absent = beyond_two(train)
        if absent is not None:
            return False, [], absent
        means, held_out = train.mean(), accuracy_by_depth(table, output).mean()
        gains = {d: means[d] - means[2] for d in deeper}
        failing = below_floor(train, [2, *deeper], floor_percent)
        cost = final_cost(table, output, "train")
        detail = "training (validation) accuracy " + ", ".join(
            f"{d} hidden {means[d]:.2f}% ({held_out[d]:.2f}%)" for d in [2, *deeper]
        )
        detail += ", training cost C₀ " + ", ".join(
            f"{d} hidden {cost.get(d, float('nan')):.4f}" for d in [2, *deeper]
        )
        if failing:
            detail += f"; under the {floor_percent:g}% floor: " + ", ".join(failing)
        passed = all(gain <= tolerance_points for gain in gains.values()) and not failing
        values = [float(v) for d in deeper for v in train[d] - train[2]]
        return passed, values, detail

    return per_output(table, check)


def matches_slide_numbers(
    table: pd.DataFrame, protocol: dict[str, Any], tolerance_points: float
) -> Outcome:
    """Every depth's mean validation accuracy lies within `tolerance_points` of the slide's
    number; without a hidden layer, LeCun et al. 1998's linear classifier is named beside it."""

    def check(output: str) -> tuple[bool, list[float], str]:
        means = accuracy_by_depth(table, output).mean()
        gaps = {d: means[d] - SLIDE[d] for d in means.index if d in SLIDE}
        if not gaps:
            return False, [], "not measured: no depth the slide gives a number for"
        parts = [f"{d} hidden {means[d]:.2f}% vs slide {SLIDE[d]:.1f}%" for d in gaps]
        if 0 in gaps:
            test = accuracy_by_depth(table, output, "test")[0].mean()
            parts[0] += (
                f" (that is LeCun et al. 1998's linear classifier, {LINEAR_1998:.1f}% on the "
                f"test set; this net: {test:.2f}% on the test set)"
            )
        passed = all(abs(gap) <= tolerance_points for gap in gaps.values())
        return passed, [float(v) for v in gaps.values()], ", ".join(parts)

    return per_output(table, check)


CHECKS = {
    "hidden_layer_helps": hidden_layer_helps,
    "no_gain_beyond_two": no_gain_beyond_two,
    "not_better_on_training_set": not_better_on_training_set,
    "matches_slide_numbers": matches_slide_numbers,
}
