"""Depth versus accuracy: each check on hand-made tables that agree with the claim (PASS) and
that contradict it (FAIL), and a tiny run on real MNIST."""

import json

import pandas as pd
import pytest

from dlexp.registry import load
from dlexp.trainer import stacks

from .helpers import code, dlexp, needs_mnist

checks = code("depth-vs-accuracy", "checks")
depth_specs = code("depth-vs-accuracy", "run").depth_specs

FLOOR = {"tolerance_points": 0.5, "floor_percent": 50.0}


def accuracy_table(
    validation: dict[int, list[float]],
    train: dict[int, list[float]] | None = None,
    outputs: tuple[str, ...] = ("sigmoid",),
) -> pd.DataFrame:
    """Accuracies (fractions) after the last epoch (30), per depth, one per seed; the test
    accuracy equals the validation accuracy, the training accuracy is 1 point above it unless
    given."""
    train = train or {d: [v + 0.01 for v in values] for d, values in validation.items()}
    splits = {"validation": validation, "test": validation, "train": train}
    rows = [
        {
            "variant": f"{depth}-hidden-{output}",
            "seed": seed,
            "epoch": 30,
            "layer": 0,
            "metric": f"{split}_accuracy",
            "value": value,
            "depth": depth,
            "output": output,
        }
        for output in outputs
        for split, by_depth in splits.items()
        for depth, values in by_depth.items()
        for seed, value in enumerate(values)
    ]
    return pd.DataFrame(rows)


SLIDE_LIKE = {
    0: [0.88, 0.881],
    1: [0.965, 0.966],
    2: [0.969, 0.968],
    3: [0.965, 0.964],
    4: [0.964, 0.966],
}
AT_CHANCE = {2: [0.101, 0.099], 3: [0.100, 0.098], 4: [0.102, 0.101]}


def test_hidden_layer_helps_needs_the_gain_in_every_seed_and_output():
    outcome = checks.hidden_layer_helps(accuracy_table(SLIDE_LIKE), {}, min_gain_points=3.0)
    assert outcome.passed and outcome.values == pytest.approx([8.5, 8.5])
    close = accuracy_table({0: [0.93, 0.90], 1: [0.95, 0.96]})
    assert not checks.hidden_layer_helps(close, {}, min_gain_points=3.0).passed
    both = pd.concat(
        [
            accuracy_table(SLIDE_LIKE),
            accuracy_table({0: [0.95, 0.95], 1: [0.96, 0.96]}, outputs=("softmax",)),
        ]
    )
    outcome = checks.hidden_layer_helps(both, {}, min_gain_points=3.0)
    assert not outcome.passed and len(outcome.values) == 4
    assert outcome.detail.startswith("sigmoid: ") and "; softmax: 0 hidden 95.00%" in outcome.detail


def test_depth_beyond_two_passes_within_tolerance_on_both_sides():
    outcome = checks.no_gain_beyond_two(accuracy_table(SLIDE_LIKE), {}, **FLOOR)
    assert outcome.passed
    assert outcome.values == pytest.approx([-0.4, -0.4, -0.5, -0.2])


def test_depth_beyond_two_fails_when_a_deeper_net_helps():
    better = {**SLIDE_LIKE, 4: [0.975, 0.975]}
    outcome = checks.no_gain_beyond_two(accuracy_table(better), {}, **FLOOR)
    assert not outcome.passed and outcome.values[-2:] == pytest.approx([0.6, 0.7])


def test_depth_beyond_two_fails_when_a_deeper_net_is_much_worse():
    worse = {**SLIDE_LIKE, 3: [0.94, 0.945]}
    assert not checks.no_gain_beyond_two(accuracy_table(worse), {}, **FLOOR).passed


def test_depth_beyond_two_fails_with_nets_at_chance_even_when_they_agree():
    outcome = checks.no_gain_beyond_two(accuracy_table(AT_CHANCE), {}, **FLOOR)
    assert not outcome.passed
    assert all(abs(v) <= 0.5 for v in outcome.values)  # within tolerance: only the floor fails
    assert "under the 50% floor: 2 hidden: 2 of 2 seeds (lowest 9.90%)" in outcome.detail
    one_seed = {**SLIDE_LIKE, 4: [0.964, 0.30]}
    outcome = checks.no_gain_beyond_two(accuracy_table(one_seed), {}, **FLOOR)
    assert not outcome.passed and "4 hidden: 1 of 2 seeds (lowest 30.00%)" in outcome.detail


def test_depth_beyond_two_fails_when_a_depth_is_missing():
    shallow = {d: SLIDE_LIKE[d] for d in (0, 1, 2)}
    outcome = checks.no_gain_beyond_two(accuracy_table(shallow), {}, **FLOOR)
    assert not outcome.passed and "not measured" in outcome.detail


def test_not_overfitting_passes_when_deeper_nets_are_not_better_on_the_training_set():
    train = {d: [v + 0.012 for v in values] for d, values in SLIDE_LIKE.items()}
    outcome = checks.not_better_on_training_set(accuracy_table(SLIDE_LIKE, train), {}, **FLOOR)
    assert outcome.passed and outcome.values == pytest.approx([-0.4, -0.4, -0.5, -0.2])
    assert "accuracy 2 hidden 98.05% (96.85%)" in outcome.detail
    # Much worse on the training set is a net that did not learn, not one that overfits.
    underfit = {**train, 4: [0.90, 0.91]}
    assert checks.not_better_on_training_set(
        accuracy_table(SLIDE_LIKE, underfit), {}, **FLOOR
    ).passed


def test_not_overfitting_fails_when_deeper_nets_fit_the_training_set_better():
    overfit = {**{d: [v + 0.012 for v in vs] for d, vs in SLIDE_LIKE.items()}, 3: [0.995, 0.996]}
    outcome = checks.not_better_on_training_set(accuracy_table(SLIDE_LIKE, overfit), {}, **FLOOR)
    assert not outcome.passed and outcome.values[:2] == pytest.approx([1.4, 1.6])


def test_not_overfitting_fails_with_nets_at_chance():
    outcome = checks.not_better_on_training_set(accuracy_table(AT_CHANCE, AT_CHANCE), {}, **FLOOR)
    assert not outcome.passed and "under the 50% floor" in outcome.detail


def test_slide_numbers_report_each_depth_and_both_references_without_a_hidden_layer():
    outcome = checks.matches_slide_numbers(accuracy_table(SLIDE_LIKE), {}, tolerance_points=1.0)
    assert outcome.passed and len(outcome.values) == 5
    assert "LeCun et al. 1998's linear classifier, 88.0% on the test set" in outcome.detail
    off = {**SLIDE_LIKE, 0: [0.92, 0.92]}
    outcome = checks.matches_slide_numbers(accuracy_table(off), {}, tolerance_points=1.0)
    assert not outcome.passed and outcome.values[0] == pytest.approx(4.0)
    assert "0 hidden 92.00% vs slide 88.0%" in outcome.detail
    assert "this net: 92.00% on the test set" in outcome.detail


def test_every_claim_quotes_the_slide_declares_its_kind_and_names_its_params():
    experiment = load("depth-vs-accuracy")
    assert experiment.reference["lecun_1998_linear_accuracy_percent"] == 88.0
    assert [c.check for c in experiment.claims] == list(checks.CHECKS)
    for claim in experiment.claims:
        assert claim.quote and claim.kind == "empirical"
        assert all(f"{{{name}}}" in claim.text for name in claim.params)


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
def test_tiny_run_records_training_and_held_out_accuracy_and_fails_on_chance_nets(tmp_path):
    result = dlexp("run", "depth-vs-accuracy", "--scale", "tiny", "--out", str(tmp_path), "--quiet")
    assert result.exit_code in (0, 1), result.output
    folder = tmp_path / "depth-vs-accuracy" / "tiny"
    table = pd.read_csv(folder / "metrics.csv")
    splits = ("train", "validation", "test")
    assert set(table.metric) == {f"{s}_{m}" for s in splits for m in ("accuracy", "cost")}
    assert sorted(table.depth.unique()) == [0, 1, 2, 3, 4]
    assert sorted(table.epoch.unique()) == [0, 1, 2]
    assert len(table) == 5 * 2 * 2 * 3 * 6  # depths × outputs × seeds × epochs × metrics
    final = table[table.epoch == 2]
    accuracy = final.pivot_table(index="depth", columns="metric", values="value")
    assert accuracy.loc[0, "validation_accuracy"] > 0.7  # 1,000 images teach most digits
    assert accuracy.loc[0, "train_accuracy"] > accuracy.loc[0, "validation_accuracy"]
    assert (table[table.metric.str.endswith("accuracy")].value * 1000 % 1).abs().max() < 1e-6
    info = json.loads((folder / "run.json").read_text())
    verdicts = {c["id"]: c for c in info["claims"]}
    assert set(verdicts) == {
        "hidden-layer-helps",
        "depth-beyond-two",
        "not-overfitting",
        "slide-numbers",
    }
    assert {c["kind"] for c in verdicts.values()} == {"empirical"}
    # Two epochs on 1,000 images leave the 3- and 4-layer nets at chance: no claim about them.
    assert accuracy.loc[3, "validation_accuracy"] < 0.5
    for claim in ("depth-beyond-two", "not-overfitting"):
        assert not verdicts[claim]["passed"] and "under the 50% floor" in verdicts[claim]["detail"]
    assert "Why adding a layer can lower the performance?" in verdicts["not-overfitting"]["quote"]
    assert len(list((folder / "figures").glob("*.png"))) == 4
