"""The dying-ReLU finding: its dead-unit measure, its claim checks and its end-to-end run."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch

from dlexp.data import synthetic_classification
from dlexp.models import ModelSpec, StackedMLP
from dlexp.registry import load

from .helpers import code, dlexp, needs_mnist

dying_relu = code("dying-relu", "run")

DATA = synthetic_classification(120, n_features=20, n_classes=4, seed=1)
PROTOCOL = load("dying-relu").resolve("lecture")


def relu_spec(**changes) -> ModelSpec:
    base = ModelSpec(
        variant="relu",
        seed=0,
        sizes=(20, 8, 8, 4),
        activation="relu",
        weight_init="he",
        bias_std=0.0,
        output="softmax",
    )
    return replace(base, **changes)


def net_with_one_dead_unit() -> StackedMLP:
    """A ReLU and a leaky-ReLU model (same initialisation) whose unit 0 of hidden layer 1 has
    z ≤ 0 for every input (bias −1000, inputs in [0, 1]) and whose other units there fire for
    every input (bias +1000)."""
    net = StackedMLP([relu_spec(), relu_spec(variant="leaky", leak=0.01)])
    net.biases[0][:] = 1000.0
    net.biases[0][:, 0] = -1000.0
    return net


def test_a_unit_negative_for_every_input_is_dead_and_only_leaky_gets_a_gradient():
    net = net_with_one_dead_unit()
    values = dying_relu.dead_units(DATA, gradient_images=60)(net)
    assert values["dead_fraction"][:, 0].tolist() == [1 / 8, 1 / 8]
    assert values["diverged"].tolist() == [0.0, 0.0]
    relu_gradient, leaky_gradient = values["dead_unit_gradient"][:, 0].tolist()
    assert relu_gradient == 0.0
    assert leaky_gradient > 0.0
    assert "still_dead_fraction" not in values


def test_the_dead_unit_gradient_is_the_mean_bias_gradient_of_the_dead_units():
    net = net_with_one_dead_unit()
    values = dying_relu.dead_units(DATA, gradient_images=60)(net)
    _, grad_b = net.gradients(DATA.images[:60], DATA.labels[:60])
    expected = grad_b[0][1, 0].abs().item()
    assert values["dead_unit_gradient"][1, 0].item() == pytest.approx(expected, rel=1e-6)


def test_still_dead_compares_with_the_previous_measurement_of_the_same_stack():
    net = net_with_one_dead_unit()
    measure = dying_relu.dead_units(DATA, gradient_images=60)
    measure(net)
    net.biases[0][0, 1] = -1000.0  # a second unit dies in the ReLU model
    values = measure(net)
    assert values["dead_fraction"][0, 0].item() == pytest.approx(2 / 8)
    assert values["still_dead_fraction"][:, 0].tolist() == [1.0, 1.0]
    net.biases[0][:, 0] = 1000.0  # the first dead unit comes back in both models
    values = measure(net)
    assert values["still_dead_fraction"][:, 0].tolist() == [0.5, 0.0]
    assert "still_dead_fraction" not in measure(net_with_one_dead_unit())


def test_still_dead_keeps_one_memory_per_stack_when_stacks_are_measured_in_turn():
    first, second = net_with_one_dead_unit(), net_with_one_dead_unit()
    measure = dying_relu.dead_units(DATA, gradient_images=60)
    measure(first)
    measure(second)
    second.biases[0][:, 0] = 1000.0
    assert measure(first)["still_dead_fraction"][:, 0].tolist() == [1.0, 1.0]
    assert measure(second)["still_dead_fraction"][:, 0].tolist() == [0.0, 0.0]


def test_a_diverged_net_has_no_dead_fraction():
    net = net_with_one_dead_unit()
    net.weights[1][1, 0, 0] = float("nan")
    values = dying_relu.dead_units(DATA, gradient_images=60)(net)
    assert values["diverged"].tolist() == [0.0, 1.0]
    assert not math.isnan(values["dead_fraction"][0, 0].item())
    assert torch.isnan(values["dead_fraction"][1]).all()


def test_the_grid_shares_one_stack_and_pairs_relu_with_leaky_models():
    specs = dying_relu.grid(PROTOCOL, [0, 1, 2], "normalised")
    bad = PROTOCOL["bad_starts"]
    per_seed = len(PROTOCOL["etas"]) + len(bad["biases"]) * len(bad["etas"])
    assert len(specs) == 3 * 2 * per_seed
    assert len({s.architecture for s in specs}) == 1
    leaky = [s for s in specs if s.params["unit"] == "leaky"]
    assert {s.leak for s in leaky} == {0.01}
    assert {s.weight_init for s in specs} == {"he"}
    raw = dying_relu.grid(PROTOCOL, [0], "raw")
    assert {(s.params["bias"], s.params["inputs"]) for s in raw} == {(0.0, "raw")}


def rows(unit, eta, seed, epoch, layer, metric, value, bias=0.0, inputs="normalised") -> dict:
    return {
        "variant": f"{unit}, η={eta:g}, b={bias:g}, {inputs} inputs",
        "seed": seed,
        "epoch": epoch,
        "layer": layer,
        "metric": metric,
        "value": value,
        "unit": unit,
        "eta": eta,
        "bias": bias,
        "inputs": inputs,
    }


def sweep_table(dead_by_eta: dict[float, float], seeds=(0, 1, 2)) -> pd.DataFrame:
    """Final (epoch 2) dead fraction of hidden layer 1 per η, the same in every seed; layer 2
    stays alive; accuracy 0.9 minus the dead fraction for ReLU, 0.9 for leaky."""
    records = []
    for eta, dead in dead_by_eta.items():
        for seed in seeds:
            for unit in ("relu", "leaky"):
                records.append(rows(unit, eta, seed, 2, 1, "dead_fraction", dead))
                records.append(rows(unit, eta, seed, 2, 2, "dead_fraction", 0.0))
                accuracy = 0.9 - dead if unit == "relu" else 0.9
                records.append(rows(unit, eta, seed, 2, 0, "validation_accuracy", accuracy))
                records.append(rows(unit, eta, seed, 2, 0, "diverged", 0.0))
    return pd.DataFrame(records)


def test_dead_fraction_grows_with_eta_holds_for_a_rising_sweep_and_fails_otherwise():
    check = dying_relu.dead_fraction_grows_with_eta
    rising = check(sweep_table({0.01: 0.0, 0.1: 0.02, 1.0: 0.8}), PROTOCOL, 0.5, 0.05)
    assert rising.passed
    assert list(rising.values) == [0.8, 0.8, 0.8]
    falling = check(sweep_table({0.01: 0.0, 0.1: 0.9, 1.0: 0.8}), PROTOCOL, 0.5, 0.05)
    assert not falling.passed
    too_few = check(sweep_table({0.01: 0.0, 1.0: 0.4}), PROTOCOL, 0.5, 0.05)
    assert not too_few.passed


def test_dead_fraction_grows_with_eta_leaves_diverged_nets_out():
    table = sweep_table({0.01: 0.0, 1.0: 0.8})
    broken = (table.seed == 2) & (table.eta == 1.0)
    table.loc[broken & (table.metric == "dead_fraction"), "value"] = float("nan")
    table.loc[broken & (table.metric == "diverged"), "value"] = 1.0
    outcome = dying_relu.dead_fraction_grows_with_eta(table, PROTOCOL, 0.5, 0.05)
    assert outcome.passed
    assert list(outcome.values) == [0.8, 0.8]
    assert "diverged nets left out (seeds): η=1: 1" in outcome.detail


def test_leaky_keeps_training_is_checked_at_the_smallest_eta_that_kills_relu_units():
    table = sweep_table({0.01: 0.0, 0.5: 0.6, 1.0: 0.9})
    outcome = dying_relu.leaky_relu_keeps_training(table, PROTOCOL, large_share=0.5)
    assert outcome.passed
    assert "η = 0.5" in outcome.detail
    assert list(outcome.values) == pytest.approx([0.6, 0.6, 0.6])
    healthy = dying_relu.leaky_relu_keeps_training(
        sweep_table({0.01: 0.0, 0.1: 0.1}), PROTOCOL, large_share=0.5
    )
    assert not healthy.passed


def test_dead_units_stay_dead_pools_weighted_by_how_many_were_dead():
    records = []
    for seed in (0, 1):
        # 0.5 of the layer dead, then 0.5 still dead of them; 0.1 dead, then all still dead.
        records += [
            rows("relu", 1.0, seed, 1, 1, "dead_fraction", 0.5),
            rows("relu", 1.0, seed, 2, 1, "still_dead_fraction", 0.5),
            rows("relu", 0.1, seed, 1, 1, "dead_fraction", 0.1),
            rows("relu", 0.1, seed, 2, 1, "still_dead_fraction", 1.0),
            rows("relu", 0.01, seed, 1, 1, "dead_fraction", 0.0),
            rows("relu", 0.01, seed, 2, 1, "still_dead_fraction", float("nan")),
        ]
    outcome = dying_relu.dead_units_stay_dead(pd.DataFrame(records), PROTOCOL, min_share=0.99)
    assert list(outcome.values) == pytest.approx([(0.25 + 0.1) / 0.6] * 2)
    assert not outcome.passed


def start_table(dead_at_start: dict[tuple[float, str], float], epoch: int) -> pd.DataFrame:
    records = []
    for (bias, inputs), dead in dead_at_start.items():
        for seed in (0, 1):
            for layer in (1, 2):
                value = dead if layer == 2 else 0.0
                records.append(
                    rows("relu", 0.01, seed, epoch, layer, "dead_fraction", value, bias, inputs)
                )
            records.append(rows("relu", 0.01, seed, epoch, 0, "diverged", 0.0, bias, inputs))
    return pd.DataFrame(records)


def test_negative_bias_kills_from_the_start_needs_every_negative_bias_to_kill():
    good = start_table({(0.0, "normalised"): 0.0, (-1.0, "normalised"): 1.0}, epoch=0)
    check = dying_relu.negative_bias_kills_from_the_start
    assert check(good, PROTOCOL, 0.5, 0.05).passed
    mild = start_table(
        {(0.0, "normalised"): 0.0, (-1.0, "normalised"): 1.0, (-0.1, "normalised"): 0.2}, 0
    )
    assert not check(mild, PROTOCOL, 0.5, 0.05).passed


def test_raw_inputs_kill_compares_raw_and_normalised_after_the_first_epoch():
    protocol = {**PROTOCOL, "bad_starts": {"etas": [0.01, 0.1], "biases": [-1.0]}}
    table = start_table({(0.0, "normalised"): 0.0, (0.0, "raw"): 0.9}, epoch=1)
    outcome = dying_relu.raw_inputs_kill_from_the_start(table, protocol, 0.5, 0.05)
    assert outcome.passed
    assert list(outcome.values) == [0.9, 0.9]
    alive = start_table({(0.0, "normalised"): 0.0, (0.0, "raw"): 0.1}, epoch=1)
    assert not dying_relu.raw_inputs_kill_from_the_start(alive, protocol, 0.5, 0.05).passed


def test_no_gradient_when_dead_fails_on_a_non_zero_relu_gradient():
    records = [
        rows("relu", 0.5, 0, 1, 1, "dead_unit_gradient", 0.0),
        rows("leaky", 0.5, 0, 1, 1, "dead_unit_gradient", 1e-4),
        rows("leaky", 0.5, 0, 1, 2, "dead_unit_gradient", float("nan")),
    ]
    check = dying_relu.dead_units_get_no_gradient
    assert check(pd.DataFrame(records), PROTOCOL).passed
    records.append(rows("relu", 0.5, 0, 2, 1, "dead_unit_gradient", 1e-9))
    assert not check(pd.DataFrame(records), PROTOCOL).passed


@needs_mnist
def test_tiny_run_on_mnist_measures_every_metric_and_draws_from_the_csv(tmp_path: Path):
    result = dlexp("run", "dying-relu", "--scale", "tiny", "--out", str(tmp_path), "--quiet")
    assert result.exit_code in (0, 1), result.output
    folder = tmp_path / "dying-relu" / "tiny"
    table = pd.read_csv(folder / "metrics.csv")
    assert set(table.metric) == {
        "dead_fraction",
        "still_dead_fraction",
        "dead_unit_gradient",
        "diverged",
        "train_cost",
        "train_accuracy",
        "validation_cost",
        "validation_accuracy",
    }
    assert set(table.unit) == {"relu", "leaky"}
    assert set(table.inputs) == {"normalised", "raw"}
    assert set(table[table.metric == "dead_fraction"].layer) == {1, 2, 3}
    worst = dying_relu.final_worst_relu_layer(table).groupby(level="eta").mean()
    assert worst[0.5] > worst[0.01] + 0.2  # the larger η kills more units
    still = table[table.metric == "still_dead_fraction"].value.dropna()
    assert still.between(0, 1).all()
    claims = {c["id"]: c for c in json.loads((folder / "run.json").read_text())["claims"]}
    assert claims["negative-bias-kills"]["passed"]
    assert claims["no-gradient-when-dead"]["passed"]
    protocol = load("dying-relu").resolve("tiny")
    drawn = dying_relu.figures(table, protocol, "tiny", tmp_path)
    assert {p.name for p in drawn} == {p.name for p in (folder / "figures").iterdir()}
    assert len(drawn) == 8
