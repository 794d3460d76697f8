"""Scoring a stack on a split (`dlexp.measures.evaluate`): chunk by chunk, class by class, over
the input units each chunk lights; the same costs and accuracies as over every input unit, and a
net whose weights are no longer finite scores as it would over all of them."""

import math

import pytest
import torch

from dlexp.data import Split, synthetic_classification
from dlexp.measures import chunks, evaluate
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
    for part in parts:
        images = split.images[part.rows]
        assert torch.equal(part.labels, split.labels[part.rows])
        assert torch.equal(part.lit_images, images[:, part.lit])
        assert not images[:, [u for u in range(40) if u not in part.lit]].any()
        assert part.lit.tolist() == images.ne(0).any(0).nonzero().squeeze(1).tolist()
    assert all(part.lit[0] >= 5 for part in parts)  # units 0–4 are dark in every example
    assert chunks(split, 100) is parts  # worked out once per split and size


def test_chunks_take_every_example_once_class_by_class():
    split = dark_edged()
    rows = torch.cat([part.rows for part in chunks(split, 64)])
    assert sorted(rows.tolist()) == list(range(len(split)))
    labels = split.labels[rows]
    assert torch.equal(labels, labels.sort().values)


def test_a_chunk_of_one_class_lights_only_that_class_s_units():
    shuffle = torch.randperm(100, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(4).repeat_interleave(25)[shuffle]
    images = torch.zeros(100, 40)
    for unit_block, label in zip(images.view(100, 4, 10).unbind(1), range(4)):
        unit_block[labels == label] = 0.5  # class k lights units 10k … 10k + 9
    parts = chunks(Split(images, labels), 25)
    for label, part in enumerate(parts):
        assert part.lit.tolist() == list(range(10 * label, 10 * label + 10))


def test_a_chunk_lighting_every_unit_is_scored_as_it_is():
    split = synthetic_classification(50, n_features=8, seed=1)
    (part,) = chunks(split, 50)
    assert part.lit is None
    assert torch.equal(part.lit_images, split.images[part.rows])


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
    every = net.forward(split.images[part.rows])
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
