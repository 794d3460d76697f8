"""Measurements that several findings share, named as the lectures name them: accuracy and cost
on named splits, gradient norms per layer, weight norms, hidden pre-activations.

Each returns a `Measure`: given the stack, metric name → tensor [M] or [M, layers]. Measures that
only one finding uses live in that experiment's folder.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from dlexp.data import Split
from dlexp.models import StackedMLP
from dlexp.trace import Trace
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


# Images per test-mode forward pass: a stack's activations for 1,000 images stay in cache, and
# scoring 50,000 images with 24 depth-sweep nets took 1.5 s so against 2.4 s 10,000 at a time.
EVALUATION_CHUNK = 1_000


@dataclass(frozen=True)
class Chunk:
    """Examples of a split for one test pass: their `rows` in the split, their labels, and
    their images with only the input units that some example lights (`lit`, their indices;
    None when all are). A pixel that is 0 in every image of the chunk adds nothing to
    z^1 = W^1 x + b^1, so the first layer multiplies over the lit units alone
    (`StackedMLP.first_layer`)."""

    rows: torch.Tensor
    labels: torch.Tensor
    lit: torch.Tensor | None
    lit_images: torch.Tensor


_chunks: weakref.WeakKeyDictionary[Split, dict[int, list[Chunk]]] = weakref.WeakKeyDictionary()


def chunks(split: Split, size: int = EVALUATION_CHUNK) -> list[Chunk]:
    """`split` in chunks of `size` examples taken class by class, each with its lit input
    units; worked out once per split and size and kept while the split lives (made before the
    workers fork, shared by them).

    Images of one class light much the same pixels: MNIST's test images in chunks of 1,000
    light 596 of the 784 pixels on average in the split's order, 524 class by class. Scoring
    the 10,000 test images: 12 784-100-10 nets 193 → 158 ms, 12 depth-sweep nets of 3 hidden
    layers 78 → 70 ms (best of five). A split's cost and accuracy are sums over all its
    examples, in whatever order.
    """
    kept = _chunks.setdefault(split, {})
    if size not in kept:
        by_class = torch.sort(split.labels, stable=True).indices
        kept[size] = [lit_chunk(split, rows) for rows in by_class.split(size)]
    return kept[size]


def lit_chunk(split: Split, rows: torch.Tensor) -> Chunk:
    """The examples `rows` of `split` as one chunk, with the input units that some image
    lights."""
    images = split.images.index_select(0, rows)
    lit = images.ne(0).any(0).nonzero().squeeze(1)
    if len(lit) == images.shape[1]:
        return Chunk(rows, split.labels[rows], None, images)
    return Chunk(rows, split.labels[rows], lit, images.index_select(1, lit))


def test_passes(
    net: StackedMLP, split: Split, chunk: int = EVALUATION_CHUNK
) -> Iterator[tuple[Chunk, Trace]]:
    """Every example of `split` fed forward in test mode (every hidden unit used), chunk by
    chunk (`chunks`): each chunk with the trace of its pass."""
    split = split.to(net.device)
    # 0 · ∞ is NaN: a net whose first-layer weights are no longer finite is fed every input unit,
    # so that it scores as it would with all of them.
    finite = bool(net.weights[0].isfinite().all())
    for part in chunks(split, chunk):
        if finite:
            yield part, net.forward(part.lit_images, lit=part.lit)
        else:
            yield part, net.forward(split.images.index_select(0, part.rows))


def evaluate(
    net: StackedMLP, split: Split, chunk: int = EVALUATION_CHUNK
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per model: mean cost C₀ and accuracy on `split`, every hidden unit used (test mode)."""
    total_cost = torch.zeros(net.n_models, device=net.device, dtype=torch.float64)
    correct = torch.zeros(net.n_models, device=net.device, dtype=torch.float64)
    for part, trace in test_passes(net, split, chunk):
        total_cost += net.cost(trace, part.labels).sum(-1).double()
        correct += (net.predictions(trace) == part.labels).sum(-1).double()
    return total_cost / len(split), correct / len(split)


Score = Callable[[Any, Split], tuple[torch.Tensor, torch.Tensor]]
"""Per model: mean cost and accuracy of a stack on a split ([M] each)."""


def accuracy_and_cost(splits: dict[str, Split], score: Score = evaluate) -> Measure:
    """A measure reporting `<split>_cost` and `<split>_accuracy` for each named split, scored by
    `score` (`evaluate` for MLP stacks; a smaller chunk for very deep ones; the conv trainer's
    for convolutional stacks)."""

    if score is evaluate:  # here, before the workers fork: they share the chunks
        for split in splits.values():
            chunks(split)

    def measure(net: StackedMLP) -> dict[str, torch.Tensor]:
        values = {}
        for name, split in splits.items():
            cost, accuracy = score(net, split)
            values[f"{name}_cost"] = cost
            values[f"{name}_accuracy"] = accuracy
        return values

    return measure
