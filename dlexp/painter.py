"""The figures of a command-line run, drawn by a painter: a process forked before torch is
imported, which imports matplotlib and the experiments' figure code on the second core while
this process imports torch, loads MNIST and trains.

A tiny run spends longer around its training than in it: importing torch takes 1.0 s, matplotlib
0.4 s more, and the figures 1–3 s. Forked while this process is still small (typer and rich
only), the painter is ready with everything imported by the time a run's table is; then it draws
each run's figures into the run's staging folder (rendering them in parallel,
`dlexp.figures.rendering_in_parallel`) and answers with their paths or the error; meanwhile this
process checks the run's claims and writes its metrics.csv (`start` returns the function that
waits for the answer). Without a painter (the Python API, the report, no fork) or after it died,
the figures are drawn in this process, when waited for.

Ctrl-C and SIGTERM are the parent's to handle: the painter runs in a process group of its own,
away from the terminal's Ctrl-C. When the parent leaves `painting`, drawn or interrupted, it kills
that group, the painter and any renderer still running; should the parent itself be killed, the
painter ends when its end of the pipe closes.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection, Pipe
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from dlexp.collector import long_lived

if TYPE_CHECKING:
    import pandas as pd

FIGURE_MODULE = "figures"
"""The module of an experiment's package that defines `figures(table, protocol, scale, folder)`."""

Figures = Callable[["pd.DataFrame", dict[str, Any], str, Path], list[Path]]


@dataclass
class Painter:
    """The running painter: this end of its pipe, and its process id (= its process group)."""

    connection: Connection
    pid: int


_painter: Painter | None = None


@contextmanager
def painting(code_folders: list[Path]) -> Iterator[None]:
    """Within, `start` hands figures to a painter forked now, which has imported the figure code
    of every folder in `code_folders` by the time it is asked. Where there is no fork, or a
    painter is already running, the figures are drawn in this process."""
    global _painter
    if not hasattr(os, "fork") or _painter is not None:
        yield
        return
    ours, theirs = Pipe()
    pid = os.fork()
    if pid == 0:
        ours.close()
        serve(theirs, code_folders)
    theirs.close()
    with contextlib.suppress(OSError):  # as the painter does, so that neither waits on the other
        os.setpgid(pid, pid)
    _painter = painter = Painter(ours, pid)
    try:
        yield
    finally:  # drawn, or interrupted while importing or drawing: end it and its renderers
        _painter = None
        painter.connection.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(painter.pid, signal.SIGKILL)
        os.waitpid(painter.pid, 0)


class Drawn(NamedTuple):
    """The figures' files, and the painter's peak resident memory so far (MB, its renderers
    included; None when drawn here, where this process's own peak covers it)."""

    paths: list[Path]
    peak_memory_mb: float | None = None


def start(
    code: Path,
    table: pd.DataFrame,
    protocol: dict[str, Any],
    scale: str,
    folder: Path,
    workers: int,
) -> Callable[[], Drawn]:
    """Start drawing the figures of the experiment whose code is in `code` from `table` into
    `folder`; returns the function that waits for them and raises what drawing raised. Every
    start must be waited for, so that the painter's answers stay in step with its jobs."""
    job = Job(code, table, protocol, scale, folder, workers)
    painter = _painter
    if painter is not None:
        try:
            painter.connection.send(job)
        except OSError:  # the painter died (killed): draw here instead
            pass
        else:
            return lambda: answer(painter, job)
    return lambda: Drawn(draw_here(job))


def answer(painter: Painter, job: Job) -> Drawn:
    """The painter's answer to `job`, or the figures drawn here if it died drawing them."""
    try:
        drawn, result, peak = painter.connection.recv()
    except (EOFError, OSError):
        return Drawn(draw_here(job))
    if not drawn:
        raise result
    return Drawn(result, peak)


class Job(NamedTuple):
    """What the painter is sent for one run's figures."""

    code: Path
    table: pd.DataFrame
    protocol: dict[str, Any]
    scale: str
    folder: Path
    workers: int


def draw_here(job: Job) -> list[Path]:
    from dlexp.figures import rendering_in_parallel
    from dlexp.runner import quiet_float_warnings

    with quiet_float_warnings(), rendering_in_parallel(job.workers):
        return figures_of(job.code)(job.table, job.protocol, job.scale, job.folder)


def figures_of(code: Path) -> Figures:
    """`figures` of the experiment package in `code`, imported on first use: the only part of
    an experiment that needs matplotlib."""
    from dlexp.finding import load_code, package_name

    load_code(code)
    module = importlib.import_module(f"{package_name(code.resolve())}.{FIGURE_MODULE}")
    figures = getattr(module, "figures", None)
    if not callable(figures):
        raise ImportError(f"{code / FIGURE_MODULE}.py defines no figures(table, protocol, ...)")
    return figures


def serve(connection: Connection, code_folders: list[Path]) -> None:
    """In the painter: import the figure code, then draw each job until the parent closes the
    pipe; never returns."""
    with contextlib.suppress(OSError):  # a process group of its own, ended with its renderers
        os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    code = 0
    try:
        with long_lived():
            for folder in code_folders:
                with contextlib.suppress(Exception):  # reported when a run asks for these figures
                    figures_of(folder)
            from dlexp.results import peak_memory

        while True:
            try:
                job = connection.recv()
            except EOFError:
                break
            try:
                drawn, answer = True, draw_here(job)
            except Exception as error:
                drawn, answer = False, error
            send(connection, (drawn, answer, max(peak_memory().values(), default=None)))
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def send(connection: Connection, answer: tuple[bool, Any, float | None]) -> None:
    """`answer`, or its error as a RuntimeError with the same text where it does not pickle."""
    try:
        connection.send(answer)
    except Exception:
        _, error, peak = answer
        connection.send((False, RuntimeError(f"{type(error).__name__}: {error}"), peak))
