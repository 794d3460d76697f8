"""Running one experiment: check everything a user gave before any work, train and measure,
check the claims, write the run folder atomically."""

from __future__ import annotations

import functools
import inspect
import os
import time
import typing
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from pydantic import TypeAdapter, ValidationError

from dlexp import painter
from dlexp.blas import use_blas_threads
from dlexp.claims import Verdict, check_claims
from dlexp.data import load_files, locate_mnist
from dlexp.finding import Check, Finding, Outcome, RunContext, load_code
from dlexp.progress import Reporter
from dlexp.protocol import validate_protocol
from dlexp.registry import Experiment, ExperimentError
from dlexp.results import check_writable, environment, run_folder, write_run
from dlexp.workers import default_workers

DEVICES = ("cpu", "cuda")
UNCHECKED = "could not be checked"


class DeviceError(ExperimentError):
    """The requested device is not available."""


def pick_device(name: str) -> torch.device:
    """`auto` is CUDA when present, else the CPU; otherwise `cpu`, `cuda` or `cuda:N`."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        device = None
    if device is None or device.type not in DEVICES:
        raise DeviceError(f"--device {name!r} is not one dlexp trains on; use auto, cpu or cuda.")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                "--device cuda was asked for but no CUDA GPU is available; use --device cpu."
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(
                f"--device {name} names GPU {device.index}, but there are only "
                f"{torch.cuda.device_count()} (cuda:0 …); use --device cuda."
            )
    return device


def use_cpu_threads(device: torch.device) -> None:
    """One intra-op thread on the CPU unless OMP_NUM_THREADS says otherwise, and as many for
    NumPy's BLAS (`dlexp.blas`).

    The stacked matrices are small (mini-batches of 10), so a second thread gains little, while
    OpenMP threads that spin-wait on a busy machine made training up to 30× slower when measured.
    """
    if device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)
    use_blas_threads(torch.get_num_threads())


def code_of(experiment: Experiment) -> Finding:
    """The experiment's code, with every claim checked against it: the check exists and takes
    the declared params with the declared types."""
    try:
        finding = load_code(experiment.code)
    except Exception as error:  # a user's own folder whose code does not import
        raise ExperimentError(
            f"the code of {experiment.name} in {experiment.code}/ does not load: "
            f"{type(error).__name__}: {error}"
        ) from None
    figures = f"{painter.FIGURE_MODULE}.py"
    if not (experiment.code / figures).is_file():
        raise ExperimentError(
            f"the code of {experiment.name} in {experiment.code}/ has no {figures}; "
            f"add one defining figures(table, protocol, scale, folder)."
        )
    for claim in experiment.claims:
        check = finding.checks.get(claim.check)
        where = f"claim {claim.id!r} of {experiment.path}"
        if check is None:
            raise ExperimentError(
                f"{where} names check {claim.check!r}, which {experiment.name} lacks; it has: "
                f"{', '.join(finding.checks)}."
            )
        try:
            inspect.signature(check).bind(None, None, **claim.params)
        except TypeError as error:
            raise ExperimentError(
                f"{where}: params do not fit check {claim.check} ({error})."
            ) from None
        for key, value in claim.params.items():
            problem = param_problem(check, key, value)
            if problem:
                raise ExperimentError(
                    f"{where}: params.{key} = {value!r} is not allowed: {problem}."
                )
    return finding


def param_problem(check: Check, key: str, value: Any) -> str | None:
    """What is wrong with `value` for the check's parameter `key` by its type hint, if anything
    (ints are accepted for floats; nothing else is converted)."""
    hint = parameter_types(check).get(key)
    if hint is None:
        return None
    try:
        TypeAdapter(hint).validate_python(value, strict=True)
    except ValidationError as error:
        message = error.errors()[0]["msg"]
        return message[0].lower() + message[1:]
    except Exception:  # a hint pydantic cannot check (e.g. a DataFrame): the signature is enough
        return None
    return None


@functools.cache
def parameter_types(check: Check) -> dict[str, Any]:
    try:
        return typing.get_type_hints(check)
    except Exception:  # hints that do not resolve are not checked
        return {}


@dataclass(frozen=True)
class Prepared:
    """An experiment whose inputs were all checked: ready to train."""

    experiment: Experiment
    finding: Finding
    scale: str
    protocol: dict[str, Any]
    overrides: dict[str, Any]
    results_name: str


def prepare(
    experiment: Experiment, scale: str, overrides: Mapping[str, Any], seeds: int | None
) -> Prepared:
    """Resolve and check the protocol and the claims before any work is done."""
    finding = code_of(experiment)
    raw = experiment.resolve(scale, overrides, seeds)
    protocol = validate_protocol(finding.protocol, raw)
    return Prepared(experiment, finding, scale, protocol, dict(overrides), experiment.results_name)


def check_inputs(
    prepared: list[Prepared], out: Path, data_dir: Path | None, progress: bool = True
) -> None:
    """Before any training: every run folder can be written, and MNIST is there (downloaded if
    need be) and sound when an experiment uses it."""
    for item in prepared:
        check_writable(run_folder(out, item.results_name, item.scale))
    if any(item.finding.uses_mnist for item in prepared):
        load_files(locate_mnist(data_dir, progress=progress))


@dataclass(frozen=True)
class RunResult:
    experiment: Experiment
    scale: str
    folder: Path
    verdicts: list[Verdict]
    wall_seconds: float
    models: int = 0
    model_steps: int = 0
    diverged: int = 0
    figure_problem: str | None = None
    workers: int = 1

    @property
    def steps_per_second(self) -> float:
        return self.model_steps / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def problems(self) -> list[str]:
        """Code paths that raised instead of finishing: a check that could not decide, figures
        that could not be drawn. The run's table and verdicts were written all the same."""
        checks = [
            f"claim {v.id}: {v.detail}" for v in self.verdicts if v.detail.startswith(UNCHECKED)
        ]
        return checks + ([self.figure_problem] if self.figure_problem else [])


def run_prepared(
    prepared: Prepared,
    *,
    device: torch.device,
    out: Path,
    reporter: Reporter,
    data_dir: Path | None = None,
    workers: int | None = None,
) -> RunResult:
    """Train and measure, check the claims, and write the run folder atomically; `workers`
    processes train at once (default: one per CPU core, see `dlexp.workers`)."""
    experiment, finding, protocol = prepared.experiment, prepared.finding, prepared.protocol
    use_cpu_threads(device)
    seed_list = list(range(int(protocol["seeds"])))
    workers = workers or default_workers(device)
    context = RunContext(protocol, seed_list, device, reporter, data_dir, workers)
    started = datetime.now(UTC)
    clock = time.perf_counter()
    with reporter.session(), quiet_float_warnings():
        table = finding.measure(context)
    wall = time.perf_counter() - clock
    if context.diverged:
        table = pd.concat([table, context.diverged_rows()], ignore_index=True)
    folder = run_folder(out, prepared.results_name, prepared.scale)
    verdicts: list[Verdict] = []
    problems: list[str] = []

    def info() -> dict[str, Any]:
        """run.json's fields, the claims checked (while the painter draws the figures)."""
        checks = {name: safe_check(check) for name, check in finding.checks.items()}
        with quiet_float_warnings():
            found = check_claims(experiment.claims, checks, table, protocol)
        if context.diverged:
            found = [mark_divergence(v, len(context.diverged), context.models) for v in found]
        verdicts.extend(found)
        return {
            "experiment": experiment.name,
            "title": experiment.title,
            "declaration": str(experiment.path.resolve()),
            "declaration_sha256": experiment.file_sha256,
            "code": str(experiment.code.resolve()),
            "results": prepared.results_name,
            "scale": prepared.scale,
            "protocol": protocol,
            "overrides": prepared.overrides,
            "seeds": seed_list,
            "data": context.data_provenance,
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "wall_seconds": round(wall, 2),
            "models": context.models,
            "model_steps": context.model_steps,
            "workers": workers,
            "diverged_models": len(context.diverged),
            **environment(device),
            "claims": [v.to_dict() for v in verdicts],
        }

    def draw(table: pd.DataFrame, figures: Path) -> Callable[[], dict[str, Any]]:
        """Start the figures; the function returned waits for them and gives run.json's fields
        about them. Figures that cannot be drawn are noted, not allowed to lose the run."""

        def failed(error: Exception) -> dict[str, Any]:
            problems.append(f"figures not drawn: {type(error).__name__}: {error}")
            return {"problems": problems}

        try:
            wait = painter.start(experiment.code, table, protocol, prepared.scale, figures, workers)
        except Exception as error:
            return lambda error=error: failed(error)

        def drawn() -> dict[str, Any]:
            try:
                peak = wait().peak_memory_mb
            except Exception as error:
                return failed(error)
            return {} if peak is None else {"peak_memory_mb_figures": peak}

        return drawn

    write_run(folder, table, info, draw)
    return RunResult(
        experiment,
        prepared.scale,
        folder,
        verdicts,
        wall,
        context.models,
        context.model_steps,
        len(context.diverged),
        problems[0] if problems else None,
        workers,
    )


@contextmanager
def quiet_float_warnings() -> Iterator[None]:
    """inf and NaN are data (a diverged model): numpy's "overflow" or "divide by zero"
    RuntimeWarnings would only repeat, once per figure, the one warning line the CLI prints."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def safe_check(check: Check) -> Check:
    """`check`, except that an exception becomes a failed verdict saying why: a finished run is
    never lost to a check that cannot handle what training produced."""

    def checked(table: pd.DataFrame, protocol: dict[str, Any], **params: Any) -> Outcome:
        try:
            return check(table, protocol, **params)
        except Exception as error:
            return Outcome(False, [], f"{UNCHECKED}: {type(error).__name__}: {error}")

    return checked


def mark_divergence(verdict: Verdict, diverged: int, models: int) -> Verdict:
    note = f"{diverged} of {models} models diverged (inf/NaN), marked `diverged` in metrics.csv"
    return replace(verdict, detail=f"{verdict.detail}; {note}")
