"""dlexp report: figures redrawn and claims re-checked from the CSVs alone, written as REPORT.md
and a self-contained report.html; results below the lecture's protocol labelled as such; and the
`run all` smoke test.

Redrawing figures is the slow part (seconds per experiment), so the tests on real MNIST share
one tiny run and one report of it wherever they only read.
"""

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
from dlexp.report import Run, md, missing_results, selected_runs, settings, value_text

runner = CliRunner()
NEEDS_MNIST = "DLEXP_DATA_DIR is unset; this test runs experiments on real MNIST"
EXPERIMENT = "vanishing-gradient"


def report(out: Path, *names: str):
    return runner.invoke(app, ["report", *names, "--out", str(out)])


def texts(out: Path) -> tuple[str, str]:
    """REPORT.md and report.html."""
    return tuple((out / name).read_text(encoding="utf-8") for name in ("REPORT.md", "report.html"))


def edit_run_info(folder: Path, **changes) -> None:
    info = json.loads((folder / "run.json").read_text())
    (folder / "run.json").write_text(json.dumps({**info, **changes}))


def labelled_run(scale: str, protocol: dict, found: bool = True) -> Run:
    """A run of the vanishing-gradient experiment as the report sees it, without its data."""
    declaration = load(EXPERIMENT) if found else None
    info = {"experiment": EXPERIMENT, "scale": scale, "protocol": protocol}
    folder = Path("results", EXPERIMENT, scale)
    return Run(
        EXPERIMENT, folder, info, declaration, settings(protocol, declaration), [], {}, [], []
    )


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory) -> Path:
    """vanishing-gradient at tiny scale on real MNIST, through the CLI as a user runs it."""
    if not os.environ.get("DLEXP_DATA_DIR"):
        pytest.skip(NEEDS_MNIST)
    out = tmp_path_factory.mktemp("tiny") / "results"
    result = runner.invoke(
        app, ["run", EXPERIMENT, "--scale", "tiny", "--out", str(out), "--quiet"]
    )
    assert result.exit_code in (0, 1), result.output
    return out


@pytest.fixture(scope="module")
def reported(tiny_results: Path, tmp_path_factory) -> Path:
    """A copy of the tiny results with its figures deleted, then `dlexp report` on it."""
    out = tmp_path_factory.mktemp("reported") / "results"
    shutil.copytree(tiny_results, out)
    shutil.rmtree(out / EXPERIMENT / "tiny" / "figures")
    result = report(out)
    assert result.exit_code == 0, result.output
    assert "".join(result.stdout.split()) == f"wrote{out}/REPORT.mdwrote{out}/report.html"
    return out


@pytest.fixture
def results(tiny_results: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny results, free to change."""
    out = tmp_path / "results"
    shutil.copytree(tiny_results, out)
    return out


def test_report_names_the_run_its_verdicts_and_the_tiny_label(reported):
    markdown, page = texts(reported)
    claims = [claim.id for claim in load(EXPERIMENT).claims]
    for text in (markdown, page):
        assert EXPERIMENT in text
        assert "tiny scale: code path only" in text
        assert "do not reproduce the lecture" in text
        assert all(claim in text for claim in claims)
        assert "Deep Learning I" in text and "Instable gradient" in text
    summary = markdown.split("\n## ")[1]
    rows = [line for line in summary.splitlines() if line.startswith(f"| {EXPERIMENT} |")]
    assert len(rows) == len(claims)
    for row in rows:
        assert re.search(r"\| (PASS|FAIL) \(at tiny scale\) \| \S+ ± \S+ \(n = \d+\) \|", row)
        assert "| tiny scale: code path only |" in row
    assert "**PASS**" not in markdown and "**FAIL**" not in markdown  # reserved for the lecture
    assert "| train_images | 200 | 1000 |" in markdown  # the tiny value next to the lecture's
    assert "| commit |" in markdown and "| wall time |" in markdown


def test_figures_are_regenerated_from_the_csv_alone(reported, tiny_results):
    drawn = sorted(p.name for p in (tiny_results / EXPERIMENT / "tiny" / "figures").iterdir())
    redrawn = sorted(p.name for p in (reported / EXPERIMENT / "tiny" / "figures").iterdir())
    assert redrawn == drawn and len(drawn) == 6
    markdown, _ = texts(reported)
    links = re.findall(r"!\[[^]]*\]\(([^)]+)\)", markdown)
    assert len(links) == 3 and all((reported / link).is_file() for link in links)


def test_the_html_is_self_contained_with_the_figures_embedded(reported):
    _, page = texts(reported)
    figures = sorted((reported / EXPERIMENT / "tiny" / "figures").glob("*.png"))
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == len(figures) == 3
    assert all(src.startswith("data:image/png;base64,") for src in sources)
    embedded = {base64.b64decode(src.split(",", 1)[1]) for src in sources}
    assert embedded == {figure.read_bytes() for figure in figures}
    assert not re.search(r"<(link|script|iframe)\b|@import|url\(|https?://", page)
    assert re.search(r'class="verdict (pass|fail)"', page)


def test_the_report_is_deterministic(reported):
    first = texts(reported)
    assert report(reported).exit_code == 0
    assert texts(reported) == first


def test_claims_are_rechecked_and_a_renamed_copy_shows_its_recorded_verdicts(results):
    """Break the ×25 chain in metrics.csv: the re-checked verdict turns to FAIL and notes the PASS
    recorded at run time. A run of a renamed copy of the declaration cannot be redrawn: it shows
    its recorded verdicts and figures, labelled. Names select runs."""
    folder = results / EXPERIMENT / "tiny"
    copy = results / "my-copy" / "tiny"
    shutil.copytree(folder, copy)
    edit_run_info(copy, experiment="my-copy")
    table = pd.read_csv(folder / "metrics.csv")
    table.loc[(table.part == "exploding") & (table.epoch == 0) & (table.layer == 1), "value"] *= 2
    table.to_csv(folder / "metrics.csv", index=False)
    assert report(results).exit_code == 0
    markdown, page = texts(results)
    summary = markdown.split("\n## ")[1]
    assert f"| {EXPERIMENT} | tiny scale: code path only | exploding | FAIL (at" in summary
    assert "| my-copy | tiny scale: code path only | exploding | PASS (at" in summary
    assert "recorded at run time: PASS" in markdown and "recorded at run time: PASS" in page
    assert "those recorded at run time, not regenerated" in markdown
    assert page.count("data:image/png;base64,") == 6
    assert report(results, "my-copy").exit_code == 0
    markdown, _ = texts(results)
    assert "my-copy" in markdown and EXPERIMENT not in markdown


def test_a_figure_or_check_failing_on_the_csv_is_reported_not_fatal(results):
    """A CSV the finding's code cannot read: the report still comes out, with the figures and
    verdicts recorded at run time and each problem shown at the top and in the run's section."""
    folder = results / EXPERIMENT / "tiny"
    table = pd.read_csv(folder / "metrics.csv")
    table[table.part == "exploding"].to_csv(folder / "metrics.csv", index=False)
    assert report(results).exit_code == 0
    markdown, page = texts(results)
    for problem in ("figures not regenerated", "claims not re-checked"):
        assert markdown.count(problem) == 2 and page.count(problem) == 2
    assert page.count("data:image/png;base64,") == 3
    recorded = json.loads((folder / "run.json").read_text())["claims"]
    summary = markdown.split("\n## ")[1]
    for claim in recorded:
        label = "PASS" if claim["passed"] else "FAIL"
        assert f"| {claim['id']} | {label} (at tiny scale) |" in summary


def test_only_the_lecture_protocol_unchanged_reproduces_the_lecture():
    experiment = load(EXPERIMENT)
    tiny = labelled_run("tiny", experiment.resolve("tiny"))
    assert not tiny.reproduces_lecture
    assert tiny.scale_label == "tiny scale: code path only"
    assert "checks the code path only" in tiny.caveat and f"`dlexp run {EXPERIMENT}`" in tiny.caveat
    lecture = labelled_run("lecture", experiment.resolve("lecture"))
    assert lecture.reproduces_lecture and lecture.caveat == "" and lecture.scale_label == "lecture"
    shortened = labelled_run("lecture", experiment.resolve("lecture", {"epochs": 5}))
    assert not shortened.reproduces_lecture and shortened.changed_keys == ["epochs"]
    assert "epochs = 5 (lecture: 500)" in shortened.caveat
    assert shortened.scale_label == "lecture, changed protocol"
    assert shortened.qualifier == "changed protocol" and tiny.qualifier == "at tiny scale"
    unknown = labelled_run("lecture", experiment.resolve("lecture"), found=False)
    assert not unknown.reproduces_lecture and "not regenerated" in unknown.caveat


def test_runs_are_sorted_lecture_first_and_unfinished_ones_skipped(tmp_path):
    for experiment, scale in [
        ("b", "tiny"),
        ("b", "lecture"),
        ("a", "tiny"),
        ("b", ".tiny.partial-7"),
    ]:
        folder = tmp_path / experiment / scale
        folder.mkdir(parents=True)
        (folder / "run.json").write_text("{}")
        (folder / "metrics.csv").write_text("")
    (tmp_path / "c" / "tiny").mkdir(parents=True)  # no files: not a finished run
    found = [f.relative_to(tmp_path).as_posix() for f in selected_runs(tmp_path, [])]
    assert found == ["a/tiny", "b/lecture", "b/tiny"]
    assert [f.parent.name for f in selected_runs(tmp_path, ["b"])] == ["b", "b"]


def test_an_empty_results_folder_says_what_to_run(tmp_path):
    result = report(tmp_path)
    assert result.exit_code == 2
    [message] = result.stderr.splitlines()
    assert message.startswith(f"error: no results under {tmp_path}/; run `dlexp run all --scale")
    assert not (tmp_path / "REPORT.md").exists()


def test_an_unknown_experiment_name_is_one_clear_error(tmp_path):
    result = report(tmp_path, "vanishing-gradients")
    assert result.exit_code == 2
    [message] = result.stderr.splitlines()
    assert "unknown experiment 'vanishing-gradients'; did you mean vanishing-gradient?" in message
    assert missing_results(EXPERIMENT, tmp_path, []) == (
        f"no results for {EXPERIMENT} under {tmp_path}/; "
        f"run `dlexp run {EXPERIMENT} --out {tmp_path}` first."
    )


def test_markdown_cells_and_protocol_values_are_written_as_declared():
    assert md("|w·σ'(z)| ≤ 1/4, run `a|b`") == "\\|w·σ'(z)\\| ≤ 1/4, run `a|b`"
    values = (0.1, 5.0, True, [2, 3], ["relu"], "he")
    assert [value_text(v) for v in values] == ["0.1", "5.0", "true", "[2, 3]", "[relu]", "he"]


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
    assert "Declared but without results" not in markdown, ran.output  # one raised an error
