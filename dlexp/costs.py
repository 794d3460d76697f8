"""Costs with their output layer, each with its output error δ^L = ∂C/∂z^L beside its value, as
Nielsen's `network2.py` passes `QuadraticCost` and `CrossEntropyCost` around.

Adding a cost is one class here and one entry in `COSTS`, keyed by (output units, cost name).
"""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F


class Cost(Protocol):
    def output(self, z: torch.Tensor) -> torch.Tensor:
        """a^L from z^L."""
        ...

    def value(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """C_x per example (summed over the output units), from z^L: a test pass scored in z^L
        never computes a^L."""
        ...

    def output_error(self, z: torch.Tensor, a: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """δ^L = ∂C_x/∂z^L."""
        ...


def output_minus_target(z: torch.Tensor, a: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """δ^L = a − y: the output error of each cost whose output layer's derivative cancels its
    own (cross-entropy with sigmoids, log-likelihood with softmax, quadratic with linear
    outputs), so that a stack mixing them computes it once."""
    return a - y


def cost_of_labels(cost: Cost, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """C_x per model and example [M, B] of outputs z^L [M, B, classes] for class labels [B] or
    [M, B], the desired output y one-hot."""
    y = F.one_hot(labels, z.shape[-1]).to(z.dtype).expand_as(z)
    return cost.value(z, y)


class CrossEntropy:
    """Sigmoid outputs, C = −Σ_j [y_j ln a_j + (1 − y_j) ln(1 − a_j)]; δ^L = a − y (no σ')."""

    def output(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(z)

    def value(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (F.softplus(z) - y * z).sum(-1)  # the same sum, written stably in z

    output_error = staticmethod(output_minus_target)


class Quadratic:
    """Sigmoid outputs, C = ½‖a − y‖²; δ^L = (a − y) σ'(z), slow when the output saturates."""

    def output(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(z)

    def value(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return 0.5 * ((self.output(z) - y) ** 2).sum(-1)

    def output_error(self, z: torch.Tensor, a: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (a - y) * (a - a * a)


class LogLikelihood:
    """Softmax outputs, C = −ln a_y; δ^L = a − y."""

    def output(self, z: torch.Tensor) -> torch.Tensor:
        return torch.softmax(z, dim=-1)

    def value(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(z, dim=-1) - (z * y).sum(-1)

    output_error = staticmethod(output_minus_target)


class LinearQuadratic:
    """Linear outputs a = z for regression (F(x) = Σ v_i σ(w_i x + b_i) + c, the universal
    approximation theorem's form), C = ½‖a − y‖²; δ^L = a − y."""

    def output(self, z: torch.Tensor) -> torch.Tensor:
        return z

    def value(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return 0.5 * ((z - y) ** 2).sum(-1)

    output_error = staticmethod(output_minus_target)


COSTS: dict[tuple[str, str], type] = {
    ("sigmoid", "cross-entropy"): CrossEntropy,
    ("sigmoid", "quadratic"): Quadratic,
    ("softmax", "cross-entropy"): LogLikelihood,
    ("linear", "quadratic"): LinearQuadratic,
}
