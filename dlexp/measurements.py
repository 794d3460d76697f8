"""Per-epoch measurements of a stack of networks, named as the lectures name them.

Each returns a `Measure`: given the stack, metric name → tensor [M] or [M, layers].
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from dlexp.data import Split
from dlexp.models import StackedMLP
from dlexp.trainer import Measure


def layer_gradient_norms(data: Split) -> Measure:
    """‖∂C/∂b^l‖ per layer, the lectures' "speed of learning" of layer l, C averaged over `data`."""

    def measure(net: StackedMLP) -> dict[str, torch.Tensor]:
        _, grad_b = net.gradients(data.images, data.labels)
        return {"gradient_norm": torch.stack([g.norm(dim=1) for g in grad_b], dim=1)}

    return measure


def hidden_pre_activations(
    net: StackedMLP, images: torch.Tensor, chunk: int = 2_000
) -> Iterator[list[torch.Tensor]]:
    """z^l of every hidden layer for `images`, chunk by chunk: yields a list per chunk."""
    for start in range(0, len(images), chunk):
        trace = net.forward(images[start : start + chunk])
        yield trace.zs[:-1]


def weight_norm(net: StackedMLP) -> dict[str, torch.Tensor]:
    """‖w‖₂ over every weight of each model (biases excluded, as in the L2 penalty)."""
    squares = sum((w**2).sum(dim=(1, 2)) for w in net.weights)
    return {"weight_norm": torch.sqrt(squares)}
