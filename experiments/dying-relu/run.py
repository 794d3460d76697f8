"""Dying ReLUs: a unit whose pre-activation is ≤ 0 for every training input never fires again.

The lecture's argument: the ReLU's gradient is 1 for z > 0 and 0 otherwise. If a unit's
z = wᵀa + b is ≤ 0 for every training example, its output is 0 and δ = (Wᵀδ') ⊙ f'(z) is 0 for
every example, so ∂C/∂w and ∂C/∂b are 0: nothing moves its own weights, it is dead. A leaky unit
(slope α for z < 0) that is never positive still gets α times the error passed back: it is never
positive but not dead, and it can still learn.

Two words, kept apart: a unit is *never positive* when z ≤ 0 on every one of the fixed training
images; it is *dead* when f'(z) = 0 on every one of them, so that no gradient reaches its own
weights and bias (for ReLU the two coincide, for a leaky unit never).

The variants (`grid`), each with ReLU and leaky-ReLU units:
- the η sweep from a good start (b = 0, pixels in [0, 1], which dlexp calls "normalised");
- bad starts at a stable η: negative biases b, and inputs shifted away from zero (x + s), which
  leave units dead at initialisation, with pixels centred on their mean as the remedy beside them.
  Shifted inputs are trained at the η that gives their first layer the same step as η gives
  [0, 1] pixels (η · E‖x‖² / E‖x + s‖²): the plain η would be far too large for them;
- raw [0, 255] pixels beside [0, 1] pixels at the same small η: with b = 0 they kill no unit at
  initialisation (every z of the net only scales by 255), but every update is 255 times larger
  relative to z, which kills units during the first epoch.

This module builds the variants and measures them; `checks` tests the claims, `figures` draws.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dlexp.data import Split
from dlexp.finding import RunContext, Training
from dlexp.measures import accuracy_and_cost
from dlexp.model_spec import ModelSpec
from dlexp.trainer import Schedule

from .units import dead_units

RAW_PIXEL_SCALE = 255.0
"""Unnormalised inputs: the pixels as stored, in [0, 255] instead of [0, 1]."""

NORMALISED, RAW, CENTRED = "normalised", "raw", "centred"
"""Inputs: pixels in [0, 1] (dlexp's "normalised"), in [0, 255], and minus their mean."""

UNITS = ("relu", "leaky")
"""The hidden units compared: ReLU (slope 0 for z < 0) and leaky ReLU (slope α)."""


def shifted(shift: float) -> str:
    """The name of the inputs x + `shift`, as the results table stores it."""
    return f"shifted+{shift:g}"


def unit_spec(
    protocol: dict[str, Any], leak: float, eta: float, bias: float, inputs: str, seed: int
) -> ModelSpec:
    """784-100-100-100-10 with ReLU (leak 0) or leaky-ReLU (slope `leak`) hidden units, He weights
    N(0, 2/n_in), every bias b, softmax and cross-entropy, mini-batch SGD with learning rate η."""
    unit = "leaky" if leak > 0 else "relu"
    name = f"leaky ReLU α={leak:g}" if leak > 0 else "ReLU"
    return ModelSpec(
        variant=f"{name}, η={eta:.3g}, b={bias:g}, {inputs} inputs",
        seed=seed,
        sizes=(784, *[protocol["hidden_units"]] * protocol["hidden_layers"], 10),
        activation="relu",
        leak=leak,
        weight_init="he",
        bias_mean=bias,
        bias_std=0.0,
        output="softmax",
        cost="cross-entropy",
        eta=eta,
        batch_size=protocol["batch_size"],
        params={"unit": unit, "leak": leak, "eta": eta, "bias": bias, "inputs": inputs},
    )


def input_transforms(protocol: dict[str, Any], training: Split) -> dict[str, Any]:
    """Inputs name → function of the [0, 1] pixels. Centring subtracts each pixel's mean over the
    training images (the same mean for the validation images)."""
    mean = training.images.mean(dim=0)
    transforms = {
        NORMALISED: lambda x: x,
        CENTRED: lambda x: x - mean,
        RAW: lambda x: x * RAW_PIXEL_SCALE,
    }
    for shift in protocol["bad_starts"]["shifts"]:
        transforms[shifted(shift)] = lambda x, s=shift: x + s
    return transforms


def matched_eta(eta: float, training: Split, inputs: Split) -> float:
    """The η that moves the first layer's z as far for `inputs` as `eta` does for [0, 1] pixels:
    a step changes z by η · δ · ‖x‖², so η is scaled by E‖x‖² / E‖x'‖² over the training images."""
    norm = (training.images**2).sum(dim=1).mean() / (inputs.images**2).sum(dim=1).mean()
    return eta * float(norm)


def grid(
    protocol: dict[str, Any], seeds: list[int], etas: dict[str, float]
) -> dict[str, list[ModelSpec]]:
    """Inputs name → the models trained on them, for every seed. `etas` gives each shifted
    input's matched η. The η sweep pairs ReLU with the slide's leaky ReLU (the first leak); every
    bad start, and the good start at the bad starts' η, has ReLU and every leak."""
    bad = protocol["bad_starts"]
    leaks = protocol["leaks"]
    every_unit = [0.0, *leaks]
    starts: dict[str, list[tuple[float, float, float]]] = {
        NORMALISED: [(leak, eta, 0.0) for eta in protocol["etas"] for leak in (0.0, leaks[0])]
        + [(leak, bad["eta"], 0.0) for leak in every_unit]
        + [(leak, bad["eta"], b) for b in bad["biases"] for leak in every_unit]
        + [(0.0, eta, 0.0) for eta in protocol["raw_inputs"]["etas"]],
        CENTRED: [(0.0, bad["eta"], 0.0)],
        RAW: [(0.0, eta, 0.0) for eta in protocol["raw_inputs"]["etas"]],
    }
    for shift in bad["shifts"]:
        name = shifted(shift)
        starts[name] = [(leak, etas[name], 0.0) for leak in every_unit]
    return {
        inputs: [
            unit_spec(protocol, leak, eta, bias, inputs, seed)
            for seed in seeds
            for leak, eta, bias in dict.fromkeys(variants)
        ]
        for inputs, variants in starts.items()
    }


def measure(context: RunContext) -> pd.DataFrame:
    """Train every variant on its inputs (one training per inputs, all together) and measure its
    units and its validation accuracy before training and after every epoch."""
    protocol = context.protocol
    mnist = context.mnist()
    training = mnist.train.subset(protocol["train_images"])
    validation = mnist.validation.subset(protocol["validation_images"])
    inputs = {
        name: (
            Split(f(training.images), training.labels),
            Split(f(validation.images), validation.labels),
        )
        for name, f in input_transforms(protocol, training).items()
    }
    etas = {
        name: matched_eta(protocol["bad_starts"]["eta"], training, images)
        for name, (images, _) in inputs.items()
        if name.startswith("shifted")
    }
    trainings = []
    for name, specs in grid(protocol, context.seeds, etas).items():
        images, held_out = inputs[name]
        measures = [
            dead_units(images, protocol["gradient_images"]),
            accuracy_and_cost({"validation": held_out}),
        ]
        schedule = Schedule(protocol["epochs"])
        trainings.append(Training(specs, images, schedule, measures, f"dying ReLU: {name} inputs"))
    tables = context.train_together(trainings)
    return pd.concat(tables, ignore_index=True)
