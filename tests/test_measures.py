"""Scoring a stack on a split (`dlexp.measures.evaluate`): chunk by chunk, over the input units
each chunk lights; the same costs and accuracies as over every input unit, and a net whose
weights are no longer finite scores as it would over all of them."""

import math

import pytest
import torch

from dlexp.data import Split, synthetic_classification
from dlexp.measures import Chunk, chunks, evaluate
from dlexp.model_spec import ModelSpec
from dlexp.models import StackedMLP


def dark_edged(n: int = 300) -> Split:
    """Synthetic images whose first 5 units are 0 everywhere and whose units 5–9 light only in
    the second half of the examples, as MNIST's border pixels are dark."""
    data = synthetic_classification(n, n_features=40, seed=3)
    images = data.images.clone()
    images[:, :5] = 0
    images[: n // 2, 5:10] = 0
    return Split(images, data.labels)


def stack() -> StackedMLP:
    kinds = [("sigmoid", 1.0), ("softmax", 1.0), ("softmax", 0.8)]
    specs = [
        ModelSpec(f"net-{output}", seed, (40, 16, 12, 10), output=output, input_keep_prob=keep)
        for seed, (output, keep) in enumerate(kinds)
    ]
    return StackedMLP(specs)


def scored_over_every_unit(net: StackedMLP, split: Split) -> tuple[torch.Tensor, torch.Tensor]:
    trace = net.forward(split.images)
    cost = net.cost(trace, split.labels).double().mean(-1)
    accuracy = (net.predictions(trace) == split.labels).double().mean(-1)
    return cost, accuracy


def test_each_chunk_keeps_exactly_the_input_units_some_example_lights():
    split = dark_edged()
    parts = chunks(split, 100)
    assert [len(part.labels) for part in parts] == [100, 100, 100]
    assert parts[0].lit.tolist() == list(range(10, 40))  # the first 150 light units 10–39
    assert parts[2].lit.tolist() == list(range(5, 40))
    for part, start in zip(parts, (0, 100, 200)):
        assert torch.equal(part.images, split.images[start : start + 100])
        assert torch.equal(part.lit_images, part.images[:, part.lit])
        assert not part.images[:, [u for u in range(40) if u not in part.lit]].any()
    assert chunks(split, 100) is parts  # worked out once per split and size


def test_a_chunk_lighting_every_unit_is_scored_as_it_is():
    split = synthetic_classification(50, n_features=8, seed=1)
    (part,) = chunks(split, 50)
    assert part == Chunk(part.images, part.labels, None, part.images)


@pytest.mark.parametrize("size", [64, 1000])
def test_scoring_over_the_lit_units_gives_the_costs_and_accuracies_of_every_unit(size):
    net, split = stack(), dark_edged()
    cost, accuracy = evaluate(net, split, chunk=size)
    want_cost, want_accuracy = scored_over_every_unit(net, split)
    torch.testing.assert_close(cost, want_cost, rtol=1e-6, atol=1e-6)
    assert torch.equal(accuracy, want_accuracy)


def test_the_first_layer_over_the_lit_units_is_the_first_layer_over_every_unit():
    net, split = stack(), dark_edged()
    part = chunks(split, 150)[1]
    lit = net.forward(part.lit_images, lit=part.lit)
    every = net.forward(part.images)
    for z_lit, z in zip(lit.zs, every.zs):
        torch.testing.assert_close(z_lit, z, rtol=1e-6, atol=1e-6)


def test_a_net_with_a_non_finite_weight_on_a_dark_unit_scores_as_over_every_unit():
    net, split = stack(), dark_edged()
    net.weights[0][1, 3, 0] = math.inf  # unit 0 is dark in every example: 0 · ∞ is NaN
    cost, accuracy = evaluate(net, split, chunk=100)
    want_cost, want_accuracy = scored_over_every_unit(net, split)
    assert math.isnan(cost[1]) and math.isnan(want_cost[1])
    torch.testing.assert_close(cost, want_cost, rtol=1e-6, atol=1e-6, equal_nan=True)
    assert torch.equal(accuracy, want_accuracy)
