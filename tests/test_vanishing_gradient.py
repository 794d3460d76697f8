"""Vanishing and exploding gradients: the exact ×25 chain, each check against a table that agrees
with its claim (PASS) and one that contradicts it (FAIL), and a tiny real run."""

from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
import torch

from dlexp.models import StackedMLP
from dlexp.table import long_row

from .helpers import code, dlexp, needs_mnist

run = code("vanishing-gradient", "run")
checks = code("vanishing-gradient", "checks")
CHAIN = {"exploding": {"depth": 5, "weight": 100.0, "epochs": 30}}


def exploding_chain(depth: int, weight: float, x: float) -> StackedMLP:
    return run.set_exploding(StackedMLP([run.chain_spec(depth)]), weight, x)


def test_exploding_chain_multiplies_the_gradient_by_exactly_25_per_layer():
    net = exploding_chain(depth=5, weight=100.0, x=1.0)
    trace = net.forward(torch.ones(1, 1))
    assert all(float(z.abs().max()) == 0.0 for z in trace.zs)  # every z = 0, σ'(z) = 1/4
    _, grad_b = net.gradients(torch.ones(1, 1), torch.zeros(1, dtype=torch.long))
    norms = [float(g.abs().squeeze()) for g in grad_b]
    assert [a / b for a, b in pairwise(norms)] == [25.0] * 5  # 0.5·25⁵ fits float32


def norm_rows(network, depth, seed, epoch, norms, part="depth", eta=0.1):
    """Rows of `gradient_norm` for one net and epoch: the hidden layers' norms, then the
    output layer's (a fixed 1.0)."""
    return [
        long_row(
            f"{network}-{depth}",
            seed,
            epoch,
            layer,
            "gradient_norm",
            value,
            network=network,
            depth=depth,
            eta=eta,
            part=part,
        )
        for layer, value in enumerate([*norms, 1.0], start=1)
    ]


def sigmoid_table(at_init, after):
    rows = []
    for seed in (0, 1):
        rows += norm_rows("sigmoid", len(at_init), seed, 0, at_init)
        rows += norm_rows("sigmoid", len(after), seed, 5, after)
    return pd.DataFrame(rows)


def test_vanishing_passes_when_norms_grow_towards_the_output_by_more_than_three():
    outcome = checks.gradient_grows_towards_output(
        sigmoid_table([0.01, 0.1, 0.5], [0.02, 0.1, 0.5]), {}, max_first_to_last=1 / 3
    )
    assert outcome.passed and outcome.values == pytest.approx([0.02, 0.02])


@pytest.mark.parametrize(
    ("at_init", "after"),
    [
        ([0.2, 0.3, 0.5], [0.02, 0.1, 0.5]),  # increasing, but first/last 0.4 ≥ 1/3 at init
        ([0.01, 0.1, 0.5], [0.2, 0.1, 0.5]),  # after training the first layer is faster
        ([0.5, 0.1, 0.01], [0.5, 0.1, 0.01]),  # shrinking towards the output
    ],
)
def test_vanishing_fails_on_a_contradicting_table(at_init, after):
    table = sigmoid_table(at_init, after)
    assert not checks.gradient_grows_towards_output(table, {}, max_first_to_last=1 / 3).passed


def chain_table(values):
    rows = [
        long_row("chain", 0, 0, layer, "gradient_norm", value, network="chain", part="exploding")
        for layer, value in enumerate(values, start=1)
    ]
    return pd.DataFrame(rows)


def test_exploding_check_passes_on_exact_factors_of_w_times_a_quarter():
    outcome = checks.exploding_factor(chain_table([625.0, 25.0, 1.0]), CHAIN)
    assert outcome.passed and np.allclose(outcome.values, [25.0, 25.0])


@pytest.mark.parametrize("values", [[400.0, 20.0, 1.0], [625.0, 25.0001, 1.0], [1.0]])
def test_exploding_check_fails_unless_every_factor_is_exactly_w_times_a_quarter(values):
    assert not checks.exploding_factor(chain_table(values), CHAIN).passed


def init_table(networks):
    """networks: {network: (norms of the 3-layer net, norms of the 6-layer net)}, both seeds."""
    rows = []
    for network, (shallow, deep) in networks.items():
        for seed in (0, 1):
            rows += norm_rows(network, 3, seed, 0, shallow)
            rows += norm_rows(network, 6, seed, 0, deep, part="deep")
    return pd.DataFrame(rows)


SIGMOID_AT_INIT = ([0.01, 0.05, 0.2], [1e-5, 1e-4, 1e-3, 0.01, 0.05, 0.2])


def test_mitigation_at_init_passes_when_others_spread_less_and_far_less_when_deepest():
    table = init_table(
        {"sigmoid": SIGMOID_AT_INIT, "relu-he": ([0.5, 0.6, 0.7], [0.4, 0.5, 0.5, 0.6, 0.6, 0.7])}
    )
    outcome = checks.mitigation_at_initialisation(table, {}, min_advantage=5)
    assert outcome.passed
    assert outcome.values == pytest.approx([0.2 / 1e-5 / (0.7 / 0.4)] * 2)


@pytest.mark.parametrize(
    "other",
    [
        ([0.001, 0.05, 0.2], [0.4, 0.5, 0.5, 0.6, 0.6, 0.7]),  # spreads more at 3 layers
        ([0.5, 0.6, 0.7], [1e-5, 1e-4, 1e-3, 0.01, 0.05, 0.1]),  # < 5× less at the deepest
    ],
)
def test_mitigation_at_init_fails_on_a_contradicting_table(other):
    table = init_table({"sigmoid": SIGMOID_AT_INIT, "residual": other})
    assert not checks.mitigation_at_initialisation(table, {}, min_advantage=5).passed


DEEP = {"min_advantage": 5.0, "min_gain_points": 5.0, "floor_percent": 50.0}


def deep_table(nets):
    """nets: {(network, η): (hidden norms during training, validation accuracy)} — the norms
    at epochs 5 and 10 (epoch 0: all ones), the accuracy after epoch 10, for seeds 0 and 1."""
    rows = []
    for (network, eta), (norms, accuracy) in nets.items():
        for seed in (0, 1):
            for epoch, values in ((0, [1.0] * len(norms)), (5, norms), (10, norms)):
                rows += norm_rows(network, len(norms), seed, epoch, values, "deep", eta)
            rows.append(
                long_row(
                    f"{network}-{len(norms)}",
                    seed,
                    10,
                    0,
                    "validation_accuracy",
                    accuracy + 0.001 * seed,
                    network=network,
                    depth=len(norms),
                    eta=eta,
                    part="deep",
                )
            )
    return pd.DataFrame(rows)


VANISHING = [1e-6, 1e-4, 1e-2, 1.0]
TOGETHER = [0.3, 0.5, 0.7, 1.0]


def test_deep_mitigation_passes_when_spread_and_accuracy_both_beat_the_sigmoid_net():
    table = deep_table({("sigmoid", 1.0): (VANISHING, 0.40), ("relu", 0.1): (TOGETHER, 0.90)})
    outcome = checks.mitigates_in_deep_nets(table, {}, networks=["relu"], **DEEP)
    assert outcome.passed, outcome.detail
    assert outcome.values == pytest.approx([50.0, 50.0])


@pytest.mark.parametrize(
    "relu",
    [
        (TOGETHER, 0.43),  # keeps the layers together but gains too little accuracy
        ([2.5e-6, 1e-3, 1e-2, 1.0], 0.90),  # accurate, but spreads almost as much
        (TOGETHER, 0.48),  # ahead by 8 points, yet below the 50% floor
    ],
)
def test_deep_mitigation_fails_on_a_contradicting_table(relu):
    table = deep_table({("sigmoid", 1.0): (VANISHING, 0.40), ("relu", 0.1): relu})
    assert not checks.mitigates_in_deep_nets(table, {}, networks=["relu"], **DEEP).passed


def test_deep_mitigation_compares_each_network_at_its_own_best_eta():
    """At the shared η = 0.1 ReLU looks far ahead; at the sigmoid net's own best η it is not."""
    table = deep_table(
        {
            ("sigmoid", 0.1): (VANISHING, 0.20),
            ("sigmoid", 3.0): (VANISHING, 0.89),
            ("relu", 0.1): (TOGETHER, 0.90),
            ("relu", 3.0): (TOGETHER, float("nan")),  # diverged: never the best
        }
    )
    outcome = checks.mitigates_in_deep_nets(table, {}, networks=["relu"], **DEEP)
    assert not outcome.passed
    assert checks.best_etas(table) == {"sigmoid": 3.0, "relu": 0.1}


def test_deep_mitigation_fails_when_a_network_was_not_trained():
    table = deep_table({("sigmoid", 1.0): (VANISHING, 0.40)})
    outcome = checks.mitigates_in_deep_nets(table, {}, networks=["residual"], **DEEP)
    assert not outcome.passed and "not measured" in outcome.detail


@needs_mnist
def test_tiny_run_on_mnist(tmp_path):
    result = dlexp(
        "run", "vanishing-gradient", "--scale", "tiny", "--out", str(tmp_path), "--quiet"
    )
    assert result.exit_code == 0, result.output
    claims = ["vanishing", "exploding", "mitigation-at-init", "relu-mitigates", "relu-he-mitigates"]
    for claim in [*claims, "residual-mitigates"]:
        assert f" {claim} (" in result.output
    folder = tmp_path / "vanishing-gradient" / "tiny"
    table = pd.read_csv(folder / "metrics.csv")
    norms = table[table.metric == "gradient_norm"]
    start = norms[(norms.epoch == 0) & (norms.network == "sigmoid") & (norms.part == "depth")]
    first = start[start.layer == 1].groupby("depth")["value"].mean()
    last = start[start.layer == start.depth].groupby("depth")["value"].mean()
    assert (first < last / 3).all()
    assert first.is_monotonic_decreasing  # deeper nets: slower first layer
    chain = norms[(norms.part == "exploding") & (norms.epoch == 0)].sort_values("layer")
    assert (chain["value"].to_numpy()[:-1] / chain["value"].to_numpy()[1:] == 25.0).all()
    deep = table[table.part == "deep"]
    assert set(deep.network) == {"sigmoid", "relu", "relu-he", "residual"}
    swept = set(zip(deep.network, deep.eta))
    assert swept == {
        ("sigmoid", 1.0),
        ("sigmoid", 3.0),
        ("relu", 0.1),
        ("relu", 0.3),
        ("relu-he", 0.1),
        ("relu-he", 0.3),
        ("residual", 0.3),
        ("residual", 1.0),
    }
    assert set(deep.depth) == {6}
    accuracy = deep[(deep.metric == "validation_accuracy") & (deep.epoch == 20)]
    assert len(accuracy) == 4 * 2 * 2 and accuracy["value"].between(0, 1).all()
    assert len(list((folder / "figures").glob("*.png"))) == 5
