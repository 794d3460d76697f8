"""Benchmark: every experiment at lecture scale, each in its own process, as a user runs it.

For each experiment it runs `python -m dlexp run NAME --quiet --out OUT` and prints the run's wall
time (training and measuring, from run.json), the whole command's time (with start-up, checks and
figures), model-steps per second, workers, how many of the machine's cores the command kept busy
(its processes' CPU time, workers and painter included, over its time) and the peak memory of the
largest of the main process, its workers and the painter drawing the figures (run.json). The last
line is the total: the issue's "every experiment at lecture scale" budget. Exit code 1 only when a
run did not finish (failed claims are findings, not errors).
Usage: DLEXP_DATA_DIR=../shared/data python bench/bench_experiments.py [--scale S] [--out DIR]
       [NAME ...]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dlexp.registry import available
from dlexp.workers import cpu_cores

FINISHED = (0, 1)  # 1: a claim failed at lecture scale, which is a finding
PROCESSES = ("main", "worker", "figures")  # run.json's peak_memory_mb_* (see dlexp.results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="experiments (default: all)")
    parser.add_argument("--scale", default="lecture")
    parser.add_argument("--out", type=Path, help="keep the runs here (default: a temporary folder)")
    args = parser.parse_args()
    names = args.names or sorted(available())
    cores = cpu_cores()  # the cores the runs may use
    print(
        "| experiment | run (s) | with start-up and figures (s) | model-steps/s | cores busy "
        "| peak memory |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    total, cpu_total = 0.0, 0.0
    broken = []
    with tempfile.TemporaryDirectory() as temporary:
        out = str(args.out or temporary)
        for name in names:
            command = [sys.executable, "-m", "dlexp", "run", name, "--scale", args.scale]
            start, cpu_before = time.perf_counter(), children_cpu_seconds()
            done = subprocess.run([*command, "--quiet", "--out", out], capture_output=True)
            whole = time.perf_counter() - start
            cpu = children_cpu_seconds() - cpu_before
            total, cpu_total = total + whole, cpu_total + cpu
            if done.returncode not in FINISHED:
                broken.append(name)
                print(f"| {name} | did not finish: {done.stderr.decode().strip()[-200:]} |")
                continue
            info = json.loads((Path(out) / name / args.scale / "run.json").read_text())
            steps = info["model_steps"] / info["wall_seconds"] if info["wall_seconds"] else 0
            memory = max(info.get(f"peak_memory_mb_{who}", 0) for who in PROCESSES)
            print(
                f"| {name} | {info['wall_seconds']:.1f} | {whole:.1f} | {steps:,.0f} "
                f"on {info['workers']} workers | {cpu / whole:.2f} of {cores} "
                f"| {memory:,.0f} MB |"
            )
    print(
        f"total: {total / 60:.1f} min for {len(names)} experiments at {args.scale} scale, "
        f"{cpu_total / total:.2f} of {cores} cores busy"
    )
    if broken:
        raise SystemExit(f"did not finish: {', '.join(broken)}")


def children_cpu_seconds() -> float:
    """User and system CPU time of this process's finished children and of theirs (a run's
    workers and painter, which it waits for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
