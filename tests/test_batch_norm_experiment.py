"""The batch-norm experiment: each check on hand-made tables that agree with the claim (PASS)
and that contradict it (FAIL), the base η, the measured unit's percentiles, and a tiny run on
real MNIST. (The trainer's batch normalisation itself is tested in test_batch_norm.py.)"""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from dlexp.finding import DIVERGED
from dlexp.model_spec import ModelSpec, initial_parameters
from dlexp.models import StackedMLP
from dlexp.registry import ExperimentError, load
from dlexp.runner import prepare
from dlexp.trainer import stacks

from .helpers import code, dlexp, needs_mnist

checks = code("batch-norm", "checks")
run = code("batch-norm", "run")

PROTOCOL = {
    "hidden_layers": 3,
    "hidden_units": 100,
    "train_images": 6000,
    "batch_size": 60,
    "etas": [1.0, 3.0, 30.0],
}
LARGER = {"factor": 10.0, "floor_percent": 85.0, "margin_points": 5.0}
# Validation accuracy (%) after epochs 1…8, by network and η: the plain net's best η is 3.
CURVES = {
    ("plain", 1.0): [10, 20, 40, 60, 75, 82, 86, 88],
    ("plain", 3.0): [10, 30, 60, 80, 86, 88, 91, 92],
    ("plain", 30.0): [10, 10, 10, 10, 10, 10, 10, 10],
    ("batch-norm", 1.0): [85, 88, 90, 91, 92, 92, 93, 93],
    ("batch-norm", 3.0): [86, 89, 91, 92, 93, 93, 94, 94],
    ("batch-norm", 30.0): [40, 60, 80, 85, 88, 90, 91, 92],
}


def curve_table(curves: dict = CURVES, seeds: int = 3, diverged: tuple = ()) -> pd.DataFrame:
    """Every curve for each seed (seed s a tenth of a point higher), from epoch 0 at 9.8%, and a
    `diverged` row for each (network, η) named."""
    rows = [
        {
            "variant": network,
            "seed": seed,
            "epoch": epoch,
            "layer": 0,
            "metric": "validation_accuracy",
            "value": (value + 0.1 * seed) / 100,
            "network": network,
            "eta": eta,
        }
        for (network, eta), values in curves.items()
        for seed in range(seeds)
        for epoch, value in enumerate([9.8, *values])
    ]
    rows += [
        {
            "variant": network,
            "seed": seed,
            "epoch": 2,
            "layer": 0,
            "metric": DIVERGED,
            "value": 1.0,
            "network": network,
            "eta": eta,
        }
        for network, eta in diverged
        for seed in range(seeds)
    ]
    return pd.DataFrame(rows)


def changed(**curves: list[float]) -> dict:
    """CURVES with some replaced, keyed `plain_3` for ("plain", 3.0)."""
    replaced = dict(CURVES)
    for key, values in curves.items():
        network, eta = key.rsplit("_", 1)
        replaced[(network.replace("_", "-"), float(eta))] = values
    return replaced


def test_the_base_eta_is_the_plain_net_s_best_over_the_whole_curve():
    assert checks.base_eta(curve_table()) == 3.0
    # Faster at first and as high at the end: η = 1 becomes the best.
    fast = changed(plain_1=[20, 50, 70, 85, 88, 90, 91, 92])
    assert checks.base_eta(curve_table(fast)) == 1.0
    assert checks.base_eta(curve_table({("batch-norm", 1.0): [90] * 8})) is None


def test_fewer_steps_passes_when_batch_norm_reaches_the_target_sooner():
    outcome = checks.fewer_steps(curve_table(), PROTOCOL, target_percent=90.0)
    assert outcome.passed and outcome.values == pytest.approx([700 / 300] * 3)
    assert "base η 3 (the plain net's best)" in outcome.detail
    assert "plain: 700, 700, 700; batch-norm: 300, 300, 300" in outcome.detail


def test_fewer_steps_fails_when_batch_norm_is_not_faster():
    tie = changed(batch_norm_3=[10, 30, 60, 80, 86, 88, 91, 92])
    outcome = checks.fewer_steps(curve_table(tie), PROTOCOL, target_percent=90.0)
    assert not outcome.passed and outcome.values == pytest.approx([1.0] * 3)
    slower = changed(batch_norm_3=[10, 20, 30, 40, 50, 60, 70, 91])
    outcome = checks.fewer_steps(curve_table(slower), PROTOCOL, target_percent=90.0)
    assert not outcome.passed and outcome.values == pytest.approx([700 / 800] * 3)


def test_fewer_steps_counts_a_net_that_never_reaches_the_target_as_a_bound():
    outcome = checks.fewer_steps(curve_table(), PROTOCOL, target_percent=94.05)
    # Batch norm reaches 94.05% after epoch 7 in seeds 1 and 2 (seed s: + s/10) and never in
    # seed 0; the plain net never does: 900 steps stand in for "never".
    assert not outcome.passed
    assert outcome.values == pytest.approx([1.0, 900 / 700, 900 / 700])
    assert "plain: never, never, never; batch-norm: never, 700, 700" in outcome.detail
    outcome = checks.fewer_steps(curve_table(), PROTOCOL, target_percent=92.25)
    assert outcome.passed and outcome.values == pytest.approx([900 / 500] * 3)


def test_fewer_steps_fails_without_a_batch_norm_net_at_the_base_eta():
    no_norm = {k: v for k, v in CURVES.items() if k != ("batch-norm", 3.0)}
    outcome = checks.fewer_steps(curve_table(no_norm), PROTOCOL, target_percent=90.0)
    assert not outcome.passed and "not measured: no batch-norm net at η = 3" in outcome.detail


def test_tolerates_larger_eta_passes_when_only_batch_norm_trains_there():
    table = curve_table(diverged=[("plain", 30.0)])
    outcome = checks.tolerates_larger_eta(table, PROTOCOL, **LARGER)
    assert outcome.passed and outcome.values == pytest.approx([82.0] * 3)
    assert "η 30 = 10 × the plain net's best 3" in outcome.detail
    assert "plain diverged in seed(s) 0, 1, 2" in outcome.detail


def test_tolerates_larger_eta_fails_when_the_plain_net_trains_as_well():
    # Slower than at η = 3 (so η = 3 stays the base), but as good at the end.
    plain_fine = changed(plain_30=[10, 10, 20, 40, 60, 80, 88, 90])
    outcome = checks.tolerates_larger_eta(curve_table(plain_fine), PROTOCOL, **LARGER)
    assert not outcome.passed and outcome.values == pytest.approx([2.0] * 3)


def test_tolerates_larger_eta_fails_when_batch_norm_does_not_train_either():
    both_poor = changed(batch_norm_30=[20, 30, 40, 50, 55, 60, 60, 60])
    outcome = checks.tolerates_larger_eta(curve_table(both_poor), PROTOCOL, **LARGER)
    assert not outcome.passed and min(outcome.values) == pytest.approx(50.0)
    assert "batch-norm under the 85% floor in 3 seed(s)" in outcome.detail


def test_tolerates_larger_eta_counts_a_plain_net_without_an_accuracy_at_chance():
    table = curve_table()
    nan = (table.network == "plain") & (table.eta == 30.0) & (table.epoch == 8)
    table.loc[nan, "value"] = math.nan
    outcome = checks.tolerates_larger_eta(table, PROTOCOL, **LARGER)
    assert outcome.passed and outcome.values == pytest.approx([82.0, 82.1, 82.2])


def test_tolerates_larger_eta_fails_when_ten_times_the_base_was_not_trained():
    no_large = {k: v for k, v in CURVES.items() if k[1] != 30.0}
    outcome = checks.tolerates_larger_eta(curve_table(no_large), PROTOCOL, **LARGER)
    assert not outcome.passed and "add it to etas" in outcome.detail


def test_every_claim_quotes_the_slide_declares_its_kind_and_names_its_params():
    experiment = load("batch-norm")
    assert [c.check for c in experiment.claims] == list(checks.CHECKS)
    for claim in experiment.claims:
        assert claim.quote == "Smoothing landscape; E.g. batch normalisation"
        assert claim.kind == "empirical"
        assert all(f"{{{name}}}" in claim.text for name in claim.params)


def test_both_networks_start_from_the_same_weights_in_two_stacks():
    specs = run.specs(PROTOCOL, [0, 1, 2])
    assert [len(g) for g in stacks(specs)] == [9, 9]
    plain, norm = (
        initial_parameters(s, torch.Generator().manual_seed(s.seed))
        for s in specs
        if s.seed == 2 and s.eta == 3.0
    )
    for (w, b), (w0, b0) in zip(plain, norm):
        assert torch.equal(w, w0) and torch.equal(b, b0)


def test_the_unit_s_percentiles_are_those_of_its_sigmoid_s_input():
    spec = ModelSpec("v", 0, (6, 5, 4, 3), batch_norm=True, batch_size=4)
    net = StackedMLP([spec, ModelSpec("v", 1, (6, 5, 4, 3), batch_norm=True, batch_size=4)])
    net.norm.gamma[1].fill_(2.0)
    images = torch.randn(50, 6, generator=torch.Generator().manual_seed(0))
    values = run.unit_input_percentiles(images)(net)
    z = net.forward(images).zs[1][:, :, 0].double().numpy()
    for p in run.PERCENTILES:
        assert values[f"unit_input_p{p}"].numpy() == pytest.approx(np.percentile(z, p, axis=1))


def test_a_last_mini_batch_of_one_image_is_said_before_training():
    experiment = load("batch-norm")
    with pytest.raises(ExperimentError, match="leaves a last mini-batch of one image"):
        prepare(experiment, "lecture", {"train_images": 6001}, None)


@needs_mnist
def test_tiny_run_records_both_networks_and_checks_both_claims(tmp_path):
    result = dlexp("run", "batch-norm", "--scale", "tiny", "--out", str(tmp_path), "--quiet")
    assert result.exit_code in (0, 1), result.output
    folder = tmp_path / "batch-norm" / "tiny"
    metrics = pd.read_csv(folder / "metrics.csv")
    assert set(metrics.network) == {"plain", "batch-norm"}
    percentiles = {f"unit_input_p{p}" for p in run.PERCENTILES}
    assert set(metrics.metric) - {DIVERGED} == {"validation_accuracy", "validation_cost"} | (
        percentiles
    )
    unit = metrics[metrics.metric.isin(percentiles)].pivot_table(
        index=["network", "eta", "seed", "epoch"], columns="metric", values="value"
    )
    assert (unit["unit_input_p15"] <= unit["unit_input_p50"]).all()
    assert (unit["unit_input_p50"] <= unit["unit_input_p85"]).all()
    info = json.loads((folder / "run.json").read_text())
    verdicts = {c["id"]: c for c in info["claims"]}
    assert set(verdicts) == {"fewer-steps", "tolerates-larger-eta"}
    assert all(c["n"] == 2 for c in verdicts.values()), verdicts
    assert len(list((folder / "figures").glob("*.png"))) == 3
