"""The optimiser runs, one `part` each in the long table (every net 784-30-10, see the
declaration): `eta` (mini-batch SGD per η), `full-batch` (gradient descent on all training
images per η) and `momentum` (per form and η). After every epoch: validation accuracy and cost;
for the mini-batch nets also the training cost C₀ and ‖w‖, and from them Nielsen's training cost
C = C₀ + (λ/2n)‖w‖² (`train_total_cost`). `examples` counts the training examples processed."""

from __future__ import annotations

import pandas as pd

from dlexp.finding import Protocol, RunContext, Training
from dlexp.measures import accuracy_and_cost, weight_norm
from dlexp.model_spec import ModelSpec
from dlexp.trainer import Schedule


def spec(
    protocol: Protocol, seed: int, part: str, eta: float, batch_size: int, **extra
) -> ModelSpec:
    form = extra.get("momentum_form", "plain")
    return ModelSpec(
        variant=f"{part}-{form}-{eta:g}" if part == "momentum" else f"{part}-{eta:g}",
        seed=seed,
        sizes=(784, protocol["hidden_units"], 10),
        eta=eta,
        l2=protocol["l2"],
        batch_size=batch_size,
        params={"part": part, "eta": eta, "batch_size": batch_size, "form": form},
        **extra,
    )


def minibatch_specs(protocol: Protocol, seeds: list[int]) -> list[ModelSpec]:
    """The η sweep and the momentum nets: one architecture, so one stack."""
    batch = protocol["batch_size"]
    plain = [spec(protocol, s, "eta", eta, batch) for eta in protocol["etas"] for s in seeds]
    momentum = protocol["momentum"]
    with_momentum = [
        spec(protocol, s, "momentum", eta, batch, momentum=momentum["mu"], momentum_form=form)
        for form in momentum["forms"]
        for eta in momentum["etas"]
        for s in seeds
    ]
    return plain + with_momentum


def full_batch_specs(protocol: Protocol, seeds: list[int]) -> list[ModelSpec]:
    n = protocol["train_images"]
    return [
        spec(protocol, s, "full-batch", eta, n)
        for eta in protocol["full_batch"]["etas"]
        for s in seeds
    ]


def total_cost(table: pd.DataFrame, l2: float, n: int) -> pd.DataFrame:
    """Rows of C = C₀ + (λ/2n)‖w‖², one per model and epoch with both measured."""
    keys = ["variant", "seed", "epoch"]
    c0 = table[table.metric == "train_cost"].set_index(keys)
    norm = table[table.metric == "weight_norm"].set_index(keys)["value"]
    total = c0.assign(metric="train_total_cost", value=c0["value"] + l2 / (2 * n) * norm**2)
    return total.reset_index()


def measure(context: RunContext) -> pd.DataFrame:
    protocol = context.protocol
    mnist = context.mnist()
    train = mnist.train.subset(protocol["train_images"])
    validation = mnist.validation.subset(protocol["eval_images"])
    schedule = Schedule(protocol["epochs"])
    minibatch, full = context.train_together(
        [
            Training(
                minibatch_specs(protocol, context.seeds),
                train,
                schedule,
                [accuracy_and_cost({"train": train, "validation": validation}), weight_norm],
                "optimizers: mini-batch SGD, plain and with momentum",
            ),
            Training(
                full_batch_specs(protocol, context.seeds),
                train,
                schedule,
                [accuracy_and_cost({"validation": validation})],
                "optimizers: full-batch gradient descent",
            ),
        ]
    )
    table = pd.concat(
        [minibatch, total_cost(minibatch, protocol["l2"], len(train)), full], ignore_index=True
    )
    return table.assign(examples=table["epoch"] * len(train))
