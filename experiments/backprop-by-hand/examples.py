"""The slides' worked examples as networks, and their gradient computed three ways in float64:
dlexp's own backpropagation, PyTorch's autograd, and wiggling each weight (finite differences).

Each slide network is a fully connected sigmoid net with the cross-entropy cost
L = −[y ln a + (1 − y) ln(1 − a)] on one output neuron; the slides write no biases except w0 of
the sigmoid example, so the others are zero and are not counted as parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from dlexp.model_spec import ModelSpec
from dlexp.models import StackedMLP


@contextmanager
def float64() -> Iterator[None]:
    """Every tensor made inside is float64: the slides' numbers, without float32 rounding."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


@dataclass(frozen=True)
class Parameter:
    """One weight W^l[i, j] or bias b^l[i] of a slide network; `name` is its ∂L/∂ label."""

    name: str
    kind: str
    layer: int
    index: tuple[int, ...]


@dataclass(frozen=True)
class SlideNet:
    """A slide's network: weights W^l [out, in] per layer, biases b^l, one input x, target y,
    and which biases are parameters of the example (the sigmoid example's w0)."""

    weights: list[torch.Tensor]
    biases: list[torch.Tensor]
    x: torch.Tensor
    y: int
    bias_is_parameter: bool = False

    def parameters(self) -> list[Parameter]:
        """Every parameter of the example, named as the slides name them."""
        named = []
        for layer, weight in enumerate(self.weights):
            for row, column in torch.cartesian_prod(*map(torch.arange, weight.shape)).tolist():
                name = f"dL/dW{layer + 1}[{row + 1},{column + 1}]"
                named.append(Parameter(name, "W", layer, (row, column)))
            if self.bias_is_parameter:
                for unit in range(len(self.biases[layer])):
                    named.append(Parameter(f"dL/db{layer + 1}[{unit + 1}]", "b", layer, (unit,)))
        return named

    def tensor(self, parameter: Parameter) -> torch.Tensor:
        return (self.weights if parameter.kind == "W" else self.biases)[parameter.layer]

    def loss(self) -> torch.Tensor:
        """L = −[y ln a + (1 − y) ln(1 − a)] of the output a, the forward pass in plain torch."""
        a = self.x
        for weight, bias in zip(self.weights, self.biases):
            a = torch.sigmoid(weight @ a + bias)
        return -(self.y * torch.log(a) + (1 - self.y) * torch.log(1 - a)).sum()


def slide_net(weights: list[list[list[float]]], x: list[float], y: int) -> SlideNet:
    """A slide network without biases."""
    tensors = [torch.tensor(w) for w in weights]
    return SlideNet(tensors, [torch.zeros(len(w)) for w in tensors], torch.tensor(x), y)


def dlexp_stack(net: SlideNet) -> StackedMLP:
    """The same network as a one-model dlexp stack (sigmoid hidden and output units,
    cross-entropy), its weights written in."""
    sizes = (net.weights[0].shape[1], *[w.shape[0] for w in net.weights])
    stack = StackedMLP(
        [ModelSpec(variant="slide", seed=0, sizes=sizes, batch_size=1)], dtype=torch.float64
    )
    for layer, (weight, bias) in enumerate(zip(net.weights, net.biases)):
        stack.weights[layer][0] = weight
        stack.biases[layer][0] = bias
    return stack


def backprop_gradient(net: SlideNet) -> dict[str, float]:
    """∂L/∂w of every parameter by dlexp's four BP equations (`StackedMLP.gradients`)."""
    stack = dlexp_stack(net)
    grad_w, grad_b = stack.gradients(net.x.unsqueeze(0), torch.tensor([net.y]))
    assert grad_w[0].dtype == torch.float64, "the slides' numbers are checked in float64"
    return {
        p.name: float((grad_w if p.kind == "W" else grad_b)[p.layer][0][p.index])
        for p in net.parameters()
    }


def autograd_gradient(net: SlideNet) -> dict[str, float]:
    """∂L/∂w of every parameter by PyTorch's autograd on the plain forward pass."""
    weights = [w.clone().requires_grad_() for w in net.weights]
    biases = [b.clone().requires_grad_() for b in net.biases]
    leaf = SlideNet(weights, biases, net.x, net.y, net.bias_is_parameter)
    leaf.loss().backward()
    return {p.name: float(leaf.tensor(p).grad[p.index]) for p in net.parameters()}


def wiggled_loss(net: SlideNet, parameter: Parameter, by: float) -> float:
    """L with one parameter moved by `by`, every other parameter as it was."""
    tensor = net.tensor(parameter)
    original = float(tensor[parameter.index])
    tensor[parameter.index] = original + by
    try:
        return float(net.loss())
    finally:
        tensor[parameter.index] = original


def central_differences(net: SlideNet, epsilon: float) -> dict[str, float]:
    """(L(w + ε) − L(w − ε)) / 2ε per parameter: the wiggle, measured on both sides."""
    return {
        p.name: (wiggled_loss(net, p, epsilon) - wiggled_loss(net, p, -epsilon)) / (2 * epsilon)
        for p in net.parameters()
    }


def sign(value: float) -> float:
    return float((value > 0) - (value < 0))


def wiggle_steps(net: SlideNet, epsilon: float) -> dict[str, float]:
    """The slide's update of each weight: ε · sgn(L(θ) − L(θ with w + ε))."""
    loss = float(net.loss())
    return {p.name: epsilon * sign(loss - wiggled_loss(net, p, epsilon)) for p in net.parameters()}
