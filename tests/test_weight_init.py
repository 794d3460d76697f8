"""Weight initialisation: each check on hand-made tables that agree with the claim (PASS) and
that contradict it (FAIL), the declaration's quotes against the decks, and a tiny run on MNIST."""

import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from dlexp.registry import load

from .helpers import code, dlexp, needs_mnist

checks = code("weight-init", "checks")
LECTURES = Path("/work/shared/lectures")


def accuracy_rows(part: str, init: str, by_seed: list[list[float]]) -> list[dict]:
    """Validation accuracy (fractions) per epoch 0, 1, … for each seed."""
    return [
        {"part": part, "init": init, "seed": seed, "epoch": epoch, "layer": 0,
         "metric": "validation_accuracy", "value": value}
        for seed, values in enumerate(by_seed)
        for epoch, value in enumerate(values)
    ]  # fmt: skip


NIELSEN_LIKE = {
    "normalized": [[0.1, 0.93, 0.95, 0.96], [0.1, 0.94, 0.95, 0.96]],
    "large": [[0.1, 0.87, 0.91, 0.93], [0.1, 0.86, 0.90, 0.93]],
}


def nielsen_table(accuracies: dict[str, list[list[float]]]) -> pd.DataFrame:
    return pd.DataFrame(
        [r for init, v in accuracies.items() for r in accuracy_rows("nielsen", init, v)]
    )


def test_normalized_learns_faster_passes_on_nielsens_curves():
    outcome = checks.normalized_learns_faster(nielsen_table(NIELSEN_LIKE), {}, min_gain_points=2.0)
    assert outcome.passed and outcome.values == pytest.approx([6.0, 8.0])
    assert "1: 93.50% vs 86.50%" in outcome.detail


def test_normalized_learns_faster_fails_when_large_keeps_up_or_overtakes():
    close = {**NIELSEN_LIKE, "large": [[0.1, 0.925, 0.95, 0.96], [0.1, 0.935, 0.95, 0.96]]}
    assert not checks.normalized_learns_faster(nielsen_table(close), {}, min_gain_points=2.0).passed
    overtakes = {**NIELSEN_LIKE, "large": [[0.1, 0.87, 0.96, 0.97], [0.1, 0.86, 0.90, 0.93]]}
    outcome = checks.normalized_learns_faster(nielsen_table(overtakes), {}, min_gain_points=2.0)
    assert not outcome.passed and outcome.values == pytest.approx([6.0, 8.0])
    only_one = nielsen_table({"normalized": NIELSEN_LIKE["normalized"]})
    outcome = checks.normalized_learns_faster(only_one, {}, min_gain_points=2.0)
    assert not outcome.passed and "not measured: large" in outcome.detail


def copy_table(differences: list[list[float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "part": "equal",
                "init": "equal",
                "seed": seed,
                "epoch": epoch,
                "layer": 0,
                "metric": "copy_difference",
                "value": value,
            }
            for seed, values in enumerate(differences)
            for epoch, value in enumerate(values)
        ]
    )


def test_equal_weights_stay_copies_needs_exactly_zero_at_every_epoch():
    outcome = checks.equal_weights_stay_copies(copy_table([[0, 0, 0], [0, 0, 0]]), {})
    assert outcome.passed and outcome.values == [0, 0]
    tiny = checks.equal_weights_stay_copies(copy_table([[0, 0, 0], [0, 1e-12, 0]]), {})
    assert not tiny.passed and "first non-zero after epoch 1 (1e-12)" in tiny.detail
    assert not checks.equal_weights_stay_copies(copy_table([[0, 0, 0.3], [0, 0, 0]]), {}).passed
    assert not checks.equal_weights_stay_copies(pd.DataFrame(copy_table([[0]]).iloc[:0]), {}).passed


def test_equal_weights_do_not_train_needs_the_gap_in_every_seed():
    equal = [[0.1, 0.30, 0.35, 0.35], [0.1, 0.20, 0.25, 0.30]]
    table = pd.DataFrame(
        accuracy_rows("nielsen", "normalized", NIELSEN_LIKE["normalized"])
        + accuracy_rows("equal", "equal", equal)
    )
    outcome = checks.equal_weights_do_not_train(table, {}, min_gap_points=30.0)
    assert outcome.passed and outcome.values == pytest.approx([61.0, 66.0])
    trains = [[0.1, 0.80, 0.85, 0.90], [0.1, 0.20, 0.25, 0.30]]
    table = pd.DataFrame(
        accuracy_rows("nielsen", "normalized", NIELSEN_LIKE["normalized"])
        + accuracy_rows("equal", "equal", trains)
    )
    assert not checks.equal_weights_do_not_train(table, {}, min_gap_points=30.0).passed


def deep_table(growth: dict[tuple[str, str], tuple[float, float]], seeds: int = 2) -> pd.DataFrame:
    """Per (activation, init): the activations' std multiplies by the first factor over the ten
    hidden layers (forward), ‖∂C/∂b‖ by the second on its way back (layer 10 → 1)."""
    rows = []
    for (activation, init), (forward, backward) in growth.items():
        for seed in range(seeds):
            for layer in range(1, 11):
                share = (layer - 1) / 9
                values = {"activation_std": 0.5 * forward**share,
                          "gradient_norm": 0.1 * backward ** (1 - share)}  # fmt: skip
                rows += [
                    {"part": "deep", "activation": activation, "init": init, "seed": seed,
                     "epoch": 0, "layer": layer, "metric": metric, "value": value}
                    for metric, value in values.items()
                ]  # fmt: skip
    return pd.DataFrame(rows)


IN_RANGE = {
    ("tanh", "glorot"): (0.5, 0.7),
    ("relu", "he"): (0.9, 1.4),
    ("tanh", "large"): (1.0, 2200.0),
    ("tanh", "small"): (1e-9, 1e-9),
    ("relu", "large"): (4e7, 3e7),
    ("relu", "small"): (4e-11, 7e-11),
}
FACTORS = {"in_range": 10.0, "out_of_range": 100.0}


def test_scaled_inits_pass_when_they_stay_in_range_and_the_others_drift():
    outcome = checks.scaled_init_keeps_layers_in_range(deep_table(IN_RANGE), {}, **FACTORS)
    assert outcome.passed
    assert outcome.values == pytest.approx([math.log10(2200) - math.log10(1 / 0.5)] * 2)
    assert "tanh large ×1 and ×2.2e+03" in outcome.detail


def test_scaled_inits_fail_when_glorot_drifts_or_a_bad_init_stays_in_range():
    glorot_drifts = {**IN_RANGE, ("tanh", "glorot"): (0.05, 0.7)}
    outcome = checks.scaled_init_keeps_layers_in_range(deep_table(glorot_drifts), {}, **FACTORS)
    assert not outcome.passed
    large_fine = {**IN_RANGE, ("tanh", "large"): (1.0, 20.0)}
    outcome = checks.scaled_init_keeps_layers_in_range(deep_table(large_fine), {}, **FACTORS)
    assert not outcome.passed and outcome.values == pytest.approx([1.0, 1.0])  # 20× vs 2×
    missing = {k: v for k, v in IN_RANGE.items() if k != ("relu", "small")}
    outcome = checks.scaled_init_keeps_layers_in_range(deep_table(missing), {}, **FACTORS)
    assert not outcome.passed and "not measured: relu with small" in outcome.detail


def test_a_statistic_that_reaches_zero_counts_as_an_infinite_drift():
    zero = deep_table({**IN_RANGE, ("relu", "small"): (0.0, 7e-11)})
    drift = checks.drift_decades(zero)
    assert drift.loc[("relu", "small", 0), "largest"] == math.inf
    assert checks.scaled_init_keeps_layers_in_range(zero, {}, **FACTORS).passed


@pytest.mark.skipif(not LECTURES.is_dir(), reason="the lecture decks are not in this checkout")
def test_every_quote_is_the_decks_text():
    def plain(text: str) -> str:
        text = re.sub(r"\$[^$]*\$", "", text)  # formulas are rewritten in Unicode in the quotes
        return re.sub(r"\s+", " ", text)

    decks = plain(" ".join(path.read_text() for path in LECTURES.glob("0*.txt")))
    fragments = {
        "normalized-learns-faster": ["Initial weights", ": randomly assign", "E.g.,"],
        "equal-weights-stay-copies": ["If weights are all equal, response across filters will "
                                      "be equivalent.", "Network doesn't train."],
        "deep-scaled-init-in-range": ["Then:", "Exponential decrease from later derivatives to "
                                      "earlier ones due to chain rule"],
    }  # fmt: skip
    claims = {claim.id: claim for claim in load("weight-init").claims}
    for claim_id, parts in fragments.items():
        for part in parts:
            assert part in claims[claim_id].quote and plain(part) in decks, (claim_id, part)


def test_every_claim_names_a_check_with_its_params():
    for claim in load("weight-init").claims:
        check = checks.CHECKS[claim.check]
        assert set(claim.params) <= set(check.__code__.co_varnames), claim.id
        assert claim.sentence and "{" not in claim.sentence and claim.quote, claim.id
    kinds = {claim.id: claim.kind for claim in load("weight-init").claims}
    assert kinds["equal-weights-stay-copies"] == "identity"


def test_a_protocol_without_the_compared_inits_is_refused():
    result = dlexp("run", "weight-init", "--scale", "tiny", "--set", 'inits=["normalized"]')
    assert result.exit_code != 0 and "must include 'large'" in result.output


@needs_mnist
def test_tiny_run_on_mnist_measures_every_part(tmp_path):
    result = dlexp("run", "weight-init", "--scale", "tiny", "--out", str(tmp_path), "--quiet")
    assert result.exit_code in (0, 1), result.output
    folder = tmp_path / "weight-init" / "tiny"
    table = pd.read_csv(folder / "metrics.csv")
    assert set(table.part) == {"nielsen", "equal", "deep"}
    start = table[(table.epoch == 0) & (table.metric == "saturated_fraction")]
    saturated = start.groupby("init")["value"].mean()
    assert saturated["large"] > 0.3 > 0.01 > saturated["normalized"]  # N(0, 1) starts saturated
    copies = table[table.metric == "copy_difference"]
    assert (copies[copies.epoch == 0].value == 0).all()  # the equal start is exact
    assert (copies.value == 0).all()  # and the units stay exact copies: the claim's identity
    deep = table[table.part == "deep"]
    assert len(deep[deep.metric == "activation_std"]) == 2 * 4 * 2 * 10  # act × init × seed × layer
    histogram = deep[deep.metric == "activation_histogram"]
    assert set(histogram.seed) == {0}
    sums = histogram.groupby(["activation", "init", "layer"])["value"].sum()
    assert sums.xs("tanh").to_numpy() == pytest.approx(1.0)  # every tanh activation is binned
    assert (sums.xs("relu") < 1.0).all()  # ReLU's zeros have no log₁₀
    info = json.loads((folder / "run.json").read_text())
    assert {c["id"] for c in info["claims"]} == {c.id for c in load("weight-init").claims}
    assert len(list((folder / "figures").glob("*.png"))) == 3
