"""The regularization finding: its variants, what it measures, early stopping, and a falsification
test for every claim check (a table that contradicts the claim FAILs, one that agrees PASSes)."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import torch

from dlexp.data import MNIST, synthetic_classification
from dlexp.finding import RunContext
from dlexp.progress import Reporter
from dlexp.registry import ExperimentError, load
from dlexp.table import long_row, tidy
from dlexp.trainer import Schedule, stacks
from tests.helpers import code, dlexp, needs_mnist

run = code("regularization", "run")
tables = code("regularization", "tables")
stopping = code("regularization", "early_stopping")
checks = code("regularization", "checks")
histograms = code("regularization", "weight_histograms")
figures = code("regularization", "figures")

LECTURE = load("regularization").resolve()
LECTURES = Path("/work/shared/lectures")
FIGURES = (
    "overfitting",
    "regularisers_over_training",
    "train_test_gap",
    "weight_histograms",
    "early_stopping_curves",
    "early_stopping",
)


def protocol(**changes) -> dict:
    return {**LECTURE, **changes}


# ---------------------------------------------------------------------------------------------
# The variants


def test_the_1000_image_variants_are_nielsens_set_up_in_two_stacks():
    specs = run.small_data_specs(LECTURE, seeds=[0, 1, 2])
    assert len(stacks(specs)) == 2
    assert {s.sizes for s in specs} == {(784, 30, 10), (784, 100, 10)}
    assert all(
        (s.weight_init, s.eta, s.batch_size, s.output, s.cost, s.dropout_masks)
        == ("large", 0.5, 10, "sigmoid", "cross-entropy", "mini-batch")
        for s in specs
    )
    names = {s.variant: s for s in specs if s.seed == 0}
    assert len(names) * 3 == len(specs) == 42
    assert names["L2 λ = 0.1, 30 hidden"].l2 == 0.1
    assert names["L1 λ = 0.1, 30 hidden"].l1 == 0.1
    assert names["dropout p = 0.5, 100 hidden"].keep_prob == 0.5
    inputs = names["dropout hidden p = 0.5, inputs p = 0.8, 30 hidden"]
    assert (inputs.keep_prob, inputs.input_keep_prob) == (0.5, 0.8)
    assert inputs.params["regulariser"] == run.INPUT_DROPOUT
    both = names["dropout p = 0.5 + L2 λ = 0.1, 100 hidden"]
    assert (both.keep_prob, both.l2, both.params["regulariser"]) == (0.5, 0.1, "dropout + L2")
    l2 = sorted(s.l2 for s in specs if s.seed == 0 and s.params["regulariser"] == "L2")
    assert l2 == [0.01, 0.1, 0.1, 1.0, 10.0]  # every λ at 30 hidden, the lecture's at 100


def test_the_mask_mode_reaches_every_model_and_the_table():
    specs = run.small_data_specs(protocol(dropout_masks="example"), seeds=[0])
    assert {(s.dropout_masks, s.params["dropout_masks"]) for s in specs} == {("example", "example")}


def test_the_full_data_part_is_lambda_5_against_none_on_50000_images():
    specs = run.full_data_specs(LECTURE, seeds=[0, 1, 2])
    expected = [(lam, seed) for lam in (0.0, 5.0) for seed in (0, 1, 2)]
    assert sorted((s.l2, s.seed) for s in specs) == expected
    assert {(s.sizes, s.params["train_images"], s.params["part"]) for s in specs} == {
        ((784, 100, 10), 50_000, "full data")
    }


def test_a_regularisation_switched_off_does_not_duplicate_a_variant():
    specs = run.small_data_specs(protocol(l2=0.0, other_l2=[], keep_prob=1.0), seeds=[0])
    variants = [s.variant for s in specs]
    assert len(variants) == len(set(variants))


def test_label_noise_flips_a_fixed_share_of_labels_to_another_class_per_seed():
    data = synthetic_classification(1000, seed=3)
    noisy = run.flipped_labels(data, 0.2, seed=0)
    changed = noisy.labels != data.labels
    assert int(changed.sum()) == 200  # every chosen label moves to another class
    assert torch.equal(noisy.images, data.images)
    assert torch.equal(run.flipped_labels(data, 0.2, seed=0).labels, noisy.labels)
    assert not torch.equal(run.flipped_labels(data, 0.2, seed=1).labels, noisy.labels)
    spec = run.noisy_label_spec(LECTURE, seed=0)
    assert (spec.sizes, spec.params["label_noise"], spec.params["part"]) == (
        (784, 30, 10),
        0.2,
        run.NOISY_LABELS,
    )


# ---------------------------------------------------------------------------------------------
# What is measured


def test_measure_evaluates_each_split_only_where_it_is_read():
    """Validation only for the unregularised nets (clean and noisy); the λ sweep only before
    and after training; the full-data nets on the test images."""
    full = {"train_images": 80, "hidden_units": 6, "epochs": 1, "l2": 5.0}
    small = protocol(
        seeds=2, train_images=60, validation_images=40, test_images=40, epochs=3, hidden_units=4,
        wide_hidden_units=6, full_data=full,
    )  # fmt: skip
    split = synthetic_classification(100, seed=1)
    context = RunContext(small, [0, 1], torch.device("cpu"), Reporter(quiet=True))
    context._mnist = MNIST(split, split, split)
    table = run.measure(context)
    per_model = table[table.metric != histograms.WEIGHT_COUNT].groupby("variant")
    validated = {v for v, rows in per_model if "validation_accuracy" in set(rows.metric)}
    assert validated == {
        "no regularisation, 4 hidden",
        "no regularisation, 6 hidden",
        "no regularisation, 4 hidden, 20% labels flipped",
    }
    epochs = per_model.epoch.unique().map(sorted)
    assert epochs["L2 λ = 10, 4 hidden"] == [0, 3]
    assert epochs["dropout p = 0.5, 4 hidden"] == [0, 1, 2, 3]
    assert epochs["L2 λ = 5, 6 hidden, full data"] == [0, 1]
    assert set(table.dropout_masks) == {"mini-batch"}


def test_weight_magnitudes_are_counted_in_log_bins():
    counts = histograms.weight_magnitude_counts(
        [torch.tensor([[0.0, 5e-7], [-2e-3, 0.5]]), torch.tensor([[150.0]])]
    )
    edges = histograms.MAGNITUDE_EDGES
    assert sum(counts) == 5 and len(counts) == len(edges) - 1
    assert counts[0] == 2  # 0 and 5·10⁻⁷ below 10⁻⁶
    assert counts[-1] == 1  # above 100
    for value in (2e-3, 0.5):
        (index,) = [i for i in range(len(counts)) if edges[i] <= value < edges[i + 1]]
        assert counts[index] == 1


def test_l1_drives_more_weights_to_zero_than_l2_on_dead_inputs():
    """On MNIST-shaped data whose first half of pixels is always 0 (like MNIST's border), L1's
    constant pull ηλ/n = 0.005 per step takes the unused weights to zero (within one step) over
    400 steps; L2 only shrinks them by (1 − 0.005)⁴⁰⁰ ≈ e⁻²."""
    data = synthetic_classification(100, seed=1)
    data.images[:, :392] = 0.0
    small = protocol(hidden_units=8, train_images=100)
    specs = [
        run.model_spec(small, run.SMALL_DATA, 100, 8, seed=0, l2=1.0),
        run.model_spec(small, run.SMALL_DATA, 100, 8, seed=0, l1=1.0),
        run.model_spec(small, run.SMALL_DATA, 100, 8, seed=0),
    ]
    context = RunContext(small, [0], torch.device("cpu"), Reporter(quiet=True))
    training = run.training("test", specs, data, Schedule(40), held_out={"test": data})
    [table] = context.train_together([training])
    counted = table[table.metric == histograms.WEIGHT_COUNT]
    assert set(counted.epoch) == {0, 40}
    assert (counted.groupby(["variant", "epoch"])["value"].sum() == 784 * 8 + 8 * 10).all()
    fractions = tables.near_zero_fractions(table, 0.01).set_index("regulariser")["near_zero"]
    assert fractions["L1"] > 0.45  # nearly every dead weight (half of them) is ~0
    assert fractions["L2"] < 0.1 and fractions[run.UNREGULARISED] < 0.02
    outcome = checks.l1_drives_weights_to_zero(table, small, near_zero=0.01)
    assert outcome.passed and outcome.values[0] > 35


def test_near_zero_must_be_a_histogram_edge():
    with pytest.raises(ExperimentError, match="edge"):
        tables.near_zero_fractions(pd.DataFrame(columns=["metric"]), 0.02)


def test_the_plateau_is_the_first_epoch_within_tolerance_of_the_best():
    accuracy = pd.Series([0.1, 0.5, 0.8, 0.805, 0.81, 0.815, 0.812])
    assert tables.plateau_epoch(accuracy, within=0.01) == 3
    assert tables.plateau_epoch(accuracy, within=0.0) == 5


# ---------------------------------------------------------------------------------------------
# Early stopping


def test_early_stopping_stops_patience_epochs_after_the_best_and_keeps_the_best():
    accuracy = pd.Series([0.1, 0.5, 0.6, 0.6, 0.59, 0.61, 0.6, 0.6, 0.6, 0.61, 0.6])
    assert stopping.stopping_point(accuracy, 3, higher_is_better=True) == (8, 5)
    assert stopping.stopping_point(accuracy, 1, higher_is_better=True) == (3, 2)  # equal: none
    assert stopping.stopping_point(accuracy, 10, higher_is_better=True) == (10, 5)  # never
    cost = pd.Series([3.0, 1.0, 0.9, 1.1, 1.2, 1.3])
    assert stopping.stopping_point(cost, 2, higher_is_better=False) == (4, 2)


def test_a_user_monitor_must_be_a_validation_curve():
    with pytest.raises(ExperimentError, match="monitor"):
        stopping.early_stopping(pd.DataFrame(), 10, "test_accuracy")


# ---------------------------------------------------------------------------------------------
# Claim checks on synthetic tables


def model_rows(spec, epochs: int, **curves) -> list[dict]:
    """Table rows of one model: each curve a function of the epoch, or a constant."""
    return [
        long_row(spec.variant, spec.seed, epoch, 0, metric, value, **spec.params)
        for metric in run.CURVES
        for epoch in range(epochs + 1)
        for value in [curves.get(metric, 1.0)]
        for value in [value(epoch) if callable(value) else value]
    ]


def small(seed: int, hidden: int = 30, **regularisation):
    return run.model_spec(LECTURE, run.SMALL_DATA, 1000, hidden, seed, **regularisation)


def round_trip(rows: list[dict], tmp_path: Path) -> pd.DataFrame:
    """The table as the report reads it: written by tidy() and read back."""
    tidy(pd.DataFrame(rows)).to_csv(tmp_path / "metrics.csv", index=False)
    return pd.read_csv(tmp_path / "metrics.csv")


def overfitting_curves(plateau: int, final_test: float = 0.82) -> dict:
    """Training accuracy → 100% and cost ↓ throughout; test accuracy flat after `plateau`."""
    return {
        "train_cost": lambda e: 1.0 / (1 + e),
        "train_accuracy": lambda e: min(1.0, 0.5 + e / 50),
        "test_accuracy": lambda e: final_test * min(1.0, 0.5 + 0.5 * e / plateau),
        "validation_accuracy": lambda e: final_test * min(1.0, 0.5 + 0.5 * e / plateau),
    }


def test_overfitting_passes_when_test_accuracy_stalls_early_and_cost_keeps_falling(tmp_path):
    rows = [r for seed in (0, 1) for r in model_rows(small(seed), 120, **overfitting_curves(30))]
    table = round_trip(rows, tmp_path)
    outcome = checks.test_accuracy_stops_improving(table, LECTURE, 1.0, 0.7)
    assert outcome.passed and all(25 <= v <= 30 for v in outcome.values)
    memorised = checks.memorises_training_data(table, LECTURE, 1.0, 10.0)
    assert memorised.passed and memorised.values == pytest.approx([18.0, 18.0])


def test_overfitting_fails_when_test_accuracy_still_climbs_or_cost_stops_falling(tmp_path):
    climbing = model_rows(small(0), 120, **overfitting_curves(plateau=115))
    outcome = checks.test_accuracy_stops_improving(round_trip(climbing, tmp_path), LECTURE, 1, 0.7)
    assert not outcome.passed and outcome.values[0] > 100
    flat_cost = model_rows(small(0), 120, **{**overfitting_curves(30), "train_cost": 0.5})
    assert not checks.test_accuracy_stops_improving(pd.DataFrame(flat_cost), LECTURE, 1, 0.7).passed


def test_memorising_fails_below_100_percent_or_with_a_small_gap(tmp_path):
    curves = {**overfitting_curves(30), "train_accuracy": 0.99}
    unfitted = round_trip(model_rows(small(0), 10, **curves), tmp_path)
    assert not checks.memorises_training_data(unfitted, LECTURE, 1.0, 10.0).passed
    curves = {**overfitting_curves(30, final_test=0.95), "train_accuracy": 1.0}
    generalising = round_trip(model_rows(small(0), 40, **curves), tmp_path)
    assert not checks.memorises_training_data(generalising, LECTURE, 1.0, 10.0).passed


def generalisation_table(tmp_path, dropout_test: float, inputs_test: float) -> pd.DataFrame:
    rows = []
    for seed in (0, 1):
        rows += model_rows(small(seed), 4, test_accuracy=0.82, train_accuracy=1.0)
        rows += model_rows(small(seed, l2=0.1), 4, test_accuracy=0.87, train_accuracy=0.99)
        rows += model_rows(small(seed, l2=10.0), 4, test_accuracy=0.70, train_accuracy=0.71)
        rows += model_rows(small(seed, keep_prob=0.5), 4, test_accuracy=dropout_test + seed / 100)
        both = small(seed, keep_prob=0.5, input_keep_prob=0.8)
        rows += model_rows(both, 4, test_accuracy=inputs_test - seed / 100)
    return round_trip(rows, tmp_path)


def test_l2_and_dropout_pass_when_they_beat_no_regularisation_in_every_seed(tmp_path):
    table = generalisation_table(tmp_path, dropout_test=0.85, inputs_test=0.86)
    l2 = checks.l2_generalises_better(table, LECTURE)
    assert l2.passed and l2.values == pytest.approx([5.0, 5.0])  # λ = 10 is not the lecture's
    assert checks.dropout_generalises_better(table, LECTURE).passed
    inputs = checks.input_dropout_generalises_better(table, LECTURE)
    assert inputs.passed and inputs.values == pytest.approx([4.0, 3.0])
    assert "hidden-only dropout: 30 hidden 85.5%" in inputs.detail


def test_dropout_claims_fail_when_one_seed_is_not_better(tmp_path):
    table = generalisation_table(tmp_path, dropout_test=0.80, inputs_test=0.83)
    dropout = checks.dropout_generalises_better(table, LECTURE)
    assert not dropout.passed and dropout.values == pytest.approx([-2.0, -1.0])
    assert "higher in 0/2 seeds" in dropout.detail
    assert not checks.input_dropout_generalises_better(table, LECTURE).passed


def test_l2_fails_when_it_does_not_beat_no_regularisation(tmp_path):
    rows = model_rows(small(0), 4, test_accuracy=0.82, train_accuracy=1.0)
    rows += model_rows(small(0, l2=0.1), 4, test_accuracy=0.80, train_accuracy=0.99)
    assert not checks.l2_generalises_better(round_trip(rows, tmp_path), LECTURE).passed


def test_l2_shrinks_weights_compares_every_lambda_with_the_same_seed(tmp_path):
    rows = model_rows(small(0), 3, weight_norm=150.0)
    rows += model_rows(small(0, l2=0.1), 3, weight_norm=100.0)
    rows += model_rows(small(0, l2=1.0), 3, weight_norm=30.0)
    outcome = checks.l2_shrinks_weights(round_trip(rows, tmp_path), LECTURE)
    assert outcome.passed and sorted(outcome.values) == pytest.approx([0.2, 2 / 3])
    larger = rows + model_rows(small(0, l2=0.01), 3, weight_norm=151.0)
    assert not checks.l2_shrinks_weights(round_trip(larger, tmp_path), LECTURE).passed
    not_falling = rows + model_rows(small(0, l2=10.0), 3, weight_norm=40.0)
    outcome = checks.l2_shrinks_weights(round_trip(not_falling, tmp_path), LECTURE)
    assert not outcome.passed and "falls with λ in 0/1 seeds" in outcome.detail


def histogram_rows(spec, near_zero_share: float) -> list[dict]:
    """|w| histogram rows after epoch 4: `near_zero_share` of 1,000 weights below 10⁻², the rest
    in the bin [0.1, 0.178)."""
    return [
        long_row(spec.variant, spec.seed, 4, 0, histograms.WEIGHT_COUNT, count, w_low=low,
                 w_high=high, **spec.params)
        for low, high, count in ((1e-3, 10**-2.75, 1000 * near_zero_share),
                                 (0.1, 10**-0.75, 1000 * (1 - near_zero_share)))
    ]  # fmt: skip


def test_l1_sparsity_fails_when_l2_leaves_more_weights_near_zero(tmp_path):
    def table(l1_share: float) -> pd.DataFrame:
        rows = []
        for spec, share in ((small(0, l1=0.1), l1_share), (small(0, l2=0.1), 0.05)):
            rows += model_rows(spec, 4) + histogram_rows(spec, share)
        return round_trip(rows, tmp_path)

    agreeing = checks.l1_drives_weights_to_zero(table(0.3), LECTURE, near_zero=0.01)
    assert agreeing.passed and agreeing.values == pytest.approx([25.0])
    contradicting = checks.l1_drives_weights_to_zero(table(0.02), LECTURE, near_zero=0.01)
    assert not contradicting.passed and contradicting.values == pytest.approx([-3.0])


def stopping_curves(peak: int, after: float, validation_lag: int = 0) -> dict:
    """Accuracy rising to 0.80 at `peak`, then changing by `after` per epoch; the validation
    curve the same, `validation_lag` epochs later; the cost its mirror image."""

    def accuracy(e: int) -> float:
        return 0.8 * min(1.0, (e + 1) / (peak + 1)) + after * max(0, e - peak)

    return {
        "test_accuracy": accuracy,
        "validation_accuracy": lambda e: accuracy(max(0, e - validation_lag)),
        "validation_cost": lambda e: 2.0 - accuracy(max(0, e - validation_lag)),
    }


def early_stopping_table(tmp_path, part: str, **curves) -> pd.DataFrame:
    rows = []
    for seed in (0, 1):
        for hidden in (30, 100):
            spec = run.model_spec(LECTURE, part, 1000, hidden, seed, label_noise=0.2)
            rows += model_rows(spec, 120, **curves)
    return round_trip(rows, tmp_path)


@pytest.mark.parametrize("monitor", ["validation_accuracy", "validation_cost"])
def test_early_stopping_on_clean_labels_passes_when_it_costs_nothing_and_stops_early(
    tmp_path, monitor
):
    curves = stopping_curves(30, 0.0)  # the validation curves stop improving at epoch 30 …
    curves["test_accuracy"] = lambda e: 0.8 * min(1, (e + 1) / 31) + 0.00002 * max(0, e - 30)
    table = early_stopping_table(tmp_path, run.SMALL_DATA, **curves)  # … the test gains 0.18
    outcome = checks.early_stopping_costs_nothing(table, LECTURE, 10, monitor, 1.0, 0.5, 0.5)
    assert outcome.passed and outcome.values == pytest.approx([-90 * 0.002] * 4)
    assert "stops at epoch 40 of 120, keeps epoch 30" in outcome.detail


@pytest.mark.parametrize("monitor", ["validation_accuracy", "validation_cost"])
def test_early_stopping_on_clean_labels_fails_short_of_the_end_late_or_untrained(tmp_path, monitor):
    def outcome(**curves):
        table = early_stopping_table(tmp_path, run.SMALL_DATA, **curves)
        return checks.early_stopping_costs_nothing(table, LECTURE, 10, monitor, 1.0, 0.5, 0.5)

    # a plateau, then the nets improve again (Nielsen's warning): 3 points lost by stopping
    plateau_then_better = stopping_curves(30, 0.0)
    plateau_then_better["test_accuracy"] = lambda e: 0.8 * min(1, (e + 1) / 31) + 0.03 * (e > 60)
    plateau_then_better["validation_accuracy"] = plateau_then_better["test_accuracy"]
    plateau_then_better["validation_cost"] = lambda e: 2 - plateau_then_better["test_accuracy"](e)
    assert not outcome(**plateau_then_better).passed
    assert not outcome(**stopping_curves(100, 0.0)).passed  # stops only at epoch 110 of 120
    chance = stopping_curves(30, 0.0)
    chance["test_accuracy"] = lambda e: 0.1
    failed = outcome(**chance)  # every net at chance: the floor fails it, whatever the gain
    assert not failed.passed and failed.values == pytest.approx([0.0] * 4)


@pytest.mark.parametrize("monitor", ["validation_accuracy", "validation_cost"])
def test_early_stopping_on_noisy_labels_must_beat_training_to_the_end(tmp_path, monitor):
    def outcome(**curves):
        table = early_stopping_table(tmp_path, run.NOISY_LABELS, **curves)
        return checks.early_stopping_beats_the_end(table, LECTURE, 10, monitor, 1.0)

    falling = outcome(**stopping_curves(20, -0.001))  # peaks at 20, falls 10 points by 120
    assert falling.passed and falling.values == pytest.approx([10.0] * 4)
    assert not outcome(**stopping_curves(20, 0.0)).passed  # no fall: nothing to win


def test_early_stopping_keeps_the_best_validation_epoch_never_the_best_test_epoch(tmp_path):
    """The test accuracy peaks at epoch 50, but the validation accuracy stops improving at 30:
    the model kept is epoch 30's, scored on the test images."""
    curves = stopping_curves(30, 0.0)
    curves["test_accuracy"] = lambda e: 0.8 + 0.05 * (e == 50)
    table = early_stopping_table(tmp_path, run.SMALL_DATA, **curves)
    stops = stopping.early_stopping(table, 10, "validation_accuracy")
    assert set(stops.kept_epoch) == {30} and set(stops.peak_epoch) == {50}
    assert stops.test_kept.tolist() == pytest.approx([0.8] * 4)


# ---------------------------------------------------------------------------------------------
# The declaration


def test_every_claim_names_a_check_with_its_params():
    for claim in load("regularization").claims:
        check = checks.CHECKS[claim.check]
        assert set(claim.params) <= set(check.__code__.co_varnames), claim.id
        assert claim.sentence and "{" not in claim.sentence, claim.id


@pytest.mark.skipif(not LECTURES.is_dir(), reason="the lecture decks are not in this checkout")
def test_every_quote_is_a_sentence_of_a_deck():
    def plain(text: str) -> str:
        text = text.replace("$\\rightarrow$", "→").replace("**", "").replace("$", "")
        return re.sub(r"\s+", " ", text)

    decks = plain(" ".join(path.read_text() for path in LECTURES.glob("0*.txt")))
    for claim in load("regularization").claims:
        assert claim.quote and plain(claim.quote) in decks, claim.id


# ---------------------------------------------------------------------------------------------
# End to end, on real MNIST


@needs_mnist
def test_tiny_run_on_mnist_records_every_variant_and_redraws_from_the_csv(tmp_path):
    result = dlexp("run", "regularization", "--scale", "tiny", "--out", str(tmp_path), "--quiet")
    assert result.exit_code in (0, 1), result.output
    folder = tmp_path / "regularization" / "tiny"
    table = pd.read_csv(folder / "metrics.csv")
    tiny = load("regularization").resolve("tiny")
    expected = run.small_data_specs(tiny, [0, 1]) + run.full_data_specs(tiny, [0, 1])
    expected += [run.noisy_label_spec(tiny, seed) for seed in (0, 1)]
    assert set(table.variant) == {s.variant for s in expected}
    assert set(table.metric) == {*run.CURVES, histograms.WEIGHT_COUNT}
    assert set(table.dropout_masks) == {"mini-batch"}
    final = tables.final_epoch(table)
    clean = final[final.part != run.NOISY_LABELS]
    assert (clean.train_accuracy > clean.test_accuracy).all()  # every model fits its data best

    claims = {c["id"]: c for c in json.loads((folder / "run.json").read_text())["claims"]}
    assert claims["l2-shrinks-weights"]["passed"] and claims["l1-sparsity"]["passed"]
    for claim in load("regularization").claims:  # the checks give the same verdicts from the CSV
        outcome = checks.CHECKS[claim.check](table, tiny, **claim.params)
        assert outcome.passed == claims[claim.id]["passed"]

    drawn = {p.name for p in (folder / "figures").iterdir()}
    assert {f"{name}.{suffix}" for name in FIGURES for suffix in ("png", "svg")} == drawn
    # the figures that read the histogram columns and the validation curves, which are empty
    # on other rows, redraw from the CSV alone
    redrawn = figures.figure_weight_histograms(table, tiny, "tiny", tmp_path)
    redrawn += figures.figure_early_stopping_curves(table, tiny, "tiny", tmp_path)
    assert all(path.stat().st_size > 10_000 for path in redrawn)
