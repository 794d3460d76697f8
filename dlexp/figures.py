"""Shared plotting: one style for every figure, saved as PNG and SVG side by side.

Laying a figure out and rendering it twice (PNG, SVG) takes about 0.3 s per format, far more
than building it, so within `rendering_in_parallel` each finished figure is handed to a forked
process that lays it out and writes both files, while this process builds the next.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd

from dlexp.claims import mean_ci
from dlexp.collector import after_fork

plt.rcParams.update(
    {
        "figure.dpi": 110,
        "savefig.dpi": 130,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.frameon": False,
        "font.size": 10,
        "svg.hashsalt": "dlexp",
        "svg.fonttype": "none",
    }
)


def save(figure: plt.Figure, folder: Path, name: str) -> list[Path]:
    """Write `name`.png and `name`.svg into `folder` and close the figure: here, or in a forked
    process within `rendering_in_parallel`."""
    plain_log_labels(figure)
    no_minor_ticks_over_decades(figure)
    paths = [folder / f"{name}.png", folder / f"{name}.svg"]
    if _renderers is None:
        render(figure, paths)
    else:
        _renderers.start(figure, paths)
    plt.close(figure)
    return paths


SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


class PlainLogFormatter(matplotlib.ticker.LogFormatterSciNotation):
    """A log axis's tick labels as matplotlib writes them (10⁻¹⁴, 2×10³), in Unicode instead of
    mathtext: parsing mathtext was most of the time to lay out and draw a figure with log axes
    (0.19 of 0.32 s for vanishing-gradient's exploding chain), and it is parsed again for each
    format."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        label = super().__call__(x, pos)
        inner = label.removeprefix("$\\mathdefault{").removesuffix("}$").replace("\\times", "×")
        inner = re.sub(r"\^\{(-?\d+)\}", lambda power: power[1].translate(SUPERSCRIPT), inner)
        return inner.replace("-", "−")  # a leading sign (symlog), as mathtext draws it


def plain_log_labels(figure: plt.Figure) -> None:
    """Every log axis of `figure` left with matplotlib's default labels gets `PlainLogFormatter`
    (the same formatter and state, its labels without mathtext)."""
    for axes in figure.axes:
        for axis in (axes.xaxis, axes.yaxis):
            for formatter in (axis.get_major_formatter(), axis.get_minor_formatter()):
                if type(formatter) is matplotlib.ticker.LogFormatterSciNotation:
                    formatter.__class__ = PlainLogFormatter


# A log axis spanning more than this many decades gets no minor ticks: at 2, 3, … 9 × 10ᵏ they are
# a comb of unlabelled marks, eight per decade, beside a label at every decade; laying them out and
# drawing them was 42% of rendering vanishing-gradient's figures (4.0 → 2.3 s). Matplotlib itself
# drops them beyond 10 decades.
MINOR_TICKS_DECADES = 4


def no_minor_ticks_over_decades(figure: plt.Figure) -> None:
    """No minor ticks on a log axis of `figure` that spans more than MINOR_TICKS_DECADES."""
    for axes in figure.axes:
        for axis, limits in ((axes.xaxis, axes.get_xlim()), (axes.yaxis, axes.get_ylim())):
            low, high = sorted(limits)
            if axis.get_scale() == "log" and low > 0 and np.log10(high / low) > MINOR_TICKS_DECADES:
                axis.set_minor_locator(matplotlib.ticker.NullLocator())


def render(figure: plt.Figure, paths: list[Path]) -> None:
    """Lay `figure` out once and write each of `paths`. A figure made with constrained layout
    (which places a shared colour bar, as tight_layout cannot) is laid out by it, once: left
    on, it lays the figure out again for every format (weight-init's activation histograms,
    both formats: 1.29–1.30 → 1.12–1.14 s, best of five)."""
    if isinstance(figure.get_layout_engine(), matplotlib.layout_engine.ConstrainedLayoutEngine):
        figure.draw_without_rendering()
        figure.set_layout_engine("none")
    else:
        figure.tight_layout()
    for path in paths:
        figure.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else None)


class Renderers:
    """Forked processes rendering one figure each, at most `workers` at a time."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.running: dict[int, str] = {}
        self.failed: list[str] = []

    def start(self, figure: plt.Figure, paths: list[Path]) -> None:
        while len(self.running) >= self.workers:
            self.wait_one()
        pid = os.fork()
        if pid == 0:  # the child renders, then leaves without running the parent's cleanup
            after_fork()
            code = 0
            try:
                render(figure, paths)
            except BaseException as error:
                print(f"{paths[0].stem}: {type(error).__name__}: {error}", file=sys.stderr)
                code = 1
            finally:
                os._exit(code)
        self.running[pid] = paths[0].stem

    def wait_one(self) -> None:
        pid, status = os.wait()
        name = self.running.pop(pid)
        if os.waitstatus_to_exitcode(status) != 0:
            self.failed.append(name)

    def wait_all(self) -> None:
        while self.running:
            self.wait_one()


_renderers: Renderers | None = None


@contextmanager
def rendering_in_parallel(workers: int) -> Iterator[None]:
    """Within, `save` renders each figure in a forked process, up to `workers` at once (with 1,
    or where there is no fork, it renders in place); leaving waits until every file is written
    and raises if a figure could not be."""
    global _renderers
    if workers <= 1 or not hasattr(os, "fork") or _renderers is not None:
        yield
        return
    _renderers = renderers = Renderers(workers)
    try:
        yield
    finally:
        _renderers = None
        renderers.wait_all()
    if renderers.failed:
        raise RuntimeError(f"could not render {', '.join(renderers.failed)}")


def summarise(values: pd.DataFrame, by: Sequence[str], column: str = "value") -> pd.DataFrame:
    """Mean and 95% CI over seeds of `column`, per group of `by`."""
    rows = []
    for key, group in values.groupby(list(by), sort=True):
        mean, low, high = mean_ci(group[column].astype(float).tolist())
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, key)), "mean": mean, "low": low, "high": high})
    return pd.DataFrame(rows)


def summarise_on_log_scale(values: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Geometric mean and 95% CI over seeds, computed on log₁₀ of the value: the band of a
    quantity drawn on a log axis, which never reaches below zero."""
    summary = summarise(values.assign(value=np.log10(values["value"].astype(float))), by)
    columns = ["mean", "low", "high"]
    summary[columns] = 10.0 ** summary[columns]
    return summary


def line_with_band(ax: plt.Axes, x, summary: pd.DataFrame, **style) -> None:
    """A mean line with its 95% CI band (the band is skipped where the CI is undefined)."""
    (line,) = ax.plot(x, summary["mean"], **style)
    low, high = summary["low"].to_numpy(float), summary["high"].to_numpy(float)
    if np.isfinite(low).any():
        ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2, linewidth=0)


def cost_axis(ax: plt.Axes) -> None:
    """A log axis of cost, ticked at 1, 2, 3 and 5 per decade in plain numbers."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 3.0, 5.0)))
    ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def scale_note(scale: str) -> str:
    """A subtitle that marks runs below lecture scale."""
    return "" if scale == "lecture" else f"\n[{scale} scale — not the lecture's protocol]"
