"""The depth sweep: 0–4 hidden layers of 30 sigmoid units, each output layer, every seed."""

from __future__ import annotations

import pandas as pd

from dlexp.finding import Protocol, RunContext
from dlexp.measures import accuracy_and_cost
from dlexp.models import ModelSpec
from dlexp.trainer import Schedule


def depth_specs(protocol: Protocol, seeds: list[int]) -> list[ModelSpec]:
    return [
        ModelSpec(
            variant=f"{depth}-hidden-{output}",
            seed=seed,
            sizes=(784, *[protocol["hidden_units"]] * depth, 10),
            output=output,
            eta=protocol["eta"],
            l2=protocol["l2"],
            batch_size=protocol["batch_size"],
            params={"depth": depth, "output": output},
        )
        for depth in protocol["depths"]
        for output in protocol["outputs"]
        for seed in seeds
    ]


def measure(context: RunContext) -> pd.DataFrame:
    protocol = context.protocol
    mnist = context.mnist()
    evaluation = {
        "validation": mnist.validation.subset(protocol["eval_images"]),
        "test": mnist.test.subset(protocol["eval_images"]),
    }
    return context.train(
        depth_specs(protocol, context.seeds),
        mnist.train.subset(protocol["train_images"]),
        Schedule(protocol["epochs"]),
        [accuracy_and_cost(evaluation)],
        "depth vs accuracy: mini-batch steps",
    )
