"""Batch normalisation: the hand-written backward pass against autograd through
torch.nn.functional.batch_norm (float64), running averages as PyTorch keeps them, and each
model in a stack as if trained alone (with depth padding and residual skips)."""

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from dlexp.batch_norm import EPSILON, RUNNING_MOMENTUM, BatchNorm
from dlexp.data import synthetic_classification
from dlexp.dropout import epoch_masks
from dlexp.model_spec import ModelSpec
from dlexp.models import StackedMLP
from dlexp.trainer import Schedule, train, train_stack

DATA = synthetic_classification(200, n_features=20, n_classes=4, seed=3)


def spec(**changes) -> ModelSpec:
    base = ModelSpec(
        variant="v", seed=0, sizes=(20, 8, 8, 4), eta=0.5, batch_size=10, batch_norm=True
    )
    return replace(base, **changes)


def random_norm(generator: torch.Generator, widths: list[int]) -> BatchNorm:
    norm = BatchNorm(3, widths, dtype=torch.float64)
    for layer in range(len(widths)):
        norm.gamma[layer].normal_(1.0, 0.5, generator=generator)
        norm.beta[layer].normal_(0.0, 0.5, generator=generator)
        norm.running_mean[layer].normal_(0.0, 1.0, generator=generator)
        norm.running_var[layer].uniform_(0.5, 2.0, generator=generator)
    return norm


@pytest.mark.parametrize("training", [True, False])
def test_the_hand_written_backward_pass_matches_autograd_in_float64(training):
    generator = torch.Generator().manual_seed(0)
    norm = random_norm(generator, [5])
    z = torch.randn(3, 16, 5, generator=generator, dtype=torch.float64) * 3 + 1
    upstream = torch.randn(3, 16, 5, generator=generator, dtype=torch.float64)
    running = (norm.running_mean[0].clone(), norm.running_var[0].clone())
    y, normalised = norm.forward(0, z, training)
    grad_z, grad_gamma, grad_beta = norm.backward(0, upstream, normalised)
    for m in range(3):
        leaves = [
            t.clone().requires_grad_() for t in (z[m], norm.gamma[0][m, 0], norm.beta[0][m, 0])
        ]
        mean, var = running[0][m, 0].clone(), running[1][m, 0].clone()
        want = F.batch_norm(
            leaves[0], mean, var, leaves[1], leaves[2], training, RUNNING_MOMENTUM, EPSILON
        )
        want.backward(upstream[m])
        torch.testing.assert_close(y[m], want.detach(), rtol=1e-12, atol=1e-12)
        for got, leaf in zip((grad_z[m], grad_gamma[m, 0], grad_beta[m, 0]), leaves, strict=True):
            torch.testing.assert_close(got, leaf.grad, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(norm.running_mean[0][m, 0], mean, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(norm.running_var[0][m, 0], var, rtol=1e-12, atol=1e-12)


def autograd_gradients(net: StackedMLP, model: int, x, labels, masks) -> list[torch.Tensor]:
    """Model `model` of a batch-normalised stack in a training pass, differentiated by autograd:
    (W, b, γ, β) of each hidden layer, then (W, b) of the output layer."""
    s, norm = net.specs[model], net.norm
    hidden = net.own_layers(model)[:-1]
    params = []
    for layer in hidden:
        params += [net.weights[layer][model], net.biases[layer][model]]
        params += [norm.gamma[layer][model, 0], norm.beta[layer][model, 0]]
    params += [net.weights[-1][model], net.biases[-1][model]]
    params = [p.detach().clone().requires_grad_() for p in params]
    a = x
    for i, layer in enumerate(hidden):
        w, b, gamma, beta = params[4 * i : 4 * i + 4]
        z = F.batch_norm(a @ w.T + b, None, None, gamma, beta, True, 0.0, EPSILON)
        f = {"sigmoid": torch.sigmoid}.get(s.activation, torch.relu)(z)
        if masks.hidden[layer] is not None:
            f = f * masks.hidden[layer][model]
        a = a + f if net.skips[layer] else f
    z = a @ params[-2].T + params[-1]
    y = F.one_hot(labels, z.shape[-1]).double()
    cost = F.binary_cross_entropy_with_logits(z, y, reduction="sum") / len(x)
    cost.backward()
    return [p.grad for p in params]


@pytest.mark.parametrize("changes", [{}, {"residual": True, "activation": "relu"}])
def test_backpropagation_through_batch_norm_matches_autograd(changes):
    """Two depths in one stack (the shallower one's extra layer a pass-through), with dropout,
    in float64."""
    specs = [
        spec(sizes=(20, 8, 8, 8, 4), keep_prob=0.7, **changes),
        spec(seed=1, sizes=(20, 8, 8, 4), **changes),
    ]
    net = StackedMLP(specs, dtype=torch.float64)
    masks = next(iter(epoch_masks(net, 20)))
    x, labels = DATA.images[:20].double(), DATA.labels[:20]
    trace = net.forward(x.expand(2, *x.shape).contiguous(), masks)
    y = net.targets(labels).expand(2, -1, -1)
    ours = {error.layer: error for error in net.backprop(trace, y, masks)}
    for model in range(2):
        got = []
        for layer in net.own_layers(model):
            error = ours[layer]
            delta, previous = error.delta[model], error.previous[model]
            got += [delta.T @ previous / 20, delta.sum(0) / 20]
            if error.norm is not None and layer < net.n_layers - 1:
                got += [g[model, 0] / 20 for g in error.norm]
        expected = autograd_gradients(net, model, x, labels, masks)
        for g, want in zip(got, expected, strict=True):
            torch.testing.assert_close(g, want, rtol=1e-10, atol=1e-12)


def trained(specs: list[ModelSpec], epochs: int = 3) -> dict:
    """Every model's own W, b, γ, β and running averages after training them in one stack, in
    float64 (batch norm's 1/σ magnifies float32's different summation orders in a stack)."""
    captured = {}

    def capture(net: StackedMLP) -> dict[str, torch.Tensor]:
        norm = net.norm
        for m, s in enumerate(net.specs):
            own = net.own_layers(m)
            tensors = [t[layer][m] for layer in own for t in (net.weights, net.biases)]
            for layer in own[:-1]:
                tensors += [
                    t[layer][m]
                    for t in (norm.gamma, norm.beta, norm.running_mean, norm.running_var)
                ]
            captured[(s.variant, s.seed)] = [t.clone() for t in tensors]
        return {}

    schedule = Schedule(epochs=epochs, measure_every=epochs)
    train_stack(StackedMLP(specs, dtype=torch.float64), DATA, schedule, [capture])
    return captured


@pytest.mark.parametrize("changes", [{}, {"residual": True, "activation": "relu"}])
def test_batch_normalised_models_train_as_if_alone(changes):
    mixed = [
        spec(variant="plain", **changes),
        spec(variant="deep", seed=1, sizes=(20, 8, 8, 8, 4), momentum=0.9, **changes),
        spec(variant="shallow", seed=2, sizes=(20, 8, 4), keep_prob=0.5, eta=0.2, **changes),
        spec(variant="l2", seed=3, l2=3.0, momentum=0.5, momentum_form="one-step", **changes),
    ]
    together = trained(mixed)
    for s in mixed:
        alone = trained([s])[(s.variant, s.seed)]
        for got, want in zip(together[(s.variant, s.seed)], alone, strict=True):
            torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-11)


def test_a_test_pass_normalises_with_the_running_averages():
    net = StackedMLP([spec()])
    train_stack(net, DATA, Schedule(epochs=2), [])
    norm, x = net.norm, DATA.images[:30]
    a = x
    for layer in range(2):
        z = a @ net.weights[layer][0].T + net.biases[layer][0]
        mean, var = norm.running_mean[layer][0], norm.running_var[layer][0]
        z = (z - mean) / torch.sqrt(var + EPSILON) * norm.gamma[layer][0] + norm.beta[layer][0]
        a = torch.sigmoid(z)
    want = torch.sigmoid(a @ net.weights[2][0].T + net.biases[2][0])
    torch.testing.assert_close(net.forward(x).output[0], want, rtol=1e-5, atol=1e-6)
    assert not torch.equal(norm.running_var[0], torch.ones_like(norm.running_var[0]))


def test_batch_norm_learns_and_needs_two_examples_per_mini_batch():
    from dlexp.measures import accuracy_and_cost

    table = train([spec()], DATA, Schedule(epochs=10), [accuracy_and_cost({"train": DATA})])
    accuracy = table[(table.metric == "train_accuracy") & (table.epoch == 10)]["value"]
    assert accuracy.item() > 0.9
    with pytest.raises(ValueError, match="2 examples"):
        spec(batch_size=1)
    with pytest.raises(ValueError, match="2 examples"):
        train([spec(batch_size=199)], DATA, Schedule(epochs=1), [])  # a last batch of 1 example
