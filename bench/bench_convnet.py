"""Benchmark: one epoch of LeNet-5-style CNNs (cnn-vs-mlp's CNN), three seeds, three ways.

1. The idiomatic loop a user would write: one nn.Sequential per seed with optim.SGD, mini-batches
   of 10, the seeds one after another.
2. torch.func: the seeds' parameters stacked (`stack_module_state`) and one `vmap(grad(...))`
   step for all of them, updated in place.
3. dlexp's stacked trainer (`dlexp.conv_trainer.train_convnets`): grouped convolutions, one
   group per seed.

Every contender starts from the same initial weights and takes the same mini-batches, so all three
follow one trajectory up to float rounding, which thousands of steps amplify: after 100 steps
their validation accuracies agree to 0.01 points, after a full epoch within a few tenths. Each
contender runs at every thread count given (--threads); its fastest is compared. CPU time is
printed beside wall time: on a shared machine it estimates the idle wall time.
Usage: DLEXP_DATA_DIR=../shared/data python bench/bench_convnet.py [--images N] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call, grad, stack_module_state, vmap

from dlexp.conv_trainer import conv_evaluate, train_conv_stack
from dlexp.convnet import LENET5_HIDDEN, ConvSpec, StackedConvNet, initial_parameters, lenet5
from dlexp.data import Split, load_mnist
from dlexp.trainer import Schedule

SEEDS = (0, 1, 2)
ETA, BATCH = 0.03, 10


def specs() -> list[ConvSpec]:
    return [
        ConvSpec("cnn", seed, layers=lenet5(), hidden=LENET5_HIDDEN, eta=ETA, batch_size=BATCH)
        for seed in SEEDS
    ]


def idiomatic_model(spec: ConvSpec) -> tuple[nn.Sequential, torch.Generator]:
    """LeNet-5 as a user writes it, with dlexp's initial weights for the seed."""
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip
    generator = torch.Generator().manual_seed(spec.seed)
    parameters = [p for pair in initial_parameters(spec, generator) for p in pair]
    with torch.no_grad():
        for own, initial in zip(model.parameters(), parameters):
            own.copy_(initial)
    return model, generator


def accuracy(model: nn.Module, validation: Split) -> float:
    with torch.no_grad():
        predicted = model(validation.images.view(-1, 1, 28, 28)).argmax(1)
    return float((predicted == validation.labels).double().mean())


def idiomatic_epoch(train: Split, validation: Split) -> list[float]:
    """The seeds one after another: nn.Sequential, optim.SGD, mini-batches of 10."""
    x = train.images.view(-1, 1, 28, 28)
    accuracies = []
    for spec in specs():
        model, generator = idiomatic_model(spec)
        optimiser = torch.optim.SGD(model.parameters(), lr=ETA)
        for batch in torch.randperm(len(x), generator=generator).split(BATCH):
            loss = nn.functional.cross_entropy(model(x[batch]), train.labels[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        accuracies.append(accuracy(model, validation))
    return accuracies


def vmap_epoch(train: Split, validation: Split) -> list[float]:
    """All seeds in one vmap(grad) step of the stacked parameters."""
    built = [idiomatic_model(spec) for spec in specs()]
    models, generators = [m for m, _ in built], [g for _, g in built]
    parameters, buffers = stack_module_state(models)
    parameters = {name: p.detach() for name, p in parameters.items()}
    base = idiomatic_model(specs()[0])[0].to("meta")

    def cost(params, buffers, x, y):
        return nn.functional.cross_entropy(functional_call(base, (params, buffers), (x,)), y)

    step = vmap(grad(cost))
    x = train.images.view(-1, 1, 28, 28)
    order = torch.stack([torch.randperm(len(x), generator=g) for g in generators])
    for start in range(0, len(x), BATCH):
        rows = order[:, start : start + BATCH]
        gradients = step(parameters, buffers, x[rows], train.labels[rows])
        for name, gradient in gradients.items():
            parameters[name].sub_(gradient, alpha=ETA)
    accuracies = []
    for index, model in enumerate(models):
        with torch.no_grad():
            for name, own in model.named_parameters():
                own.copy_(parameters[name][index])
        accuracies.append(accuracy(model, validation))
    return accuracies


def dlexp_epoch(train: Split, validation: Split) -> list[float]:
    net = StackedConvNet(specs())
    train_conv_stack(net, train, Schedule(1), [])
    return conv_evaluate(net, validation)[1].tolist()


def timed(
    name: str, run: Callable[[], list[float]], threads: list[int]
) -> tuple[float, float, list[float]]:
    """Wall and CPU seconds and accuracies at each thread count (printed); the fastest kept."""
    best = (float("inf"), float("inf"), [])
    for count in threads:
        torch.set_num_threads(count)
        wall, cpu = time.perf_counter(), time.process_time()
        accuracies = run()
        result = (time.perf_counter() - wall, time.process_time() - cpu, accuracies)
        shown = ", ".join(f"{100 * a:.2f}%" for a in accuracies)
        print(
            f"{name:38s} {count} thread(s) {result[0]:7.1f} s wall {result[1]:7.1f} s CPU   "
            f"validation {shown}",
            flush=True,
        )
        best = min(best, result, key=lambda r: r[0])
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50_000, help="training images per epoch")
    parser.add_argument("--threads", type=int, nargs="+", default=[1], help="thread counts")
    args = parser.parse_args()
    mnist = load_mnist(progress=False)
    train, validation = mnist.train.subset(args.images), mnist.validation
    print(
        f"one epoch, {len(SEEDS)} LeNet-5 seeds × {args.images:,} images, mini-batches of {BATCH}"
    )
    contenders = {
        "idiomatic loop (nn.Module per seed)": lambda: idiomatic_epoch(train, validation),
        "torch.func vmap(grad)": lambda: vmap_epoch(train, validation),
        "dlexp stacked trainer": lambda: dlexp_epoch(train, validation),
    }
    results = {name: timed(name, run, args.threads) for name, run in contenders.items()}
    print("each at its fastest thread count:")
    for name, (wall, cpu, _) in results.items():
        print(f"{name:38s} {wall:7.1f} s wall {cpu:7.1f} s CPU")
    base_wall, base_cpu, _ = results["idiomatic loop (nn.Module per seed)"]
    wall, cpu, _ = results["dlexp stacked trainer"]
    print(f"dlexp vs idiomatic loop: {base_wall / wall:.2f}× (wall), {base_cpu / cpu:.2f}× (CPU)")
    vmap_wall, vmap_cpu, _ = results["torch.func vmap(grad)"]
    print(f"dlexp vs torch.func vmap: {vmap_wall / wall:.2f}× (wall), {vmap_cpu / cpu:.2f}× (CPU)")


if __name__ == "__main__":
    main()
