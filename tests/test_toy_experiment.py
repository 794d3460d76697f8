"""A new experiment is one folder: a toy finding copied next to nothing else runs by path, through
the CLI and the Python API, and its check can fail."""

import shutil
from pathlib import Path

import pandas as pd

import dlexp
from dlexp.finding import load_code
from dlexp.registry import available

from .helpers import dlexp as cli

TOY = Path(__file__).parent / "toy_experiment"


def toy_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "toy-hidden-layer"
    shutil.copytree(TOY, folder)
    return folder


def test_a_toy_experiment_folder_runs_by_path_and_checks_its_claim(tmp_path):
    folder = toy_folder(tmp_path)
    result = cli("run", str(folder), "--scale", "tiny", "--out", str(tmp_path / "out"), "-q")
    assert result.exit_code == 0, result.output
    run = tmp_path / "out" / "toy-hidden-layer" / "tiny"
    table = pd.read_csv(run / "metrics.csv")
    assert set(table.depth) == {0, 1} and set(table.seed) == {0, 1}
    assert table.epoch.max() == 40  # the tiny scale's override of epochs
    assert (run / "figures" / "toy_accuracy.png").is_file()
    assert "hidden-layer-helps" in result.output
    assert "toy-hidden-layer" not in available()  # nothing outside its folder was touched


def test_the_toy_through_the_python_api_and_a_contradicting_table(tmp_path):
    folder = toy_folder(tmp_path)
    result = dlexp.run(folder, scale="tiny", out=tmp_path / "out", quiet=True, epochs=4)
    assert result.metrics.epoch.max() == 4
    assert [v.id for v in result.verdicts] == ["hidden-layer-helps"]
    assert dlexp.load(result.folder).metrics.equals(result.metrics)
    hidden_layer_hurts = result.metrics.assign(  # 100% without a hidden layer, 50% with one
        value=lambda t: t.value.where(t.metric != "train_accuracy", 1 - t.depth * 0.5)
    )
    check = load_code(folder).checks["hidden_layer_helps"]
    assert not check(hidden_layer_hurts, {}, min_gain=1.0).passed
