"""Ensembles: the votes on hand-made outputs, each check on hand-made tables that agree with the
claim (PASS) and that contradict it (FAIL), and a tiny run on real MNIST."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import torch

from dlexp.registry import load

from .helpers import code, dlexp, needs_mnist

checks = code("ensembles", "checks")
run = code("ensembles", "run")
LECTURES = Path("/work/shared/lectures")
BEATS = {"min_gain_points": 0.1, "floor_percent": 90.0}
DIMINISHING = {"tolerance_points": 0.05, "floor_percent": 90.0}


def test_votes_count_every_subset_and_break_ties_by_the_mean_softmax():
    labels = torch.tensor([0, 1])
    # Three nets, two images, two classes: net 0 right on both, net 1 right (barely) on image 0
    # only, net 2 confidently wrong on image 0 and right on image 1.
    z = torch.tensor(
        [
            [[2.0, 0.0], [0.0, 1.0]],
            [[0.1, 0.0], [2.0, 0.0]],
            [[0.0, 10.0], [0.0, 3.0]],
        ]
    )
    values = run.ensemble_accuracies(z, labels)
    assert values["majority_vote_accuracy_1_nets"].tolist() == [1.0, 0.5, 0.5]
    # Every pair ties on one image and the larger mean softmax decides it wrongly there.
    assert values["majority_vote_accuracy_2_nets"].tolist() == [0.5, 0.5, 0.5]
    # Two votes against one: the three nets are right on both images …
    assert values["majority_vote_accuracy_3_nets"].tolist() == [1.0, 1.0, 1.0]
    # … while net 2's confident softmax outweighs the other two on image 0.
    assert values["mean_softmax_accuracy_3_nets"].tolist() == [0.5, 0.5, 0.5]


def test_the_mean_over_nets_is_the_mean_over_all_ensembles_of_that_size():
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(5, 200, 10, generator=generator)
    labels = torch.randint(10, (200,), generator=generator)
    values = run.ensemble_accuracies(z, labels)
    probabilities = torch.softmax(z.double(), -1)
    pairs = [(i, j) for i in range(5) for j in range(i + 1, 5)]
    direct = sum(
        (probabilities[[i, j]].mean(0).argmax(-1) == labels).double().mean().item()
        for i, j in pairs
    ) / len(pairs)
    assert values["mean_softmax_accuracy_2_nets"].mean().item() == pytest.approx(direct)
    single = (z.argmax(-1) == labels).double().mean(1)
    assert torch.allclose(values["majority_vote_accuracy_1_nets"], single)
    assert set(values) == {f"{v}_accuracy_{k}_nets" for v in run.VOTES for k in range(1, 6)}


def ensemble_table(by_model: dict[str, list[float]], nets: int = 5) -> pd.DataFrame:
    """E_i(k) for every net i and both votes: the mean over k of `by_model[model][k − 1]`
    (accuracy in fractions), with each net's own offset shrinking as k grows."""
    rows = []
    for model, means in by_model.items():
        for vote in run.VOTES:
            for k, mean in enumerate(means, start=1):
                for seed in range(nets):
                    spread = (seed - (nets - 1) / 2) * 0.001 / k
                    rows.append(
                        {
                            "variant": model,
                            "seed": seed,
                            "epoch": 3,
                            "layer": 0,
                            "metric": f"{vote}_accuracy_{k}_nets",
                            "value": mean + spread,
                            "model": model,
                            "eta": 0.1,
                        }
                    )
    return pd.DataFrame(rows)


DIMINISHING_CURVE = [0.973, 0.977, 0.979, 0.980, 0.9805]


def test_vote_beats_single_passes_for_a_rising_curve_and_fails_when_the_vote_does_not_help():
    table = ensemble_table({"mlp": DIMINISHING_CURVE, "cnn": [0.988, 0.990, 0.991, 0.9915, 0.992]})
    outcome = checks.vote_beats_single(table, {}, vote="majority_vote", **BEATS)
    assert outcome.passed and len(outcome.values) == 10
    assert outcome.values[0] == pytest.approx((0.9805 - 0.973 - 0.002 / 5 + 0.002) * 100)
    assert "MLP: majority vote test accuracy by number of nets 1: 97.30%" in outcome.detail
    flat = ensemble_table({"mlp": [0.973, 0.9732, 0.973, 0.9731, 0.973]})
    assert not checks.vote_beats_single(flat, {}, vote="mean_softmax", **BEATS).passed
    worse = ensemble_table({"mlp": DIMINISHING_CURVE, "cnn": [0.99, 0.985, 0.98, 0.98, 0.98]})
    outcome = checks.vote_beats_single(worse, {}, vote="majority_vote", **BEATS)
    assert not outcome.passed and outcome.detail.startswith("MLP: ")


def test_vote_beats_single_fails_with_nets_at_chance_or_a_single_net():
    chance = ensemble_table({"mlp": [0.10, 0.12, 0.14, 0.16, 0.18]})
    outcome = checks.vote_beats_single(chance, {}, vote="majority_vote", **BEATS)
    assert not outcome.passed and "under the 90% floor: 5 of 5 nets" in outcome.detail
    alone = ensemble_table({"mlp": [0.97]}, nets=1)
    outcome = checks.vote_beats_single(alone, {}, vote="majority_vote", **BEATS)
    assert not outcome.passed and "fewer than 2 nets" in outcome.detail


def test_diminishing_returns_passes_for_shrinking_gains_and_fails_for_growing_ones():
    table = ensemble_table({"mlp": DIMINISHING_CURVE})
    outcome = checks.diminishing_returns(table, {}, vote="majority_vote", **DIMINISHING)
    assert outcome.passed and len(outcome.values) == 5
    assert "gain of the k-th net 2: +0.400, 3: +0.200, 4: +0.100, 5: +0.050" in outcome.detail
    growing = ensemble_table({"mlp": [0.973, 0.974, 0.976, 0.979, 0.983]})
    assert not checks.diminishing_returns(growing, {}, vote="majority_vote", **DIMINISHING).passed
    bump = ensemble_table({"mlp": [0.973, 0.977, 0.978, 0.981, 0.9812]})  # the 4th gains most
    assert not checks.diminishing_returns(bump, {}, vote="mean_softmax", **DIMINISHING).passed
    none = ensemble_table({"mlp": [0.973] * 5})
    assert not checks.diminishing_returns(none, {}, vote="majority_vote", **DIMINISHING).passed
    two = ensemble_table({"mlp": [0.973, 0.977]}, nets=2)
    outcome = checks.diminishing_returns(two, {}, vote="majority_vote", **DIMINISHING)
    assert not outcome.passed and "from 3 nets on" in outcome.detail


def test_every_claim_quotes_the_slide_and_is_empirical():
    experiment = load("ensembles")
    assert [c.check for c in experiment.claims] == [
        "vote_beats_single",
        "vote_beats_single",
        "diminishing_returns",
        "diminishing_returns",
    ]
    assert {c.kind for c in experiment.claims} == {"empirical"}
    assert experiment.protocol["seeds"] == 5


@pytest.mark.skipif(not LECTURES.is_dir(), reason="the lecture decks are not in this checkout")
def test_every_quote_is_the_decks_text():
    decks = " ".join(p.read_text() for p in LECTURES.glob("0*.txt"))
    decks = re.sub(r"\s+", " ", re.sub(r"[*$]|\n\s*- ", " ", decks))  # no markup or bullets
    for claim in load("ensembles").claims:
        assert claim.quote in decks, claim.id


@needs_mnist
def test_tiny_run_votes_with_every_subset_of_five_nets(tmp_path):
    result = dlexp("run", "ensembles", "--scale", "tiny", "--out", str(tmp_path), "--quiet")
    assert result.exit_code in (0, 1), result.output
    folder = tmp_path / "ensembles" / "tiny"
    table = pd.read_csv(folder / "metrics.csv")
    assert set(table.model) == {"cnn", "mlp"} and set(table.seed) == set(range(5))
    assert set(table.epoch) == {1}
    assert len(table) == 2 * 5 * (2 + 2 * 5)  # models × nets × (accuracy, cost, votes × sizes)
    for model in ("cnn", "mlp"):
        alone = table[(table.model == model) & (table.metric == "test_accuracy")]
        first = table[(table.model == model) & (table.metric == "majority_vote_accuracy_1_nets")]
        assert alone.value.tolist() == first.value.tolist()
        assert alone.value.min() > 0.5
    info = json.loads((folder / "run.json").read_text())
    assert len(info["claims"]) == 4
    assert len(list((folder / "figures").glob("*.png"))) == 2
