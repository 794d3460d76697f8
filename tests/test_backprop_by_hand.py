"""Backprop by hand: the slides' worked numbers, and the checks on made-up tables."""

import pandas as pd
import pytest

import dlexp
from dlexp.table import long_row

from .helpers import code

checks = code("backprop-by-hand", "checks")


def numbers(example: str, **by_method: dict[str, float]) -> pd.DataFrame:
    """Rows of one example: method → {quantity: value}; slide values printed with 2 decimals."""
    rows = []
    for method, values in by_method.items():
        for quantity, value in values.items():
            rows.append(
                long_row(
                    example,
                    0,
                    0,
                    0,
                    quantity,
                    value,
                    method=method.replace("_", " "),
                    printed_decimals=2 if method == "slide" else None,
                )
            )
    return pd.DataFrame(rows)


def test_slide_numbers_pass_within_the_printed_precision_and_fail_beyond_it():
    agrees = numbers("x", slide={"a": 0.98}, recomputed={"a": 0.982014})
    assert checks.slide_numbers_recompute(agrees, {}, example="x").passed
    wrong = numbers("x", slide={"a": 0.98, "b": 0.5}, recomputed={"a": 0.982, "b": 4.5})
    outcome = checks.slide_numbers_recompute(wrong, {}, example="x")
    assert not outcome.passed and outcome.values == [1.0]
    assert "b: slide 0.50, recomputed 4.5" in outcome.detail


def test_a_wrong_number_explained_by_the_slides_own_previous_line_says_so():
    previous_line = {"from the slide's previous line": {"b": 0.6225}}
    table = numbers("x", slide={"b": 0.62}, recomputed={"b": 0.989}, **previous_line)
    outcome = checks.slide_numbers_recompute(table, {}, example="x")
    assert "follows from the slide's wrong previous line" in outcome.detail


def gradients(backprop: list[float], other: list[float], method: str) -> pd.DataFrame:
    names = [f"dL/dW1[1,{j}]" for j in range(1, len(backprop) + 1)]
    return pd.concat(
        [
            numbers("net", backprop=dict(zip(names, backprop))),
            numbers("net", **{method: dict(zip(names, other))}),
        ]
    )


def test_backprop_against_autograd_fails_when_they_differ():
    same = gradients([0.25, -0.5], [0.25, -0.5], "autograd")
    assert checks.backprop_equals_autograd(same, {}, max_relative_error=1e-9).passed
    off = gradients([0.25, -0.5], [0.25, -0.5000001], "autograd")
    assert not checks.backprop_equals_autograd(off, {}, max_relative_error=1e-9).passed
    only_backprop = numbers("net", backprop={"dL/dW1[1,1]": 0.25})
    assert not checks.backprop_equals_autograd(only_backprop, {}, max_relative_error=1).passed


def test_the_wiggle_check_fails_on_an_uphill_step_or_a_far_difference():
    close = gradients([0.25, -0.5], [0.25 + 1e-9, -0.5], "central difference")
    downhill = gradients([0.25, -0.5], [-1e-6, 1e-6], "wiggle step")
    uphill = gradients([0.25, -0.5], [1e-6, 1e-6], "wiggle step")
    assert checks.wiggle_agrees_with_backprop(
        pd.concat([close, downhill]), {}, max_relative_error=1e-6
    ).passed
    assert not checks.wiggle_agrees_with_backprop(
        pd.concat([close, uphill]), {}, max_relative_error=1e-6
    ).passed
    far = gradients([0.25, -0.5], [0.26, -0.5], "central difference")
    assert not checks.wiggle_agrees_with_backprop(
        pd.concat([far, downhill]), {}, max_relative_error=1e-6
    ).passed


def test_the_slides_are_recomputed_and_their_errata_found(tmp_path):
    result = dlexp.run("backprop-by-hand", out=tmp_path, quiet=True)
    verdicts = {v.id: v for v in result.verdicts}
    assert (
        verdicts["backprop-equals-autograd"].passed
        and verdicts["backprop-equals-autograd"].mean < 1e-12
    )
    assert verdicts["wiggle"].passed and verdicts["chain-rule"].passed
    assert not verdicts["forward-example"].passed and verdicts["forward-example"].mean == 6
    assert "I1[2]: slide 0.5, recomputed 4.5" in verdicts["forward-example"].detail
    assert "η = 0.01" in verdicts["sigmoid-gate"].detail
    assert "the slide printed 1 − σ(Wx)" in verdicts["torch-illustration"].detail
    table = result.metrics
    recomputed = table[(table.method == "recomputed") & (table.variant == "forward_example")]
    assert recomputed.set_index("metric").value["O2"] == pytest.approx(0.434886, abs=1e-6)
    assert {p.name for p in result.figures} == {"worked_numbers.png", "gradient_agreement.png"}


def test_the_printed_numbers_read_back_from_metrics_csv_as_the_slide_prints_them(tmp_path):
    result = dlexp.run("backprop-by-hand", out=tmp_path, quiet=True)
    written = pd.read_csv(result.folder / "metrics.csv")
    for table in (result.metrics, written):
        forward = checks.printed_numbers(table, "forward_example")
        assert forward[["I1[1]", "I1[3]", "O1[1]", "I2"]].tolist() == ["4", "1", "0.98", "-1.09"]
        gate = checks.printed_numbers(table, "sigmoid_gate")
        assert gate["w2 after the step"] == "-3.00054"
    assert checks.tolerance("4") == pytest.approx(0.5) and checks.tolerance("0.98") < 0.0051
