"""Small stacks for the trainer's tests: a synthetic data set, a base spec, and the trained
parameters of every model, so that a model in a stack can be compared with itself alone."""

from dataclasses import replace

import torch

from dlexp.data import synthetic_classification
from dlexp.model_spec import ModelSpec
from dlexp.models import StackedMLP
from dlexp.trainer import Schedule, train, train_stack

DATA = synthetic_classification(200, n_features=20, n_classes=4, seed=3)


def spec(**changes) -> ModelSpec:
    base = ModelSpec(variant="v", seed=0, sizes=(20, 8, 8, 4), eta=0.5, batch_size=10)
    return replace(base, **changes)


def final_weights(
    specs: list[ModelSpec], epochs: int = 3, one_stack: bool = False
) -> dict[tuple[str, int], list]:
    """Train and return every model's own parameters, keyed by (variant, seed); `one_stack`
    forces all of them into a single stacked computation."""
    captured = {}

    def capture(net: StackedMLP) -> dict[str, torch.Tensor]:
        for m, s in enumerate(net.specs):
            captured[(s.variant, s.seed)] = [
                t[layer][m].clone()
                for layer in net.own_layers(m)
                for t in (net.weights, net.biases)
            ]
        return {}

    schedule = Schedule(epochs=epochs, measure_every=epochs)
    if one_stack:
        train_stack(StackedMLP(specs), DATA, schedule, [capture])
    else:
        train(specs, DATA, schedule, [capture])
    return captured
