"""Benchmark: one epoch of the depth-vs-accuracy lecture protocol, two ways, in one process.

1. The idiomatic loop a user would write: one model at a time, nn.Sequential, optim.SGD with
   weight decay, mini-batches of 10 (5 depths × 3 seeds = 15 models, one after another).
2. dlexp's batched trainer: the same 15 models as stacked computations.

Both must reach similar validation accuracy; the script prints both times and the ratio.
Usage: DLEXP_DATA_DIR=../shared/data python bench/bench_trainer.py [--device cpu|cuda] [--images N]
"""

from __future__ import annotations

import argparse
import time
from itertools import pairwise

import torch
from torch import nn

from dlexp.data import Split, load_mnist
from dlexp.measures import accuracy_and_cost
from dlexp.models import ModelSpec
from dlexp.runner import use_cpu_threads
from dlexp.trainer import Schedule, train

DEPTHS = (0, 1, 2, 3, 4)
SEEDS = (0, 1, 2)
ETA, LAMBDA, BATCH = 0.1, 5.0, 10


def idiomatic_model(depth: int, seed: int) -> nn.Sequential:
    """784-30-…-10 sigmoid net with N(0, 1/n_in) weights and N(0, 1) biases."""
    torch.manual_seed(seed)
    sizes = [784, *[30] * depth, 10]
    layers: list[nn.Module] = []
    for n_in, n_out in pairwise(sizes):
        linear = nn.Linear(n_in, n_out)
        nn.init.normal_(linear.weight, std=n_in**-0.5)
        nn.init.normal_(linear.bias, std=1.0)
        layers += [linear, nn.Sigmoid()]
    return nn.Sequential(*layers[:-1])


def idiomatic_epoch(
    train_split: Split, validation: Split, device: str
) -> tuple[float, list[float]]:
    """Seconds for one epoch of all 15 models trained one after another, and their accuracies."""
    x, y = train_split.images.to(device), train_split.labels.to(device)
    accuracies = []
    start = time.perf_counter()
    for depth in DEPTHS:
        for seed in SEEDS:
            model = idiomatic_model(depth, seed).to(device)
            weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
            biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
            optimiser = torch.optim.SGD(
                [
                    {"params": weights, "weight_decay": LAMBDA / len(x)},
                    {"params": biases, "weight_decay": 0.0},
                ],
                lr=ETA,
            )
            order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
            for batch in order.split(BATCH):
                logits = model(x[batch])
                targets = nn.functional.one_hot(y[batch], 10).float()
                loss = nn.functional.binary_cross_entropy_with_logits(
                    logits, targets, reduction="sum"
                ) / len(batch)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
            with torch.no_grad():
                predicted = model(validation.images.to(device)).argmax(1).cpu()
            accuracies.append(float((predicted == validation.labels).float().mean()))
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, accuracies


def dlexp_epoch(train_split: Split, validation: Split, device: str) -> tuple[float, list[float]]:
    specs = [
        ModelSpec(
            variant=f"{depth}-hidden",
            seed=seed,
            sizes=(784, *[30] * depth, 10),
            eta=ETA,
            l2=LAMBDA,
            batch_size=BATCH,
        )
        for depth in DEPTHS
        for seed in SEEDS
    ]
    start = time.perf_counter()
    table = train(
        specs,
        train_split,
        Schedule(epochs=1),
        [accuracy_and_cost({"validation": validation})],
        device=device,
    )
    if device == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    final = table[(table.metric == "validation_accuracy") & (table.epoch == 1)]
    return elapsed, final["value"].tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--images", type=int, default=50_000, help="training images per epoch")
    args = parser.parse_args()
    use_cpu_threads(torch.device(args.device))
    mnist = load_mnist(progress=False)
    train_split, validation = mnist.train.subset(args.images), mnist.validation
    models = len(DEPTHS) * len(SEEDS)
    print(
        f"one epoch of {args.images:,} images, {models} models, mini-batch {BATCH}, {args.device}"
    )
    ours, our_acc = dlexp_epoch(train_split, validation, args.device)
    print(f"dlexp batched trainer: {ours:7.2f} s   mean validation accuracy {mean(our_acc):.4f}")
    loop, loop_acc = idiomatic_epoch(train_split, validation, args.device)
    print(f"idiomatic loop:        {loop:7.2f} s   mean validation accuracy {mean(loop_acc):.4f}")
    print(f"speed-up: {loop / ours:.1f}×")
    if abs(mean(our_acc) - mean(loop_acc)) > 0.02:
        raise SystemExit("the two trainers disagree on accuracy by more than 2 points")


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


if __name__ == "__main__":
    main()
