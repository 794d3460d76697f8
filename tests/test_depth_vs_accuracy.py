"""Depth versus accuracy: the checks on hand-made tables, and a tiny run on real MNIST."""

import pandas as pd
import pytest

from dlexp.trainer import stacks

from .helpers import code, dlexp, needs_mnist

checks = code("depth-vs-accuracy", "checks")
hidden_layer_helps = checks.hidden_layer_helps
matches_slide_numbers = checks.matches_slide_numbers
no_gain_beyond_two = checks.no_gain_beyond_two
depth_specs = code("depth-vs-accuracy", "run").depth_specs


def accuracy_table(by_depth: dict[int, list[float]], output: str = "sigmoid") -> pd.DataFrame:
    """Final validation accuracies (fractions) per depth, one per seed, at epoch 30."""
    rows = []
    for depth, values in by_depth.items():
        for seed, value in enumerate(values):
            rows.append(
                {
                    "variant": f"{depth}-hidden-{output}",
                    "seed": seed,
                    "epoch": 30,
                    "layer": 0,
                    "metric": "validation_accuracy",
                    "value": value,
                    "depth": depth,
                    "output": output,
                }
            )
    return pd.DataFrame(rows)


SLIDE_LIKE = {
    0: [0.88, 0.881],
    1: [0.965, 0.966],
    2: [0.969, 0.968],
    3: [0.965, 0.964],
    4: [0.964, 0.966],
}


def test_hidden_layer_check_needs_three_points_in_every_seed():
    outcome = hidden_layer_helps(accuracy_table(SLIDE_LIKE), {}, min_gain_points=3.0)
    assert outcome.passed and outcome.values == pytest.approx([8.5, 8.5])
    close = accuracy_table({0: [0.93, 0.90], 1: [0.95, 0.96]})
    assert not hidden_layer_helps(close, {}, min_gain_points=3.0).passed


def test_depth_beyond_two_check_compares_means():
    assert no_gain_beyond_two(accuracy_table(SLIDE_LIKE), {}).passed
    better = {**SLIDE_LIKE, 4: [0.975, 0.975]}
    outcome = no_gain_beyond_two(accuracy_table(better), {})
    assert not outcome.passed
    assert outcome.values[-2:] == pytest.approx([0.6, 0.7])


def test_slide_numbers_check_reports_each_depth():
    outcome = matches_slide_numbers(accuracy_table(SLIDE_LIKE), {}, tolerance_points=1.0)
    assert outcome.passed and len(outcome.values) == 5
    off = {**SLIDE_LIKE, 0: [0.92, 0.92]}
    outcome = matches_slide_numbers(accuracy_table(off), {}, tolerance_points=1.0)
    assert not outcome.passed and "0 hidden: 92.00% vs slide 88.0%" in outcome.detail


def test_all_depths_but_zero_share_one_stack():
    protocol = {
        "depths": [0, 1, 2, 3, 4],
        "hidden_units": 30,
        "outputs": ["sigmoid", "softmax"],
        "eta": 0.1,
        "l2": 5.0,
        "batch_size": 10,
    }
    groups = stacks(depth_specs(protocol, [0, 1, 2]))
    assert sorted(len(g) for g in groups) == [6, 24]


@needs_mnist
def test_tiny_run_records_accuracy_per_depth_and_epoch(tmp_path):
    result = dlexp(
        "run",
        "depth-vs-accuracy",
        "--scale",
        "tiny",
        "--out",
        str(tmp_path),
        "--quiet",
        "--set",
        "epochs=3",
    )
    assert result.exit_code in (0, 1), result.output
    table = pd.read_csv(tmp_path / "depth-vs-accuracy" / "tiny" / "metrics.csv")
    accuracy = table[table.metric == "validation_accuracy"]
    assert sorted(accuracy.depth.unique()) == [0, 1, 2, 3, 4]
    assert sorted(accuracy.epoch.unique()) == [0, 1, 2, 3]
    assert set(table.metric) >= {"validation_accuracy", "test_accuracy", "validation_cost"}
    final = accuracy[accuracy.epoch == 3].groupby("depth")["value"].mean()
    assert final[0] > 0.7  # even 1,000 images teach logistic regression most digits
    assert "hidden-layer-helps" in result.output and "slide-numbers" in result.output
