"""Ensembles: M nets of each model (the MLP and the LeNet-5-style CNN), one per seed, trained side
by side; after the last epoch every subset of them votes on the full test split.

For each net i and each ensemble size k the table holds the mean test accuracy of the ensembles
of k nets that contain net i (k = 1 is net i alone). Averaged over i this is the mean over all
ensembles of k nets, since each is counted once for each of its k members.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import pandas as pd
import torch
import torch.nn.functional as F

from dlexp.conv_trainer import conv_logits
from dlexp.convnet import LENET5_HIDDEN, ConvSpec, StackedConvNet, lenet5
from dlexp.costs import COSTS, cost_of_labels
from dlexp.finding import JointMeasure, Protocol, RunContext, Training
from dlexp.model_spec import ModelSpec
from dlexp.models import StackedMLP
from dlexp.splits import Split
from dlexp.trainer import Schedule

# Both nets as in cnn-vs-mlp: ReLU, He et al.'s N(0, 2/n_in) weights, zero biases, softmax +
# log-likelihood, plain SGD.
COMMON = {"activation": "relu", "output": "softmax", "cost": "cross-entropy", "weight_init": "he"}
VOTES = ("majority_vote", "mean_softmax")


def specs(protocol: Protocol, seeds: list[int], model: str) -> list[ConvSpec] | list[ModelSpec]:
    eta, batch = protocol["eta"][model], protocol["batch_size"]
    params = {"model": model, "eta": eta}
    if model == "cnn":
        return [
            ConvSpec(
                "cnn",
                seed,
                layers=lenet5(protocol["pooling"]),
                hidden=LENET5_HIDDEN,
                eta=eta,
                batch_size=batch,
                params=params,
                **COMMON,
            )
            for seed in seeds
        ]
    sizes = (784, protocol["mlp_hidden_units"], 10)
    return [
        ModelSpec(
            "mlp", seed, sizes, bias_std=0.0, eta=eta, batch_size=batch, params=params, **COMMON
        )
        for seed in seeds
    ]


def ensemble_accuracies(z: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """From the M nets' outputs z [M, n, classes]: per net i and size k, the mean accuracy of
    the ensembles of k nets containing i, for both votes ([M] each):

    - majority vote: the class most nets predict; a tie goes to the tied class with the larger
      mean softmax output (0.5 × a mean probability never outweighs one vote);
    - mean softmax: the class of the largest softmax output averaged over the nets.
    """
    m, _, classes = z.shape
    probabilities = torch.softmax(z.double(), dim=-1)
    votes = F.one_hot(z.argmax(-1), classes).double()
    values = {}
    for k in range(1, m + 1):
        sums = {vote: torch.zeros(m, dtype=torch.float64) for vote in VOTES}
        for subset in itertools.combinations(range(m), k):
            members = list(subset)
            mean = probabilities[members].mean(0)
            choices = {
                "majority_vote": (votes[members].sum(0) + 0.5 * mean).argmax(-1),
                "mean_softmax": mean.argmax(-1),
            }
            for vote, choice in choices.items():
                sums[vote][members] += (choice == labels).double().mean().item()
        containing = math.comb(m - 1, k - 1)  # the ensembles of k nets that hold net i
        for vote in VOTES:
            values[f"{vote}_accuracy_{k}_nets"] = sums[vote] / containing
    return values


def test_outputs(test: Split) -> Callable[[StackedConvNet | StackedMLP], torch.Tensor]:
    """Each net's output z^L [M, n, classes] on the test images, for either trainer: what a
    shard hands back for the vote (`JointMeasure`)."""

    def outputs(net: StackedConvNet | StackedMLP) -> torch.Tensor:
        if isinstance(net, StackedConvNet):
            return conv_logits(net, test.images)
        return net.forward(test.images).zs[-1]

    return outputs


def votes(test: Split) -> Callable[[torch.Tensor], dict[str, torch.Tensor]]:
    """From every net's test outputs z [M, n, classes]: each net's test accuracy and cost C₀
    (its own softmax and log-likelihood) and every ensemble's accuracy (`ensemble_accuracies`)."""
    cost = COSTS[(COMMON["output"], COMMON["cost"])]()

    def measure(z: torch.Tensor) -> dict[str, torch.Tensor]:
        labels = test.labels.cpu()
        accuracy = (z.argmax(-1) == labels).double().mean(1)
        values = {
            "test_accuracy": accuracy,
            "test_cost": cost_of_labels(cost, z, labels).double().mean(1),
        }
        return values | ensemble_accuracies(z, labels)

    return measure


def measure(context: RunContext) -> pd.DataFrame:
    protocol = context.protocol
    mnist = context.mnist()
    train = mnist.train.subset(protocol["train_images"])
    test = mnist.test.subset(protocol["eval_images"])
    # Only the last epoch is scored, every net's votes together: the claims and figures use
    # nothing else. The stacks are cut for training as any other (3 + 2 LeNet-5s on the two
    # cores, where one stack of five left a core idle: 69.5 s wall for 75 s of CPU).
    schedule = Schedule(protocol["epochs"], measure_every=protocol["epochs"])
    joint = JointMeasure(test_outputs(test), votes(test))
    trainings = [
        Training(
            specs(protocol, context.seeds, model),
            train,
            schedule,
            [],
            f"ensembles: {model.upper()} mini-batch steps",
            joint=joint,
        )
        for model in protocol["models"]
    ]
    tables = context.train_together(trainings)
    return pd.concat(tables, ignore_index=True)
