"""Dropout masks: which input and hidden units each model keeps at each training step.

Deck 002 (after Srivastava et al. 2014): "For each training example: randomly turn-off the neurons
of hidden units (with p = 0.5)"; "At test time, use each neuron scaled down by p". Decks 000 and 004
describe one mask per mini-batch instead. Each model chooses (`ModelSpec.dropout_masks`):

    "mini-batch":  each unit is kept (1) or deleted (0) for a whole mini-batch;
    "example":     each example of the mini-batch has its own mask.

Input units are dropped the same way with their own p (`ModelSpec.input_keep_prob`).

Every model draws its masks from its own generator in an order that depends on its own spec only
(per epoch, after its shuffle: its per-mini-batch masks of the epoch, layer by layer from the
input; its per-example masks block by block of examples), so a model in a stack draws exactly
what it would draw alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from dlexp.models import StackedMLP

DROPOUT_MASKS = ("mini-batch", "example")

# Per-example masks are drawn for about this many examples at a time (whole mini-batches), so their
# memory does not grow with the training set.
_BLOCK_EXAMPLES = 512


@dataclass
class Masks:
    """One training step's masks, 0/1 tensors [M, m or 1, units] (1: kept): `inputs` on the input
    units, `hidden[l]` on hidden layer l's outputs f(z^l); None where no model of the stack drops.

    Passing a `Masks` to `StackedMLP.forward` makes the pass a training pass."""

    inputs: torch.Tensor | None
    hidden: list[torch.Tensor | None]


def no_masks(net: StackedMLP) -> Masks:
    """A training step in which every unit is kept."""
    return Masks(inputs=None, hidden=[None] * (net.n_layers - 1))


def keep_probabilities(net: StackedMLP, model: int) -> list[float]:
    """Model `model`'s p for the input units, then for each hidden layer of the stack (1 for its
    pass-through layers, which it does not use)."""
    spec = net.specs[model]
    depth = net.depths[model]
    hidden = [spec.keep_prob if layer < depth else 1.0 for layer in range(net.n_layers - 1)]
    return [spec.input_keep_prob, *hidden]


def epoch_masks(net: StackedMLP, n: int) -> Iterator[Masks]:
    """The masks of an epoch's mini-batches over n examples, in step order."""
    m = net.specs[0].batch_size
    widths = net.sizes[:-1]  # input units, then each hidden layer's
    probs = [keep_probabilities(net, model) for model in range(net.n_models)]
    per_batch, compact = mini_batch_masks(net, n)
    by_example = [i not in compact and any(p[i] < 1.0 for p in probs) for i in range(len(widths))]
    block = max(1, _BLOCK_EXAMPLES // m) * m
    for start in range(0, n, block):
        rows = min(block, n - start)
        drawn = {
            i: example_block(net, probs, per_batch, i, widths[i], start, rows)
            for i in range(len(widths))
            if by_example[i]
        }
        for first in range(start, start + rows, m):
            layers: list[torch.Tensor | None] = []
            for i in range(len(widths)):
                if i in compact:
                    layers.append(compact[i][:, first // m : first // m + 1])
                elif i in drawn:
                    layers.append(drawn[i][:, first - start : first - start + m])
                else:
                    layers.append(None)
            yield Masks(inputs=layers[0], hidden=layers[1:])


def mini_batch_masks(
    net: StackedMLP, n: int
) -> tuple[list[list[torch.Tensor | None]], dict[int, torch.Tensor]]:
    """The masks of an epoch drawn per mini-batch: per model and layer (0: inputs) [batches,
    width] or None (keeps every unit, or draws per example); and per layer in which some model
    drops and none per example, the stack's [M, batches, width]."""
    batches = -(-n // net.specs[0].batch_size)
    widths = net.sizes[:-1]
    probs = [keep_probabilities(net, model) for model in range(net.n_models)]
    per_batch = [
        [
            None
            if p == 1.0 or spec.dropout_masks == "example"
            else draw(generator, batches, width, p)
            for p, width in zip(model_probs, widths)
        ]
        for model_probs, spec, generator in zip(probs, net.specs, net.generators)
    ]
    compact = {
        i: net_tensor(net, [drawn[i] for drawn in per_batch], batches, widths[i])
        for i in range(len(widths))
        if any(p[i] < 1.0 for p in probs)
        and not any(p[i] < 1.0 and s.dropout_masks == "example" for p, s in zip(probs, net.specs))
    }
    return per_batch, compact


def draw(generator: torch.Generator, rows: int, width: int, p: float) -> torch.Tensor:
    """rows × width independent keep (1) / delete (0) decisions, each kept with probability p."""
    return (torch.rand(rows, width, generator=generator) < p).float()


def net_tensor(
    net: StackedMLP, per_model: list[torch.Tensor | None], rows: int, width: int
) -> torch.Tensor:
    """[M, rows, width] on the stack's device; a model that drops nothing keeps every unit."""
    full = [torch.ones(rows, width) if mask is None else mask for mask in per_model]
    return torch.stack(full).to(net.device)


def example_block(
    net: StackedMLP,
    probs: list[list[float]],
    per_batch: list[list[torch.Tensor | None]],
    layer: int,
    width: int,
    start: int,
    rows: int,
) -> torch.Tensor:
    """[M, rows, width] masks of examples start … start + rows of layer `layer` (0: inputs):
    drawn now by the per-example models, repeated per mini-batch for the others."""
    m = net.specs[0].batch_size
    per_model: list[torch.Tensor | None] = []
    for model, generator in enumerate(net.generators):
        p = probs[model][layer]
        batch_masks = per_batch[model][layer]
        if p == 1.0:
            per_model.append(None)
        elif batch_masks is None:
            per_model.append(draw(generator, rows, width, p))
        else:
            steps = batch_masks[start // m : -(-(start + rows) // m)]
            per_model.append(steps.repeat_interleave(m, dim=0)[:rows])
    return net_tensor(net, per_model, rows, width)
