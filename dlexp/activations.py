"""Hidden-layer activations f, each with its derivative beside it (the lecture's table of
activations and their derivatives): `value` is f(z), `times_derivative` is upstream ⊙ f'(z).

Adding an activation is one class here and one entry in `ACTIVATIONS`. The derivative is computed
from z and from f(z) as kept by the forward pass, whichever is cheaper.
"""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F


class Activation(Protocol):
    def value(self, z: torch.Tensor) -> torch.Tensor: ...

    def times_derivative(
        self, upstream: torch.Tensor, z: torch.Tensor, f: torch.Tensor
    ) -> torch.Tensor: ...


class Sigmoid:
    """σ(z) = 1 / (1 + e^{−z}),  σ'(z) = σ(z)(1 − σ(z)) ≤ 1/4.

    With `exact_copies`, σ is computed as 1/(1 + e^{−z}) written out, four kernels that round
    every element alike. Otherwise it is torch.sigmoid, one kernel, a tenth of a depth-sweep
    training step faster (6-net shards 351 → 312 µs); but its vectorised CPU kernel can round an
    element differently by its position in the tensor, which breaks the exact symmetry of hidden
    units that start equal (the weight-init experiment's identity claim).
    """

    def __init__(self, exact_copies: bool = False) -> None:
        self.exact_copies = exact_copies

    def value(self, z: torch.Tensor) -> torch.Tensor:
        if self.exact_copies:
            return torch.exp(-z).add_(1).reciprocal_()
        return torch.sigmoid(z)

    def times_derivative(
        self, upstream: torch.Tensor, z: torch.Tensor, f: torch.Tensor
    ) -> torch.Tensor:
        return torch.ops.aten.sigmoid_backward(upstream, f)  # upstream·f(1 − f), one fused kernel


class Tanh:
    """tanh(z),  tanh'(z) = 1 − tanh²(z)."""

    def value(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(z)

    def times_derivative(
        self, upstream: torch.Tensor, z: torch.Tensor, f: torch.Tensor
    ) -> torch.Tensor:
        return torch.ops.aten.tanh_backward(upstream, f)  # upstream·(1 − f²), one fused kernel


# Elements per model from which a stack of ReLUs with different slopes computes f and f' model by
# model, one fused kernel each, instead of `torch.where` over a column of slopes, which is slow on
# large tensors (a test pass of 12 nets' 100 units over 1,000 images: f 9.4 → 0.2 ms, upstream
# ⊙ f' 5.6 → 0.3 ms) but cheaper on a training step's few rows (21 against 66 µs).
PER_MODEL_ELEMENTS = 10_000


class ReLU:
    """max(0, z), or leaky ReLU with slope α = `leak` for z < 0 (per model: a column [M, 1, 1]);
    f'(z) = 1 for z > 0, α otherwise.

    A slope that every model of the stack shares is a number: f is then torch's leaky ReLU, one
    kernel, and for the plain ReLU upstream ⊙ f' is upstream ⊙ [z > 0], two; the same arithmetic
    (z or αz; upstream or α·upstream) and layout as the general case's three kernels. On a test
    pass's z [3, 1,000, 30] (columns, `StackedMLP.columns`): f 368 → 10 µs, upstream ⊙ f'
    401 → 163 µs. Different slopes on large tensors take the fused kernels model by model
    (`PER_MODEL_ELEMENTS`). The fused upstream ⊙ f' of a leaky slope serves only where upstream
    and z share a layout (its output takes z's, which would change the products after it).
    """

    def __init__(self, leak: float | torch.Tensor = 0.0) -> None:
        self.leak = leak
        # Each model's α as a number (exactly the column's), for the kernels model by model.
        self.slopes = None if isinstance(leak, float) else leak.view(-1).tolist()

    def value(self, z: torch.Tensor) -> torch.Tensor:
        if self.slopes is None:
            return F.leaky_relu(z, self.leak)
        if z[0].numel() >= PER_MODEL_ELEMENTS:
            out = torch.empty_like(z)
            for m, slope in enumerate(self.slopes):
                torch.ops.aten.leaky_relu.out(z[m], slope, out=out[m])
            return out
        return torch.where(z > 0, z, z * self.leak)

    def times_derivative(
        self, upstream: torch.Tensor, z: torch.Tensor, f: torch.Tensor
    ) -> torch.Tensor:
        if self.slopes is None and self.leak == 0.0:
            return upstream * (z > 0)
        same_layout = upstream.stride() == z.stride()
        backward = torch.ops.aten.leaky_relu_backward
        if self.slopes is None and same_layout:
            return backward(upstream, z, self.leak, False)
        if same_layout and z[0].numel() >= PER_MODEL_ELEMENTS:
            out = torch.empty_like(upstream)
            for m, slope in enumerate(self.slopes):
                backward.grad_input(upstream[m], z[m], slope, False, grad_input=out[m])
            return out
        return upstream * torch.where(z > 0, 1.0, self.leak)


ACTIVATIONS = {"sigmoid": Sigmoid, "relu": ReLU, "tanh": Tanh}


def activation(
    name: str, leak: float | torch.Tensor = 0.0, exact_copies: bool = False
) -> Activation:
    """The activation called `name`; `leak` only matters for ReLU, `exact_copies` for the
    sigmoid (units that start as exact copies must stay copies)."""
    if name == "relu":
        return ReLU(leak)
    return Sigmoid(exact_copies) if name == "sigmoid" else ACTIVATIONS[name]()
