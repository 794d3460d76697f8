"""The command line as a user meets it: list, show, run, report, and every user error → exit 2."""

import json
import os
import re
import subprocess
import sys

from dlexp.cli import exit_code
from dlexp.registry import available, load

from .helpers import dlexp, needs_mnist


def test_list_shows_every_experiment_with_claim_source_scales_runtime():
    result = dlexp("list")
    assert result.exit_code == 0
    for name in available():
        assert name in result.output
    assert "Instable gradient" in result.output
    assert "tiny" in result.output and "lecture" in result.output


def test_list_keeps_the_claims_readable_on_an_80_column_terminal():
    environment = {**os.environ, "COLUMNS": "80"}
    listed = subprocess.run(
        [sys.executable, "-m", "dlexp", "list"], capture_output=True, text=True, env=environment
    )
    lines = listed.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any("Backpropagation is the chain" in line for line in lines)
    declared = load("backprop-by-hand").runtime["lecture"]
    assert any(f"lecture: {declared}" in line for line in lines)


def test_the_real_command_flushes_all_its_output_and_keeps_the_exit_code_without_teardown():
    environment = {**os.environ, "COLUMNS": "300"}
    listed = subprocess.run(
        [sys.executable, "-m", "dlexp", "list"], capture_output=True, text=True, env=environment
    )
    assert listed.returncode == 0 and listed.stdout.rstrip().endswith("┘"), listed.stdout[-300:]
    assert all(name in listed.stdout for name in available())
    refused = subprocess.run(
        [sys.executable, "-m", "dlexp", "run", "no-such-finding"], capture_output=True, text=True
    )
    assert refused.returncode == 2 and "unknown experiment 'no-such-finding'" in refused.stderr
    assert [exit_code(None), exit_code(0), exit_code(1), exit_code(2)] == [0, 0, 1, 2]


def test_show_prints_protocol_claim_and_reference_numbers():
    result = dlexp("show", "vanishing-gradient")
    assert result.exit_code == 0
    experiment = load("vanishing-gradient")
    for text in (
        "train_images",
        "exploding.weight",
        experiment.source.deck,
        *experiment.reference,
        *(claim.id for claim in experiment.claims),
    ):
        assert text in result.output


def test_unknown_experiment_exits_2_with_a_suggestion_and_no_traceback():
    result = dlexp("run", "vanishing-gradiant", "--quiet")
    assert result.exit_code == 2
    assert "did you mean vanishing-gradient" in result.output
    assert "Traceback" not in result.output


def test_bad_set_exits_2_naming_the_valid_keys():
    result = dlexp("run", "vanishing-gradient", "--set", "epochz=3", "--quiet")
    assert result.exit_code == 2
    assert "unknown key 'epochz'" in result.output and "valid keys:" in result.output
    result = dlexp("run", "vanishing-gradient", "--set", "epochs=three", "--quiet")
    assert result.exit_code == 2 and "epochs = 'three' is not allowed" in result.output


def test_missing_data_exits_2_naming_where_it_looked_before_training(tmp_path, monkeypatch):
    monkeypatch.setenv("DLEXP_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr("dlexp.data._download", _offline)
    monkeypatch.setattr("dlexp.runner.run_prepared", _never)
    experiments = [load("vanishing-gradient"), load("mse-vs-bce")]
    monkeypatch.setattr("dlexp.cli.load_all", lambda: experiments)
    for name in ("mse-vs-bce", "all"):  # mse-vs-bce trains its neuron before reading MNIST
        result = dlexp("run", name, "--scale", "tiny", "--out", str(tmp_path), "--quiet")
        assert result.exit_code == 2
        assert "nowhere" in result.output and "Traceback" not in result.output
        assert result.output.count("error:") == 1
    assert list(tmp_path.iterdir()) == []


def _never(*args, **kwargs):
    raise AssertionError("training started")


def _offline(folder, searched, progress):
    from dlexp.data import DataError

    raise DataError(
        f"MNIST was not found in {', '.join(map(str, searched))} and the network is down."
    )


def test_cuda_when_absent_exits_2():
    import torch

    if torch.cuda.is_available():
        return
    result = dlexp("run", "vanishing-gradient", "--device", "cuda", "--quiet")
    assert result.exit_code == 2 and "no CUDA GPU" in result.output


QUICK = "depth-vs-accuracy"  # the quickest shipped experiment on MNIST at tiny scale


@needs_mnist
def test_run_tiny_writes_csv_json_figures_and_is_byte_identical_when_repeated(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        result = dlexp(
            "run", QUICK, "--scale", "tiny", "--out", str(out), "--quiet",
            "--set", "epochs=1", "--seeds", "2",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    folder = first / QUICK / "tiny"
    claims = [claim.id for claim in load(QUICK).claims]
    assert f"(indicative) {claims[0]}" in result.output and str(second) in result.output
    speed = r"\d+ models × [\d,]+ steps, [\d,]+ model-steps/s on \d workers?;"
    assert re.search(speed, result.output)
    csv = (folder / "metrics.csv").read_bytes()
    assert csv == (second / QUICK / "tiny" / "metrics.csv").read_bytes()
    info = json.loads((folder / "run.json").read_text())
    assert info["seeds"] == [0, 1] and info["protocol"]["epochs"] == 1
    assert info["device"] == "cpu" and info["torch"] and info["wall_seconds"] > 0
    assert info["declaration"].endswith(f"{QUICK}/experiment.toml")
    assert len(info["declaration_sha256"]) == 64 and info["results"] == QUICK
    assert len(info["data"]["sha256"]) == 4 and info["data"]["folder"]
    assert info["models"] > 0 and info["model_steps"] > 0
    assert [c["id"] for c in info["claims"]] == claims
    figures = sorted(p.name for p in (folder / "figures").iterdir())
    pngs = [name for name in figures if name.endswith(".png")]
    assert pngs and all(name.replace(".png", ".svg") in figures for name in pngs)


@needs_mnist
def test_report_regenerates_figures_from_the_csv_alone(tmp_path):
    result = dlexp("run", QUICK, "--scale", "tiny", "--out", str(tmp_path), "--quiet")
    assert result.exit_code == 0, result.output
    figures = tmp_path / QUICK / "tiny" / "figures"
    drawn = sorted(path.name for path in figures.iterdir())
    for path in figures.iterdir():
        path.unlink()
    result = dlexp("report", "--out", str(tmp_path), "--quiet")
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in figures.iterdir()) == drawn
