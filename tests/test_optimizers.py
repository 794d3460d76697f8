"""Optimisers: each check on hand-made tables that agree with the claim (PASS) and that
contradict it (FAIL), the declaration's quotes against the decks, and a tiny run on MNIST."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from dlexp.registry import load

from .helpers import code, dlexp, needs_mnist

checks = code("optimizers", "checks")
LECTURES = Path("/work/shared/lectures")
N = 50_000


def curve_rows(part: str, eta: float, metric: str, by_seed: list[list[float]], form: str = "plain"):
    """One row per epoch 1, 2, … of each seed's curve."""
    return [
        {
            "part": part,
            "eta": eta,
            "form": form,
            "seed": seed,
            "epoch": epoch,
            "layer": 0,
            "metric": metric,
            "value": value,
            "examples": epoch * N,
        }
        for seed, values in enumerate(by_seed)
        for epoch, value in enumerate(values, start=1)
    ]


def sweep_table(costs: dict[float, list[list[float]]]) -> pd.DataFrame:
    return pd.DataFrame(
        [r for eta, c in costs.items() for r in curve_rows("eta", eta, checks.COST, c)]
    )


NIELSEN_LIKE = {
    0.025: [[0.9, 0.7, 0.6, 0.55], [0.92, 0.72, 0.61, 0.56]],
    0.25: [[0.5, 0.4, 0.38, 0.37], [0.52, 0.41, 0.39, 0.38]],
    2.5: [[0.9, 1.1, 0.8, 1.0], [0.8, 1.2, 0.9, 0.95]],
}


def test_large_eta_passes_when_its_cost_oscillates_and_ends_higher():
    outcome = checks.large_eta_oscillates(sweep_table(NIELSEN_LIKE), {})
    assert outcome.passed and outcome.values == pytest.approx([0.63, 0.57])
    assert "total rise of the training cost η = 2.5: 0.425, η = 0.25: 0;" in outcome.detail


def test_large_eta_fails_when_its_cost_falls_smoothly_or_ends_lower():
    smooth = {**NIELSEN_LIKE, 2.5: [[0.9, 0.8, 0.7, 0.6], [0.8, 0.7, 0.6, 0.5]]}
    assert not checks.large_eta_oscillates(sweep_table(smooth), {}).passed
    ends_lower = {**NIELSEN_LIKE, 2.5: [[0.9, 1.1, 0.5, 0.3], [0.8, 1.2, 0.4, 0.3]]}
    assert not checks.large_eta_oscillates(sweep_table(ends_lower), {}).passed
    two = {eta: c for eta, c in NIELSEN_LIKE.items() if eta != 2.5}
    outcome = checks.large_eta_oscillates(sweep_table(two), {})
    assert not outcome.passed and "not measured" in outcome.detail


def test_small_eta_crawls_needs_a_higher_cost_after_every_epoch():
    outcome = checks.small_eta_crawls(sweep_table(NIELSEN_LIKE), {})
    assert outcome.passed and outcome.values == pytest.approx([0.18, 0.18])
    catches_up = {**NIELSEN_LIKE, 0.025: [[0.9, 0.7, 0.6, 0.36], [0.92, 0.72, 0.61, 0.56]]}
    assert not checks.small_eta_crawls(sweep_table(catches_up), {}).passed


def accuracy_table(mini: list[list[float]], full: dict[float, list[list[float]]]) -> pd.DataFrame:
    """Validation accuracies (fractions): mini-batch nets at η 0.25 (0.025 below them), full batch
    at each η."""
    rows = curve_rows("eta", 0.25, "validation_accuracy", mini)
    rows += curve_rows("eta", 0.025, "validation_accuracy", [[v - 0.1 for v in s] for s in mini])
    for eta, curves in full.items():
        rows += curve_rows("full-batch", eta, "validation_accuracy", curves)
    return pd.DataFrame(rows)


MINI = [[0.93, 0.95, 0.96, 0.96], [0.91, 0.94, 0.95, 0.96]]
PARAMS = {"target_percent": 90.0, "min_factor": 3.0}


def test_minibatch_passes_when_full_batch_needs_many_more_examples():
    full = {1.0: [[0.3, 0.5, 0.7, 0.8], [0.3, 0.5, 0.6, 0.91]], 0.3: [[0.2, 0.3, 0.4, 0.5]] * 2}
    outcome = checks.minibatch_needs_fewer_examples(
        accuracy_table(MINI, full), {"train_images": N}, **PARAMS
    )
    assert outcome.passed and outcome.values == pytest.approx([4.0, 4.0])
    assert "full batch η = 1 (at the edge of its sweep" in outcome.detail
    assert "1 of 2 full-batch nets never reached 90%" in outcome.detail


def test_minibatch_fails_when_full_batch_is_as_quick_or_mini_never_gets_there():
    full = {1.0: [[0.85, 0.91, 0.95, 0.96]] * 2, 3.0: [[0.2, 0.3, 0.4, 0.5]] * 2}
    table = accuracy_table(MINI, full)
    outcome = checks.minibatch_needs_fewer_examples(table, {"train_images": N}, **PARAMS)
    assert not outcome.passed and outcome.values == pytest.approx([2.0, 2.0])
    slow = [[0.5, 0.6, 0.7, 0.8]] * 2
    outcome = checks.minibatch_needs_fewer_examples(
        accuracy_table(slow, full), {"train_images": N}, **PARAMS
    )
    assert not outcome.passed and "nor did 2 of the mini-batch nets" in outcome.detail


def momentum_table(plain: dict, momentum: dict, metric: str) -> pd.DataFrame:
    rows = [r for eta, c in plain.items() for r in curve_rows("eta", eta, metric, c)]
    for (form, eta), curves in momentum.items():
        rows += curve_rows("momentum", eta, metric, curves, form=form)
    return pd.DataFrame(rows)


PLAIN_ACCURACY = {0.025: [[0.85, 0.9, 0.93, 0.95]] * 2, 0.25: [[0.92, 0.94, 0.95, 0.96]] * 2}


def test_momentum_faster_needs_fewer_epochs_for_every_form_and_eta():
    faster = {
        ("heavy-ball", 0.025): [[0.92, 0.95, 0.96, 0.96]] * 2,
        ("heavy-ball", 0.25): [[0.95, 0.96, 0.96, 0.97]] * 2,
    }
    table = momentum_table(PLAIN_ACCURACY, faster, "validation_accuracy")
    outcome = checks.momentum_reaches_target_sooner(table, {}, target_percent=95.0)
    assert outcome.passed and outcome.values == [2, 2, 2, 2]
    never = {**faster, ("heavy-ball", 0.25): [[0.9, 0.9, 0.91, 0.92]] * 2}
    table = momentum_table(PLAIN_ACCURACY, never, "validation_accuracy")
    outcome = checks.momentum_reaches_target_sooner(table, {}, target_percent=95.0)
    assert not outcome.passed and outcome.values[2:] == [-2, -2]  # 3 against 5 (never)


def test_momentum_damps_needs_no_more_rise_than_plain_sgd():
    plain = {0.25: [[0.5, 0.45, 0.47, 0.44]] * 2}
    damped = {("one-step", 0.25): [[0.45, 0.42, 0.41, 0.40]] * 2}
    outcome = checks.momentum_damps_oscillation(momentum_table(plain, damped, checks.COST), {})
    assert outcome.passed and outcome.values == pytest.approx([0.02, 0.02])
    wilder = {("one-step", 0.25): [[0.45, 0.6, 0.41, 0.5]] * 2}
    outcome = checks.momentum_damps_oscillation(momentum_table(plain, wilder, checks.COST), {})
    assert not outcome.passed and outcome.values == pytest.approx([-0.22, -0.22])
    unswept = {("one-step", 0.1): [[0.45, 0.42, 0.41, 0.40]] * 2}
    outcome = checks.momentum_damps_oscillation(momentum_table(plain, unswept, checks.COST), {})
    assert not outcome.passed and "not measured: plain SGD at η = 0.1" in outcome.detail


@pytest.mark.skipif(not LECTURES.is_dir(), reason="the lecture decks are not in this checkout")
def test_every_quote_is_the_decks_text():
    def plain(text: str) -> str:
        text = re.sub(r"\$[^$]*\$", "D'", text)  # the one formula quoted: the subset D'
        return re.sub(r"\s+", " ", text)

    decks = plain(" ".join(path.read_text() for path in LECTURES.glob("0*.txt")))
    for claim in load("optimizers").claims:
        for part in claim.quote.split("; "):
            assert plain(part) in decks, (claim.id, part)


def test_every_claim_names_a_check_with_its_params():
    for claim in load("optimizers").claims:
        check = checks.CHECKS[claim.check]
        assert set(claim.params) <= set(check.__code__.co_varnames), claim.id
        assert claim.sentence and "{" not in claim.sentence and claim.quote, claim.id
        assert claim.kind == "empirical"


def test_momentum_at_an_unswept_eta_is_refused():
    result = dlexp("run", "optimizers", "--scale", "tiny", "--set", "momentum.etas=[0.1]")
    assert result.exit_code != 0 and "must be among etas" in result.output


@needs_mnist
def test_tiny_run_on_mnist_trains_every_optimiser(tmp_path):
    result = dlexp("run", "optimizers", "--scale", "tiny", "--out", str(tmp_path), "--quiet")
    assert result.exit_code in (0, 1), result.output
    folder = tmp_path / "optimizers" / "tiny"
    table = pd.read_csv(folder / "metrics.csv")
    assert set(table.part) == {"eta", "full-batch", "momentum"}
    assert set(table[table.part == "full-batch"].batch_size) == {1000}  # every tiny image
    total = table[table.metric == "train_total_cost"].set_index(["variant", "seed", "epoch"])
    c0 = table[table.metric == "train_cost"].set_index(["variant", "seed", "epoch"])
    assert ((total.value - c0.value) > 0).all()  # the L2 term is added
    assert (table.examples == table.epoch * 1000).all()
    forms = set(table[table.part == "momentum"].form)
    assert forms == {"heavy-ball", "one-step"}
    info = json.loads((folder / "run.json").read_text())
    assert {c["id"] for c in info["claims"]} == {c.id for c in load("optimizers").claims}
    assert len(list((folder / "figures").glob("*.png"))) == 3
