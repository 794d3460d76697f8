"""Running one experiment: check everything a user gave, train and measure, check the claims,
write the run folder atomically."""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from dlexp.claims import Verdict, check_claims
from dlexp.finding import Finding, RunContext, load_code
from dlexp.progress import Reporter
from dlexp.protocol import validate_protocol
from dlexp.registry import Experiment, ExperimentError
from dlexp.results import environment, run_folder, write_run


class DeviceError(ExperimentError):
    """The requested device is not available."""


def pick_device(name: str) -> torch.device:
    """`auto` is CUDA when present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(
            "--device cuda was asked for but no CUDA GPU is available; use --device cpu."
        )
    try:
        return torch.device(name)
    except RuntimeError:
        raise DeviceError(f"unknown device {name!r}; use auto, cpu or cuda.") from None


def use_cpu_threads(device: torch.device) -> None:
    """One intra-op thread on the CPU unless OMP_NUM_THREADS says otherwise.

    The stacked matrices are small (mini-batches of 10), so a second thread gains little, while
    OpenMP threads that spin-wait on a busy machine made training up to 30× slower when measured.
    """
    if device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)


def code_of(experiment: Experiment) -> Finding:
    """The experiment's code, with every claim checked against it: the check exists and takes
    the declared params with the declared types."""
    finding = load_code(experiment.code)
    for claim in experiment.claims:
        check = finding.checks.get(claim.check)
        if check is None:
            raise ExperimentError(
                f"claim {claim.id!r} of {experiment.path} names check {claim.check!r}, which "
                f"{experiment.name} lacks; it has: {', '.join(finding.checks)}."
            )
        try:
            inspect.signature(check).bind(None, None, **claim.params)
        except TypeError as error:
            raise ExperimentError(
                f"claim {claim.id!r} of {experiment.path}: params do not fit check "
                f"{claim.check} ({error})."
            ) from None
    return finding


@dataclass(frozen=True)
class Prepared:
    """An experiment whose inputs were all checked: ready to train."""

    experiment: Experiment
    finding: Finding
    scale: str
    protocol: dict[str, Any]
    overrides: dict[str, Any]


def prepare(
    experiment: Experiment, scale: str, overrides: Mapping[str, Any], seeds: int | None
) -> Prepared:
    """Resolve and check the protocol and the claims before any work is done."""
    finding = code_of(experiment)
    raw = experiment.resolve(scale, overrides, seeds)
    protocol = validate_protocol(finding.protocol, raw)
    return Prepared(experiment, finding, scale, protocol, dict(overrides))


@dataclass(frozen=True)
class RunResult:
    experiment: Experiment
    scale: str
    folder: Path
    verdicts: list[Verdict]
    wall_seconds: float


def run_prepared(
    prepared: Prepared,
    *,
    device: torch.device,
    out: Path,
    reporter: Reporter,
    data_dir: Path | None = None,
) -> RunResult:
    """Train and measure, check the claims, and write the run folder atomically."""
    experiment, finding, protocol = prepared.experiment, prepared.finding, prepared.protocol
    use_cpu_threads(device)
    seed_list = list(range(int(protocol["seeds"])))
    context = RunContext(protocol, seed_list, device, reporter, data_dir)
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    with reporter.session():
        table = finding.measure(context)
    wall = time.perf_counter() - clock
    verdicts = check_claims(experiment.claims, finding.checks, table, protocol)
    info = {
        "experiment": experiment.name,
        "title": experiment.title,
        "declaration": str(experiment.path),
        "code": str(experiment.code),
        "scale": prepared.scale,
        "protocol": protocol,
        "overrides": prepared.overrides,
        "seeds": seed_list,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(wall, 2),
        **environment(device),
        "claims": [v.to_dict() for v in verdicts],
    }
    folder = run_folder(out, experiment.name, prepared.scale)
    write_run(folder, table, info, lambda t, f: finding.figures(t, protocol, prepared.scale, f))
    return RunResult(experiment, prepared.scale, folder, verdicts, wall)
