"""The depth sweep: 0–4 hidden layers of 30 sigmoid units, each output layer, every seed.

After every epoch each net is scored on the whole training set it learns from, and on the
validation and test images: the training numbers tell overfitting (better on the training set,
worse on held-out images) from a net that does not learn its training set any better.
"""

from __future__ import annotations

import pandas as pd

from dlexp.finding import Protocol, RunContext
from dlexp.measures import accuracy_and_cost
from dlexp.model_spec import ModelSpec
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
    train = mnist.train.subset(protocol["train_images"])
    evaluation = {
        # The very images the nets are trained on, all of them: one test-mode pass per epoch.
        "train": train,
        "validation": mnist.validation.subset(protocol["eval_images"]),
        "test": mnist.test.subset(protocol["eval_images"]),
    }
    return context.train(
        depth_specs(protocol, context.seeds),
        train,
        Schedule(protocol["epochs"]),
        [accuracy_and_cost(evaluation)],
        "depth vs accuracy: mini-batch steps",
    )
