"""Universal approximation: the representation, the parity construction, and every check on
made-up tables."""

import math

import pandas as pd
import torch

import dlexp
from dlexp.model_spec import ModelSpec
from dlexp.models import StackedMLP
from dlexp.table import long_row

from .helpers import code

checks = code("universal-approximation", "checks")
run = code("universal-approximation", "run")


def represented(errors: dict[int, float]) -> list[dict]:
    return [
        long_row(f"represented-{w}", 0, 0, 0, "sup_error", e, part="represented", width=w)
        for w, e in errors.items()
    ]


def trained(errors: dict[int, list[float]], epoch: int = 100, eta: float = 0.03) -> list[dict]:
    """Final sup-error and training cost of nets trained at one η (cost = error / 10)."""
    return [
        long_row(
            f"trained-{w}", seed, epoch, 0, metric, e * scale, part="trained", width=w, eta=eta
        )
        for w, values in errors.items()
        for seed, e in enumerate(values)
        for metric, scale in (("sup_error", 1.0), ("train_cost", 0.1))
    ]


def test_the_best_fit_error_falls_with_width_and_the_check_sees_when_it_does_not():
    grid = torch.linspace(0, 1, 501).unsqueeze(1)
    truth = run.target(grid.double())[:, 0]
    errors = [float((run.best_fit(n, 2.0, grid, grid) - truth).abs().max()) for n in (4, 16, 64)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.02
    falling = pd.DataFrame(represented({4: 0.7, 16: 0.04, 64: 0.009}))
    assert checks.representation_error_falls_with_width(falling, {}, epsilon=0.01).passed
    stalls = pd.DataFrame(represented({4: 0.7, 16: 0.04, 64: 0.05}))
    assert not checks.representation_error_falls_with_width(stalls, {}, epsilon=0.01).passed
    too_coarse = pd.DataFrame(represented({4: 0.7, 16: 0.04, 64: 0.02}))
    assert not checks.representation_error_falls_with_width(too_coarse, {}, epsilon=0.01).passed


def test_training_falls_short_only_when_every_seed_is_far_above_the_best_fit():
    best = represented({8: 0.05, 32: 0.01})
    short = pd.DataFrame(best + trained({8: [0.9, 0.8], 32: [0.5, 0.6]}))
    outcome = checks.training_falls_short(short, {}, factor=2.0)
    assert outcome.passed and outcome.values == [50.0, 60.0]
    finds_it = pd.DataFrame(best + trained({8: [0.9, 0.8], 32: [0.012, 0.5]}))
    assert not checks.training_falls_short(finds_it, {}, factor=2.0).passed
    at_a_better_eta = trained({32: [0.012, 0.015]}, eta=0.1)  # lower cost: this η is chosen
    chosen = pd.DataFrame(best + trained({32: [0.5, 0.6]}) + at_a_better_eta)
    assert not checks.training_falls_short(chosen, {}, factor=2.0).passed


def test_the_parity_construction_is_exact_for_every_pattern():
    for bits in (3, 6, 8):
        net = run.parity_construction(StackedMLP([ModelSpec("c", 0, (bits, bits, 1))]), bits)
        data = run.parity_data(bits)
        predicted = net.predictions(net.forward(data.images))[0]
        assert torch.equal(predicted, data.labels)


def parity_table(accuracies: dict[tuple[int, int], list[float]], construction: float = 1.0):
    rows = [
        long_row(f"parity-{layers}x{width}", seed, 300, 0, "train_accuracy", value,
                 part="parity", layers=layers, width=width, units=layers * width)
        for (layers, width), values in accuracies.items()
        for seed, value in enumerate(values)
    ]  # fmt: skip
    rows.append(
        long_row("parity-construction", 0, 0, 0, "train_accuracy", construction,
                 part="parity-construction", layers=1, width=8, units=8)
    )  # fmt: skip
    return pd.DataFrame(rows)


def test_the_parity_checks_pass_and_fail_on_made_up_tables():
    protocol = {"parity": {"bits": 8}}
    deep_cheaper = parity_table({(1, 16): [1.0, 1.0], (1, 32): [1.0, 1.0], (3, 2): [1.0, 1.0]})
    outcome = checks.deep_learns_parity_with_fewer_units(deep_cheaper, protocol, fraction=0.5)
    assert outcome.passed and outcome.values == [6 / 16, 6 / 16]
    shallow_as_good = parity_table({(1, 8): [1.0, 1.0], (2, 4): [1.0, 0.9], (2, 8): [1.0, 1.0]})
    outcome = checks.deep_learns_parity_with_fewer_units(shallow_as_good, protocol, fraction=0.5)
    assert not outcome.passed and outcome.values == [1.0, 2.0]
    deep_never = parity_table({(1, 8): [1.0, 1.0], (2, 4): [0.6, 0.9]})
    outcome = checks.deep_learns_parity_with_fewer_units(deep_never, protocol, fraction=0.5)
    assert not outcome.passed and all(math.isinf(v) for v in outcome.values)
    assert checks.parity_construction_is_exact(deep_cheaper, protocol, **{}).passed
    broken = parity_table({(1, 8): [1.0]}, construction=0.99)
    assert not checks.parity_construction_is_exact(broken, protocol).passed


def test_a_tiny_run_records_all_four_parts(tmp_path):
    result = dlexp.run("universal-approximation", scale="tiny", out=tmp_path, quiet=True)
    table = result.metrics
    assert set(table.part) == {"target", "represented", "trained", "parity", "parity-construction"}
    errors = checks.represented_errors(table)
    assert list(errors.index) == [2, 8, 32] and errors.is_monotonic_decreasing
    verdicts = {v.id: v for v in result.verdicts}
    assert verdicts["parity-shallow-construction"].passed
    assert {v.kind for v in result.verdicts} == {"identity", "empirical"}
    assert len(result.figures) == 4


def test_the_best_fit_is_the_same_to_the_last_digit_every_time():
    """Determinism: the least-squares fit (here 2,001 points, 8 units) must not depend on the
    call; LAPACK's default QR driver gave different last digits from call to call."""
    grid = torch.linspace(0, 1, 2001).unsqueeze(1)
    fits = [run.best_fit(8, 2.0, grid, grid) for _ in range(6)]
    assert all(torch.equal(fit, fits[0]) for fit in fits)
