"""Benchmark: how far each experiment at lecture scale is from this machine's arithmetic floor.

Measures the float32 matrix-product peak of one core (a 2,048² product, best of five, torch's
BLAS and NumPy's, one thread), then runs every experiment as `dlexp run NAME --quiet` in its own
process with counters on the engine's training and scoring, and prints per experiment the
command's time, the multiply-adds of training and of scoring, the rate the command achieved and
its floor: the time the same arithmetic takes at the measured peak on every core.

Counted per example and model: training, a forward pass, the weight gradients and the errors
passed back below every layer but the first (3 Σ n_in·n_out less the first layer's, for MLPs and
LeNet-5s alike); scoring, a forward pass. The counts are dense: the engine skips pixels that are
0 in a whole chunk of scored images, which the count does not, so a run's rate may exceed the
peak. Not counted: measures other than accuracy and cost (gradient norms, histograms), nets
built without the trainer (backprop-by-hand's, universal-approximation's constructions) and
everything around the training, so the floor is a lower bound.
Usage: DLEXP_DATA_DIR=../shared/data python bench/bench_arithmetic.py [NAME ...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from dlexp.blas import use_blas_threads
from dlexp.registry import available
from dlexp.workers import cpu_cores

FINISHED = (0, 1)  # 1: a claim failed at lecture scale, which is a finding
PEAK_SIZE = 2_048
COUNT_INTO = "--count-into"  # the child's mode: `--count-into FILE dlexp-arguments…`


def main() -> None:
    if sys.argv[1:2] == [COUNT_INTO]:
        run_counted(Path(sys.argv[2]), sys.argv[3:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="experiments (default: all)")
    args = parser.parse_args()
    names = args.names or sorted(available())
    cores = cpu_cores()
    peak = core_peak() * cores
    print(f"float32 matrix-product peak: {peak / 1e9:.0f} GFLOP/s on {cores} cores")
    print("| experiment | command (s) | training (TMAC) | scoring (TMAC) | GFLOP/s | floor (s) |")
    print("| --- | --- | --- | --- | --- | --- |")
    totals = np.zeros(3)
    broken = []
    with tempfile.TemporaryDirectory() as temporary:
        for name in names:
            counts = Path(temporary) / f"{name}.counts"
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, __file__, COUNT_INTO, str(counts), "run", name, "--quiet",
                 "--out", temporary],
                capture_output=True,
            )  # fmt: skip
            whole = time.perf_counter() - start
            if done.returncode not in FINISHED:
                broken.append(name)
                print(f"| {name} | did not finish: {done.stderr.decode().strip()[-200:]} |")
                continue
            training, scoring = read_counts(counts)
            flop = 2 * (training + scoring)
            totals += (whole, training, scoring)
            print(
                f"| {name} | {whole:.1f} | {training / 1e12:.2f} | {scoring / 1e12:.2f} "
                f"| {flop / whole / 1e9:.0f} | {flop / peak:.1f} |"
            )
    whole, training, scoring = totals
    floor = 2 * (training + scoring) / peak
    print(
        f"total: {whole / 60:.1f} min; training {training / 1e12:.1f} and scoring "
        f"{scoring / 1e12:.1f} TMAC, {floor / 60:.1f} min at the peak"
    )
    if broken:
        raise SystemExit(f"did not finish: {', '.join(broken)}")


def core_peak() -> float:
    """FLOP/s of one thread's float32 matrix product, the faster of torch's and NumPy's BLAS."""
    torch.set_num_threads(1)
    use_blas_threads(1)
    a, b = torch.rand(PEAK_SIZE, PEAK_SIZE), torch.rand(PEAK_SIZE, PEAK_SIZE)
    best = np.inf
    for product in (torch.mm, lambda x, y: np.matmul(x.numpy(), y.numpy())):
        product(a, b)
        for _ in range(5):
            start = time.perf_counter()
            product(a, b)
            best = min(best, time.perf_counter() - start)
    return 2 * PEAK_SIZE**3 / best


def read_counts(path: Path) -> tuple[float, float]:
    """(training, scoring) multiply-adds, summed over every process's lines `kind count`."""
    totals = {"training": 0, "scoring": 0}
    if path.exists():
        for line in path.read_text().splitlines():
            kind, count = line.split()
            totals[kind] += int(count)
    return totals["training"], totals["scoring"]


def run_counted(path: Path, arguments: list[str]) -> None:
    """`dlexp ARGUMENTS`, each stack trained or scored appending its multiply-adds to `path`
    (from whichever process, the workers' included); never returns."""
    import dlexp.conv_trainer
    import dlexp.finding
    import dlexp.measures
    from dlexp.cli import main as dlexp_main

    def record(kind: str, count: int) -> None:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(descriptor, f"{kind} {count}\n".encode())  # one write: lines never interleave
        os.close(descriptor)

    def counted_training(train):
        def train_counted(net, data, schedule, measures, *, advance=None):
            examples = len(data) * schedule.epochs
            record("training", examples * sum(training_multiply_adds(spec) for spec in net.specs))
            return train(net, data, schedule, measures, advance=advance)

        return train_counted

    def counted_scoring(forward):
        def forward_counted(net, examples, *args, **kwargs):
            record("scoring", len(examples) * sum(spec.multiply_adds for spec in net.specs))
            return forward(net, examples, *args, **kwargs)

        return forward_counted

    finding, measures, conv = dlexp.finding, dlexp.measures, dlexp.conv_trainer
    finding.train_stack = counted_training(finding.train_stack)
    finding.train_conv_stack = counted_training(finding.train_conv_stack)
    measures.test_passes = counted_scoring(measures.test_passes)
    conv.conv_logits = counted_scoring(conv.conv_logits)
    sys.argv = ["dlexp", *arguments]
    dlexp_main()


def training_multiply_adds(spec) -> int:
    """A training example's multiply-adds: forward, weight gradients, and errors passed back
    below every layer with weights but the first (an MLP or a convolutional net alike)."""
    layers = spec.layer_multiply_adds
    return 3 * sum(layers) - layers[0]


if __name__ == "__main__":
    main()
