"""The mse-vs-bce finding: the single neuron's exact gradient descent, the output-layer error
signal, the claim checks on small synthetic tables, and the experiment end to end at tiny scale."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from dlexp.claims import check_claims
from dlexp.cli import app
from dlexp.data import Split, synthetic_classification
from dlexp.models import ModelSpec, StackedMLP
from dlexp.registry import load
from dlexp.results import tidy
from dlexp.trainer import Schedule, stacks, train_stack
from tests.helpers import code

finding = code("mse-vs-bce", "run")

NEURON = {"unsaturated": [0.6, 0.9], "saturated": [2.0, 2.0], "eta": 0.15, "epochs": 300}
EXAMPLE = Split(torch.ones(1, 1), torch.zeros(1, dtype=torch.long))
PROTOCOL = {
    "neuron": NEURON,
    "mnist": {"eta": 0.5, "eta_sweep": [0.1], "epochs": 4, "batch_size": 10, "hidden_units": 30},
}


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def by_hand(cost: str, w: float, b: float, eta: float, epochs: int) -> list[float]:
    """ŷ after each epoch of gradient descent on x = 1, y = 0, written out in plain Python:
    ∂C/∂z = ŷ σ'(z) for MSE and ŷ for BCE, and ∂C/∂w = ∂C/∂b = ∂C/∂z since x = 1."""
    outputs = []
    for _ in range(epochs):
        y_hat = sigmoid(w + b)
        delta = y_hat * y_hat * (1 - y_hat) if cost == "mse" else y_hat
        w, b = w - eta * delta, b - eta * delta
        outputs.append(sigmoid(w + b))
    return outputs


def trained_neurons(epochs: int = 300) -> pd.DataFrame:
    net = finding.single_neuron(
        StackedMLP(finding.neuron_specs(NEURON)), {**NEURON, "epochs": epochs}
    )
    return train_stack(net, EXAMPLE, Schedule(epochs), [finding.neuron_readings(EXAMPLE)])


def test_neuron_readings_are_the_lectures_formulas_at_the_start():
    table = trained_neurons(epochs=1)
    start = table[table.epoch == 0].set_index(["cost", "start", "metric"])["value"]
    for name, (w, b) in (("unsaturated", (0.6, 0.9)), ("saturated", (2.0, 2.0))):
        y_hat = sigmoid(w + b)
        assert start[("mse", name, "output")] == pytest.approx(y_hat, rel=1e-6)
        assert start[("mse", name, "cost")] == pytest.approx(0.5 * y_hat**2, rel=1e-5)
        assert start[("bce", name, "cost")] == pytest.approx(-math.log(1 - y_hat), rel=1e-5)
        mse_gradient = y_hat * y_hat * (1 - y_hat)  # (ŷ − y) σ'(z), x = 1
        for metric in ("dC_dw", "dC_db"):
            assert start[("mse", name, metric)] == pytest.approx(mse_gradient, rel=1e-5)
            assert start[("bce", name, metric)] == pytest.approx(y_hat, rel=1e-5)
    assert start[("mse", "saturated", "output")] == pytest.approx(0.982, abs=1e-3)
    assert start[("mse", "unsaturated", "output")] == pytest.approx(0.818, abs=1e-3)


def test_the_saturated_mse_neuron_starts_with_the_smallest_gradient():
    start = trained_neurons(epochs=1).query("epoch == 0 and metric == 'dC_dw'")
    gradient = start.set_index(["cost", "start"])["value"]
    assert gradient[("mse", "saturated")] < gradient[("mse", "unsaturated")] / 5
    assert gradient[("bce", "saturated")] > gradient[("bce", "unsaturated")]


def test_the_stacked_neurons_follow_gradient_descent_by_hand():
    table = trained_neurons()
    output = table[table.metric == "output"]
    for cost in finding.NEURON_COSTS:
        for start in finding.STARTS:
            ours = finding.one_neuron(output, cost, start).sort_values("epoch")["value"]
            expected = by_hand(cost, *NEURON[start], eta=0.15, epochs=300)
            np.testing.assert_allclose(ours.to_numpy()[1:], expected, rtol=1e-4, atol=1e-6)
    epochs = {
        (cost, start): finding.epochs_to_fall_below(table, cost, start, 0.5)
        for cost in finding.NEURON_COSTS
        for start in finding.STARTS
    }
    assert epochs == {
        ("mse", "unsaturated"): 36,
        ("mse", "saturated"): 232,
        ("bce", "unsaturated"): 8,
        ("bce", "saturated"): 17,
    }


def test_output_gradient_magnitude_is_the_mean_absolute_output_error():
    data = synthetic_classification(40, n_features=12, n_classes=4, seed=1)
    specs = [
        ModelSpec(
            variant=cost, seed=0, sizes=(12, 6, 4), weight_init="large", **finding.COSTS[cost]
        )
        for cost in finding.COSTS
    ]
    net = StackedMLP(specs)
    measured = finding.output_gradient_magnitude(data)(net)["output_gradient"]
    y = torch.nn.functional.one_hot(data.labels, 4).float()
    z = net.forward(data.images).zs[-1]
    sigma = torch.sigmoid(z[0])
    expected = {
        "mse": ((sigma - y) * sigma * (1 - sigma)).abs().mean(),
        "bce": (torch.sigmoid(z[1]) - y).abs().mean(),
        "softmax-nll": (torch.softmax(z[2], dim=-1) - y).abs().mean(),
    }
    for m, cost in enumerate(finding.COSTS):
        torch.testing.assert_close(measured[m], expected[cost])
    assert measured[0] < measured[1]


def test_every_mnist_model_shares_one_stack_and_the_claims_eta_is_not_repeated():
    mnist = {"eta": 0.5, "eta_sweep": [0.1, 0.5, 2.0], "hidden_units": 30, "batch_size": 10}
    specs = finding.mnist_specs(mnist, seeds=[0, 1, 2])
    assert finding.mnist_etas(mnist) == [0.5, 0.1, 2.0]
    assert len(specs) == 3 * 3 * 3
    assert len(stacks(specs)) == 1
    assert {(s.output, s.cost, s.weight_init) for s in specs} == {
        ("sigmoid", "quadratic", "large"),
        ("sigmoid", "cross-entropy", "large"),
        ("softmax", "cross-entropy", "large"),
    }


def neuron_rows(outputs: dict[tuple[str, str], list[float]]) -> list[dict]:
    return [
        {"variant": f"{cost}, {start} start", "seed": 0, "epoch": epoch, "layer": 0,
         "metric": "output", "value": value, "part": "neuron", "cost": cost, "start": start,
         "eta": 0.15}
        for (cost, start), values in outputs.items()
        for epoch, value in enumerate(values)
    ]  # fmt: skip


def mnist_rows(accuracy: dict[tuple[str, float, int], list[float]]) -> list[dict]:
    """Validation accuracy per epoch 0… for each (cost, η, seed)."""
    return [
        {"variant": f"{cost}, η = {eta:g}", "seed": seed, "epoch": epoch, "layer": 0,
         "metric": "validation_accuracy", "value": value, "part": "mnist", "cost": cost,
         "eta": eta}
        for (cost, eta, seed), values in accuracy.items()
        for epoch, value in enumerate(values)
    ]  # fmt: skip


def read_back(rows: list[dict], tmp_path) -> pd.DataFrame:
    """The table as the report sees it: written to CSV and read back."""
    tidy(pd.DataFrame(rows)).to_csv(tmp_path / "metrics.csv", index=False)
    return pd.read_csv(tmp_path / "metrics.csv")


def falling(start: float, steps_at_top: int, epochs: int = 12) -> list[float]:
    """An output that stays at `start` for `steps_at_top` epochs, then drops to 0.1."""
    return [start if e <= steps_at_top else 0.1 for e in range(epochs + 1)]


def test_neuron_checks_count_epochs_to_fall_below_a_half(tmp_path):
    rows = neuron_rows(
        {
            ("mse", "unsaturated"): falling(0.8, 1),  # below 0.5 after epoch 2
            ("mse", "saturated"): falling(0.98, 8),  # after epoch 9: 4.5×
            ("bce", "unsaturated"): falling(0.8, 0),
            ("bce", "saturated"): falling(0.98, 1),  # after epoch 2: 2/9 of MSE's
        }
    )
    table = read_back(rows + mnist_rows({("mse", 0.5, 0): [0.1, 0.2]}), tmp_path)
    slow = finding.mse_slow_when_saturated(table, PROTOCOL, below=0.5, min_ratio=4.0)
    assert slow.passed and slow.values == [pytest.approx(4.5)]
    assert not finding.mse_slow_when_saturated(table, PROTOCOL, below=0.5, min_ratio=5.0).passed
    fast = finding.bce_fast_when_wrong(table, PROTOCOL, below=0.5, max_ratio=0.25)
    assert fast.passed and fast.values == [pytest.approx(2 / 9)]
    assert "2 epochs with BCE, 9 with MSE" in fast.detail


def test_a_saturated_mse_neuron_that_never_falls_is_infinitely_slow(tmp_path):
    rows = neuron_rows(
        {
            ("mse", "unsaturated"): falling(0.8, 1),
            ("mse", "saturated"): [0.98] * 13,
            ("bce", "unsaturated"): falling(0.8, 0),
            ("bce", "saturated"): [0.98] * 13,
        }
    )
    table = read_back(rows, tmp_path)
    assert finding.mse_slow_when_saturated(table, PROTOCOL, below=0.5, min_ratio=4.0).passed
    both_stuck = finding.bce_fast_when_wrong(table, PROTOCOL, below=0.5, max_ratio=0.25)
    assert not both_stuck.passed and math.isnan(both_stuck.values[0])


ACCURACY = {
    ("bce", 0.5, 0): [0.1, 0.85, 0.91, 0.93, 0.94],
    ("mse", 0.5, 0): [0.1, 0.40, 0.70, 0.88, 0.91],
    ("bce", 0.5, 1): [0.1, 0.80, 0.89, 0.92, 0.93],
    ("mse", 0.5, 1): [0.1, 0.50, 0.80, 0.85, 0.89],
    ("softmax-nll", 0.5, 0): [0.1, 0.9, 0.9, 0.9, 0.9],
    ("softmax-nll", 0.5, 1): [0.1, 0.9, 0.9, 0.9, 0.9],
    ("bce", 0.1, 0): [0.1, 0.30, 0.50, 0.60, 0.70],
    ("mse", 0.1, 0): [0.1, 0.35, 0.40, 0.50, 0.60],
    ("bce", 0.1, 1): [0.1, 0.30, 0.50, 0.60, 0.70],
    ("mse", 0.1, 1): [0.1, 0.20, 0.40, 0.50, 0.60],
}


def test_bce_ahead_after_epoch_one_in_every_seed(tmp_path):
    table = read_back(mnist_rows(ACCURACY), tmp_path)
    ahead = finding.bce_ahead_after_epoch(table, PROTOCOL, epoch=1)
    assert ahead.passed
    assert ahead.values == [pytest.approx(45.0), pytest.approx(30.0)]
    assert "η = 0.1: 1/2 seeds" in ahead.detail
    behind = {**ACCURACY, ("mse", 0.5, 1): [0.1, 0.81, 0.8, 0.85, 0.89]}
    table = read_back(mnist_rows(behind), tmp_path)
    assert not finding.bce_ahead_after_epoch(table, PROTOCOL, epoch=1).passed


def test_bce_reaches_ninety_percent_sooner_counting_never_as_epochs_plus_one(tmp_path):
    table = read_back(mnist_rows(ACCURACY), tmp_path)
    sooner = finding.bce_reaches_accuracy_sooner(table, PROTOCOL, accuracy=0.9)
    assert sooner.passed
    assert sooner.values == [pytest.approx(4 - 2), pytest.approx(5 - 3)]  # MSE never in seed 1
    assert "BCE 2, 3; MSE 4, never" in sooner.detail
    assert "η = 0.1: 0/2 seeds" in sooner.detail
    never = finding.bce_reaches_accuracy_sooner(table, PROTOCOL, accuracy=0.95)
    assert not never.passed and never.values == [0.0, 0.0]


REAL_DATA_DIR = os.environ.get("DLEXP_DATA_DIR")


@pytest.mark.skipif(not REAL_DATA_DIR, reason="DLEXP_DATA_DIR is unset: no real MNIST to run on")
def test_the_experiment_runs_end_to_end_at_tiny_scale(tmp_path):
    args = ["run", "mse-vs-bce", "--scale", "tiny", "--out", str(tmp_path), "--quiet"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code in (0, 1), result.output
    folder = tmp_path / "mse-vs-bce" / "tiny"
    table = pd.read_csv(folder / "metrics.csv")
    neuron = table[table.part == "neuron"]
    assert set(neuron.metric) == {"output", "cost", "dC_dw", "dC_db"}
    assert neuron.epoch.max() == 300 and set(neuron.seed) == {0}
    mnist = table[table.part == "mnist"]
    assert set(mnist.metric) == {"validation_accuracy", "validation_cost", "output_gradient"}
    assert set(mnist.cost) == {"mse", "bce", "softmax-nll"}
    assert sorted(mnist.eta.unique()) == [0.1, 0.5, 2.0]
    assert set(mnist.seed) == {0, 1} and mnist.epoch.max() == 2
    at_half = mnist[(mnist.eta == 0.5) & (mnist.epoch == 1)]
    accuracy = at_half[at_half.metric == "validation_accuracy"].groupby("cost")["value"].mean()
    assert accuracy["bce"] > accuracy["mse"]
    gradient = mnist[(mnist.metric == "output_gradient") & (mnist.epoch == 0)]
    gradient = gradient.groupby("cost")["value"].mean()
    assert gradient["mse"] < gradient["bce"] / 3
    info = json.loads((folder / "run.json").read_text())
    recorded = {c["id"]: c["passed"] for c in info["claims"]}
    assert recorded["mse-saturated-slow"] and recorded["bce-saturated-fast"]
    rechecked = check_claims(load("mse-vs-bce").claims, finding.CHECKS, table, info["protocol"])
    assert {v.id: v.passed for v in rechecked} == recorded
    figures = sorted(p.name for p in (folder / "figures").iterdir())
    assert figures == sorted(
        f"{name}.{suffix}"
        for name in (
            "single_neuron_output_and_cost",
            "output_gradient_vs_output",
            "mnist_validation_accuracy",
            "mnist_output_gradient",
        )
        for suffix in ("png", "svg")
    )
