"""CNN versus MLP: each check on hand-made tables that agree with the claim (PASS) and that
contradict it (FAIL), the shift of test images, the equivariance measure, parameter counts, and a
tiny run on real MNIST."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import torch

from dlexp.convnet import StackedConvNet
from dlexp.registry import load
from dlexp.splits import synthetic_classification

from .helpers import code, dlexp, needs_mnist

checks = code("cnn-vs-mlp", "checks")
run = code("cnn-vs-mlp", "run")
LECTURES = Path("/work/shared/lectures")

PROTOCOL = {
    "shifts": [1, 2, 3],
    "pooling": "max",
    "batch_size": 10,
    "mlp_hidden_units": 100,
}
BEATS = {"min_gain_points": 0.5, "min_parameter_ratio": 1.0, "floor_percent": 90.0}


def row(model: str, eta: float, seed: int, metric: str, value: float, **extra) -> dict:
    return {
        "variant": f"{model}-eta{eta:g}",
        "seed": seed,
        "epoch": extra.pop("epoch", 3),
        "layer": extra.pop("layer", 0),
        "metric": metric,
        "value": value,
        "model": model,
        "eta": eta,
    }


def results(
    test: dict[str, list[float]],
    drops: dict[str, list[float]] | None = None,
    parameters: dict[str, int] | None = None,
) -> pd.DataFrame:
    """Accuracies (fractions) per model at its best η (validation = test) and at a worse η 10
    points below; shifted accuracy = test − drop × shift (drop in fractions per pixel)."""
    drops = drops or {"cnn": [0.002] * 3, "mlp": [0.05] * 3}
    parameters = parameters or {"cnn": 61_706, "mlp": 79_510}
    good = {"cnn": 0.03, "mlp": 0.1}
    rows = []
    for model, values in test.items():
        for eta in (good[model], good[model] * 3):
            for seed, value in enumerate(values):
                value = value if eta == good[model] else value - 0.1
                rows += [
                    row(model, eta, seed, "validation_accuracy", value),
                    row(model, eta, seed, "test_accuracy", value),
                ]
                rows += [
                    row(
                        model,
                        eta,
                        seed,
                        f"test_shifted_{s}px_accuracy",
                        value - drops[model][seed] * s,
                    )
                    for s in (1, 2, 3)
                ]
                rows.append(
                    row(model, eta, seed, "parameters", parameters[model], epoch=0, layer=1)
                )
    return pd.DataFrame(rows)


LIKE_THE_CLAIM = {"cnn": [0.988, 0.987, 0.989], "mlp": [0.973, 0.972, 0.974]}


def test_cnn_beats_mlp_passes_when_the_cnn_wins_every_seed_at_its_best_eta():
    outcome = checks.cnn_beats_mlp(results(LIKE_THE_CLAIM), PROTOCOL, **BEATS)
    assert outcome.passed and outcome.values == pytest.approx([1.5, 1.5, 1.5])
    assert "test error CNN 1.20% (η = 0.03" in outcome.detail and "0.95%" in outcome.detail
    assert "parameters CNN 61,706, MLP 79,510 (1.29×)" in outcome.detail


def test_cnn_beats_mlp_fails_when_the_mlp_wins_or_a_seed_does_not_gain():
    mlp_wins = {"cnn": [0.97, 0.97, 0.97], "mlp": [0.975, 0.975, 0.975]}
    assert not checks.cnn_beats_mlp(results(mlp_wins), PROTOCOL, **BEATS).passed
    one_seed = {"cnn": [0.988, 0.987, 0.975], "mlp": [0.973, 0.972, 0.974]}
    assert not checks.cnn_beats_mlp(results(one_seed), PROTOCOL, **BEATS).passed


def test_cnn_beats_mlp_fails_against_a_smaller_mlp_or_below_the_floor():
    smaller = results(LIKE_THE_CLAIM, parameters={"cnn": 61_706, "mlp": 23_860})
    assert not checks.cnn_beats_mlp(smaller, PROTOCOL, **BEATS).passed
    chance = {"cnn": [0.2, 0.2, 0.2], "mlp": [0.1, 0.1, 0.1]}
    outcome = checks.cnn_beats_mlp(results(chance), PROTOCOL, **BEATS)
    assert not outcome.passed and "under the 90% floor" in outcome.detail
    outcome = checks.cnn_beats_mlp(results({"cnn": [0.99] * 3}), PROTOCOL, **BEATS)
    assert not outcome.passed and "not measured: no MLP" in outcome.detail


def counts(conv: list[int], dense: list[int]) -> pd.DataFrame:
    rows = []
    for layer, (own, full) in enumerate(zip(conv, dense), start=1):
        rows.append(row("cnn", 0.03, 0, "parameters", own, epoch=0, layer=layer))
        rows.append(row("cnn", 0.03, 0, "dense_parameters", full, epoch=0, layer=layer))
    return pd.DataFrame(rows)


def test_weight_sharing_counts_the_lenet_layers_and_fails_without_sharing():
    spec = run.cnn_specs(PROTOCOL, [0], [0.03])[0]
    table = pd.DataFrame(run.parameter_rows(spec))
    own = table[table.metric == "parameters"].value.tolist()
    assert own == [156, 2_416, 48_120, 10_164, 850] and sum(own) == 61_706
    assert table[table.metric == "dense_parameters"].value.tolist() == [3_692_640, 1_883_200]
    net = StackedConvNet([spec])
    assert [w + b for w, b in net.layer_parameters()] == own
    outcome = checks.weight_sharing(table, PROTOCOL, min_ratio=100.0)
    assert outcome.passed and outcome.values == pytest.approx([1_883_200 / 2_416])
    assert "layer 1: 156 shared vs 3,692,640 dense (23,671× fewer)" in outcome.detail
    assert not checks.weight_sharing(counts([156, 2416], [3000, 2500]), PROTOCOL, 100.0).passed
    mlp = pd.DataFrame(run.parameter_rows(run.mlp_specs(PROTOCOL, [0], [0.1])[0]))
    assert mlp.value.tolist() == [78_500, 1_010]


def test_equivariance_passes_on_zero_error_and_fails_on_a_shifted_map_that_differs():
    def errors(value: float) -> pd.DataFrame:
        return pd.DataFrame(
            [
                row("cnn", 0.03, seed, f"equivariance_error_{s}px", value)
                for seed in range(3)
                for s in (1, 2, 3)
            ]
        )

    assert checks.translation_equivariant(errors(0.0), PROTOCOL, tolerance=1e-12).passed
    assert not checks.translation_equivariant(errors(0.3), PROTOCOL, tolerance=1e-12).passed
    outcome = checks.translation_equivariant(
        pd.DataFrame([row("cnn", 0.03, 0, "x", 1.0)]), PROTOCOL, 1e-12
    )
    assert not outcome.passed and "not measured" in outcome.detail


def test_a_trained_looking_cnn_is_equivariant_and_the_measure_sees_a_wrong_shift():
    spec = run.cnn_specs(PROTOCOL, [0, 1], [0.03])[0]
    net = StackedConvNet([spec, run.cnn_specs(PROTOCOL, [1], [0.03])[0]])
    images = synthetic_classification(6, seed=0).images
    values = run.kernels_and_equivariance(images, [1, 3])(net)
    assert values["equivariance_error_1px"].max() < 1e-12
    assert values["conv1_kernel_6_5_5"].shape == (2,)
    maps = run.first_maps(net, images).view(6, 2, 6, 28, 28)
    moved = run.first_maps(net, run.shifted(images, 2, torch.zeros(6, dtype=torch.long)))
    wrong = torch.roll(maps, 1, dims=4)  # one pixel where the image moved two
    gap = (moved.view_as(maps) - wrong)[..., 7:21, 7:21].abs().max()
    assert gap > 1e-3


def test_shifted_moves_each_image_its_own_way_and_fills_with_background():
    image = torch.zeros(4, 28, 28)
    image[:, 10, 10] = 1.0
    directions = torch.tensor([0, 1, 2, 3])  # right, left, down, up
    moved = run.shifted(image.view(4, -1), 2, directions).view(4, 28, 28)
    assert moved.sum().item() == 4
    assert [tuple(torch.nonzero(m)[0].tolist()) for m in moved] == [
        (10, 12),
        (10, 8),
        (12, 10),
        (8, 10),
    ]
    edge = torch.ones(1, 784)
    assert run.shifted(edge, 3, torch.tensor([0])).view(28, 28)[:, :3].sum() == 0


def test_pooling_robustness_passes_when_the_cnn_drops_less_and_fails_otherwise():
    outcome = checks.cnn_more_robust_to_shifts(
        results(LIKE_THE_CLAIM), PROTOCOL, floor_percent=90.0
    )
    assert outcome.passed and len(outcome.values) == 9
    assert "1 px: CNN 98.60% (−0.20), MLP 92.30% (−5.00)" in outcome.detail
    same = results(LIKE_THE_CLAIM, drops={"cnn": [0.05] * 3, "mlp": [0.02] * 3})
    assert not checks.cnn_more_robust_to_shifts(same, PROTOCOL, floor_percent=90.0).passed
    chance = {"cnn": [0.2] * 3, "mlp": [0.1] * 3}
    outcome = checks.cnn_more_robust_to_shifts(results(chance), PROTOCOL, floor_percent=90.0)
    assert not outcome.passed and "under the 90% floor" in outcome.detail


def test_every_claim_quotes_the_slides_and_declares_its_kind():
    experiment = load("cnn-vs-mlp")
    assert experiment.reference["lenet5_test_error_percent"] == 0.95
    assert [c.check for c in experiment.claims] == list(checks.CHECKS)
    kinds = {c.id: c.kind for c in experiment.claims}
    assert kinds == {
        "cnn-beats-mlp": "empirical",
        "weight-sharing": "identity",
        "translation-equivariance": "identity",
        "pooling-robust-to-shifts": "empirical",
    }
    assert all(claim.quote for claim in experiment.claims)


@pytest.mark.skipif(not LECTURES.is_dir(), reason="the lecture decks are not in this checkout")
def test_every_quote_is_the_decks_text():
    decks = " ".join(p.read_text() for p in LECTURES.glob("0*.txt"))
    decks = re.sub(r"\s+", " ", re.sub(r"[*$]|\n\s*- ", " ", decks))  # no markup or bullets
    for claim in load("cnn-vs-mlp").claims:
        for part in re.split(r"; | … ", claim.quote):
            assert re.sub(r"\s+", " ", part) in decks, (claim.id, part)


@needs_mnist
def test_tiny_run_trains_both_models_and_records_every_measurement(tmp_path):
    result = dlexp("run", "cnn-vs-mlp", "--scale", "tiny", "--out", str(tmp_path), "--quiet")
    assert result.exit_code in (0, 1), result.output
    folder = tmp_path / "cnn-vs-mlp" / "tiny"
    table = pd.read_csv(folder / "metrics.csv")
    assert set(table.model) == {"cnn", "mlp"} and set(table.seed) == {0, 1, 2}
    trained = table[table.metric == "test_accuracy"]
    assert set(trained.epoch) == {1} and len(trained) == 2 * 2 * 3
    assert trained.value.min() > 0.5  # 600 images teach most digits
    assert {f"test_shifted_{s}px_accuracy" for s in (1, 2, 3)} <= set(table.metric)
    assert (table.metric.str.startswith("conv1_kernel_")).sum() == 150 * 2 * 3
    info = json.loads((folder / "run.json").read_text())
    verdicts = {c["id"]: c for c in info["claims"]}
    assert verdicts["weight-sharing"]["passed"] and verdicts["translation-equivariance"]["passed"]
    assert "3,692,640 dense" in verdicts["weight-sharing"]["detail"]
    assert len(list((folder / "figures").glob("*.png"))) == 3
