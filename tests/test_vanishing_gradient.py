"""Vanishing and exploding gradients: the exact ×25 chain, the checks, and a tiny real run."""

from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
import torch

from dlexp.models import StackedMLP

from .helpers import code, dlexp, needs_mnist

finding = code("vanishing-gradient", "run")
exploding_factor = finding.exploding_factor
gradient_grows_towards_output = finding.gradient_grows_towards_output
mitigations_keep_layers_together = finding.mitigations_keep_layers_together


def exploding_chain(depth: int, weight: float, x: float) -> StackedMLP:
    return finding.set_exploding(StackedMLP([finding.chain_spec(depth)]), weight, x)


def test_exploding_chain_multiplies_the_gradient_by_exactly_25_per_layer():
    net = exploding_chain(depth=5, weight=100.0, x=1.0)
    trace = net.forward(torch.ones(1, 1))
    assert all(float(z.abs().max()) == 0.0 for z in trace.zs)  # every z = 0, σ'(z) = 1/4
    _, grad_b = net.gradients(torch.ones(1, 1), torch.zeros(1, dtype=torch.long))
    norms = [float(g.abs().squeeze()) for g in grad_b]
    assert [a / b for a, b in pairwise(norms)] == [25.0] * 5  # 0.5·25⁵ fits float32


def norms_table(rows):
    """rows: (network, depth, seed, epoch, [hidden norms…, output norm])."""
    records = []
    for network, depth, seed, epoch, norms in rows:
        for layer, value in enumerate(norms, start=1):
            records.append(
                {
                    "variant": f"{network}-{depth}",
                    "seed": seed,
                    "epoch": epoch,
                    "layer": layer,
                    "metric": "gradient_norm",
                    "value": value,
                    "network": network,
                    "depth": depth,
                    "part": "depth",
                }
            )
    return pd.DataFrame(records)


def test_vanishing_check_needs_increase_and_a_factor_of_three():
    good = norms_table([("sigmoid", 2, s, e, [0.01, 0.1, 0.5]) for s in (0, 1) for e in (0, 5)])
    outcome = gradient_grows_towards_output(good, {}, max_first_to_last=1 / 3)
    assert outcome.passed and outcome.values == pytest.approx([0.1, 0.1])
    weak = norms_table([("sigmoid", 2, s, e, [0.05, 0.1, 0.5]) for s in (0, 1) for e in (0, 5)])
    assert not gradient_grows_towards_output(weak, {}, max_first_to_last=1 / 3).passed
    late = norms_table(
        [("sigmoid", 2, 0, 0, [0.01, 0.1, 0.5]), ("sigmoid", 2, 0, 5, [0.2, 0.1, 0.5])]
    )
    assert not gradient_grows_towards_output(late, {}, max_first_to_last=1 / 3).passed


def test_mitigation_check_compares_spreads_per_depth_and_seed():
    rows = [
        ("sigmoid", 3, 0, 0, [0.001, 0.01, 0.1, 1.0]),
        ("relu", 3, 0, 0, [0.5, 0.6, 0.7, 1.0]),
    ]
    outcome = mitigations_keep_layers_together(norms_table(rows), {"depths": [3]}, min_advantage=5)
    assert outcome.passed
    assert outcome.values == pytest.approx([100 / 1.4])


def test_exploding_check_reads_the_chain_rows():
    table = pd.DataFrame(
        {
            "variant": "chain",
            "seed": 0,
            "epoch": 0,
            "layer": [1, 2, 3],
            "metric": "gradient_norm",
            "value": [625.0, 25.0, 1.0],
            "network": "exploding-chain",
            "depth": 2,
            "part": "exploding",
        }
    )
    outcome = exploding_factor(table, {}, factor=25.0)
    assert outcome.passed and np.allclose(outcome.values, [25.0, 25.0])


@needs_mnist
def test_tiny_run_on_mnist_shows_the_vanishing_direction(tmp_path):
    result = dlexp(
        "run", "vanishing-gradient", "--scale", "tiny", "--out", str(tmp_path), "--quiet"
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "vanishing-gradient" / "tiny" / "metrics.csv")
    start = table[
        (table.metric == "gradient_norm") & (table.epoch == 0) & (table.network == "sigmoid")
    ]
    first = start[start.layer == 1].groupby("depth")["value"].mean()
    last = start[start.layer == start.depth].groupby("depth")["value"].mean()
    assert (first < last / 3).all()
    assert first.is_monotonic_decreasing  # deeper nets: slower first layer
