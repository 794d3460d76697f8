"""Residual depth: each check on hand-made tables that agree with the claim (PASS) and that
contradict it (FAIL), the η each net is compared at, the networks' shared weights, and a tiny run
on real MNIST."""

import json
import math

import pandas as pd
import pytest
import torch

from dlexp.model_spec import initial_parameters
from dlexp.registry import ExperimentError, load
from dlexp.runner import prepare
from dlexp.trainer import stacks

from .helpers import code, dlexp, needs_mnist

checks = code("residual-depth", "checks")
run = code("residual-depth", "run")

FLOOR = {"margin_points": 20.0, "floor_percent": 50.0}
LAST = 3

# Training accuracy (fraction) after the last epoch per network and depth, one per seed.
AGREES = {
    "plain": {2: [0.95, 0.94, 0.96], 20: [0.10, 0.11, 0.10]},
    "residual": {2: [0.95, 0.95, 0.94], 20: [0.90, 0.89, 0.91]},
    "batch-norm": {2: [0.94, 0.95, 0.95], 20: [0.83, 0.84, 0.80]},
}


def accuracy_rows(accuracies: dict, eta: float = 1.0, gap: float = 0.02) -> list[dict]:
    """Final training accuracies as given and validation accuracies `gap` below them."""
    return [
        {
            "variant": f"{network}-{depth}",
            "seed": seed,
            "epoch": LAST,
            "layer": 0,
            "metric": f"{split}_accuracy",
            "value": value - (gap if split == "validation" else 0.0),
            "network": network,
            "depth": depth,
            "eta": eta,
        }
        for network, by_depth in accuracies.items()
        for depth, values in by_depth.items()
        for seed, value in enumerate(values)
        for split in ("train", "validation")
    ]


def gradient_rows(ratios: dict[str, float], depth: int = 20, eta: float = 1.0) -> list[dict]:
    """‖∂C/∂b^l‖ per layer of the deepest nets before and after training: the last hidden layer
    at 0.1, the first at 0.1 × the network's ratio, layers between on a geometric line."""
    rows = []
    for network, ratio in ratios.items():
        for epoch in (0, LAST):
            for seed in range(3):
                for layer in range(1, depth + 2):
                    share = ratio ** ((depth - min(layer, depth)) / (depth - 1))
                    rows.append(
                        {
                            "variant": f"{network}-{depth}",
                            "seed": seed,
                            "epoch": epoch,
                            "layer": layer,
                            "metric": "gradient_norm",
                            "value": 0.1 * share,
                            "network": network,
                            "depth": depth,
                            "eta": eta,
                        }
                    )
    return rows


def table(accuracies: dict = AGREES, ratios: dict | None = None) -> pd.DataFrame:
    rows = accuracy_rows(accuracies) + gradient_rows(ratios or {})
    return pd.DataFrame(rows)


def with_network(network: str, by_depth: dict) -> dict:
    return {**AGREES, network: by_depth}


def test_deeper_plain_trains_worse_passes_when_the_deepest_plain_net_fits_worse():
    outcome = checks.deeper_plain_trains_worse(table(), {}, margin_points=2.0, floor_percent=50.0)
    assert outcome.passed
    assert outcome.values == pytest.approx([-85.0, -83.0, -86.0])
    assert "plain training (validation) accuracy 2 hidden 95.0% (93.0%, η 1)" in outcome.detail
    assert (
        "He et al. 2016, ImageNet top-1 error: plain-18 27.94%, plain-34 28.54%" in outcome.detail
    )


def test_deeper_plain_trains_worse_fails_when_depth_does_not_hurt_the_training_fit():
    deep_fits = with_network("plain", {2: [0.95, 0.94, 0.96], 20: [0.96, 0.95, 0.94]})
    outcome = checks.deeper_plain_trains_worse(
        table(deep_fits), {}, margin_points=2.0, floor_percent=50.0
    )
    assert not outcome.passed


def test_deeper_plain_trains_worse_fails_when_the_shallow_net_did_not_train_either():
    at_chance = with_network("plain", {2: [0.30, 0.35, 0.32], 20: [0.10, 0.11, 0.10]})
    outcome = checks.deeper_plain_trains_worse(
        table(at_chance), {}, margin_points=2.0, floor_percent=50.0
    )
    assert (
        not outcome.passed and "under the 50% floor: shallowest in 3 of 3 seeds" in outcome.detail
    )


def test_deeper_plain_trains_worse_fails_with_a_single_depth():
    one_depth = {n: {20: v[20]} for n, v in AGREES.items()}
    outcome = checks.deeper_plain_trains_worse(
        table(one_depth), {}, margin_points=2.0, floor_percent=50.0
    )
    assert not outcome.passed and "not measured" in outcome.detail


def test_each_network_and_depth_is_compared_at_its_own_best_eta():
    worse_eta = {n: {d: [v - 0.05 for v in vs] for d, vs in by.items()} for n, by in AGREES.items()}
    # At η = 3 the deep residual net fails; at η = 1 it trains: η = 1 is its best.
    worse_eta["residual"][20] = [0.10, 0.10, 0.10]
    rows = accuracy_rows(AGREES, eta=1.0) + accuracy_rows(worse_eta, eta=3.0)
    chosen = checks.best_eta(pd.DataFrame(rows))
    assert set(chosen.eta) == {1.0}
    rows = accuracy_rows(worse_eta, eta=1.0) + accuracy_rows(AGREES, eta=3.0)
    outcome = checks.residual_trains_deepest(pd.DataFrame(rows), {}, **FLOOR)
    assert outcome.passed and "20 hidden 90.0% (88.0%, η 3)" in outcome.detail


@pytest.mark.parametrize(
    "check, network",
    [
        ("residual_trains_deepest", "residual"),
        ("batch_norm_trains_deepest", "batch-norm"),
    ],
)
def test_the_deepest_net_trains_only_when_it_is_far_above_the_deepest_plain_net(check, network):
    check = checks.CHECKS[check]
    outcome = check(table(), {}, **FLOOR)
    assert outcome.passed and len(outcome.values) == 3 and min(outcome.values) > 60
    assert f"20 hidden layers: {network}" in outcome.detail
    stuck = with_network(network, {2: [0.95, 0.95, 0.95], 20: [0.12, 0.11, 0.10]})
    outcome = check(table(stuck), {}, **FLOOR)
    assert not outcome.passed and outcome.values == pytest.approx([2.0, 0.0, 0.0])
    # Far above a plain net at chance, yet not trained: the floor keeps it from passing.
    half = with_network(network, {2: [0.95, 0.95, 0.95], 20: [0.45, 0.48, 0.40]})
    outcome = check(table(half), {}, **FLOOR)
    assert not outcome.passed and min(outcome.values) >= 20
    assert "under the 50% floor" in outcome.detail
    absent = {n: v for n, v in AGREES.items() if n != network}
    assert "not measured" in check(table(absent), {}, **FLOOR).detail


def test_residual_gradient_passes_when_skips_keep_the_first_layer_s_gradient():
    agreeing = table(ratios={"plain": 1e-13, "residual": 0.5})
    outcome = checks.residual_gradient_reaches_first_layer(agreeing, {}, factor=100.0)
    assert outcome.passed
    assert outcome.values == pytest.approx([math.log10(0.5 / 1e-13)] * 3)
    assert "plain 1e-13, residual 0.5 (mean)" in outcome.detail


def test_residual_gradient_fails_when_the_skips_do_not_help_the_first_layer():
    contradicting = table(ratios={"plain": 1e-13, "residual": 5e-12})
    outcome = checks.residual_gradient_reaches_first_layer(contradicting, {}, factor=100.0)
    assert not outcome.passed and outcome.values == pytest.approx([math.log10(50)] * 3)


def test_every_claim_quotes_a_slide_declares_its_kind_and_names_its_params():
    experiment = load("residual-depth")
    assert [c.check for c in experiment.claims] == list(checks.CHECKS)
    for claim in experiment.claims:
        assert claim.quote and claim.kind == "empirical"
        assert all(f"{{{name}}}" in claim.text for name in claim.params)
    assert experiment.reference["he_2016_top1_error_percent"]["plain-34"] == 28.54


PROTOCOL = {
    "depths": [2, 5, 10, 20],
    "hidden_units": 64,
    "batch_size": 32,
    "etas": [0.3, 1.0],
    "train_images": 10000,
    "gradient_images": 500,
}


def test_the_three_networks_start_from_the_same_weights_and_each_is_one_stack():
    specs = run.specs(PROTOCOL, [0, 1, 2], depth=5)
    assert [len(g) for g in stacks(specs)] == [6, 6, 6]
    assert {s.sizes for s in specs} == {(784, 64, 64, 64, 64, 64, 10)}
    first = {
        s.params["network"]: initial_parameters(s, torch.Generator().manual_seed(s.seed))
        for s in specs
        if s.seed == 1 and s.params["eta"] == 1.0
    }
    for network in ("residual", "batch-norm"):
        for (w, b), (w0, b0) in zip(first[network], first["plain"]):
            assert torch.equal(w, w0) and torch.equal(b, b0)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"gradient_images": 20000}, "gradient_images = 20000 exceeds train_images"),
        ({"train_images": 9601}, "leaves a last mini-batch of one image"),
    ],
)
def test_sizes_a_user_can_get_wrong_are_said_before_training(change, message):
    with pytest.raises(ExperimentError, match=message):
        prepare(load("residual-depth"), "lecture", change, None)


@needs_mnist
def test_tiny_run_measures_every_network_and_checks_every_claim(tmp_path):
    result = dlexp("run", "residual-depth", "--scale", "tiny", "--out", str(tmp_path), "--quiet")
    assert result.exit_code in (0, 1), result.output
    folder = tmp_path / "residual-depth" / "tiny"
    metrics = pd.read_csv(folder / "metrics.csv")
    assert set(metrics.network) == {"plain", "residual", "batch-norm"}
    assert sorted(metrics.depth.unique()) == [2, 5]
    splits = ("train", "validation")
    expected = {f"{s}_{m}" for s in splits for m in ("accuracy", "cost")} | {"gradient_norm"}
    assert set(metrics.metric) == expected
    deepest = metrics[(metrics.metric == "gradient_norm") & (metrics.depth == 5)]
    assert sorted(deepest.layer.unique()) == list(range(1, 7))
    info = json.loads((folder / "run.json").read_text())
    verdicts = {c["id"]: c for c in info["claims"]}
    assert set(verdicts) == {c.id for c in load("residual-depth").claims}
    assert all(c["n"] == 2 for c in verdicts.values()), verdicts
    assert len(list((folder / "figures").glob("*.png"))) == 3
