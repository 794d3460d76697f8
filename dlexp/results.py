"""Run folders: `results/<experiment>/<scale>/` with metrics.csv, run.json and figures/.

A run is written into a hidden temporary folder beside its target and renamed into place only once
everything is written, so an interrupted or failed run never leaves half a result and never
destroys the previous good one. The hidden folders a killed process (SIGKILL) left behind are
removed by the next run, once that process is gone.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pandas as pd
import torch

import dlexp
from dlexp.registry import ExperimentError
from dlexp.table import tidy

METRICS = "metrics.csv"
RUN_INFO = "run.json"
METRICS_ROWS = "metrics_rows"
FIGURES = "figures"


def run_folder(root: Path, experiment: str, scale: str) -> Path:
    return root / experiment / scale


def check_writable(target: Path) -> None:
    """ExperimentError unless a run folder can be written at `target`: no part of its path is
    a file and the deepest existing folder on it accepts a new file. Checked before training."""
    existing = target
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ExperimentError(
            f"cannot write results to {target}/: {existing} is a file, not a folder; choose "
            f"another --out."
        )
    try:
        handle, probe = tempfile.mkstemp(dir=existing, prefix=".dlexp-write-test-")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise ExperimentError(
            f"cannot write results to {target}/: {existing} is not writable "
            f"({error.strerror}); choose another --out."
        ) from None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def clear_stale(target: Path) -> None:
    """Remove the hidden folders beside `target` that a killed run left (`.name.partial-PID`),
    and put back a previous result a killed run had moved aside (`.name.previous-PID`) when
    nothing replaced it; folders of processes still running are left alone."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(partial|previous)-(\d+)")
    for folder in sorted(target.parent.glob(f".{target.name}.*-*")):
        match = pattern.fullmatch(folder.name)
        if not match or process_alive(int(match.group(2))):
            continue
        if match.group(1) == "previous" and not target.exists():
            folder.rename(target)
        else:
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces `target`, on any error it is removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    clear_stale(target)
    staging = target.parent / f".{target.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    previous = target.parent / f".{target.name}.previous-{os.getpid()}"
    if target.exists():
        target.rename(previous)
    staging.rename(target)
    shutil.rmtree(previous, ignore_errors=True)


def write_run(
    target: Path,
    table: pd.DataFrame,
    info: Callable[[], dict[str, Any]],
    draw: Callable[[pd.DataFrame, Path], Callable[[], dict[str, Any]]],
) -> None:
    """Write metrics.csv, run.json and the figures, all or nothing; run.json records how many
    rows metrics.csv holds, so that a truncated copy can be told from a whole one.

    `draw(table, folder)` starts the figures and returns the function that waits for them and
    gives run.json's fields about them; `info()` gives the rest of run.json. The figures start
    first, so that a painter draws them while `info` is computed (the claims checked) and
    metrics.csv written; they are waited for even when those fail."""
    with atomic_folder(target) as staging:
        (staging / FIGURES).mkdir()
        drawn = draw(table, staging / FIGURES)
        try:
            tidy(table).to_csv(staging / METRICS, index=False)
            record = info()
        except Exception:
            with suppress(Exception):  # the failure above is the one to report
                drawn()
            raise
        record = {**record, **drawn(), METRICS_ROWS: len(table)}
        (staging / RUN_INFO).write_text(json.dumps(jsonable(record), indent=2) + "\n")


def read_table(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / METRICS)


def read_info(folder: Path) -> dict[str, Any]:
    return json.loads((folder / RUN_INFO).read_text())


def finished_runs(root: Path) -> list[Path]:
    """Every complete run folder under `root` (both files present), sorted; the hidden folders of
    a run being written are skipped."""
    return sorted(
        p.parent
        for p in root.glob(f"*/*/{RUN_INFO}")
        if (p.parent / METRICS).exists() and not p.parent.name.startswith(".")
    )


def jsonable(value: Any) -> Any:
    """NaN and infinities as strings, so run.json stays valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def environment(device: torch.device) -> dict[str, Any]:
    """Versions, device and the git commit of the working directory, if any."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    return {
        "dlexp": dlexp.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": str(device),
        "device_name": name or platform.machine(),
        "threads": torch.get_num_threads(),
        "commit": git_commit(),
        **peak_memory(),
    }


def peak_memory() -> dict[str, float]:
    """The largest resident memory so far (MB) of this process and of its largest worker process
    (where the platform reports it; in `dlexp run all` the largest of every run so far). The
    painter's, which draws the figures, is run.json's `peak_memory_mb_figures` (`dlexp.painter`)."""
    try:
        import resource
    except ImportError:  # not on this platform
        return {}
    per_mb = 1024 if sys.platform != "darwin" else 1024 * 1024  # Linux reports KB, macOS bytes
    return {
        f"peak_memory_mb_{who}": round(resource.getrusage(which).ru_maxrss / per_mb, 1)
        for who, which in (("main", resource.RUSAGE_SELF), ("worker", resource.RUSAGE_CHILDREN))
    }


def git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None
