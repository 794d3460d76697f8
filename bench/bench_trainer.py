"""Benchmark: one epoch of the depth-vs-accuracy lecture protocol, three ways, in one process.

1. The idiomatic loop a user would write: one model at a time, nn.Sequential, optim.SGD with
   weight decay, mini-batches of 10 (5 depths × 3 seeds = 15 models, one after another).
2. The library's own way to train many models at once: torch.func `stack_module_state` and
   `vmap(grad(loss))`, one vmap per depth, each model with its own mini-batches.
3. dlexp's batched trainer: the same 15 models as stacked computations, as `dlexp run` trains
   them: cut into shards, trained by one worker process and by one per core (`dlexp.workers`),
   with the stacked torch step (what an epoch alone takes) and with compiled epochs (what the
   lecture's 30 epochs take, `dlexp.compiled_epoch`): as a run's first epoch, the compiled code
   loaded before the workers fork, and as its later ones, the code loaded already.

All must reach similar validation accuracy; the script prints the times, the ratios and the peak
memory of this process and of the largest worker. Each contender runs at its best thread setting
for this 2-core machine: one intra-op thread (two spin-waiting OpenMP threads were slower for the
idiomatic loop and vmap when measured; dlexp uses the second core with a second process).
Usage: DLEXP_DATA_DIR=../shared/data python bench/bench_trainer.py [--device cpu|cuda] [--images N]
"""

from __future__ import annotations

import argparse
import resource
import time
from itertools import pairwise

import torch
from torch import nn

import dlexp.compiled_epoch as compiled_epoch
from dlexp.data import Split, load_mnist
from dlexp.finding import RunContext
from dlexp.measures import accuracy_and_cost
from dlexp.model_spec import ModelSpec
from dlexp.progress import Reporter
from dlexp.runner import use_cpu_threads
from dlexp.trainer import Schedule
from dlexp.workers import default_workers

DEPTHS = (0, 1, 2, 3, 4)
SEEDS = (0, 1, 2)
ETA, LAMBDA, BATCH = 0.1, 5.0, 10
NEVER = 10**12  # model-steps: no stack takes compiled epochs


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


def vmap_epoch(train_split: Split, validation: Split, device: str) -> tuple[float, list[float]]:
    """One epoch of the 15 models with torch.func: per depth, the seeds' parameters stacked and
    one `vmap(grad(loss))` per mini-batch step, each model on its own shuffled examples."""
    from torch.func import functional_call, grad, stack_module_state, vmap

    x, y = train_split.images.to(device), train_split.labels.to(device)
    one_hot = nn.functional.one_hot(y, 10).float()  # outside vmap, which cannot build it
    accuracies = []
    start = time.perf_counter()
    for depth in DEPTHS:
        models = [idiomatic_model(depth, seed).to(device) for seed in SEEDS]
        params, buffers = stack_module_state(models)
        base = models[0]

        def loss(
            p: dict, b: dict, xb: torch.Tensor, targets: torch.Tensor, base: nn.Module = base
        ) -> torch.Tensor:
            logits = functional_call(base, (p, b), (xb,))
            return nn.functional.binary_cross_entropy_with_logits(
                logits, targets, reduction="sum"
            ) / len(targets)

        step = vmap(grad(loss))
        orders = torch.stack(
            [torch.randperm(len(x), generator=torch.Generator().manual_seed(s)) for s in SEEDS]
        ).to(device)
        for begin in range(0, len(x), BATCH):
            rows = orders[:, begin : begin + BATCH]
            grads = step(params, buffers, x[rows], one_hot[rows])
            with torch.no_grad():
                for name, value in params.items():
                    decay = LAMBDA / len(x) if name.endswith("weight") else 0.0
                    value.mul_(1 - ETA * decay).sub_(ETA * grads[name])
        with torch.no_grad():
            logits = vmap(functional_call, in_dims=(None, 0, None))(
                base, (params, buffers), (validation.images.to(device),)
            )
        predicted = logits.argmax(-1).cpu()
        accuracies += (predicted == validation.labels).float().mean(1).tolist()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, accuracies


def dlexp_epoch(
    train_split: Split, validation: Split, device: str, workers: int, compiled: bool
) -> tuple[float, list[float]]:
    # The lecture's 30 epochs take compiled epochs (`compiled_epoch.MIN_MODEL_STEPS`); one epoch
    # takes them when `compiled`, else the torch step.
    compiled_epoch.MIN_MODEL_STEPS = 0 if compiled else NEVER
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
    cpu_or_gpu = torch.device(device)
    context = RunContext({}, list(SEEDS), cpu_or_gpu, Reporter(quiet=True), workers=workers)
    start = time.perf_counter()
    table = context.train(
        specs,
        train_split,
        Schedule(epochs=1),
        [accuracy_and_cost({"validation": validation})],
        "bench",
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
    workers = default_workers(torch.device(args.device))
    ours: dict[str, float] = {}
    # Workers first: the run loads numba and the compiled code before its workers fork, as in a
    # run's first epoch; once loaded here, every later epoch of a run has it.
    runs = [("torch step", False), ("compiled epochs", True), ("compiled epochs, loaded", True)]
    for step, compiled in runs:
        for n in (workers, 1) if "loaded" not in step else (workers,):
            seconds, our_acc = dlexp_epoch(train_split, validation, args.device, n, compiled)
            ours[f"{step}, {n} worker{'s' if n > 1 else ''}"] = seconds
            print(
                f"dlexp, {step}, {n} worker(s): {seconds:7.2f} s   "
                f"mean validation accuracy {mean(our_acc):.4f}"
            )
    vmapped, vmap_acc = vmap_epoch(train_split, validation, args.device)
    print(
        f"torch.func vmap(grad):  {vmapped:7.2f} s   mean validation accuracy {mean(vmap_acc):.4f}"
    )
    loop, loop_acc = idiomatic_epoch(train_split, validation, args.device)
    print(f"idiomatic loop:         {loop:7.2f} s   mean validation accuracy {mean(loop_acc):.4f}")
    for name, seconds in ours.items():
        print(
            f"dlexp ({name}) is {loop / seconds:.1f}× the idiomatic loop, "
            f"{vmapped / seconds:.1f}× the vmap ensemble"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak memory: this process {peak:.0f} MB, largest worker {worker:.0f} MB")
    for name, accuracy in (("vmap", vmap_acc), ("idiomatic", loop_acc)):
        if abs(mean(our_acc) - mean(accuracy)) > 0.02:
            raise SystemExit(f"dlexp and the {name} trainer disagree by more than 2 points")


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


if __name__ == "__main__":
    main()
