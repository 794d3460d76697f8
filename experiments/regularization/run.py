"""Overfitting and its remedies: L2 weight decay, L1, dropout and early stopping.

The lecture's claim: a network with many parameters fits its training data, noise included, and
fails to generalise. Nielsen's classic set-up (ch. 3) shows it: a 784-30-10 sigmoid network with
23,860 parameters trained on only 1,000 MNIST images drives its training cost down epoch after
epoch and reaches 100% training accuracy, while its test accuracy stops improving long before and
stays far below.

The remedies, each a `ModelSpec` field of the batched trainer:

    L2 weight decay   C = C₀ + λ/2n Σ w²    →   w ← (1 − ηλ/n) w − η ∂C₀/∂w
    L1                C = C₀ + λ/n Σ |w|    →   w ← w − (ηλ/n) sgn(w) − η ∂C₀/∂w
    dropout           each hidden unit kept with probability p (and, as a variant, each input
                      pixel with its own p); at test time every unit is used, scaled down by p
    early stopping    keep the model of the best validation epoch; stop when the validation
                      accuracy (or cost) has not improved for `patience` epochs

L2 and dropout should each give a higher test accuracy and a smaller train–test gap than no
regularisation; L2 shrinks the weights (by construction: every step multiplies them by
1 − ηλ/n), L1 drives many of them to zero. Early stopping is read off the recorded validation
curves (no retraining) and compared with training to the end: on clean labels it should cost
nothing and save epochs; with a share of the training labels flipped, where the test accuracy
peaks early and then falls as the net learns the wrong labels, it should be better. A second part
trains on all 50,000 images, where there is far less to overfit, with Nielsen's λ = 5.0 against
none.

This module builds the variants and measures them (|w| histograms: `weight_histograms`); `tables`
reads the results table, `early_stopping` reads the stops off it, `checks` tests the claims
on it and `figures` / `stopping_figures` draw it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch

from dlexp.data import Split
from dlexp.finding import RunContext, Training
from dlexp.measures import accuracy_and_cost, weight_norm
from dlexp.model_spec import ModelSpec
from dlexp.trainer import Schedule

from .weight_histograms import WeightMagnitudeHistogram

SMALL_DATA = "small data"
NOISY_LABELS = "noisy labels"
FULL_DATA = "full data"
PARTS = [SMALL_DATA, NOISY_LABELS, FULL_DATA]
UNREGULARISED = "unregularised"
INPUT_DROPOUT = "input + hidden dropout"
KINDS = [UNREGULARISED, "L2", "L1", "dropout", "dropout + L2", INPUT_DROPOUT]
PARAMS = [
    "part",
    "regulariser",
    "hidden",
    "train_images",
    "label_noise",
    "lambda_l2",
    "lambda_l1",
    "keep_prob",
    "input_keep_prob",
    "dropout_masks",
]
CURVES = [
    "train_cost",
    "train_accuracy",
    "validation_cost",
    "validation_accuracy",
    "test_cost",
    "test_accuracy",
    "weight_norm",
]

# The labels flipped for seed s are drawn from a generator seeded with s + NOISE_SEED: fixed per
# seed, and a stream apart from the one the model of seed s draws its weights from.
NOISE_SEED = 1_000_000


# ---------------------------------------------------------------------------------------------
# The variants


def regulariser(l2: float, l1: float, keep_prob: float, input_keep_prob: float = 1.0) -> str:
    """The kind of regularisation: "unregularised", "L2", "dropout", "dropout + L2", …"""
    dropout = "dropout" if keep_prob < 1 else ""
    if input_keep_prob < 1:
        dropout = INPUT_DROPOUT if keep_prob < 1 else "input dropout"
    switched_on = ((dropout, bool(dropout)), ("L2", l2 > 0), ("L1", l1 > 0))
    names = [name for name, on in switched_on if on]
    return " + ".join(names) or UNREGULARISED


def regulariser_label(l2: float, l1: float, keep_prob: float, input_keep_prob: float = 1.0) -> str:
    """The regularisation with its strength, as in a legend: "dropout p = 0.5 + L2 λ = 0.1"."""
    parts = []
    if keep_prob < 1 and input_keep_prob < 1:
        parts.append(f"dropout hidden p = {keep_prob:g}, inputs p = {input_keep_prob:g}")
    elif keep_prob < 1:
        parts.append(f"dropout p = {keep_prob:g}")
    elif input_keep_prob < 1:
        parts.append(f"input dropout p = {input_keep_prob:g}")
    parts += [f"L2 λ = {l2:g}"] if l2 > 0 else []
    parts += [f"L1 λ = {l1:g}"] if l1 > 0 else []
    return " + ".join(parts) or "no regularisation"


def model_spec(
    protocol: dict[str, Any],
    part: str,
    images: int,
    hidden: int,
    seed: int,
    *,
    l2: float = 0.0,
    l1: float = 0.0,
    keep_prob: float = 1.0,
    input_keep_prob: float = 1.0,
    label_noise: float = 0.0,
) -> ModelSpec:
    """A 784-hidden-10 sigmoid network with sigmoid outputs and the cross-entropy cost, SGD."""
    suffix = {FULL_DATA: ", full data", NOISY_LABELS: f", {label_noise:.0%} labels flipped"}
    return ModelSpec(
        variant=f"{regulariser_label(l2, l1, keep_prob, input_keep_prob)}, {hidden} hidden"
        + suffix.get(part, ""),
        seed=seed,
        sizes=(784, hidden, 10),
        weight_init=protocol["weight_init"],
        eta=protocol["eta"],
        l2=l2,
        l1=l1,
        keep_prob=keep_prob,
        input_keep_prob=input_keep_prob,
        dropout_masks=protocol["dropout_masks"],
        batch_size=protocol["batch_size"],
        params={
            "part": part,
            "regulariser": regulariser(l2, l1, keep_prob, input_keep_prob),
            "hidden": hidden,
            "train_images": images,
            "label_noise": label_noise,
            "lambda_l2": l2,
            "lambda_l1": l1,
            "keep_prob": keep_prob,
            "input_keep_prob": input_keep_prob,
            "dropout_masks": protocol["dropout_masks"],
        },
    )


def small_data_specs(protocol: dict[str, Any], seeds: list[int]) -> list[ModelSpec]:
    """The 1,000-image variants × seeds: at the lecture's width none, L2 at every λ, L1, dropout
    (alone, with L2, and on the inputs too); at the wide layer, where dropout has units to spare,
    none, L2, dropout, dropout + L2 and dropout on the inputs too."""
    narrow, wide = protocol["hidden_units"], protocol["wide_hidden_units"]
    l2, l1, p, p_in = (protocol[key] for key in ("l2", "l1", "keep_prob", "input_keep_prob"))
    settings = [
        (narrow, 0.0, 0.0, 1.0, 1.0),
        *[(narrow, lam, 0.0, 1.0, 1.0) for lam in sorted({l2, *protocol["other_l2"]})],
        (narrow, 0.0, l1, 1.0, 1.0),
        (narrow, 0.0, 0.0, p, 1.0),
        (narrow, l2, 0.0, p, 1.0),
        (narrow, 0.0, 0.0, p, p_in),
        (wide, 0.0, 0.0, 1.0, 1.0),
        (wide, l2, 0.0, 1.0, 1.0),
        (wide, 0.0, 0.0, p, 1.0),
        (wide, l2, 0.0, p, 1.0),
        (wide, 0.0, 0.0, p, p_in),
    ]
    images = protocol["train_images"]
    return [
        model_spec(
            protocol, SMALL_DATA, images, hidden, seed, l2=l2_, l1=l1_, keep_prob=p_,
            input_keep_prob=p_in_,
        )
        for hidden, l2_, l1_, p_, p_in_ in dict.fromkeys(settings)
        for seed in seeds
    ]  # fmt: skip


def noisy_label_spec(protocol: dict[str, Any], seed: int) -> ModelSpec:
    """The lecture's unregularised 784-30-10 net, trained on the 1,000 images with a share of
    their labels flipped (see `flipped_labels`)."""
    images, hidden = protocol["train_images"], protocol["hidden_units"]
    return model_spec(
        protocol, NOISY_LABELS, images, hidden, seed, label_noise=protocol["label_noise"]
    )


def full_data_specs(protocol: dict[str, Any], seeds: list[int]) -> list[ModelSpec]:
    """All the training images, the wide hidden layer, Nielsen's λ against none."""
    full = protocol["full_data"]
    return [
        model_spec(protocol, FULL_DATA, full["train_images"], full["hidden_units"], seed, l2=lam)
        for lam in (0.0, full["l2"])
        for seed in seeds
    ]


def flipped_labels(split: Split, fraction: float, seed: int) -> Split:
    """`split` with round(fraction · n) of its labels, chosen at random, each changed to one of
    the nine other classes at random; the same labels for the same seed in every run."""
    generator = torch.Generator().manual_seed(NOISE_SEED + seed)
    labels = split.labels.cpu().clone()
    chosen = torch.randperm(len(labels), generator=generator)[: round(fraction * len(labels))]
    shift = torch.randint(1, 10, (len(chosen),), generator=generator)
    labels[chosen] = (labels[chosen] + shift) % 10
    return Split(split.images, labels.to(split.labels.device))


# ---------------------------------------------------------------------------------------------
# Measuring


def training(
    description: str,
    specs: list[ModelSpec],
    images: Split,
    schedule: Schedule,
    held_out: dict[str, Split],
) -> Training:
    """`specs` trained on `images` (the models of each width stacked), recording cost and
    accuracy on the training images and the `held_out` splits and ‖w‖ at every epoch the
    schedule measures; |w| histograms before training and after the last epoch."""
    measures = [
        accuracy_and_cost({"train": images, **held_out}),
        weight_norm,
        WeightMagnitudeHistogram(),
    ]
    return Training(specs, images, schedule, measures, description)


def measure(context: RunContext) -> pd.DataFrame:
    """Each split is evaluated only where a claim or figure reads it, always in full: the
    validation images for the nets early stopping is read off (the unregularised ones, clean and
    noisy), the test images every epoch for the curves; the λ sweep only before and after
    training (its claims and bars read the last epoch). All parts train together, on every
    core."""
    protocol, seeds = context.protocol, context.seeds
    mnist = context.mnist()
    validation = mnist.validation.subset(protocol["validation_images"])
    test = mnist.test.subset(protocol["test_images"])
    images = mnist.train.subset(protocol["train_images"])
    epochs, n = protocol["epochs"], f"{protocol['train_images']:,} images"
    specs = small_data_specs(protocol, seeds)
    monitored = [s for s in specs if s.params["regulariser"] == UNREGULARISED]
    swept = [s for s in specs if s.params["regulariser"] == "L2" and s.l2 != protocol["l2"]]
    curves = [s for s in specs if s not in monitored and s not in swept]
    both = {"validation": validation, "test": test}
    full = protocol["full_data"]
    trainings = [
        training(f"{n}, unregularised", monitored, images, Schedule(epochs), both),
        training(f"{n}, regularised", curves, images, Schedule(epochs), {"test": test}),
        training(f"{n}, λ sweep", swept, images, Schedule(epochs, epochs), {"test": test}),
        *[
            training(
                f"{n}, noisy labels, seed {seed}",
                [noisy_label_spec(protocol, seed)],
                flipped_labels(images, protocol["label_noise"], seed),
                Schedule(epochs),
                both,
            )
            for seed in seeds
        ],
        training(
            f"{full['train_images']:,} images",
            full_data_specs(protocol, seeds),
            mnist.train.subset(full["train_images"]),
            Schedule(full["epochs"]),
            {"test": test},
        ),
    ]
    return pd.concat(context.train_together(trainings), ignore_index=True)
