"""The painter: a run's figures drawn by a process forked before torch is imported, with the
same files, errors and fall-back as drawing in place; and nothing the command line does before
training imports torch or matplotlib."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from dlexp import painter
from dlexp.registry import ExperimentError, load
from dlexp.results import write_run
from dlexp.runner import code_of

from .helpers import dlexp as cli
from .test_results import table as run_table

TOY = Path(__file__).parent / "toy_experiment"

# Figure modules: one records which process drew, one leaves a renderer running, one fails as
# a user's code might.
RECORDING = """
import os
from pathlib import Path

def figures(table, protocol, scale, folder):
    path = Path(folder) / "drawn_by.txt"
    path.write_text(f"{os.getpid()} {len(table)} {scale}")
    return [path]
"""
LINGERING = """
import os, time
from pathlib import Path

def figures(table, protocol, scale, folder):
    renderer = os.fork()
    if renderer == 0:
        time.sleep(60)
        os._exit(0)
    (Path(folder) / "renderer.pid").write_text(str(renderer))
    return []
"""
FAILING = """
def figures(table, protocol, scale, folder):
    raise ValueError("no such column: 'accuracy'")
"""


def toy_with(tmp_path: Path, figures: str) -> Path:
    folder = tmp_path / "toy-painted"
    shutil.copytree(TOY, folder)
    (folder / "figures.py").write_text(figures)
    return folder


TABLE = pd.DataFrame({"metric": ["train_accuracy"] * 3, "value": [0.1, 0.2, 0.3]})


def test_within_painting_the_figures_are_drawn_by_another_process(tmp_path):
    code = toy_with(tmp_path, RECORDING)
    with painter.painting([code]):
        first = painter.start(code, TABLE, {}, "tiny", tmp_path, workers=2)()
        pid, rows, scale = first.paths[0].read_text().split()
        again = painter.start(code, TABLE.head(2), {}, "lecture", tmp_path, workers=2)()
        second = again.paths[0].read_text().split()
    assert int(pid) != os.getpid() and (rows, scale) == ("3", "tiny")
    assert second == [pid, "2", "lecture"]  # one painter serves every run of the command
    assert 10 < first.peak_memory_mb <= again.peak_memory_mb < 2_000  # MB, matplotlib loaded
    drawn_here = painter.start(code, TABLE, {}, "tiny", tmp_path, workers=1)()
    assert drawn_here.paths[0].read_text().split()[0] == str(os.getpid())
    assert drawn_here.peak_memory_mb is None


def test_the_figures_are_drawn_while_the_claims_are_checked_and_stay_in_step_on_a_failure(
    tmp_path,
):
    """write_run starts the figures before `info` (the claims checked), so the painter draws
    while `info` runs; when `info` fails, that run is not written and the next run gets the
    answer to its own figures, not to the failed run's."""
    code = toy_with(tmp_path, RECORDING)

    def draw(table, folder):
        wait = painter.start(code, table, {}, "tiny", folder, workers=2)
        return lambda: {"figures": [str(p.relative_to(folder)) for p in wait().paths]}

    def failing_info():
        raise RuntimeError("a check crashed")

    def info_while_drawing():
        deadline = time.monotonic() + 20
        while not list(tmp_path.glob(".second.partial-*/figures/drawn_by.txt")):
            assert time.monotonic() < deadline, "the figures were not started before the claims"
            time.sleep(0.01)
        return {"run": 2}

    with painter.painting([code]):
        with pytest.raises(RuntimeError, match="a check crashed"):
            write_run(tmp_path / "first", run_table(1.0), failing_info, draw)
        two_rows = pd.concat([run_table(1.0), run_table(2.0)], ignore_index=True)
        write_run(tmp_path / "second", two_rows, info_while_drawing, draw)
    assert not (tmp_path / "first").exists()
    record = json.loads((tmp_path / "second" / "run.json").read_text())
    assert record == {"run": 2, "figures": ["drawn_by.txt"], "metrics_rows": 2}
    pid, rows, _ = (tmp_path / "second" / "figures" / "drawn_by.txt").read_text().split()
    assert int(pid) != os.getpid() and rows == "2"


def test_an_error_in_the_painter_is_raised_here_as_it_was_raised_there(tmp_path):
    code = toy_with(tmp_path, FAILING)
    with (
        painter.painting([code]),
        pytest.raises(ValueError, match="no such column: 'accuracy'"),
    ):
        painter.start(code, TABLE, {}, "tiny", tmp_path, workers=2)()


def test_a_killed_painter_leaves_the_figures_to_this_process(tmp_path):
    code = toy_with(tmp_path, RECORDING)
    with painter.painting([code]):
        os.kill(painter._painter.pid, signal.SIGKILL)
        drawn = painter.start(code, TABLE, {}, "tiny", tmp_path, workers=2)()
        assert drawn.paths[0].read_text().split()[0] == str(os.getpid())


def test_leaving_painting_ends_the_painter_and_every_renderer_it_started(tmp_path):
    code = toy_with(tmp_path, LINGERING)
    with painter.painting([code]):
        painter_pid = painter._painter.pid
        painter.start(code, TABLE, {}, "tiny", tmp_path, workers=2)()
        renderer = int((tmp_path / "renderer.pid").read_text())
        os.kill(renderer, 0)  # still sleeping
    for pid in (painter_pid, renderer):
        for _ in range(100):  # the orphaned renderer is reaped by init
            if not alive(pid):
                break
            time.sleep(0.05)
        assert not alive(pid), pid


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie awaiting its parent counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_figure_error_is_a_noted_problem_and_exit_1_with_the_table_written(tmp_path):
    code = toy_with(tmp_path, FAILING)
    result = cli("run", str(code), "--scale", "tiny", "--out", str(tmp_path / "out"), "-q")
    assert result.exit_code == 1
    assert "figures not drawn: ValueError: no such column: 'accuracy'" in result.output
    assert len(list((tmp_path / "out").glob("*/tiny/metrics.csv"))) == 1


def test_figures_that_cannot_even_be_started_are_a_noted_problem_with_the_table_written(
    tmp_path, monkeypatch
):
    def unpicklable(*args, **kwargs):
        raise TypeError("cannot pickle '_thread.lock' object")

    monkeypatch.setattr("dlexp.painter.start", unpicklable)
    code = toy_with(tmp_path, RECORDING)
    result = cli("run", str(code), "--scale", "tiny", "--out", str(tmp_path / "out"), "-q")
    assert result.exit_code == 1
    assert "figures not drawn: TypeError: cannot pickle '_thread.lock' object" in result.output
    assert len(list((tmp_path / "out").glob("*/tiny/metrics.csv"))) == 1


def test_an_experiment_without_figures_is_refused_before_training(tmp_path):
    code = toy_with(tmp_path, RECORDING)
    (code / "figures.py").unlink()
    with pytest.raises(ExperimentError, match=r"has no figures\.py; add one defining figures"):
        code_of(load(str(code / "experiment.toml")))


def test_the_command_line_imports_neither_torch_nor_matplotlib_until_it_trains():
    probe = (
        "import sys, dlexp.cli\n"
        "assert 'torch' not in sys.modules and 'matplotlib' not in sys.modules\n"
        "from dlexp.registry import load_all\n"
        "from dlexp.runner import code_of\n"
        "for experiment in load_all():\n"
        "    code_of(experiment)\n"
        "assert 'matplotlib' not in sys.modules, 'an experiment imports matplotlib to train'\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
