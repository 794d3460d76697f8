"""The mse-vs-bce finding: the single neuron's exact gradient descent (checked by hand), the
output-layer error signal, every claim check on small hand-made tables that agree with the claim
(PASS) and that contradict it (FAIL), and the experiment end to end at tiny scale on real MNIST."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from dlexp.claims import check_claims
from dlexp.data import Split, synthetic_classification
from dlexp.model_spec import ModelSpec
from dlexp.models import StackedMLP
from dlexp.protocol import validate_protocol
from dlexp.registry import ExperimentError, load
from dlexp.table import tidy
from dlexp.trainer import Schedule, stacks, train_stack

from .helpers import code, dlexp, needs_mnist

run = code("mse-vs-bce", "run")
checks = code("mse-vs-bce", "checks")
Protocol = code("mse-vs-bce", "protocol").Protocol

NEURON = {"unsaturated": [0.6, 0.9], "saturated": [2.0, 2.0], "eta": 0.15, "epochs": 300}
EXAMPLE = Split(torch.ones(1, 1), torch.zeros(1, dtype=torch.long))
PROTOCOL = {"neuron": NEURON, "mnist": {"epochs": 4, "best_eta_after": 1}}


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
    net = run.single_neuron(StackedMLP(run.neuron_specs(NEURON)), NEURON)
    return train_stack(net, EXAMPLE, Schedule(epochs), [run.neuron_readings(EXAMPLE)])


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


def test_the_gradient_checks_hold_on_the_real_neurons_with_the_lectures_numbers():
    table = trained_neurons(epochs=1)
    smaller = checks.mse_gradient_smaller_when_saturated(table, PROTOCOL)
    expected = (0.982**2 * 0.018) / (0.818**2 * 0.182)
    assert smaller.passed and smaller.values == [pytest.approx(expected, rel=0.02)]
    larger = checks.bce_gradient_larger_when_wrong(table, PROTOCOL)
    assert larger.passed and larger.values == [pytest.approx(0.982 / 0.818, rel=1e-3)]


def test_the_stacked_neurons_follow_gradient_descent_by_hand():
    table = trained_neurons()
    output = table[table.metric == "output"]
    for cost in run.NEURON_COSTS:
        for start in run.STARTS:
            ours = checks.one_neuron(output, cost, start).sort_values("epoch")["value"]
            expected = by_hand(cost, *NEURON[start], eta=0.15, epochs=300)
            np.testing.assert_allclose(ours.to_numpy()[1:], expected, rtol=1e-4, atol=1e-6)
    epochs = {
        (cost, start): checks.epochs_to_fall_below(table, cost, start, 0.5)
        for cost in run.NEURON_COSTS
        for start in run.STARTS
    }
    assert epochs == {
        ("mse", "unsaturated"): 36,
        ("mse", "saturated"): 232,
        ("bce", "unsaturated"): 8,
        ("bce", "saturated"): 17,
    }


def test_each_costs_slow_down_is_the_same_for_every_small_eta():
    """The reason the slow-down claim may share one η: by hand, its ratio barely moves with η."""

    def ratio(cost: str, eta: float) -> float:
        def epochs(w: float, b: float) -> int:
            outputs = by_hand(cost, w, b, eta, epochs=20_000)
            return next(e for e, y in enumerate(outputs, start=1) if y < 0.5)

        return epochs(2.0, 2.0) / epochs(0.6, 0.9)

    for cost, expected in (("mse", 6.4), ("bce", 2.2)):
        assert [ratio(cost, eta) for eta in (0.005, 0.05, 0.15)] == pytest.approx(
            [expected] * 3, abs=0.1
        )


def test_output_gradient_magnitude_is_the_mean_absolute_output_error():
    data = synthetic_classification(40, n_features=12, n_classes=4, seed=1)
    specs = [
        ModelSpec(variant=cost, seed=0, sizes=(12, 6, 4), weight_init="large", **run.COSTS[cost])
        for cost in run.COSTS
    ]
    net = StackedMLP(specs)
    measured = run.output_gradient_magnitude(data)(net)["output_gradient"]
    y = torch.nn.functional.one_hot(data.labels, 4).float()
    z = net.forward(data.images).zs[-1]
    sigma = torch.sigmoid(z[0])
    expected = {
        "mse": ((sigma - y) * sigma * (1 - sigma)).abs().mean(),
        "bce": (torch.sigmoid(z[1]) - y).abs().mean(),
        "softmax-nll": (torch.softmax(z[2], dim=-1) - y).abs().mean(),
    }
    for m, cost in enumerate(run.COSTS):
        torch.testing.assert_close(measured[m], expected[cost])
    assert measured[0] < measured[1]


def test_every_mnist_model_shares_one_stack_and_each_cost_gets_its_own_sweep():
    mnist = {
        "hidden_units": 30,
        "batch_size": 10,
        "eta_sweep": {"mse": [1.0, 3.0, 10.0], "bce": [0.1, 0.3], "softmax-nll": [0.3]},
    }
    specs = run.mnist_specs(mnist, seeds=[0, 1, 2])
    assert len(specs) == 2 * (3 + 2 + 1) * 3
    assert len(stacks(specs)) == 1
    etas = {(s.params["cost"], s.weight_init): set() for s in specs}
    for spec in specs:
        etas[(spec.params["cost"], spec.weight_init)].add(spec.eta)
    assert etas[("mse", "large")] == etas[("mse", "normalized")] == {1.0, 3.0, 10.0}
    assert etas[("bce", "normalized")] == {0.1, 0.3}
    assert {(s.output, s.cost) for s in specs if s.params["cost"] == "mse"} == {
        ("sigmoid", "quadratic")
    }


def test_the_eta_is_chosen_within_training():
    protocol = load("mse-vs-bce").resolve("tiny")
    assert validate_protocol(Protocol, protocol)["mnist"]["best_eta_after"] == 1
    protocol["mnist"]["best_eta_after"] = protocol["mnist"]["epochs"] + 1
    with pytest.raises(ExperimentError, match="best_eta_after"):
        validate_protocol(Protocol, protocol)


# Hand-made tables, written to CSV and read back as the report sees them.


def read_back(rows: list[dict], tmp_path) -> pd.DataFrame:
    tidy(pd.DataFrame(rows)).to_csv(tmp_path / "metrics.csv", index=False)
    return pd.read_csv(tmp_path / "metrics.csv")


def neuron_rows(values: dict[tuple[str, str, str], list[float]]) -> list[dict]:
    """Per (cost, start, metric) its value at epochs 0, 1, …"""
    return [
        {"variant": f"{cost}, {start} start", "seed": 0, "epoch": epoch, "layer": 0,
         "metric": metric, "value": value, "part": "neuron", "cost": cost, "start": start,
         "eta": 0.15}
        for (cost, start, metric), series in values.items()
        for epoch, value in enumerate(series)
    ]  # fmt: skip


def start_gradients(mse: tuple[float, float], bce: tuple[float, float]) -> list[dict]:
    """|∂C/∂w| before any step, (unsaturated, saturated) per cost, outputs 0.82 and 0.98."""
    values = {}
    for cost, gradients in (("mse", mse), ("bce", bce)):
        for start, gradient, output in zip(run.STARTS, gradients, (0.82, 0.98)):
            values[(cost, start, "dC_dw")] = [gradient]
            values[(cost, start, "output")] = [output]
    return neuron_rows(values)


def test_mse_gradient_check_fails_when_the_saturated_start_has_the_larger_gradient(tmp_path):
    agree = read_back(start_gradients(mse=(0.12, 0.017), bce=(0.82, 0.98)), tmp_path)
    outcome = checks.mse_gradient_smaller_when_saturated(agree, PROTOCOL)
    assert outcome.passed and outcome.values == [pytest.approx(0.017 / 0.12)]
    assert "0.017 at the saturated start (ŷ₀ = 0.980)" in outcome.detail
    contradict = read_back(start_gradients(mse=(0.12, 0.2), bce=(0.82, 0.98)), tmp_path)
    assert not checks.mse_gradient_smaller_when_saturated(contradict, PROTOCOL).passed


def test_bce_gradient_check_fails_when_the_more_wrong_start_has_the_smaller_gradient(tmp_path):
    agree = read_back(start_gradients(mse=(0.12, 0.017), bce=(0.82, 0.98)), tmp_path)
    outcome = checks.bce_gradient_larger_when_wrong(agree, PROTOCOL)
    assert outcome.passed and outcome.values == [pytest.approx(0.98 / 0.82)]
    contradict = read_back(start_gradients(mse=(0.12, 0.017), bce=(0.82, 0.5)), tmp_path)
    assert not checks.bce_gradient_larger_when_wrong(contradict, PROTOCOL).passed


def falling(steps_at_top: int, start: float = 0.9, epochs: int = 12) -> list[float]:
    """An output that stays at `start` for `steps_at_top` epochs, then drops to 0.1."""
    return [start if e <= steps_at_top else 0.1 for e in range(epochs + 1)]


def outputs(mse: tuple[list, list], bce: tuple[list, list]) -> list[dict]:
    """Output trajectories (unsaturated, saturated) per cost."""
    return neuron_rows(
        {
            (cost, start, "output"): series
            for cost, pair in (("mse", mse), ("bce", bce))
            for start, series in zip(run.STARTS, pair)
        }
    )


def test_slow_down_check_compares_each_costs_own_ratio_of_epochs(tmp_path):
    params = {"below": 0.5, "min_factor": 2.0}
    # MSE 2 → 9 epochs (×4.5), BCE 1 → 2 (×2): MSE slowed 2.25× as much.
    agree = read_back(outputs(mse=(falling(1), falling(8)), bce=(falling(0), falling(1))), tmp_path)
    outcome = checks.saturation_slows_mse_more(agree, PROTOCOL, **params)
    assert outcome.passed and outcome.values == [pytest.approx(2.25)]
    assert "MSE: ŷ < 0.5 after 2 epochs (unsaturated), 9 (saturated), ratio 4.5" in outcome.detail
    # BCE needs fewer epochs than MSE from both starts, yet both are slowed alike (×2): FAIL.
    alike = read_back(outputs(mse=(falling(3), falling(7)), bce=(falling(0), falling(1))), tmp_path)
    assert not checks.saturation_slows_mse_more(alike, PROTOCOL, **params).passed
    stuck = read_back(
        outputs(mse=(falling(1), falling(99)), bce=(falling(0), falling(1))), tmp_path
    )
    assert checks.saturation_slows_mse_more(stuck, PROTOCOL, **params).passed
    both_stuck = read_back(
        outputs(mse=(falling(1), falling(99)), bce=(falling(0), falling(99))), tmp_path
    )
    never = checks.saturation_slows_mse_more(both_stuck, PROTOCOL, **params)
    assert not never.passed and math.isnan(never.values[0])


def mnist_rows(accuracy: dict[tuple[str, str, float, int], list[float]]) -> list[dict]:
    """Validation accuracy per epoch 0… for each (cost, init, η, seed)."""
    return [
        {"variant": f"{cost}, {init} init, η = {eta:g}", "seed": seed, "epoch": epoch,
         "layer": 0, "metric": "validation_accuracy", "value": value, "part": "mnist",
         "cost": cost, "init": init, "eta": eta}
        for (cost, init, eta, seed), values in accuracy.items()
        for epoch, value in enumerate(values)
    ]  # fmt: skip


def sweep(
    init: str, mse: dict[float, list[float]], bce: dict[float, list[float]]
) -> dict[tuple[str, str, float, int], list[float]]:
    """Two seeds per η; seed 1 one point below seed 0 at every epoch after the first."""
    return {
        (cost, init, eta, seed): [0.1] + [a - 0.01 * seed for a in curve[1:]]
        for cost, by_eta in (("mse", mse), ("bce", bce))
        for eta, curve in by_eta.items()
        for seed in (0, 1)
    }


BCE_SWEEP = {
    0.3: [0.1, 0.85, 0.90, 0.92, 0.93],
    1.0: [0.1, 0.92, 0.93, 0.94, 0.95],
    3.0: [0.1, 0.80, 0.85, 0.88, 0.90],
}
# N(0, 1): at a shared η = 1 BCE is far ahead, yet MSE at its own best η (3) is ahead of BCE at
# its own best η (1): the checks must compare the costs at their own best η.
MSE_CATCHES_UP = sweep(
    "large",
    mse={1.0: [0.1, 0.50, 0.80, 0.90, 0.94], 3.0: [0.1, 0.93, 0.94, 0.95, 0.95],
         10.0: [0.1, 0.60, 0.70, 0.80, 0.85]},
    bce=BCE_SWEEP,
)  # fmt: skip
MSE_SLOW = sweep(
    "large",
    mse={1.0: [0.1, 0.50, 0.80, 0.90, 0.94], 3.0: [0.1, 0.85, 0.89, 0.905, 0.905],
         10.0: [0.1, 0.60, 0.70, 0.80, 0.85]},
    bce=BCE_SWEEP,
)  # fmt: skip
MSE_BEST_AT_EDGE = {3.0: [0.1, 0.5, 0.6, 0.7, 0.8], 10.0: [0.1, 0.9, 0.9, 0.9, 0.9]}


def test_best_eta_is_each_costs_highest_mean_after_the_chosen_epoch(tmp_path):
    table = read_back(mnist_rows(MSE_SLOW), tmp_path)
    assert checks.best_etas(table, PROTOCOL, "large") == {"mse": 3.0, "bce": 1.0}
    later = {"mnist": {**PROTOCOL["mnist"], "best_eta_after": 4}}
    assert checks.best_etas(table, later, "large") == {"mse": 1.0, "bce": 1.0}
    assert checks.eta_note(table, PROTOCOL, "large") == "N(0, 1) init, best η: MSE 3, BCE 1"
    edge = sweep("large", mse=MSE_BEST_AT_EDGE, bce={1.0: [0.1, 0.9, 0.9, 0.9, 0.9]})
    edge = read_back(mnist_rows(edge), tmp_path)
    assert "MSE 10 (at its sweep's edge), BCE 1 (at its sweep's edge)" in checks.eta_note(
        edge, PROTOCOL, "large"
    )


def test_bce_ahead_check_compares_each_cost_at_its_own_best_eta(tmp_path):
    agree = read_back(mnist_rows(MSE_SLOW), tmp_path)
    outcome = checks.bce_ahead_at_own_eta(agree, PROTOCOL, epoch=1)
    assert outcome.passed and outcome.values == pytest.approx([7.0, 7.0])
    assert "after epoch 1: BCE 91.50%, MSE 84.50% (mean); BCE ahead in 2/2 seeds" in outcome.detail
    contradict = read_back(mnist_rows(MSE_CATCHES_UP), tmp_path)
    outcome = checks.bce_ahead_at_own_eta(contradict, PROTOCOL, epoch=1)
    assert not outcome.passed and outcome.values == pytest.approx([-1.0, -1.0])


def test_reaching_ninety_percent_sooner_fails_on_a_tie_and_counts_never_as_epochs_plus_one(
    tmp_path,
):
    agree = read_back(mnist_rows(MSE_SLOW), tmp_path)
    outcome = checks.bce_reaches_accuracy_sooner(agree, PROTOCOL, accuracy=0.9)
    assert outcome.passed and outcome.values == pytest.approx([3 - 1, 5 - 1])  # seed 1: never
    assert "epochs to 90% per seed: BCE 1, 1; MSE 3, never" in outcome.detail
    tie = read_back(mnist_rows(MSE_CATCHES_UP), tmp_path)
    outcome = checks.bce_reaches_accuracy_sooner(tie, PROTOCOL, accuracy=0.9)
    assert not outcome.passed and outcome.values == [0.0, 0.0]
    never = checks.bce_reaches_accuracy_sooner(agree, PROTOCOL, accuracy=0.99)
    assert not never.passed and never.values == [0.0, 0.0]


def test_saturation_check_fails_when_the_lead_is_as_large_without_saturation(tmp_path):
    small_lead = sweep(
        "normalized",
        mse={1.0: [0.1, 0.90, 0.92, 0.93, 0.94]},
        bce={0.3: [0.1, 0.91, 0.93, 0.94, 0.95]},
    )
    agree = read_back(mnist_rows({**MSE_SLOW, **small_lead}), tmp_path)
    outcome = checks.saturation_widens_bce_lead(agree, PROTOCOL, epoch=1)
    assert outcome.passed and outcome.values == pytest.approx([6.0, 6.0])  # 7 − 1 points
    assert "+7.00 points with N(0, 1) weights, +1.00 with N(0, 1/n)" in outcome.detail
    big_lead = sweep(
        "normalized",
        mse={1.0: [0.1, 0.80, 0.92, 0.93, 0.94]},
        bce={0.3: [0.1, 0.91, 0.93, 0.94, 0.95]},
    )
    contradict = read_back(mnist_rows({**MSE_SLOW, **big_lead}), tmp_path)
    outcome = checks.saturation_widens_bce_lead(contradict, PROTOCOL, epoch=1)
    assert not outcome.passed and outcome.values == pytest.approx([-4.0, -4.0])


@needs_mnist
def test_the_experiment_runs_end_to_end_at_tiny_scale(tmp_path):
    result = dlexp("run", "mse-vs-bce", "--scale", "tiny", "--out", str(tmp_path), "--quiet")
    assert result.exit_code in (0, 1), result.output
    folder = tmp_path / "mse-vs-bce" / "tiny"
    table = pd.read_csv(folder / "metrics.csv")
    neuron = table[table.part == "neuron"]
    assert set(neuron.metric) == {"output", "cost", "dC_dw", "dC_db"}
    assert neuron.epoch.max() == 300 and set(neuron.seed) == {0}
    mnist = table[table.part == "mnist"]
    assert set(mnist.metric) == {"validation_accuracy", "validation_cost", "output_gradient"}
    assert set(mnist.cost) == {"mse", "bce", "softmax-nll"}
    assert set(mnist.init) == {"large", "normalized"}
    assert sorted(mnist[mnist.cost == "mse"].eta.unique()) == [1.0, 3.0, 10.0, 30.0]
    assert set(mnist.seed) == {0, 1} and mnist.epoch.max() == 2
    gradient = mnist[(mnist.metric == "output_gradient") & (mnist.epoch == 0)]
    gradient = gradient.groupby(["init", "cost"])["value"].mean()
    assert gradient[("large", "mse")] < gradient[("large", "bce")] / 3
    info = json.loads((folder / "run.json").read_text())
    recorded = {c["id"]: c["passed"] for c in info["claims"]}
    assert (
        recorded["mse-gradient-small-when-saturated"] and recorded["bce-gradient-large-when-wrong"]
    )
    assert recorded["saturation-slows-mse"]
    rechecked = check_claims(load("mse-vs-bce").claims, checks.CHECKS, table, info["protocol"])
    assert {v.id: v.passed for v in rechecked} == recorded
    figures = sorted(p.name for p in (folder / "figures").iterdir())
    assert figures == sorted(
        f"{name}.{suffix}"
        for name in (
            "single_neuron_output_and_cost",
            "output_gradient_vs_output",
            "mnist_eta_sweep",
            "mnist_validation_error",
            "mnist_output_gradient",
        )
        for suffix in ("png", "svg")
    )
