"""One model of an experiment, as a specification: its architecture, initialisation and training
hyper-parameters (`ModelSpec`), and the initial weights and biases it draws from its own random
stream (`initial_parameters`). `dlexp.models` stacks the models that share an architecture."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from dlexp.activations import ACTIVATIONS
from dlexp.costs import COSTS
from dlexp.dropout import DROPOUT_MASKS

# The standard deviation of W^l's entries for a layer of n_in inputs and n_out outputs:
# N(0, 1/n_in) (Nielsen's "normalized"), N(0, 1) ("large": his first chapters, deck 003 "Forward"),
# He et al. 2015's N(0, 2/n_in) for ReLU, Glorot & Bengio 2010's N(0, 2/(n_in + n_out)), a "small"
# N(0, 0.01²), and "equal": every weight `weight_value` and every bias `bias_mean`, so that all
# hidden units of a layer start as exact copies (deck 004: "If weights are all equal ...").
WEIGHT_INITS: dict[str, Callable[[int, int], float]] = {
    "normalized": lambda n_in, n_out: n_in**-0.5,
    "large": lambda n_in, n_out: 1.0,
    "he": lambda n_in, n_out: (2.0 / n_in) ** 0.5,
    "glorot": lambda n_in, n_out: (2.0 / (n_in + n_out)) ** 0.5,
    "small": lambda n_in, n_out: 0.01,
    "equal": lambda n_in, n_out: 0.0,
}
MOMENTUM_FORMS = ("heavy-ball", "one-step")


@dataclass(frozen=True)
class ModelSpec:
    """One model of an experiment: its architecture, initialisation and training hyper-parameters.

    `keep_prob` is dropout's p, the probability that a hidden unit is kept, `input_keep_prob` the
    same for an input unit (at test time each is used scaled down by its p); `dropout_masks` is
    "mini-batch" (a unit is kept or deleted for a whole mini-batch) or "example" (one mask per
    example, as Srivastava et al. 2014); `leak` is leaky ReLU's slope α for z < 0 (0 is the plain
    ReLU); `l2` and `l1` are λ in the lectures' λ/n weight penalties; `momentum` is μ of the
    update `momentum_form` ("heavy-ball" or deck 004's "one-step", see `dlexp.sgd`); `batch_norm`
    normalises every hidden layer's pre-activations (`dlexp.batch_norm`); `weight_value` is the
    weight of the "equal" initialisation; `variant` and `params` label the model in the results
    table.
    """

    variant: str
    seed: int
    sizes: tuple[int, ...]
    activation: str = "sigmoid"
    leak: float = 0.0
    residual: bool = False
    output: str = "sigmoid"
    cost: str = "cross-entropy"
    weight_init: str = "normalized"
    bias_mean: float = 0.0
    bias_std: float = 1.0
    eta: float = 0.1
    l2: float = 0.0
    l1: float = 0.0
    keep_prob: float = 1.0
    input_keep_prob: float = 1.0
    dropout_masks: str = "mini-batch"
    momentum: float = 0.0
    momentum_form: str = "heavy-ball"
    batch_norm: bool = False
    weight_value: float = 0.5
    batch_size: int = 10
    params: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if len(self.sizes) < 2:
            raise ValueError(
                f"a network needs an input and an output layer, got sizes {self.sizes}"
            )
        choices = {
            "activation": (self.activation, ACTIVATIONS),
            "(output, cost)": ((self.output, self.cost), COSTS),
            "weight_init": (self.weight_init, WEIGHT_INITS),
            "dropout_masks": (self.dropout_masks, DROPOUT_MASKS),
            "momentum_form": (self.momentum_form, MOMENTUM_FORMS),
        }
        for name, (value, allowed) in choices.items():
            if value not in allowed:
                raise ValueError(f"{name} must be one of {list(allowed)}, not {value!r}")
        for name, p in (("keep_prob", self.keep_prob), ("input_keep_prob", self.input_keep_prob)):
            if not 0.0 < p <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], not {p}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), not {self.momentum}")
        if self.batch_norm and self.batch_size < 2:
            raise ValueError("batch normalisation needs mini-batches of at least 2 examples")

    @property
    def architecture(self) -> tuple:
        """What models must share to be stacked: input and output size, hidden width (when every
        hidden layer has the same width; then depths may differ), activation, skips, batch size,
        batch normalisation."""
        hidden = set(self.sizes[1:-1])
        width = hidden.pop() if len(hidden) == 1 else self.sizes[1:-1]
        return (
            self.sizes[0],
            self.sizes[-1],
            width,
            self.activation,
            self.residual,
            self.batch_size,
            self.batch_norm,
        )

    @property
    def n_hidden(self) -> int:
        return len(self.sizes) - 2

    @property
    def layer_multiply_adds(self) -> list[int]:
        """Multiply-adds of one example's forward pass through each layer, from the input."""
        return dense_multiply_adds(self.sizes)

    @property
    def multiply_adds(self) -> int:
        """Multiply-adds of one example's forward pass: how the workers weigh a model-step when
        they order their jobs (`dlexp.finding.Training.cost`)."""
        return sum(self.layer_multiply_adds)


def dense_multiply_adds(sizes: tuple[int, ...]) -> list[int]:
    """n_in·n_out per fully connected layer: one example's multiply-adds through each."""
    return [n_in * n_out for n_in, n_out in itertools.pairwise(sizes)]


def initial_parameters(
    spec: ModelSpec, generator: torch.Generator
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(W^l, b^l) per layer, drawn from the model's own generator.

    Weights N(0, std²) with std from `WEIGHT_INITS`, biases N(bias_mean, bias_std²); "equal" draws
    the same numbers and then overwrites them, so that its shuffles match the random inits' of the
    same seed.
    """
    layers = []
    for n_in, n_out in zip(spec.sizes[:-1], spec.sizes[1:]):
        std = WEIGHT_INITS[spec.weight_init](n_in, n_out)
        weight = torch.randn(n_out, n_in, generator=generator) * std
        bias = torch.randn(n_out, generator=generator) * spec.bias_std + spec.bias_mean
        if spec.weight_init == "equal":
            weight, bias = weight.fill_(spec.weight_value), bias.fill_(spec.bias_mean)
        layers.append((weight, bias))
    return layers
