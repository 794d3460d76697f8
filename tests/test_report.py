"""dlexp report: figures redrawn and claims re-checked from the CSVs alone, written as REPORT.md
and a self-contained report.html; tiny-scale results labelled as such; `run all` smoke test."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from dlexp.cli import app
from dlexp.registry import available, load
from dlexp.report import md, missing_results, regenerate, value_text

runner = CliRunner()
NEEDS_MNIST = "DLEXP_DATA_DIR is unset; these tests run experiments on real MNIST"
EXPERIMENT = "vanishing-gradient"


def report(out: Path, *names: str):
    return runner.invoke(app, ["report", *names, "--out", str(out)])


def texts(out: Path) -> tuple[str, str]:
    return (out / "REPORT.md").read_text(encoding="utf-8"), (out / "report.html").read_text(
        encoding="utf-8"
    )


def edit_run_info(folder: Path, **changes) -> None:
    info = json.loads((folder / "run.json").read_text())
    (folder / "run.json").write_text(json.dumps({**info, **changes}))


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory) -> Path:
    """vanishing-gradient at tiny scale on real MNIST, through the CLI as a user runs it."""
    if not os.environ.get("DLEXP_DATA_DIR"):
        pytest.skip(NEEDS_MNIST)
    out = tmp_path_factory.mktemp("results")
    result = runner.invoke(
        app, ["run", EXPERIMENT, "--scale", "tiny", "--out", str(out), "--quiet"]
    )
    assert result.exit_code in (0, 1), result.output
    return out


@pytest.fixture
def results(tiny_results: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny results, free to change."""
    out = tmp_path / "results"
    shutil.copytree(tiny_results, out)
    return out


def test_report_names_every_run_with_verdicts_and_the_tiny_label(results):
    result = report(results)
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == [
        "wrote",
        str(results / "REPORT.md"),
        "wrote",
        str(results / "report.html"),
    ]
    markdown, page = texts(results)
    claims = [claim.id for claim in load(EXPERIMENT).claims]
    for text in (markdown, page):
        assert EXPERIMENT in text
        assert "tiny scale: code path only" in text
        assert "do not reproduce the lecture" in text
        assert all(claim in text for claim in claims)
    summary = markdown.split("## Vanishing")[0]
    rows = [line for line in summary.splitlines() if line.startswith(f"| {EXPERIMENT} |")]
    assert len(rows) == len(claims)
    assert all(re.search(r"\| (PASS|FAIL) \(at tiny scale\) \|", row) for row in rows)
    assert all("tiny scale: code path only" in row and "±" in row for row in rows)
    assert "**PASS**" not in markdown and "**FAIL**" not in markdown  # bold = reproduces lecture
    assert "Deep Learning I" in markdown and "Instable gradient" in markdown
    assert "| train_images | 200 | 1000 |" in markdown  # tiny value next to the lecture's


def test_html_is_self_contained_with_the_figures_embedded(results):
    report(results)
    _, page = texts(results)
    figures = sorted((results / EXPERIMENT / "tiny" / "figures").glob("*.png"))
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(figures) == 3 and len(sources) == len(figures)
    assert all(src.startswith("data:image/png;base64,") for src in sources)
    embedded = {base64.b64decode(src.split(",", 1)[1]) for src in sources}
    assert embedded == {figure.read_bytes() for figure in figures}
    assert not re.search(r"<(link|script|iframe)\b|@import|url\(|https?://", page)
    assert 'class="verdict pass"' in page or 'class="verdict fail"' in page


def test_figures_are_regenerated_from_the_csv_alone(results):
    figures = results / EXPERIMENT / "tiny" / "figures"
    names = sorted(path.name for path in figures.iterdir())
    shutil.rmtree(figures)
    assert report(results).exit_code == 0
    assert sorted(path.name for path in figures.iterdir()) == names
    markdown, _ = texts(results)
    links = re.findall(r"!\[[^]]*\]\(([^)]+)\)", markdown)
    assert len(links) == 3 and all((results / link).is_file() for link in links)


def test_claims_are_rechecked_from_the_csv(results):
    """Break the ×25 chain in metrics.csv: the report's exploding verdict turns to FAIL and
    says that run time recorded a PASS."""
    folder = results / EXPERIMENT / "tiny"
    table = pd.read_csv(folder / "metrics.csv")
    first = (table.part == "exploding") & (table.epoch == 0) & (table.layer == 1)
    table.loc[first, "value"] *= 2
    table.to_csv(folder / "metrics.csv", index=False)
    run = regenerate(folder)
    exploding = next(v for v in run.verdicts if v.id == "exploding")
    assert not exploding.passed and run.recorded["exploding"]
    assert exploding.mean == pytest.approx((50 + 25 * 5) / 6)
    report(results)
    markdown, page = texts(results)
    assert "| exploding | FAIL (at tiny scale) |" in markdown
    assert "recorded at run time: PASS" in markdown and "recorded at run time: PASS" in page
    assert 'class="verdict fail"' in page


def test_the_report_is_deterministic(results):
    report(results)
    first = texts(results)
    report(results)
    assert texts(results) == first


def test_only_the_lecture_protocol_reproduces_the_lecture(results):
    tiny = results / EXPERIMENT / "tiny"
    lecture = results / EXPERIMENT / "lecture"
    shutil.copytree(tiny, lecture)
    edit_run_info(lecture, scale="lecture", protocol=load(EXPERIMENT).resolve("lecture"))
    assert not regenerate(tiny).reproduces_lecture
    faithful = regenerate(lecture)
    assert faithful.reproduces_lecture and faithful.caveat == ""
    assert faithful.scale_label == "lecture"
    assert report(results).exit_code == 0
    markdown, _ = texts(results)
    assert markdown.index(f"{EXPERIMENT} at lecture") < markdown.index(f"{EXPERIMENT} at tiny")
    assert "**PASS**" in markdown or "**FAIL**" in markdown
    changed = load(EXPERIMENT).resolve("lecture", ["epochs=5"])
    edit_run_info(lecture, protocol=changed)
    shortened = regenerate(lecture)
    assert not shortened.reproduces_lecture
    assert shortened.changed_keys == ["epochs"]
    assert "epochs = 5 (lecture: 500)" in shortened.caveat
    assert shortened.scale_label == "lecture, changed protocol: not the lecture's"


def test_a_run_of_a_renamed_copy_shows_what_run_time_recorded(results):
    """A run made from an edited copy under a new name: no declaration to redraw with, so the
    report shows its recorded verdicts and figures, labelled; and names select runs."""
    copy = results / "my-copy" / "tiny"
    shutil.copytree(results / EXPERIMENT / "tiny", copy)
    edit_run_info(copy, experiment="my-copy")
    assert report(results).exit_code == 0
    markdown, page = texts(results)
    assert "my-copy at tiny scale: code path only" in markdown
    assert "as recorded at run time, not regenerated" in markdown
    assert page.count("data:image/png;base64,") == 6
    assert report(results, "my-copy").exit_code == 0
    markdown, _ = texts(results)
    assert "my-copy" in markdown and EXPERIMENT not in markdown


def test_an_empty_results_folder_says_what_to_run(tmp_path):
    result = report(tmp_path)
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert message.startswith(f"error: no results under {tmp_path}/; run `dlexp run all --scale")
    assert not (tmp_path / "REPORT.md").exists()


def test_an_unknown_experiment_name_is_one_clear_error(tmp_path):
    result = report(tmp_path, "vanishing-gradients")
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "unknown experiment 'vanishing-gradients'; did you mean vanishing-gradient?" in message
    assert missing_results(EXPERIMENT, tmp_path, []) == (
        f"no results for {EXPERIMENT} under {tmp_path}/; "
        f"run `dlexp run {EXPERIMENT} --out {tmp_path}` first."
    )


def test_markdown_cells_and_protocol_values_are_written_as_declared():
    assert md("|w·σ'(z)| ≤ 1/4, run `a|b`") == "\\|w·σ'(z)\\| ≤ 1/4, run `a|b`"
    assert [value_text(v) for v in (0.1, 5.0, True, [2, 3], ["relu"], "he")] == [
        "0.1",
        "5.0",
        "true",
        "[2, 3]",
        "[relu]",
        "he",
    ]


def test_run_all_at_tiny_scale_then_report_names_every_declared_experiment(tmp_path):
    """CI smoke test: every declared experiment at tiny scale on real MNIST, then the report."""
    if not os.environ.get("DLEXP_DATA_DIR"):
        pytest.skip(NEEDS_MNIST)
    ran = runner.invoke(app, ["run", "all", "--scale", "tiny", "--out", str(tmp_path), "--quiet"])
    assert ran.exit_code in (0, 1), ran.output
    assert report(tmp_path).exit_code == 0
    markdown, page = texts(tmp_path)
    for name in available():
        assert f"(`{name}`)" in markdown and f'id="{name}"' in page
    assert "not regenerated" not in markdown and "not re-checked" not in markdown
    assert "Declared but without results" not in markdown
