"""Both cores: an experiment's stacks cut into fixed shards, trained in worker processes.

The stacked products of mini-batches of 10 are small, so a second intra-op thread barely helps
(measured under 10%) while a second process, training other models, uses the other core fully.
So `RunContext.train_together` cuts every stack into shards and trains them `workers` at a time,
each in a process forked for it, which sends back its results table and which of its models
stayed finite. Measured: one epoch of the 15-model depth sweep 4.6 s with one worker, 2.6 s with
two (`bench/bench_trainer.py`); the lecture-scale depth sweep 351 s before, 154 s after (132–139 s
since `dlexp.blas`, 131 s since torch.sigmoid and the byte gather, 108 s since scoring over lit
input units and small stacks left whole).

Determinism: how a stack is cut depends only on its models, its training's other stacks and
the device (`cut`, `enough_shards`; a GPU trains whole stacks), never on the number of workers,
and a shard is the same computation in whichever process trains it. So metrics.csv is
byte-identical for any number of workers (`tests/test_workers.py` checks 1 against 2). Worker
processes are forked (they inherit the data and the measures without copying them), on the CPU
only: CUDA does not survive a fork, and one GPU gains nothing from several processes.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch

from dlexp.collector import after_fork
from dlexp.heap import HeapTrimmer
from dlexp.progress import Advance

T = TypeVar("T")
Job = Callable[[Advance], Any]

# Models per shard: a stack of 24 784-30-…-10 nets costs 6.3 s per epoch in one piece, 6.5 s cut
# in two shards of 12, 6.9 s in three of 8 and 8.6 s in four of 6 (per-operation overhead).
MLP_MODELS_PER_SHARD = 12
# Shards at least of a full stack and of a training's stacks in all (`cut`, `enough_shards`), so
# that this project's two cores share them.
MIN_SHARDS = 2
# LeNet-5s per shard: a step of mini-batches of 10 costs 1.63 ms for one model, 1.98 ms for two,
# 2.62 ms for three and 3.4 ms for four (one process, best windows of 250 steps), so stacking
# pays, and a lone model costs nearly a pair's time: `pair_up` leaves none alone.
CONV_MODELS_PER_SHARD = 2
# Below this many model-steps in all (≈ 50 ms of work), forking (≈ 30 ms) would not pay.
MIN_FORKED_MODEL_STEPS = 2_000
# How often a worker reports its progress to the parent's progress bar (seconds).
PROGRESS_INTERVAL = 0.2


def cut(models: Sequence[T], per_shard: int) -> list[list[T]]:
    """`models` in contiguous shards of near-equal size, in their order: ⌈M / per_shard⌉ of
    them, and at least MIN_SHARDS when there are per_shard models or more, so that both cores
    share a full stack (residual-depth's three stacks of 12 deep nets: 80 s in three shards,
    59 s in six)."""
    count = -(-len(models) // per_shard)
    if len(models) >= per_shard:
        count = max(count, MIN_SHARDS)
    return split_evenly(models, count)


def pair_up(models: Sequence[T]) -> list[list[T]]:
    """`models` (LeNet-5s) in ⌊M / CONV_MODELS_PER_SHARD⌋ contiguous shards of near-equal size,
    in their order, at least MIN_SHARDS of them when there are as many models: a model left
    over joins a pair instead of training alone. Nine models as 3 + 2 + 2 + 2 take 4.60 ms of
    the busier core per step against 5.59 ms as 2 + 2 + 2 + 2 + 1; five as 3 + 2 take 2.62 ms
    against 3.61 ms as 2 + 2 + 1."""
    count = max(len(models) // CONV_MODELS_PER_SHARD, min(MIN_SHARDS, len(models)))
    return split_evenly(models, count)


def split_evenly(models: Sequence[T], count: int) -> list[list[T]]:
    """`models` in `count` contiguous shards whose sizes differ by one at most, the larger
    first."""
    size, extra = divmod(len(models), count)
    shards, start = [], 0
    for index in range(count):
        end = start + size + (index < extra)
        shards.append(list(models[start:end]))
        start = end
    return shards


def enough_shards(shards: list[list[T]]) -> list[list[T]]:
    """`shards`, or its one shard halved (this machine's two cores) when there is only one and
    it holds more than one model."""
    if len(shards) == 1 and len(shards[0]) > 1:
        return cut(shards[0], -(-len(shards[0]) // MIN_SHARDS))
    return shards


def cpu_cores() -> int:
    """The CPU cores this process may run on."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cores or 1


def default_workers(device: torch.device) -> int:
    """One worker per usable core, each with `torch.get_num_threads()` threads; 1 on a GPU."""
    if device.type != "cpu":
        return 1
    return max(1, cpu_cores() // torch.get_num_threads())


def run_jobs(
    jobs: list[Job], costs: list[float], workers: int, advances: list[Advance]
) -> list[Any]:
    """job(advance) for every job with its own progress function, results in the jobs' order: in
    this process when `workers` is 1 or there is one job, else in up to `workers` forked
    processes at once, the costliest job started first."""
    if workers <= 1 or len(jobs) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [job(advance) for job, advance in zip(jobs, advances)]
    context = multiprocessing.get_context("fork")
    messages = context.Queue()
    waiting = sorted(range(len(jobs)), key=lambda index: -costs[index])
    running: dict[int, multiprocessing.process.BaseProcess] = {}
    results: dict[int, Any] = {}
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                index = waiting.pop(0)
                process = context.Process(target=work, args=(index, jobs[index], messages))
                process.start()
                running[index] = process
            try:
                kind, index, payload = messages.get(timeout=1.0)
            except queue.Empty:
                check_alive(running)
                continue
            if kind == "progress":
                advances[index](payload)
            elif kind == "error":
                raise RuntimeError(f"a worker process failed:\n{payload}")
            else:
                results[index] = payload
                running.pop(index).join()
    finally:
        for process in running.values():
            process.terminate()
            process.join()
    return [results[index] for index in range(len(jobs))]


def check_alive(running: dict[int, Any]) -> None:
    """A worker that ended without sending its result was killed (out of memory, a signal)."""
    for process in running.values():
        if process.exitcode is not None:
            raise RuntimeError(
                f"a worker process ended with exit code {process.exitcode} before finishing its "
                "models (out of memory?); run again with --workers 1"
            )


def work(index: int, job: Job, messages: Any) -> None:
    """In the worker: run the job, reporting progress every PROGRESS_INTERVAL (and handing back
    the memory its heap has freed, should it pile up: `dlexp.heap`) and then the result (or the
    error). Ctrl-C and SIGTERM are the parent's to handle; it ends its workers."""
    after_fork()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    done, last = 0, time.monotonic()
    trim_heap = HeapTrimmer()

    def advance(steps: int) -> None:
        nonlocal done, last
        done += steps
        if time.monotonic() - last >= PROGRESS_INTERVAL:
            messages.put(("progress", index, done))
            trim_heap()
            done, last = 0, time.monotonic()

    try:
        result = job(advance)
    except BaseException:  # sent to the parent, which raises it
        messages.put(("error", index, traceback.format_exc()))
        return
    messages.put(("progress", index, done))
    messages.put(("done", index, result))
