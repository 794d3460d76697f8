"""Compiled epochs: the torch step's numbers, each model as if alone, and only where they apply."""

from dataclasses import replace
from unittest.mock import patch

import pandas as pd
import pytest
import torch

import dlexp.compiled_epoch as compiled_epoch
from dlexp.compiled_epoch import CompiledEpochs, compiles
from dlexp.data import Split, synthetic_classification
from dlexp.finding import RunContext
from dlexp.measures import accuracy_and_cost
from dlexp.models import StackedMLP
from dlexp.progress import Reporter
from dlexp.trainer import Schedule, epoch_order, total_steps, train_stack

from .stacks import DATA, spec

# 200 examples in mini-batches of 10: 20 epochs of one model are 400 model-steps, "long" in
# these tests.
LONG = 400


@pytest.fixture(autouse=True)
def long_from_400_steps(monkeypatch):
    monkeypatch.setattr(compiled_epoch, "MIN_MODEL_STEPS", LONG)


MIXED = [
    spec(seed=0),
    spec(seed=1, sizes=(20, 8, 4)),
    spec(seed=2, output="softmax", eta=0.2),
    spec(seed=3, cost="quadratic", l2=2.0),
    spec(seed=4, sizes=(20, 8, 4), l1=1.0),
    spec(seed=5, l2=1.0, l1=0.5, eta=0.4),
]


def compiled_training(specs, data: Split, epochs: int) -> StackedMLP:
    net = StackedMLP(specs)
    inputs = data.images if data.pixels is None else data.pixels
    epochs_of = CompiledEpochs(net, len(data))
    for _ in range(epochs):
        epochs_of(inputs, net.targets(data.labels), epoch_order(net, len(data)))
    return net


def torch_training(specs, data: Split, epochs: int) -> StackedMLP:
    net = StackedMLP(specs)
    with patch.object(compiled_epoch, "MIN_MODEL_STEPS", 10**12):  # the torch step, however long
        train_stack(net, data, Schedule(epochs, epochs), [])
    return net


def parameters(net: StackedMLP) -> list[torch.Tensor]:
    return [*net.weights, *net.biases]


MOMENTUM = [
    spec(seed=0, momentum=0.9),
    spec(seed=1, momentum=0.5, momentum_form="one-step", l2=1.0),
    spec(seed=2, momentum=0.9, l1=0.5, output="softmax"),
]
HIDDEN = {
    "sigmoid": {},
    "tanh": {"activation": "tanh"},
    "ReLU": {"activation": "relu", "weight_init": "he", "eta": 0.05},
    "leaky ReLU": {"activation": "relu", "leak": 0.1, "weight_init": "he", "eta": 0.05},
}


@pytest.mark.parametrize("batch_size", [10, 7])
@pytest.mark.parametrize("hidden", HIDDEN)
def test_compiled_epochs_follow_the_torch_step(batch_size, hidden):
    """Every cost, L2, L1, per-model η, shallower models in a deeper stack, a short last
    mini-batch, each hidden activation: the same trajectory as the stacked torch step, up to
    float32 rounding."""
    specs = [replace(s, batch_size=batch_size, **HIDDEN[hidden]) for s in MIXED]
    assert_same_trajectory(specs, DATA, epochs=3)


DROPOUT = [
    spec(seed=0, keep_prob=0.5),
    spec(seed=1, keep_prob=0.8, input_keep_prob=0.8, l2=1.0),
    spec(seed=2, input_keep_prob=0.5, output="softmax"),
    spec(seed=3, sizes=(20, 8, 4), keep_prob=0.5),
    spec(seed=4),
]


@pytest.mark.parametrize("hidden", HIDDEN)
def test_dropout_per_mini_batch_follows_the_torch_step(hidden):
    """Hidden and input units deleted per mini-batch, each model with its own p (and one
    without): the masks drawn as the torch step draws them, a deleted unit passing no error."""
    specs = [replace(s, batch_size=7, **HIDDEN[hidden]) for s in DROPOUT]
    assert_same_trajectory(specs, DATA, epochs=3)


@pytest.mark.parametrize("stack", [MOMENTUM, [*MOMENTUM, spec(seed=3)]], ids=["all", "and none"])
def test_momentum_follows_the_torch_step(stack):
    """Heavy ball and one-step momentum, with penalties, and a model without momentum beside
    them: velocities kept between epochs as `dlexp.sgd` keeps them."""
    assert_same_trajectory(stack, DATA, epochs=3)


def test_linear_outputs_follow_the_torch_step():
    data = synthetic_classification(120, n_features=1, n_classes=2, seed=1)
    specs = [spec(seed=s, sizes=(1, 6, 1), output="linear", cost="quadratic") for s in (0, 1)]
    assert_same_trajectory(specs, data, epochs=4)


def assert_same_trajectory(specs, data: Split, epochs: int) -> None:
    """Close to the torch step's parameters, and not by running it: some differ in rounding."""
    compiled, stacked = compiled_training(specs, data, epochs), torch_training(specs, data, epochs)
    pairs = list(zip(parameters(compiled), parameters(stacked), strict=True))
    for ours, theirs in pairs:
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)
    assert any(not torch.equal(ours, theirs) for ours, theirs in pairs)


def test_pixels_are_divided_by_255_as_the_images_are():
    pixels = torch.randint(0, 256, (200, 20), generator=torch.Generator().manual_seed(0))
    pixels = pixels.to(torch.uint8)
    as_images = Split(pixels.float() / 255, DATA.labels)
    as_pixels = Split(as_images.images, DATA.labels, pixels)
    specs = MIXED[:2]
    for a, b in zip(
        parameters(compiled_training(specs, as_pixels, 2)),
        parameters(compiled_training(specs, as_images, 2)),
        strict=True,
    ):
        assert torch.equal(a, b)


def test_each_model_ends_exactly_where_it_ends_alone():
    stack = compiled_training(MIXED, DATA, 2)
    for m, s in enumerate(MIXED):
        alone = compiled_training([s], DATA, 2)
        for layer, own in zip(stack.own_layers(m), alone.own_layers(0)):
            assert torch.equal(stack.weights[layer][m], alone.weights[own][0])
            assert torch.equal(stack.biases[layer][m], alone.biases[own][0])


def test_the_unused_layers_of_a_shallower_model_stay_zero():
    stack = compiled_training(MIXED, DATA, 1)
    shallow = MIXED.index(spec(seed=1, sizes=(20, 8, 4)))
    assert not stack.weights[1][shallow].any() and not stack.biases[1][shallow].any()


def test_a_long_training_takes_compiled_epochs_and_reports_every_step(monkeypatch):
    specs = MIXED[:3]
    assert compiles(specs, len(DATA), LONG // 20, torch.device("cpu"))
    calls, steps = [], []
    original = compiled_epoch.kernel()

    def counted(*arguments):
        calls.append(1)
        original(*arguments)

    monkeypatch.setattr(compiled_epoch, "kernel", lambda: counted)
    net = StackedMLP(specs)
    train_stack(net, DATA, Schedule(LONG // 20, LONG // 20), [], advance=steps.append)
    assert len(calls) == LONG // 20
    assert sum(steps) == total_steps(specs, len(DATA), LONG // 20)
    for a, b in zip(parameters(net), parameters(compiled_training(specs, DATA, LONG // 20))):
        assert torch.equal(a, b)


def test_one_and_two_workers_give_identical_tables():
    """Shards trained by compiled epochs in forked workers: the table of one process, exactly."""
    specs = [replace(s, seed=s.seed + 10 * copy) for copy in range(3) for s in MIXED]

    def table(workers: int) -> pd.DataFrame:
        context = RunContext({}, [0], torch.device("cpu"), Reporter(quiet=True), workers=workers)
        measures = [accuracy_and_cost({"train": DATA})]
        return context.train(specs, DATA, Schedule(LONG // 20, 5), measures, "compiled")

    pd.testing.assert_frame_equal(table(1), table(2), check_exact=True)


def test_a_run_loads_the_compiled_epochs_before_its_workers_fork(monkeypatch):
    """Once per compiled shard, in this process, before any worker forks; not for shards that
    keep the torch step, nor when one process trains everything."""
    import dlexp.finding as finding

    loaded: list[tuple[int, int]] = []

    def warm_up(spec, data):
        loaded.append((spec.seed, len(data)))
        compiled_epoch.warm_up(spec, data)

    monkeypatch.setattr(finding, "warm_up", warm_up)
    long = [replace(s, seed=s.seed + 10 * copy) for copy in range(2) for s in MIXED]
    short = [spec(seed=100, sizes=(20, 6, 4))]  # a stack of its own, of 200 model-steps
    context = RunContext({}, [0], torch.device("cpu"), Reporter(quiet=True), workers=2)
    measures = [accuracy_and_cost({"train": DATA})]
    trained = context.train(long + short, DATA, Schedule(LONG // 40, 1), measures, "compiled")
    assert sorted(loaded) == [(0, len(DATA)), (10, len(DATA))]  # `long`, cut in two shards
    assert set(trained.seed) == {s.seed for s in long + short}
    loaded.clear()
    context.workers = 1
    context.train(long, DATA, Schedule(LONG // 40, 1), [], "compiled")
    assert loaded == []


@pytest.mark.parametrize(
    "changes",
    [
        {"keep_prob": 0.5, "dropout_masks": "example"},
        {"input_keep_prob": 0.8, "dropout_masks": "example"},
        {"batch_norm": True},
        {"residual": True, "sizes": (20, 8, 8, 4)},
        {"weight_init": "equal"},
        {"batch_size": 200},
    ],
)
def test_what_the_compiled_epoch_does_not_cover_keeps_the_torch_step(changes):
    specs = [spec(seed=0), spec(seed=1, **changes)]
    assert not compiles(specs, len(DATA), LONG // 20, torch.device("cpu"))


def test_short_trainings_other_devices_and_float64_keep_the_torch_step():
    specs = [spec(seed=0)]
    assert compiles(specs, len(DATA), LONG // 20, torch.device("cpu"))
    assert not compiles(specs, len(DATA), LONG // 20 - 1, torch.device("cpu"))
    assert not compiles(specs, len(DATA), LONG // 20, torch.device("cuda"))
    assert not compiles(specs, len(DATA), LONG // 20, torch.device("cpu"), torch.float64)
