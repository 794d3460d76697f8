"""Run folders are written all or nothing."""

import json

import pandas as pd
import pytest

from dlexp.results import atomic_folder, finished_runs, read_info, read_table, tidy, write_run


def table(value: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "value": [value],
            "metric": ["m"],
            "layer": [0],
            "epoch": [1],
            "seed": [0],
            "variant": ["v"],
            "depth": [2],
        }
    )


def draw(_table, folder):
    (folder / "f.png").write_bytes(b"png")
    return lambda: {}


def test_write_run_puts_core_columns_first_and_writes_everything(tmp_path):
    target = tmp_path / "exp" / "tiny"
    write_run(target, table(1.5), lambda: {"x": float("nan")}, draw)
    assert list(read_table(target).columns) == [
        "variant",
        "seed",
        "epoch",
        "layer",
        "metric",
        "value",
        "depth",
    ]
    assert read_info(target) == {"x": "nan", "metrics_rows": 1}
    assert (target / "figures" / "f.png").exists()
    assert finished_runs(tmp_path) == [target]


def test_a_failing_run_leaves_the_previous_result_untouched(tmp_path):
    target = tmp_path / "exp" / "tiny"
    write_run(target, table(1.0), lambda: {"run": 1}, draw)

    def broken_figures(_table, _folder):
        raise RuntimeError("simulated failure while drawing")

    with pytest.raises(RuntimeError):
        write_run(target, table(2.0), lambda: {"run": 2}, broken_figures)
    assert read_info(target) == {"run": 1, "metrics_rows": 1}
    assert read_table(target)["value"].tolist() == [1.0]
    assert sorted(p.name for p in target.parent.iterdir()) == ["tiny"]


def test_an_interrupted_run_leaves_no_partial_folder(tmp_path):
    target = tmp_path / "exp" / "lecture"
    with pytest.raises(KeyboardInterrupt), atomic_folder(target) as staging:
        (staging / "metrics.csv").write_text("partial")
        raise KeyboardInterrupt
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_tidy_keeps_rows_and_sorts_extra_columns():
    frame = tidy(table(3.0).assign(alpha=1))
    assert list(frame.columns)[-2:] == ["alpha", "depth"]
    assert json.loads(frame.to_json(orient="records"))[0]["value"] == 3.0
