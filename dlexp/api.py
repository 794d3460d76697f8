"""dlexp from Python, for notebooks: `dlexp.run(...)` and `dlexp.load(folder)`.

    import dlexp
    result = dlexp.run("vanishing-gradient", scale="tiny")
    result.metrics.head(); result.verdicts; result.figures

The command line is a thin layer over these two functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from dlexp.claims import Verdict
from dlexp.progress import Reporter
from dlexp.registry import DEFAULT_SCALE, ExperimentError, flat_settings
from dlexp.registry import load as load_experiment
from dlexp.results import FIGURES, read_info, read_table
from dlexp.runner import check_inputs, pick_device, prepare, run_prepared


@dataclass(frozen=True)
class Result:
    """A finished run folder: its tidy table, verdicts, figures and run.json."""

    folder: Path
    info: dict[str, Any] = field(repr=False)

    @property
    def experiment(self) -> str:
        return str(self.info["experiment"])

    @property
    def scale(self) -> str:
        return str(self.info["scale"])

    @cached_property
    def metrics(self) -> pd.DataFrame:
        """metrics.csv: one measurement a row."""
        return read_table(self.folder)

    @property
    def verdicts(self) -> list[Verdict]:
        """Every claim's verdict as recorded by the run."""
        return [recorded_verdict(claim) for claim in self.info.get("claims", [])]

    @property
    def figures(self) -> list[Path]:
        """The PNG figures (an SVG of the same name lies beside each)."""
        return sorted((self.folder / FIGURES).glob("*.png"))

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)


def recorded_verdict(claim: dict[str, Any]) -> Verdict:
    """A verdict from run.json (NaN stored as text is read back as NaN)."""
    numbers = {key: float(claim[key]) for key in ("mean", "low", "high")}
    return Verdict(**{**claim, **numbers})


def run(
    name_or_path: str | Path,
    scale: str = DEFAULT_SCALE,
    seeds: int | None = None,
    device: str = "auto",
    out: str | Path | None = None,
    *,
    data_dir: str | Path | None = None,
    quiet: bool = False,
    workers: int | None = None,
    **overrides: Any,
) -> Result:
    """Run one experiment (a shipped name, or a folder or declaration by path) and return its
    result. `workers` processes train at once (default: one per CPU core). Other keyword
    arguments override protocol entries; a table is given as a dict (`exploding={"weight": 10.0}`).
    """
    if workers is not None and workers < 1:
        raise ExperimentError(f"workers must be 1 or more, not {workers}.")
    prepared = prepare(load_experiment(name_or_path), scale, flat_settings(overrides), seeds)
    chosen = pick_device(device)
    root = Path(out) if out is not None else Path("results")
    data = Path(data_dir) if data_dir is not None else None
    check_inputs([prepared], root, data, progress=not quiet)
    reporter = Reporter(quiet=quiet)
    done = run_prepared(
        prepared, device=chosen, out=root, reporter=reporter, data_dir=data, workers=workers
    )
    return load(done.folder)


def load(folder: str | Path) -> Result:
    """A finished run read back from its folder."""
    folder = Path(folder)
    try:
        return Result(folder, read_info(folder))
    except (OSError, ValueError) as error:
        raise ExperimentError(f"{folder} holds no finished run ({error}).") from None
