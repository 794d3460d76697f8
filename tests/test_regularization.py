"""The regularization finding: its variants, |w| histograms, early stopping and claim checks."""

import json
import os
from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from dlexp.cli import app
from dlexp.data import synthetic_classification
from dlexp.finding import RunContext
from dlexp.progress import Reporter
from dlexp.registry import load
from dlexp.results import tidy
from dlexp.trainer import stacks
from tests.helpers import code

finding = code("regularization", "run")

LECTURE = load("regularization").resolve()
FIGURES = (
    "overfitting",
    "regularisers_over_training",
    "train_test_gap",
    "weight_histograms",
    "early_stopping",
)


def protocol(**changes) -> dict:
    return {**LECTURE, **changes}


# ---------------------------------------------------------------------------------------------
# The variants


def test_the_1000_image_variants_are_nielsens_set_up_in_two_stacks():
    specs = finding.small_data_specs(LECTURE, seeds=[0, 1, 2])
    assert len(stacks(specs)) == 2
    assert {s.sizes for s in specs} == {(784, 30, 10), (784, 100, 10)}
    assert all(
        (s.weight_init, s.eta, s.batch_size, s.output, s.cost)
        == ("large", 0.5, 10, "sigmoid", "cross-entropy")
        for s in specs
    )
    names = {s.variant: s for s in specs if s.seed == 0}
    assert len(names) * 3 == len(specs) == 36
    assert names["L2 λ = 0.1, 30 hidden"].l2 == 0.1
    assert names["L1 λ = 0.1, 30 hidden"].l1 == 0.1
    assert names["dropout p = 0.5, 100 hidden"].keep_prob == 0.5
    both = names["dropout p = 0.5 + L2 λ = 0.1, 100 hidden"]
    assert (both.keep_prob, both.l2, both.params["regulariser"]) == (0.5, 0.1, "dropout + L2")
    l2 = sorted(s.l2 for s in specs if s.seed == 0 and s.params["regulariser"] == "L2")
    assert l2 == [0.01, 0.1, 0.1, 1.0, 10.0]  # every λ at 30 hidden, the lecture's at 100


def test_the_full_data_part_is_lambda_5_against_none_on_50000_images():
    specs = finding.full_data_specs(LECTURE, seeds=[0, 1, 2])
    expected = [(lam, seed) for lam in (0.0, 5.0) for seed in (0, 1, 2)]
    assert sorted((s.l2, s.seed) for s in specs) == expected
    assert {(s.sizes, s.params["train_images"], s.params["part"]) for s in specs} == {
        ((784, 100, 10), 50_000, "full data")
    }


def test_a_regularisation_switched_off_does_not_duplicate_a_variant():
    specs = finding.small_data_specs(protocol(l2=0.0, other_l2=[]), seeds=[0])
    variants = [s.variant for s in specs]
    assert len(variants) == len(set(variants))


# ---------------------------------------------------------------------------------------------
# Measurements read off the curves


def test_weight_magnitudes_are_counted_in_log_bins():
    counts = finding.weight_magnitude_counts(
        [torch.tensor([[0.0, 5e-7], [-2e-3, 0.5]]), torch.tensor([[150.0]])]
    )
    edges = finding.MAGNITUDE_EDGES
    assert sum(counts) == 5 and len(counts) == len(edges) - 1
    assert counts[0] == 2  # 0 and 5·10⁻⁷ below 10⁻⁶
    assert counts[-1] == 1  # above 100
    for value in (2e-3, 0.5):
        (index,) = [i for i in range(len(counts)) if edges[i] <= value < edges[i + 1]]
        assert counts[index] == 1


def test_early_stopping_stops_patience_epochs_after_the_best_validation_accuracy():
    accuracy = pd.Series([0.1, 0.5, 0.6, 0.6, 0.59, 0.61, 0.6, 0.6, 0.6, 0.61, 0.6])
    assert finding.early_stopping_epoch(accuracy, patience=3) == 8  # best 0.61 at epoch 5
    assert finding.early_stopping_epoch(accuracy, patience=1) == 3  # equal is no improvement
    assert finding.early_stopping_epoch(accuracy, patience=10) == 10  # never: the last epoch


def test_the_plateau_is_the_first_epoch_within_tolerance_of_the_best():
    accuracy = pd.Series([0.1, 0.5, 0.8, 0.805, 0.81, 0.815, 0.812])
    assert finding.plateau_epoch(accuracy, within=0.01) == 3
    assert finding.plateau_epoch(accuracy, within=0.0) == 5


def test_l1_drives_more_weights_to_zero_than_l2_on_dead_inputs():
    """On MNIST-shaped data whose first half of pixels is always 0 (like MNIST's border), L1's
    constant pull ηλ/n = 0.005 per step takes the unused weights to zero (within one step) over
    400 steps; L2 only shrinks them by (1 − 0.005)⁴⁰⁰ ≈ e⁻²."""
    data = synthetic_classification(100, seed=1)
    data.images[:, :392] = 0.0
    small = protocol(hidden_units=8, train_images=100)
    specs = [
        finding.model_spec(small, finding.SMALL_DATA, 100, 8, seed=0, l2=1.0),
        finding.model_spec(small, finding.SMALL_DATA, 100, 8, seed=0, l1=1.0),
        finding.model_spec(small, finding.SMALL_DATA, 100, 8, seed=0),
    ]
    context = RunContext(small, [0], torch.device("cpu"), Reporter(quiet=True))
    table = finding.trained(context, "test", specs, data, epochs=40, held_out={"test": data})
    histograms = table[table.metric == finding.WEIGHT_COUNT]
    assert set(histograms.epoch) == {0, 40}
    per_model = histograms.groupby(["variant", "epoch"])["value"].sum()
    assert (per_model == 784 * 8 + 8 * 10).all()
    fractions = finding.near_zero_fractions(table, 0.01).set_index("regulariser")["near_zero"]
    assert fractions["L1"] > 0.45  # nearly every dead weight (half of them) is ~0
    assert fractions["L2"] < 0.1 and fractions[finding.UNREGULARISED] < 0.02
    outcome = finding.l1_drives_weights_to_zero(table, small, near_zero=0.01)
    assert outcome.passed and outcome.values[0] > 35


def test_a_log_scale_band_is_the_geometric_mean_and_stays_positive():
    costs = pd.DataFrame({"epoch": [1, 1, 1], "value": [0.001, 0.1, 10.0]})
    summary = finding.summarise_on_log_scale(costs, ["epoch"]).iloc[0]
    assert summary["mean"] == pytest.approx(0.1)
    assert 0 < summary["low"] < 0.001 and summary["high"] > 10.0


def test_near_zero_must_be_a_histogram_edge():
    with pytest.raises(ValueError, match="edge"):
        finding.near_zero_fractions(pd.DataFrame(columns=["metric"]), 0.02)


# ---------------------------------------------------------------------------------------------
# Claim checks on synthetic tables


def model_rows(spec, epochs: int, **curves) -> list[dict]:
    """Table rows of one model: each curve a function of the epoch, or a constant."""
    rows = []
    for metric in finding.CURVES:
        value = curves.get(metric, 1.0)
        for epoch in range(epochs + 1):
            rows.append(
                {
                    "variant": spec.variant,
                    "seed": spec.seed,
                    "epoch": epoch,
                    "layer": 0,
                    "metric": metric,
                    "value": value(epoch) if callable(value) else value,
                    **spec.params,
                }
            )
    return rows


def small(seed: int, hidden: int = 30, **regularisation):
    return finding.model_spec(LECTURE, finding.SMALL_DATA, 1000, hidden, seed, **regularisation)


def overfitting_curves(plateau: int, final_test: float = 0.82) -> dict:
    """Training accuracy → 100% and cost ↓ throughout; test accuracy flat after `plateau`."""
    return {
        "train_cost": lambda e: 1.0 / (1 + e),
        "train_accuracy": lambda e: min(1.0, 0.5 + e / 50),
        "test_accuracy": lambda e: final_test * min(1.0, 0.5 + 0.5 * e / plateau),
        "validation_accuracy": lambda e: final_test * min(1.0, 0.5 + 0.5 * e / plateau),
    }


def round_trip(rows: list[dict], tmp_path: Path) -> pd.DataFrame:
    """The table as the report reads it: written by the runner's tidy() and read back."""
    tidy(pd.DataFrame(rows)).to_csv(tmp_path / "metrics.csv", index=False)
    return pd.read_csv(tmp_path / "metrics.csv")


def test_overfitting_passes_when_test_accuracy_stalls_early_and_cost_keeps_falling(tmp_path):
    rows = [r for seed in (0, 1) for r in model_rows(small(seed), 400, **overfitting_curves(100))]
    outcome = finding.test_accuracy_stops_improving(
        round_trip(rows, tmp_path), LECTURE, within=0.01, max_plateau_fraction=0.7
    )
    assert outcome.passed and all(90 <= v <= 100 for v in outcome.values)
    memorised = finding.memorises_training_data(
        round_trip(rows, tmp_path), LECTURE, min_train_accuracy=1.0, min_gap=0.10
    )
    assert memorised.passed and memorised.values == pytest.approx([18.0, 18.0])


def test_overfitting_fails_when_test_accuracy_still_climbs_or_cost_stops_falling(tmp_path):
    climbing = model_rows(small(0), 400, **overfitting_curves(plateau=390))
    outcome = finding.test_accuracy_stops_improving(
        round_trip(climbing, tmp_path), LECTURE, within=0.01, max_plateau_fraction=0.7
    )
    assert not outcome.passed and outcome.values[0] > 380
    rising_cost = model_rows(small(0), 400, **{**overfitting_curves(100), "train_cost": float})
    assert not finding.test_accuracy_stops_improving(
        pd.DataFrame(rising_cost), LECTURE, within=0.01, max_plateau_fraction=0.7
    ).passed


def test_l2_and_dropout_must_beat_no_regularisation_in_every_seed(tmp_path):
    rows = []
    for seed in (0, 1):
        rows += model_rows(small(seed), 4, test_accuracy=0.82, train_accuracy=1.0)
        rows += model_rows(small(seed, l2=0.1), 4, test_accuracy=0.87, train_accuracy=0.99)
        rows += model_rows(small(seed, l2=10.0), 4, test_accuracy=0.70, train_accuracy=0.71)
        dropout_test = 0.85 if seed == 0 else 0.80
        rows += model_rows(small(seed, keep_prob=0.5), 4, test_accuracy=dropout_test)
    table = round_trip(rows, tmp_path)
    l2 = finding.l2_generalises_better(table, LECTURE)
    assert l2.passed and l2.values == pytest.approx([5.0, 5.0])  # λ = 10 is not the lecture's
    dropout = finding.dropout_generalises_better(table, LECTURE)
    assert not dropout.passed and dropout.values == pytest.approx([3.0, -2.0])
    assert "higher in 1/2 seeds" in dropout.detail


def test_l2_shrinks_weights_compares_every_lambda_with_the_same_seed(tmp_path):
    rows = model_rows(small(0), 3, weight_norm=150.0)
    rows += model_rows(small(0, l2=0.1), 3, weight_norm=100.0)
    rows += model_rows(small(0, l2=1.0), 3, weight_norm=30.0)
    outcome = finding.l2_shrinks_weights(round_trip(rows, tmp_path), LECTURE)
    assert outcome.passed and sorted(outcome.values) == pytest.approx([0.2, 2 / 3])
    rows += model_rows(small(0, l2=0.01), 3, weight_norm=151.0)
    assert not finding.l2_shrinks_weights(round_trip(rows, tmp_path), LECTURE).passed


def test_early_stopping_claim_compares_the_stopped_test_accuracy_with_the_best(tmp_path):
    def validation(epoch: int) -> float:
        return 0.8 if epoch >= 5 else 0.1 * epoch  # no improvement after epoch 5

    near = model_rows(
        small(0), 100, validation_accuracy=validation, test_accuracy=lambda e: 0.8 + e / 20_000
    )
    outcome = finding.early_stopping_near_best(
        round_trip(near, tmp_path), LECTURE, patience=10, max_shortfall=0.01
    )
    assert outcome.passed and outcome.values == pytest.approx([0.5 - 15 / 200])
    far = model_rows(
        small(0), 100, validation_accuracy=validation, test_accuracy=lambda e: 0.8 + e / 2_000
    )
    outcome = finding.early_stopping_near_best(
        round_trip(far, tmp_path), LECTURE, patience=10, max_shortfall=0.01
    )
    assert not outcome.passed and outcome.values == pytest.approx([5.0 - 1.5 / 2])
    stops = finding.early_stopping(round_trip(far, tmp_path), patience=10)
    assert (stops.stop_epoch.item(), stops.best_epoch.item()) == (15, 100)


# ---------------------------------------------------------------------------------------------
# End to end, on real MNIST


@pytest.mark.skipif(not os.environ.get("DLEXP_DATA_DIR"), reason="DLEXP_DATA_DIR is not set")
def test_tiny_run_on_mnist_records_every_variant_and_redraws_from_the_csv(tmp_path):
    result = CliRunner().invoke(
        app, ["run", "regularization", "--scale", "tiny", "--out", str(tmp_path), "--quiet"]
    )
    assert result.exit_code in (0, 1), result.output
    folder = tmp_path / "regularization" / "tiny"
    table = pd.read_csv(folder / "metrics.csv")
    tiny = load("regularization").resolve("tiny")
    expected = finding.small_data_specs(tiny, [0, 1]) + finding.full_data_specs(tiny, [0, 1])
    assert set(table.variant) == {s.variant for s in expected}
    assert set(table.metric) == {*finding.CURVES, finding.WEIGHT_COUNT}
    final = finding.final_epoch(table)
    assert (final.train_accuracy > final.test_accuracy).all()  # every model fits its data best

    claims = {c["id"]: c for c in json.loads((folder / "run.json").read_text())["claims"]}
    assert claims["l2-shrinks-weights"]["passed"] and claims["l1-sparsity"]["passed"]
    experiment = load("regularization")
    for claim in experiment.claims:  # the checks give the same verdicts from the CSV
        outcome = finding.CHECKS[claim.check](table, tiny, **claim.params)
        assert outcome.passed == claims[claim.id]["passed"]

    drawn = {p.name for p in (folder / "figures").iterdir()}
    assert {f"{name}.{suffix}" for name in FIGURES for suffix in ("png", "svg")} == drawn
    # the figures that read the histogram columns, empty on every other row, redraw from the CSV
    redrawn = finding.figure_weight_histograms(table, tiny, "tiny", tmp_path)
    redrawn += finding.figure_early_stopping(table, tiny, "tiny", tmp_path)
    assert all(path.stat().st_size > 10_000 for path in redrawn)
