"""The checks: the slides' printed numbers against recomputation, and backpropagation against
autograd and against wiggling each weight."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dlexp.finding import Outcome

SLIDE, RECOMPUTED = "slide", "recomputed"
# Other readings of a wrong number, and how a detail line names the one that explains it.
EXPLANATIONS = {
    "from the slide's previous line": "follows from the slide's wrong previous line",
    "with ten times η": "what η = 0.01, ten times the slide's η, gives",
    "with target 0": "what target 0 gives: the slide's code uses y, not the c = 1 it defines",
    "one minus": "the slide printed 1 − σ(Wx)",
}


def decimals(printed: str) -> int:
    """How many decimals a number is printed with: 2 for "0.98", 0 for "4"."""
    return len(printed.partition(".")[2])


def tolerance(printed: str) -> float:
    """Half a unit in the last printed digit: 0.98 stands for anything in [0.975, 0.985]."""
    return 0.5 * 10.0 ** -decimals(printed) * (1 + 1e-9)


def by_method(table: pd.DataFrame, example: str) -> pd.DataFrame:
    """quantity × method table of one example's values."""
    rows = table[table.variant == example]
    return rows.pivot_table(index="metric", columns="method", values="value", aggfunc="first")


def printed_numbers(table: pd.DataFrame, example: str) -> pd.Series:
    """quantity → the slide's number as the slide prints it ("4", "0.98", "-3.00054")."""
    rows = table[(table.variant == example) & (table.method == SLIDE)]
    texts = [f"{value:.{int(places)}f}" for value, places in zip(rows.value, rows.printed_decimals)]
    return pd.Series(texts, index=rows.metric, dtype=str)


def explanation(numbers: pd.DataFrame, quantity: str, printed: str) -> str:
    """What a wrong printed number is instead, when one of the other readings gives it."""
    slide = numbers.at[quantity, SLIDE]
    for method, reason in EXPLANATIONS.items():
        if method in numbers and abs(numbers.at[quantity, method] - slide) <= tolerance(printed):
            return reason
    return ""


def slide_numbers_recompute(table: pd.DataFrame, protocol: dict[str, Any], example: str) -> Outcome:
    """Every number the slide prints equals its recomputation from the slide's inputs, to the
    precision printed; a wrong one is named with its correct value, and marked where the slide's
    next lines follow from the wrong value (an erratum that does not propagate)."""
    numbers = by_method(table, example)
    wrong = []
    for quantity, printed in printed_numbers(table, example).items():
        slide, correct = numbers.at[quantity, SLIDE], numbers.at[quantity, RECOMPUTED]
        if abs(correct - slide) <= tolerance(printed):
            continue
        note = f"{quantity}: slide {printed}, recomputed {correct:.6g}"
        reason = explanation(numbers, quantity, printed)
        wrong.append(note + (f" ({reason})" if reason else ""))
    count = len(printed_numbers(table, example))
    detail = "; ".join(wrong) if wrong else f"all {count} printed numbers recompute"
    return Outcome(not wrong, [float(len(wrong))], detail)


def relative_errors(a: pd.Series, b: pd.Series) -> pd.Series:
    scale = np.maximum(np.maximum(a.abs(), b.abs()), 1e-12)
    return (a - b).abs() / scale


def gradient_pairs(table: pd.DataFrame, first: str, second: str) -> pd.DataFrame:
    """Every parameter of every example that has both methods: columns first, second."""
    pairs = []
    for example in table.variant.unique():
        numbers = by_method(table, example)
        if {first, second} <= set(numbers.columns):
            both = numbers[[first, second]].dropna().assign(example=example)
            pairs.append(both)
    return pd.concat(pairs) if pairs else pd.DataFrame(columns=[first, second, "example"])


def backprop_equals_autograd(
    table: pd.DataFrame, protocol: dict[str, Any], max_relative_error: float
) -> Outcome:
    """dlexp's backpropagation and autograd agree on every slide network's every parameter."""
    pairs = gradient_pairs(table, "backprop", "autograd")
    errors = relative_errors(pairs["backprop"], pairs["autograd"])
    worst = float(errors.max()) if len(errors) else np.nan
    detail = f"{len(errors)} partial derivatives over {pairs.example.nunique()} slide networks"
    return Outcome(bool(len(errors)) and worst < max_relative_error, [worst], detail)


def wiggle_agrees_with_backprop(
    table: pd.DataFrame, protocol: dict[str, Any], max_relative_error: float
) -> Outcome:
    """Central differences with the slide's ε agree with backpropagation, and every wiggle step
    ε·sgn(L(θ) − L(θ with w + ε)) has the sign of −∂L/∂w (downhill)."""
    measured = gradient_pairs(table, "backprop", "central difference")
    errors = relative_errors(measured["backprop"], measured["central difference"])
    steps = gradient_pairs(table, "backprop", "wiggle step")
    uphill = steps[np.sign(steps["wiggle step"]) != -np.sign(steps["backprop"])]
    worst = float(errors.max()) if len(errors) else np.nan
    detail = (
        f"{len(errors)} partial derivatives; wiggle steps downhill in "
        f"{len(steps) - len(uphill)}/{len(steps)}"
    )
    passed = bool(len(errors)) and worst < max_relative_error and uphill.empty
    return Outcome(passed, [worst], detail)


CHECKS = {
    "slide_numbers_recompute": slide_numbers_recompute,
    "backprop_equals_autograd": backprop_equals_autograd,
    "wiggle_agrees_with_backprop": wiggle_agrees_with_backprop,
}
