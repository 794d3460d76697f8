"""Train a 0- and a 1-hidden-layer net on synthetic data."""

import pandas as pd
import torch

from dlexp.data import Split
from dlexp.finding import RunContext
from dlexp.measures import accuracy_and_cost
from dlexp.model_spec import ModelSpec
from dlexp.trainer import Schedule


def xor(n: int) -> Split:
    """Points in the unit square, labelled by which diagonal quadrant pair they fall in: no line
    separates the classes, so a net without a hidden layer cannot learn them."""
    points = torch.rand(n, 2, generator=torch.Generator().manual_seed(0))
    labels = ((points[:, 0] > 0.5) ^ (points[:, 1] > 0.5)).long()
    return Split(points, labels)


def measure(context: RunContext) -> pd.DataFrame:
    protocol = context.protocol
    data = xor(protocol["examples"])
    specs = [
        ModelSpec(
            variant=f"{depth}-hidden",
            seed=seed,
            sizes=(2, *[16] * depth, 2),
            eta=protocol["eta"],
            params={"depth": depth},
        )
        for depth in (0, 1)
        for seed in context.seeds
    ]
    return context.train(
        specs, data, Schedule(protocol["epochs"]), [accuracy_and_cost({"train": data})], "toy"
    )
