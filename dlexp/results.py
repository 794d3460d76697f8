"""Run folders: `results/<experiment>/<scale>/` with metrics.csv, run.json and figures/.

A run is written into a hidden temporary folder beside its target and renamed into place only once
everything is written, so an interrupted or failed run never leaves half a result and never
destroys the previous good one.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import torch

import dlexp
from dlexp.table import tidy

METRICS = "metrics.csv"
RUN_INFO = "run.json"
FIGURES = "figures"


def run_folder(root: Path, experiment: str, scale: str) -> Path:
    return root / experiment / scale


@contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces `target`, on any error it is removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
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
    info: dict[str, Any],
    draw: Callable[[pd.DataFrame, Path], list[Path]],
) -> None:
    """Write metrics.csv, run.json and the figures, all or nothing."""
    with atomic_folder(target) as staging:
        tidy(table).to_csv(staging / METRICS, index=False)
        (staging / FIGURES).mkdir()
        draw(table, staging / FIGURES)
        (staging / RUN_INFO).write_text(json.dumps(jsonable(info), indent=2) + "\n")


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
