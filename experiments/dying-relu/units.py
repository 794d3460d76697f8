"""What the dying-ReLU finding measures in each hidden unit, after every epoch.

For each hidden layer, over the fixed training images:
- `never_positive_fraction`: units with z ≤ 0 on every image;
- `dead_fraction`: units with f'(z) = 0 on every image, so that no gradient reaches their own
  weights and bias (for ReLU the never-positive units; for leaky ReLU, whose slope is α > 0,
  none);
- `stayed_dead_fraction`: units dead at the previous measurement and now (share of the layer);
- `dead_weight_change`: the largest change of a previously dead unit's own weights and bias
  since the previous measurement (exactly 0 while it stays dead; 0 when none was dead);
- `dead_unit_gradient`: the largest |∂C/∂w|, |∂C/∂b| of a dead unit's own weights and bias;
- `never_positive_gradient`: the smallest, over the never-positive units that are not dead (leaky
  ones), of each unit's largest |∂C/∂w|, |∂C/∂b|; both 0 when there is no such unit, and C
  averaged over the first `gradient_images` images.
A model whose weights became inf or NaN gets NaN everywhere: the engine marks it `diverged`.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

import torch

from dlexp.data import Split
from dlexp.measures import chunks, test_passes
from dlexp.models import StackedMLP
from dlexp.trainer import Measure


def diverged(net: StackedMLP) -> torch.Tensor:
    """Per model: True once any weight or bias is inf or NaN (its z are then meaningless)."""
    finite = [torch.isfinite(p).flatten(1).all(1) for p in [*net.weights, *net.biases]]
    return ~torch.stack(finite).all(0)


def never_positive_and_dead(net: StackedMLP, data: Split) -> tuple[torch.Tensor, torch.Tensor]:
    """Two masks [M, hidden layers, units]: z ≤ 0 for every image of `data`, and f'(z) = 0 for
    every image (the slope the backward pass multiplies by, from the net's own activation). The
    images go through in test passes, a chunk of one class at a time over the pixels it lights
    (`dlexp.measures.test_passes`): 12 stacked nets of the η sweep on the 10,000 training
    images 0.60–0.64 → 0.47–0.48 s, the same masks."""
    shape = (net.n_models, net.n_layers - 1, net.sizes[1])
    ever_positive = torch.zeros(shape, dtype=torch.bool, device=net.device)
    ever_sloped = torch.zeros(shape, dtype=torch.bool, device=net.device)
    for _, trace in test_passes(net, data):
        for layer, (z, f) in enumerate(zip(trace.zs[:-1], trace.fs)):
            slope = net.f.times_derivative(torch.ones_like(z), z, f)
            ever_positive[:, layer] |= (z > 0).any(dim=1)
            ever_sloped[:, layer] |= (slope != 0).any(dim=1)
    return ~ever_positive, ~ever_sloped


def share(units: torch.Tensor) -> torch.Tensor:
    """The share of each model's and layer's units where `units` holds."""
    return units.double().mean(-1)


def largest_over(values: torch.Tensor, units: torch.Tensor) -> torch.Tensor:
    """The largest of `values` (≥ 0) over the units where `units` holds; 0 where none does."""
    return torch.where(units, values, torch.zeros_like(values)).amax(-1).double()


def smallest_over(values: torch.Tensor, units: torch.Tensor) -> torch.Tensor:
    """The smallest of `values` (≥ 0) over the units where `units` holds; 0 where none does."""
    smallest = torch.where(units, values, torch.full_like(values, torch.inf)).amin(-1).double()
    return torch.where(units.any(-1), smallest, torch.zeros_like(smallest))


def own_parameters(net: StackedMLP, grad_w: list, grad_b: list) -> torch.Tensor:
    """[M, hidden layers, units]: per unit, the largest |entry| of its own weight row and bias."""
    hidden = range(net.n_layers - 1)
    return torch.stack(
        [torch.maximum(grad_w[layer].abs().amax(-1), grad_b[layer].abs()) for layer in hidden],
        dim=1,
    )


def dead_units(data: Split, gradient_images: int) -> Measure:
    """The measure described in the module docstring, over the images of `data`.

    The previous measurement (dead units, weights, biases) is kept per stack: one `train` call
    measures each of its stacks in turn with this one measure."""
    previous: WeakKeyDictionary[StackedMLP, tuple] = WeakKeyDictionary()
    sample = data.subset(gradient_images)
    chunks(data)  # here, before the workers fork: they share them

    def dead_units_of(net: StackedMLP) -> dict[str, torch.Tensor]:
        broken = diverged(net).view(-1, 1)
        never_positive, dead = never_positive_and_dead(net, data)
        grad_w, grad_b = net.gradients(sample.images, sample.labels)
        gradient = own_parameters(net, grad_w, grad_b)
        values = {
            "never_positive_fraction": share(never_positive),
            "dead_fraction": share(dead),
            "dead_unit_gradient": largest_over(gradient, dead),
            "never_positive_gradient": smallest_over(gradient, never_positive & ~dead),
        }
        weights = [w.clone() for w in net.weights[:-1]]
        biases = [b.clone() for b in net.biases[:-1]]
        if net in previous:
            was_dead, old_weights, old_biases = previous[net]
            values["stayed_dead_fraction"] = share(was_dead & dead)
            change = own_parameters(
                net,
                [w - old for w, old in zip(weights, old_weights)],
                [b - old for b, old in zip(biases, old_biases)],
            )
            values["dead_weight_change"] = largest_over(change, was_dead)
        previous[net] = (dead, weights, biases)
        return {name: v.masked_fill(broken, float("nan")) for name, v in values.items()}

    return dead_units_of
