"""The dying-ReLU finding: its dead-unit measure, its variants, a falsification test per claim
check (a table that contradicts the claim FAILs, one that agrees PASSes) and a tiny MNIST run."""

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch

from dlexp.data import Split, synthetic_classification
from dlexp.model_spec import ModelSpec
from dlexp.models import StackedMLP
from dlexp.registry import load
from dlexp.table import long_row
from dlexp.trainer import Schedule, train_stack

from .helpers import code, dlexp, needs_mnist

run = code("dying-relu", "run")
units = code("dying-relu", "units")
checks = code("dying-relu", "checks")
figures = code("dying-relu", "figures")

DATA = synthetic_classification(120, n_features=20, n_classes=4, seed=1)
PROTOCOL = load("dying-relu").resolve("lecture")
SEEDS = (0, 1, 2)


def relu_spec(**changes) -> ModelSpec:
    base = ModelSpec("relu", 0, (20, 8, 8, 4), activation="relu", weight_init="he", bias_std=0.0)
    return replace(base, output="softmax", **changes)


def net_with_one_dead_unit() -> StackedMLP:
    """A ReLU and a leaky-ReLU twin whose unit 0 of hidden layer 1 has z ≤ 0 for every input
    (bias −1000, inputs in [0, 1]); its other units fire for every input (bias +1000)."""
    net = StackedMLP([relu_spec(), relu_spec(variant="leaky", leak=0.01)])
    net.biases[0][:] = 1000.0
    net.biases[0][:, 0] = -1000.0
    return net


def test_a_never_positive_relu_unit_is_dead_and_a_never_positive_leaky_unit_is_not():
    net = net_with_one_dead_unit()
    values = units.dead_units(DATA, gradient_images=60)(net)
    assert values["never_positive_fraction"][:, 0].tolist() == [1 / 8, 1 / 8]
    assert values["dead_fraction"][:, 0].tolist() == [1 / 8, 0.0]
    assert values["dead_unit_gradient"][:, 0].tolist() == [0.0, 0.0]  # none dead in the leaky
    relu_gradient, leaky_gradient = values["never_positive_gradient"][:, 0].tolist()
    assert relu_gradient == 0.0  # no never-positive ReLU unit is alive
    grad_w, grad_b = net.gradients(DATA.images[:60], DATA.labels[:60])
    expected = max(grad_w[0][1, 0].abs().max().item(), grad_b[0][1, 0].abs().item())
    assert leaky_gradient == pytest.approx(expected, rel=1e-6)  # its largest own gradient
    assert "stayed_dead_fraction" not in values


def test_stayed_dead_and_weight_change_compare_with_the_previous_measurement_of_the_stack():
    net = net_with_one_dead_unit()
    measure = units.dead_units(DATA, gradient_images=60)
    measure(net)
    net.biases[0][0, 1] = -1000.0  # a second unit dies in the ReLU model
    values = measure(net)
    assert values["stayed_dead_fraction"][0, 0].item() == pytest.approx(1 / 8)
    assert values["dead_weight_change"][0, 0].item() == 0.0
    net.biases[0][0, 0] = 1000.0  # the first dead unit comes back: its bias moved by 2000
    values = measure(net)  # still 1/8 of the layer stayed dead: the second unit
    assert values["stayed_dead_fraction"][0, 0].item() == pytest.approx(1 / 8)
    assert values["dead_weight_change"][0, 0].item() == pytest.approx(2000.0)
    assert "stayed_dead_fraction" not in measure(net_with_one_dead_unit())


def test_a_diverged_net_gets_nan_measurements():
    net = net_with_one_dead_unit()
    net.weights[1][1, 0, 0] = float("nan")
    values = units.dead_units(DATA, gradient_images=60)(net)
    assert not torch.isnan(values["dead_fraction"][0]).any()
    assert torch.isnan(values["dead_fraction"][1]).all()


def test_training_leaves_a_dead_first_layer_unit_exactly_as_it_was():
    net = StackedMLP([relu_spec(eta=0.5)])
    net.biases[0][0, 0] = -1000.0
    before = net.weights[0][0, 0].clone(), net.biases[0][0, 0].item()
    table = train_stack(net, DATA, Schedule(3), [units.dead_units(DATA, gradient_images=60)])
    assert torch.equal(net.weights[0][0, 0], before[0])
    assert net.biases[0][0, 0].item() == before[1]
    change = table[(table.metric == "dead_weight_change") & (table.layer == 1)]
    assert (change.value == 0.0).all()


def test_the_grid_pairs_every_bad_start_with_every_unit_in_one_stack_per_input():
    grids = run.grid(PROTOCOL, [0], {"shifted+1": 0.008, "shifted+5": 0.0004})
    assert set(grids) == {"normalised", "centred", "raw", "shifted+1", "shifted+5"}
    for specs in grids.values():
        assert len({s.architecture for s in specs}) == 1
        assert len({(s.leak, s.eta, s.bias_mean) for s in specs}) == len(specs)
    bad = {(s.bias_mean, s.leak, s.eta) for s in grids["normalised"] if s.bias_mean < 0}
    assert bad == {(b, a, 0.1) for b in (-0.5, -1.0) for a in (0.0, 0.01, 0.1)}
    assert {s.eta for s in grids["shifted+5"]} == {0.0004}
    assert {s.leak for s in grids["shifted+1"]} == {0.0, 0.01, 0.1}


def test_shifted_inputs_get_the_eta_that_gives_their_first_layer_the_same_step():
    transforms = run.input_transforms(PROTOCOL, DATA)
    shifted = Split(transforms["shifted+1"](DATA.images), DATA.labels)
    eta = run.matched_eta(0.1, DATA, shifted)
    expected = 0.1 * (DATA.images**2).sum(1).mean() / ((DATA.images + 1) ** 2).sum(1).mean()
    assert eta == pytest.approx(float(expected))
    centred = transforms["centred"](DATA.images)
    assert centred.mean(0).abs().max().item() < 1e-6


# --- falsification: a table per check that agrees with the claim and one that contradicts it ---


def row(metric, value, *, epoch, layer, unit="relu", eta=0.1, bias=0.0, inputs="normalised",
        seed=0, leak=None) -> dict:  # fmt: skip
    leak = (0.0 if unit == "relu" else 0.01) if leak is None else leak
    params = {"unit": unit, "leak": leak, "eta": eta, "bias": bias, "inputs": inputs}
    return long_row(
        f"{unit} {leak} {eta} {bias} {inputs}", seed, epoch, layer, metric, value, **params
    )


def layers(metric, shares, **model) -> list[dict]:
    """One row per hidden layer: `shares` is layer 1, 2, 3's value."""
    return [row(metric, v, layer=layer, **model) for layer, v in enumerate(shares, start=1)]


def outcome(name: str, records: list[dict], **params):
    claim = next(c for c in load("dying-relu").claims if c.check == name)
    return checks.CHECKS[name](pd.DataFrame(records), PROTOCOL, **{**claim.params, **params})


def gradient_table(relu_dead_gradient: float, leaky_gradient: float, leaky_dead: float) -> list:
    records = []
    for seed in SEEDS:
        relu, leaky = {"seed": seed, "epoch": 1}, {"seed": seed, "epoch": 1, "unit": "leaky"}
        records += layers("dead_fraction", [0.2, 0.0, 0.0], **relu)
        records += layers("dead_unit_gradient", [relu_dead_gradient, 0.0, 0.0], **relu)
        records += layers("never_positive_fraction", [0.2, 0.0, 0.0], **leaky)
        records += layers("dead_fraction", [leaky_dead, 0.0, 0.0], **leaky)
        records += layers("never_positive_gradient", [leaky_gradient, 0.0, 0.0], **leaky)
    return records


def test_no_gradient_when_dead_fails_on_a_relu_gradient_a_silent_leaky_unit_or_leaky_dead():
    name = "dead_units_get_no_gradient"
    assert outcome(name, gradient_table(0.0, 1e-4, 0.0)).passed
    assert not outcome(name, gradient_table(1e-9, 1e-4, 0.0)).passed
    assert not outcome(name, gradient_table(0.0, 0.0, 0.0)).passed
    assert not outcome(name, gradient_table(0.0, 1e-4, 0.1)).passed


def stay_dead_table(layer_one_after: float, change: float, layer_three_after=0.1) -> list:
    """Layer 1 has 0.2 dead at epoch 1; `layer_one_after` of the layer dead at both epochs."""
    records = []
    for seed in SEEDS:
        model = {"seed": seed, "bias": -1.0}
        records += layers("dead_fraction", [0.2, 0.0, 0.5], epoch=1, **model)
        stayed = [layer_one_after, 0.0, layer_three_after]
        records += layers("stayed_dead_fraction", stayed, epoch=2, **model)
        records += layers("dead_weight_change", [change, 0.0, 0.3], epoch=2, **model)
    return records


def test_dead_stay_dead_requires_layer_one_exactly_and_only_reports_deeper_layers():
    name = "dead_units_stay_dead"
    held = outcome(name, stay_dead_table(0.2, 0.0))
    assert held.passed
    assert list(held.values) == [1.0, 1.0, 1.0]
    assert "layer 3: share still dead 0.200 (120 of 150 dead units came back)" in held.detail
    assert not outcome(name, stay_dead_table(0.19, 0.0)).passed  # one unit came back
    assert not outcome(name, stay_dead_table(0.2, 1e-7)).passed  # its weights moved


def init_table(shares: dict[tuple[float, str], list[float]]) -> list:
    records = []
    for (bias, inputs), values in shares.items():
        for seed in SEEDS:
            records += layers("dead_fraction", values, epoch=0, bias=bias, inputs=inputs, seed=seed)
    return records


def test_negative_bias_kills_fails_when_a_negative_bias_leaves_every_layer_alive():
    name = "negative_bias_kills_from_the_start"
    good = {(0.0, "normalised"): [0.0, 0.01, 0.01], (-1.0, "normalised"): [0.3, 1.0, 1.0]}
    assert outcome(name, init_table(good)).passed
    for contradiction in (
        {(-0.5, "normalised"): [0.0, 0.2, 0.4]},
        {(0.0, "normalised"): [0, 0.1, 0]},
    ):
        assert not outcome(name, init_table({**good, **contradiction})).passed


def test_non_centred_inputs_kill_needs_a_rising_trend_and_the_two_ends():
    name = "non_centred_inputs_kill_from_the_start"
    shares = {
        (0.0, "centred"): [0.0, 0.0, 0.0],
        (0.0, "normalised"): [0.0, 0.01, 0.01],
        (0.0, "shifted+1"): [0.2, 0.2, 0.18],
        (0.0, "shifted+5"): [0.46, 0.4, 0.44],
    }
    assert outcome(name, init_table(shares)).passed
    for contradiction in (
        {(0.0, "shifted+1"): [0.6, 0.2, 0.2]},  # falls from x + 1 to x + 5
        {(0.0, "shifted+5"): [0.2, 0.2, 0.2], (0.0, "shifted+1"): [0.1, 0.1, 0.1]},  # too few
        {(0.0, "centred"): [0.0, 0.06, 0.0]},  # centring did not spare them
    ):
        assert not outcome(name, init_table({**shares, **contradiction})).passed


def raw_table(raw_start: float, raw_after: float) -> list:
    records = []
    for eta in PROTOCOL["raw_inputs"]["etas"]:
        for seed in SEEDS:
            for inputs, start, after in (("raw", raw_start, raw_after), ("normalised", 0, 0)):
                model = {"eta": eta, "inputs": inputs, "seed": seed}
                records += layers("dead_fraction", [start, 0.0, 0.0], epoch=0, **model)
                records += layers("dead_fraction", [after, 0.0, 0.0], epoch=1, **model)
    return records


def test_raw_inputs_kill_in_training_needs_equal_starts_and_more_deaths_after_epoch_one():
    name = "raw_inputs_kill_during_training"
    assert outcome(name, raw_table(0.0, 0.3)).passed
    assert not outcome(name, raw_table(0.01, 0.3)).passed  # raw pixels killed at the start
    assert not outcome(name, raw_table(0.0, 0.03)).passed  # nor in training
    assert not outcome(name, raw_table(0.0, float("nan"))).passed  # every raw net diverged


def sweep_table(final_dead: dict[float, float]) -> list:
    records = []
    for eta, dead in final_dead.items():
        for seed in SEEDS:
            records += layers("dead_fraction", [0.0, 0.0, 0.0], epoch=0, eta=eta, seed=seed)
            records += layers("dead_fraction", [dead, 0.0, 0.0], epoch=5, eta=eta, seed=seed)
    return records


def test_eta_kills_units_checks_the_trend_over_the_whole_sweep():
    name = "dead_fraction_grows_with_eta"
    rising = {0.01: 0.0, 0.1: 0.0, 0.3: 0.07, 0.4: 0.3, 0.5: 0.6, 0.7: 0.9}
    assert outcome(name, sweep_table(rising)).passed
    dip = {**rising, 0.4: 0.7}  # the two ends agree, the middle does not
    assert not outcome(name, sweep_table(dip)).passed
    assert not outcome(name, sweep_table({**rising, 0.7: 0.4, 0.5: 0.35})).passed
    diverged = outcome(name, sweep_table({0.01: 0.0, 0.5: 0.8, 0.7: float("nan")}))
    assert diverged.passed  # judged at the largest η with a net that did not diverge
    assert "diverged nets left out (seeds): η=0.7: 3" in diverged.detail


def leaky_table(leaky_accuracy: float, relu_accuracy=(0.1, 0.1, 0.1), biases=(-0.5, -1.0)) -> list:
    records = []
    for bias in biases:
        for seed in SEEDS:
            for leak in (0.0, 0.01, 0.1):
                unit = "relu" if leak == 0 else "leaky"
                accuracy = {0.0: relu_accuracy[seed], 0.01: leaky_accuracy, 0.1: 0.9}[leak]
                model = {"unit": unit, "leak": leak, "bias": bias, "seed": seed, "epoch": 5}
                records.append(row("validation_accuracy", accuracy, layer=0, **model))
                dead = [0.1, 1.0 if leak == 0 else 0.0, 0.0]
                records += layers("dead_fraction", dead, **{**model, "epoch": 0})
                records += layers("dead_fraction", dead, **model)
    return records


def test_leaky_keeps_training_needs_trained_leaky_nets_ahead_of_relu_at_every_negative_bias():
    name = "leaky_relu_keeps_training"
    held = outcome(name, leaky_table(0.92))
    assert held.passed
    assert list(held.values) == pytest.approx([0.82] * 3)
    recovered = outcome(name, leaky_table(0.92, relu_accuracy=(0.1, 0.93, 0.93)))
    assert recovered.passed  # a ReLU net whose dead units came back may match its leaky twin
    assert not outcome(name, leaky_table(0.1)).passed  # stuck like ReLU
    assert not outcome(name, leaky_table(0.5)).passed  # ahead, but below the trained floor
    assert not outcome(name, leaky_table(0.92, relu_accuracy=(0.95, 0.95, 0.95))).passed
    assert not outcome(name, leaky_table(0.92, biases=(0.0,))).passed  # no bad start measured


@needs_mnist
def test_tiny_run_on_mnist_measures_every_metric_and_draws_from_the_csv(tmp_path: Path):
    result = dlexp("run", "dying-relu", "--scale", "tiny", "--out", str(tmp_path), "--quiet")
    assert result.exit_code in (0, 1), result.output
    folder = tmp_path / "dying-relu" / "tiny"
    table = pd.read_csv(folder / "metrics.csv")
    measured = ["never_positive_fraction", "dead_fraction", "stayed_dead_fraction"]
    measured += ["dead_weight_change", "dead_unit_gradient", "never_positive_gradient"]
    assert {*measured, "validation_accuracy"} <= set(table.metric)
    assert set(table.inputs) == {"normalised", "raw", "centred", "shifted+5"}
    leaky = table[(table.unit == "leaky") & (table.metric == "dead_fraction")]
    assert (leaky.value.dropna() == 0).all()
    claims = {c["id"]: c for c in json.loads((folder / "run.json").read_text())["claims"]}
    for passing in ("no-gradient-when-dead", "dead-stay-dead", "negative-bias-kills"):
        assert claims[passing]["passed"], claims[passing]["detail"]
    protocol = load("dying-relu").resolve("tiny")
    drawn = figures.figures(table, protocol, "tiny", tmp_path)
    assert {p.name for p in drawn} == {p.name for p in (folder / "figures").iterdir()}
    assert len(drawn) == 10
