"""The convolutional stacks: each model of a stack trains exactly as it would alone (a plain
nn.Module with optim.SGD), and on an MLP the autograd path equals the hand-written one."""

import pandas as pd
import pytest
import torch
from torch import nn

from dlexp.conv_trainer import (
    conv_accuracy_and_cost,
    conv_evaluate,
    train_conv_stack,
    train_convnets,
)
from dlexp.convnet import (
    LENET5_HIDDEN,
    Conv,
    ConvSpec,
    Pool,
    StackedConvNet,
    initial_parameters,
    lenet5,
)
from dlexp.model_spec import ModelSpec
from dlexp.models import StackedMLP
from dlexp.splits import synthetic_classification
from dlexp.trainer import Schedule, stacks, train_stack

LAYERS = (Conv(4, 5, padding=2), Pool("max"), Conv(6, 3), Pool("average"))


def small_spec(seed: int, **changes) -> ConvSpec:
    return ConvSpec(variant="cnn", seed=seed, layers=LAYERS, hidden=(16,), batch_size=10, **changes)


def alone(spec: ConvSpec) -> tuple[nn.Sequential, torch.Generator]:
    """The same model as a plain nn.Module, initialised from its own generator."""
    generator = torch.Generator().manual_seed(spec.seed)
    drawn = iter(initial_parameters(spec, generator))
    modules: list[nn.Module] = []
    for layer in spec.layers:
        if isinstance(layer, Conv):
            weight, bias = next(drawn)
            conv = nn.Conv2d(weight.shape[1], layer.maps, layer.kernel, padding=layer.padding)
            conv.weight.data, conv.bias.data = weight.clone(), bias.clone()
            modules += [conv, nn.ReLU()]
        else:
            modules.append(nn.MaxPool2d(layer.size) if layer.kind == "max" else nn.AvgPool2d(2))
    modules.append(nn.Flatten())
    for weight, bias in drawn:
        linear = nn.Linear(weight.shape[1], weight.shape[0])
        linear.weight.data, linear.bias.data = weight.clone(), bias.clone()
        modules += [linear, nn.ReLU()]
    return nn.Sequential(*modules[:-1]), generator


def train_alone(spec: ConvSpec, images: torch.Tensor, labels: torch.Tensor, epochs: int):
    model, generator = alone(spec)
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
    optimiser = torch.optim.SGD(
        [
            {"params": weights, "weight_decay": spec.l2 / len(images)},
            {"params": biases, "weight_decay": 0.0},
        ],
        lr=spec.eta,
        momentum=spec.momentum,
    )
    x = images.view(-1, 1, 28, 28)
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=generator).split(spec.batch_size):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), labels[batch]).backward()
            optimiser.step()
    return model


def test_each_model_of_a_stack_ends_where_it_would_end_alone():
    data = synthetic_classification(55, seed=3)  # a last mini-batch of 5
    specs = [
        small_spec(0, eta=0.05),
        small_spec(1, eta=0.02, l2=3.0),
        small_spec(2, eta=0.03, momentum=0.9, l2=1.0),
    ]
    net = StackedConvNet(specs)
    train_conv_stack(net, data, Schedule(2), [])
    m = len(specs)
    for index, spec in enumerate(specs):
        reference = train_alone(spec, data.images, data.labels, 2).parameters()
        for number, (stacked, own) in enumerate(zip(net.parameters, reference)):
            dense_weight = number >= 2 * net.n_conv and number % 2 == 0  # kept as (W^l)ᵀ
            mine = (stacked.detach().mT if dense_weight else stacked.detach()).reshape(m, -1)[index]
            assert torch.allclose(mine, own.detach().flatten(), atol=2e-6, rtol=1e-5)


def test_mlp_trained_with_autograd_equals_the_hand_written_backpropagation():
    data = synthetic_classification(60, seed=1)
    common = {"eta": 0.5, "l2": 2.0, "momentum": 0.5, "batch_size": 10}
    mlp_specs = [
        ModelSpec("mlp", seed, (784, 30, 10), weight_init="normalized", **common) for seed in (0, 1)
    ]
    conv_specs = [
        ConvSpec(
            "mlp",
            seed,
            hidden=(30,),
            activation="sigmoid",
            output="sigmoid",
            weight_init="normalized",
            bias_std=1.0,
            **common,
        )
        for seed in (0, 1)
    ]
    by_hand, by_autograd = StackedMLP(mlp_specs), StackedConvNet(conv_specs)
    measure = conv_accuracy_and_cost({"train": data})
    table = train_conv_stack(by_autograd, data, Schedule(3), [measure])
    train_stack(by_hand, data, Schedule(3), [])
    for weight_t, weight_by_hand in zip(by_autograd.weights, by_hand.weights):
        assert torch.allclose(weight_t.detach().mT, weight_by_hand, atol=1e-5)
    for bias, bias_by_hand in zip(by_autograd.biases, by_hand.biases):
        assert torch.allclose(bias.detach().squeeze(1), bias_by_hand, atol=1e-5)
    assert set(table.metric) == {"train_accuracy", "train_cost"}
    assert sorted(table.epoch.unique()) == [0, 1, 2, 3]


def test_train_convnets_returns_the_long_table_and_stacks_by_architecture():
    data = synthetic_classification(40, seed=2)
    specs = [small_spec(s, params={"model": "cnn"}) for s in (0, 1)] + [
        ConvSpec("mlp", 0, hidden=(20,), params={"model": "mlp"})
    ]
    assert [len(g) for g in stacks(specs)] == [2, 1]
    table = train_convnets(specs, data, Schedule(1), [conv_accuracy_and_cost({"d": data})])
    assert list(table.columns[:6]) == ["variant", "seed", "epoch", "layer", "metric", "value"]
    assert len(table) == 3 * 2 * 2  # models × epochs × metrics
    assert set(table.model) == {"cnn", "mlp"}
    again = train_convnets(specs, data, Schedule(1), [conv_accuracy_and_cost({"d": data})])
    pd.testing.assert_frame_equal(table, again)


def test_a_stack_evaluates_shared_images_as_each_model_alone():
    data = synthetic_classification(30, seed=4)
    net = StackedConvNet([small_spec(0), small_spec(5)])
    cost, accuracy = conv_evaluate(net, data)
    for index, seed in enumerate((0, 5)):
        model, _ = alone(small_spec(seed))
        with torch.no_grad():
            z = model(data.images.view(-1, 1, 28, 28))
        expected = nn.functional.cross_entropy(z, data.labels)
        assert cost[index].item() == pytest.approx(expected.item(), rel=1e-5)
        assert accuracy[index].item() == (z.argmax(1) == data.labels).double().mean().item()


def test_a_model_with_an_infinite_parameter_is_reported_as_not_finite():
    net = StackedConvNet([small_spec(0), small_spec(1), small_spec(2)])
    assert net.finite() == [True, True, True]
    with torch.no_grad():
        net.weights[1][6] = float("nan")  # the second convolution's maps of model 1: rows 6…11
        net.biases[-1][2, 0, 3] = float("inf")  # an output bias of model 2
    assert net.finite() == [True, False, False]


def test_a_spec_with_no_pixels_left_or_an_unknown_pool_is_refused():
    with pytest.raises(ValueError, match="leaves no pixels"):
        ConvSpec("x", 0, layers=(Conv(4, 29),))
    with pytest.raises(ValueError, match="pooling"):
        ConvSpec("x", 0, layers=(Pool("median"),))


def test_multiply_adds_count_each_layer_of_one_forward_pass():
    """LeNet-5: C1 6 maps × 1 × 5² per pixel of 28 × 28, C3 16 × 6 × 5² per pixel of 10 × 10,
    then 400·120 + 120·84 + 84·10; an MLP's Σ n_in·n_out; a conv spec without feature layers
    counts as that MLP."""
    lenet = ConvSpec("cnn", 0, layers=lenet5(), hidden=LENET5_HIDDEN)
    assert lenet.multiply_adds == 6 * 25 * 28 * 28 + 16 * 6 * 25 * 10 * 10 + 48_000 + 10_080 + 840
    assert ModelSpec("mlp", 0, (784, 100, 10)).multiply_adds == 79_400
    assert ConvSpec("mlp", 0, hidden=(100,)).multiply_adds == 79_400
