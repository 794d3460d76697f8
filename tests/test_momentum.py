"""Momentum: heavy ball as PyTorch's SGD computes it, deck 004's one-step form as a hand loop,
and each model in a stack as if trained alone."""

import pytest
import torch

from dlexp.models import StackedMLP

from .stacks import DATA, spec
from .stacks import final_weights as trained

N = len(DATA)


def test_heavy_ball_matches_torch_sgd_with_momentum_and_weight_decay():
    """Full-batch steps (the shuffle cannot change a full batch's mean gradient), against
    torch.optim.SGD(momentum=μ, dampening=0, weight_decay=λ/n on the weights only)."""
    s = spec(batch_size=N, eta=0.3, momentum=0.9, l2=5.0)
    net = StackedMLP([s])
    params = [
        t[layer][0].clone().requires_grad_()
        for layer in range(3)
        for t in (net.weights, net.biases)
    ]
    weights, biases = params[0::2], params[1::2]
    optimiser = torch.optim.SGD(
        [{"params": weights, "weight_decay": s.l2 / N}, {"params": biases, "weight_decay": 0.0}],
        lr=s.eta,
        momentum=s.momentum,
        dampening=0.0,
    )
    y = torch.nn.functional.one_hot(DATA.labels, 4).float()
    for _ in range(6):
        optimiser.zero_grad()
        a = DATA.images
        for w, b in zip(weights[:-1], biases[:-1]):
            a = torch.sigmoid(a @ w.T + b)
        z = a @ weights[-1].T + biases[-1]
        cost = torch.nn.functional.binary_cross_entropy_with_logits(z, y, reduction="sum") / N
        cost.backward()
        optimiser.step()
    ours = trained([s], epochs=6)[("v", 0)]
    for got, want in zip(ours, params, strict=True):
        torch.testing.assert_close(got, want.detach(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("form", ["heavy-ball", "one-step"])
def test_momentum_matches_a_hand_loop_of_its_equations_with_l1_and_l2(form):
    s = spec(batch_size=N, eta=0.2, momentum=0.6, momentum_form=form, l2=2.0, l1=1.0)
    net = StackedMLP([s])
    velocity: list[torch.Tensor | None] = [None] * 6
    for _ in range(5):
        grad_w, grad_b = net.gradients(DATA.images, DATA.labels)
        grads = []
        for layer in range(3):
            w = net.weights[layer]
            grads += [grad_w[layer] + (s.l2 / N) * w + (s.l1 / N) * w.sign(), grad_b[layer]]
        params = [t[layer] for layer in range(3) for t in (net.weights, net.biases)]
        for i, (p, g) in enumerate(zip(params, grads)):
            descent = -s.eta * g
            step = descent if velocity[i] is None else s.momentum * velocity[i] + descent
            p += step
            velocity[i] = step if form == "heavy-ball" else descent
    ours = trained([s], epochs=5)[("v", 0)]
    want = [t[layer][0] for layer in range(3) for t in (net.weights, net.biases)]
    for got, expected in zip(ours, want, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_one_step_uses_only_the_previous_gradient_and_differs_from_heavy_ball():
    heavy = trained([spec(momentum=0.9)], epochs=2)[("v", 0)]
    one_step = trained([spec(momentum=0.9, momentum_form="one-step")], epochs=2)[("v", 0)]
    plain = trained([spec()], epochs=2)[("v", 0)]
    assert not torch.allclose(heavy[0], one_step[0]) and not torch.allclose(one_step[0], plain[0])


def test_models_with_momentum_train_as_if_alone():
    mixed = [
        spec(variant="heavy", momentum=0.9),
        spec(variant="one-step", seed=1, momentum=0.5, momentum_form="one-step", l2=3.0),
        spec(variant="plain", seed=2),
        spec(variant="l1", seed=3, momentum=0.8, l1=2.0, eta=0.1, keep_prob=0.5),
        spec(variant="deep", seed=4, sizes=(20, 8, 8, 8, 4), momentum=0.9, output="softmax"),
        spec(variant="shallow", seed=5, sizes=(20, 8, 4), momentum=0.7, momentum_form="one-step"),
    ]
    together = trained(mixed, epochs=3, one_stack=True)
    for s in mixed:
        alone = trained([s], epochs=3)[(s.variant, s.seed)]
        for got, want in zip(together[(s.variant, s.seed)], alone, strict=True):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_momentum_must_be_below_one():
    with pytest.raises(ValueError, match="momentum"):
        spec(momentum=1.0)
    with pytest.raises(ValueError, match="momentum_form"):
        spec(momentum_form="nesterov")
