"""dlexp report: run folders checked first (a damaged one listed, its figures left as they were,
the others still rendered), figures redrawn and claims re-checked from the CSVs alone, written
from templates as REPORT.md and a self-contained report.html with hostile text escaped; results
below the lecture's protocol labelled as such; and the `run all` smoke test.

Redrawing figures is the slow part (seconds per experiment), so the tests on real MNIST share
one tiny run and one report of it wherever they only read.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from dlexp.claims import Verdict
from dlexp.cli import app
from dlexp.progress import Reporter
from dlexp.registry import available, load
from dlexp.report import (
    HTML_FILE,
    MARKDOWN_FILE,
    declaration_of,
    md,
    missing_results,
    render,
    report_context,
    selected_runs,
    write_report,
)
from dlexp.report_folders import DamagedRun, read_run
from dlexp.report_runs import Damaged, Figure, Run, settings, value_text
from tests.helpers import needs_mnist

runner = CliRunner()
EXPERIMENT = "vanishing-gradient"
HOSTILE = "<script>alert('x')</script> | *bold* [link](javascript:alert(1)) `a|b`"
PNG = b"\x89PNG\r\n\x1a\n not really a picture"


def texts(out: Path) -> tuple[str, str]:
    """REPORT.md and report.html."""
    return tuple((out / name).read_text(encoding="utf-8") for name in (MARKDOWN_FILE, HTML_FILE))


def edit_run_info(folder: Path, **changes) -> None:
    info = json.loads((folder / "run.json").read_text())
    (folder / "run.json").write_text(json.dumps({**info, **changes}))


def figure_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "figures").iterdir())}


def verdict(claim_id: str, kind: str = "empirical", passed: bool = True, **text: str) -> Verdict:
    fields = {"text": "a claim", "quote": "", "reference": "", "detail": "", **text}
    return Verdict(claim_id, kind=kind, passed=passed, mean=1.0, low=0.5, high=1.5, n=3, **fields)


def labelled_run(scale: str, protocol: dict, found: bool = True, **parts) -> Run:
    """A run of the vanishing-gradient experiment as the report sees it, without its data."""
    declaration = load(EXPERIMENT) if found else None
    info = {"experiment": EXPERIMENT, "scale": scale, "protocol": protocol, "seeds": [0, 1]}
    folder = Path("results", EXPERIMENT, scale)
    return Run(
        EXPERIMENT,
        folder,
        info,
        declaration,
        settings(protocol, declaration),
        parts.get("verdicts", []),
        {},
        parts.get("figures", []),
        [],
    )


def synthetic_run(folder: Path, experiment: str = "my-copy", seeds: int = 2) -> Path:
    """A sound run folder of an experiment dlexp does not ship: the report shows its recorded
    verdicts and figures without redrawing them (no MNIST, no experiment code)."""
    folder.mkdir(parents=True)
    rows = [
        {"variant": v, "seed": s, "epoch": e, "layer": 0, "metric": "accuracy", "value": 0.5}
        for v in ("a", "b")
        for s in range(seeds)
        for e in range(3)
    ]
    pd.DataFrame(rows).to_csv(folder / "metrics.csv", index=False)
    claims = [asdict(verdict("holds")), asdict(verdict("sum-rule", kind="identity"))]
    info = {
        "experiment": experiment,
        "title": "A copy",
        "scale": "tiny",
        "protocol": {"seeds": seeds, "epochs": 2},
        "seeds": list(range(seeds)),
        "claims": claims,
    }
    (folder / "run.json").write_text(json.dumps(info))
    (folder / "figures").mkdir()
    (folder / "figures" / "curve.png").write_bytes(PNG)
    return folder


# Templates and escaping


def test_both_formats_escape_hostile_text_and_show_kind_and_quote(tmp_path):
    """A claim's text, quote, detail and reference full of HTML and Markdown syntax come out as
    text in both documents: Jinja2 autoescapes the HTML, the `md` filters escape the Markdown."""
    (tmp_path / "fig.png").write_bytes(PNG)
    hostile = verdict(
        "hostile", text=HOSTILE, quote=f"slide {HOSTILE}", detail=HOSTILE, reference=HOSTILE
    )
    identity = verdict("arithmetic", kind="identity", passed=False, quote="25 = 100 × 1/4")
    run = labelled_run(
        "tiny",
        load(EXPERIMENT).resolve("tiny"),
        verdicts=[hostile, identity],
        figures=[Figure(tmp_path / "fig.png")],
    )
    damaged = [Damaged(tmp_path / "x" / "tiny", f"metrics.csv is odd: {HOSTILE}")]
    context = report_context([run], damaged, tmp_path, [])
    page = render("report.html.j2", context)
    assert "<script>" not in page and "javascript:alert(1)</a>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "<code>a|b</code>" in page  # a code span stays a code span, escaped
    assert page.count("&lt;script&gt;") == 6  # text, quote, detail, reference ×2, damaged
    assert "The slide says:</span> “slide &lt;script&gt;" in page
    assert '<span class="kind identity">identity</span>' in page
    assert '<span class="kind empirical">empirical finding</span>' in page
    assert f'src="data:image/png;base64,{base64.b64encode(PNG).decode()}"' in page
    assert "<style>" in page and ":root {" in page  # the stylesheet is inlined

    markdown = render("report.md.j2", context)
    assert not re.search(r"(?<!\\)<script>|(?<!\\)\]\(javascript", markdown)
    assert "\\<script>alert('x')\\</script> \\| \\*bold\\* \\[link\\](javascript" in markdown
    summary = [line for line in markdown.splitlines() if line.startswith(f"| {EXPERIMENT} |")]
    assert len(summary) == 2
    for row in summary:  # every | inside a cell escaped, even in a code span: 7 columns
        assert len(re.findall(r"(?<!\\)\|", row)) == 8
    assert "| arithmetic | identity | FAIL (at tiny scale) |" in markdown
    assert "  - the slide says: “25 = 100 × 1/4”" in markdown
    assert "- **arithmetic**: FAIL (at tiny scale), identity" in markdown
    assert "| x/tiny/ | metrics.csv is odd: \\<script>" not in markdown  # folder shown in full
    assert f"| {md(tmp_path, cell=True)}/x/tiny/ | metrics.csv is odd: \\<script>" in markdown


def test_the_summary_counts_empirical_findings_apart():
    runs = [
        labelled_run(
            "tiny",
            load(EXPERIMENT).resolve("tiny"),
            verdicts=[
                verdict("a"),
                verdict("b", passed=False),
                verdict("c", kind="identity"),
            ],
        )
    ]
    markdown = render("report.md.j2", report_context(runs, [], Path("results"), []))
    row = "| other scales or changed protocols (code path only) | 2 of 3 | 1 of 2 | 1 of 1 |"
    assert row in markdown
    assert "| runs | claims that pass | empirical findings that pass | identities that pass |" in (
        markdown
    )


def test_only_verdicts_at_the_lecture_protocol_are_bold():
    lecture = labelled_run(
        "lecture", load(EXPERIMENT).resolve("lecture"), verdicts=[verdict("a", passed=False)]
    )
    context = report_context([lecture], [], Path("results"), [EXPERIMENT])
    markdown = render("report.md.j2", context)
    assert f"| {EXPERIMENT} | lecture | a | empirical | **FAIL** | 1 ± 0.5 (n = 3) |" in markdown
    assert "- **a**: **FAIL**, empirical finding" in markdown
    assert f"### {EXPERIMENT} at lecture scale" in markdown and "No figures." in markdown
    assert '<span class="scale lecture">lecture</span>' in render("report.html.j2", context)


def test_markdown_cells_and_protocol_values_are_written_as_declared():
    assert md("|w·σ'(z)| ≤ 1/4, run `a|b`") == "\\|w·σ'(z)\\| ≤ 1/4, run `a|b`"
    assert md("run `a|b`", cell=True) == "run `a\\|b`"
    assert md("a\nb <i> [x]") == "a b \\<i> \\[x\\]"
    values = (0.1, 5.0, True, [2, 3], ["relu"], "he", {"0": 88.0, "1": 96.5})
    assert [value_text(v) for v in values] == [
        "0.1",
        "5.0",
        "true",
        "[2, 3]",
        "[relu]",
        "he",
        "0: 88.0, 1: 96.5",
    ]


# Run folders checked before anything is drawn


def cut_rows(folder: Path, keep: int) -> None:
    lines = (folder / "metrics.csv").read_text().splitlines(keepends=True)
    (folder / "metrics.csv").write_text("".join(lines[:keep]))


def rewrite_csv(folder: Path, change) -> None:
    table = pd.read_csv(folder / "metrics.csv")
    change(table).to_csv(folder / "metrics.csv", index=False)


DAMAGE = {
    "run.json missing": (lambda f: (f / "run.json").unlink(), "run.json is missing"),
    "run.json garbled": (
        lambda f: (f / "run.json").write_text('{"experiment": "my-copy",'),
        "run.json is not valid JSON (Expecting property name enclosed in double quotes, line 1)",
    ),
    "run.json a list": (lambda f: (f / "run.json").write_text("[]"), "holds no JSON object"),
    "run.json without protocol": (
        lambda f: edit_run_info(f, protocol=None) or strip_key(f, "protocol"),
        "run.json lacks protocol",
    ),
    "protocol not a table": (lambda f: edit_run_info(f, protocol=[1]), "protocol is not a table"),
    "seeds not numbers": (lambda f: edit_run_info(f, seeds=["0"]), "seeds is not a list of whole"),
    "claim lacks fields": (
        lambda f: edit_run_info(f, claims=[{"id": "x", "passed": True}]),
        "claim 1 lacks text, kind, quote, mean",
    ),
    "claim mistyped": (
        lambda f: edit_run_info(f, claims=[{**asdict(verdict("x")), "mean": "many"}]),
        "claim 1 holds a wrongly typed value",
    ),
    "metrics.csv missing": (lambda f: (f / "metrics.csv").unlink(), "metrics.csv is missing"),
    "metrics.csv empty": (lambda f: (f / "metrics.csv").write_text(""), "metrics.csv is empty"),
    "header only": (lambda f: cut_rows(f, 1), "has a header but no rows"),
    "cut mid-row": (
        lambda f: (f / "metrics.csv").write_text((f / "metrics.csv").read_text()[:-9]),
        "ends in the middle of a row",
    ),
    "cut at a row": (
        lambda f: edit_run_info(f, metrics_rows=12) or cut_rows(f, 11),
        "metrics.csv has 10 rows, run.json records 12 written (cut off)",
    ),
    "a seed gone": (
        lambda f: rewrite_csv(f, lambda t: t[t.seed == 0]),
        "metrics.csv has no rows for seed 1",
    ),
    "garbled row": (
        lambda f: (f / "metrics.csv").write_text(
            (f / "metrics.csv").read_text() + "a,1,9,0,accuracy,0.5,extra,fields\n"
        ),
        "is not a readable CSV (Error tokenizing data. C error: Expected 6 fields in line 14",
    ),
    "column missing": (
        lambda f: rewrite_csv(f, lambda t: t.drop(columns="layer")),
        "lacks the columns layer",
    ),
    "blank epoch": (
        lambda f: rewrite_csv(f, lambda t: t.assign(epoch=t.epoch.where(t.index != 3))),
        "column epoch holds blanks or non-whole numbers",
    ),
    "value not a number": (
        lambda f: rewrite_csv(f, lambda t: t.assign(value=t.value.where(t.index != 2, "x"))),
        "column value holds text that is not a number",
    ),
    "rows recorded": (
        lambda f: edit_run_info(f, metrics_rows=13),
        "metrics.csv has 12 rows, run.json records 13 written (cut off)",
    ),
}


def strip_key(folder: Path, key: str) -> None:
    info = json.loads((folder / "run.json").read_text())
    del info[key]
    (folder / "run.json").write_text(json.dumps(info))


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_run_folder_is_named_with_its_reason(tmp_path, damage):
    folder = synthetic_run(tmp_path / "my-copy" / "tiny")
    data = read_run(folder)
    assert len(data.table) == 12 and [v.id for v in data.recorded] == ["holds", "sum-rule"]
    spoil, reason = DAMAGE[damage]
    spoil(folder)
    with pytest.raises(DamagedRun) as caught:
        read_run(folder)
    assert reason in str(caught.value)


def test_nan_and_inf_values_are_data_not_damage(tmp_path):
    folder = synthetic_run(tmp_path / "my-copy" / "tiny")
    rewrite_csv(folder, lambda t: t.assign(value=[float("nan"), float("inf")] * 6))
    assert read_run(folder).table["value"].isna().sum() == 6


def test_damaged_folders_are_listed_and_every_other_run_still_renders(tmp_path):
    """Without MNIST: two runs of an unshipped copy, one garbled. The report lists the damaged
    one with its reason, renders the other, leaves the damaged folder untouched, and says so."""
    sound = synthetic_run(tmp_path / "my-copy" / "tiny")
    broken = synthetic_run(tmp_path / "my-copy" / "lecture")
    (broken / "run.json").write_text("{garbled")
    before = {p: p.read_bytes() for p in broken.rglob("*") if p.is_file()}
    written = write_report(tmp_path, [])
    assert written.paths == [tmp_path / MARKDOWN_FILE, tmp_path / HTML_FILE]
    assert [d.folder for d in written.damaged] == [broken]
    assert written.damaged[0].reason.startswith("run.json is not valid JSON")
    assert written.damaged[0].message.startswith(f"skipped {broken}/: run.json is not valid")
    assert {p: p.read_bytes() for p in broken.rglob("*") if p.is_file()} == before
    markdown, page = texts(tmp_path)
    for text in (markdown, page):
        assert "Damaged runs, skipped" in text and "run.json is not valid JSON" in text
        assert "sum-rule" in text and "holds" in text  # the sound run's recorded verdicts
    assert "| my-copy | tiny scale: code path only | sum-rule | identity | PASS (at" in markdown
    assert "![curve](my-copy/tiny/figures/curve.png)" in markdown
    assert page.count("data:image/png;base64,") == 1
    assert "Declared but without results" in markdown  # shipped ones, none run here
    assert (sound / "figures" / "curve.png").read_bytes() == PNG


def test_a_report_of_damaged_runs_only_still_comes_out(tmp_path):
    broken = synthetic_run(tmp_path / "my-copy" / "tiny")
    (broken / "metrics.csv").write_text("variant,seed\n")
    written = write_report(tmp_path, [])
    assert [d.reason for d in written.damaged] == [
        "metrics.csv lacks the columns epoch, layer, metric, value"
    ]
    for text in texts(tmp_path):
        assert "No run could be read: every run folder is damaged" in text
        assert "metrics.csv lacks the columns epoch" in text


def test_an_experiment_with_only_damaged_runs_is_not_called_unrun(tmp_path):
    synthetic_run(tmp_path / "my-copy" / "tiny")
    broken = synthetic_run(tmp_path / EXPERIMENT / "tiny", experiment=EXPERIMENT)
    rewrite_csv(broken, lambda t: t[t.seed == 0])
    written = write_report(tmp_path, [])
    assert [d.experiment for d in written.damaged] == [EXPERIMENT]
    markdown, _ = texts(tmp_path)
    unrun = next(line for line in markdown.splitlines() if "Declared but without" in line)
    assert EXPERIMENT not in unrun
    assert f"{tmp_path}/{EXPERIMENT}/tiny/ | metrics.csv has no rows for seed 1 |" in markdown


def test_dlexp_report_names_skipped_runs_and_exits_1(tmp_path):
    synthetic_run(tmp_path / "my-copy" / "tiny")
    broken = synthetic_run(tmp_path / "my-copy" / "lecture")
    (broken / "metrics.csv").write_text("")
    result = runner.invoke(app, ["report", "--out", str(tmp_path), "--quiet"])
    assert result.exit_code == 1
    assert result.stdout.split() == [
        "wrote",
        f"{tmp_path}/REPORT.md",
        "wrote",
        f"{tmp_path}/report.html",
    ]
    assert f"skipped {broken}/: metrics.csv is empty" in " ".join(result.stderr.split())
    sound = runner.invoke(app, ["report", "my-copy", "--out", str(tmp_path), "--quiet"])
    assert sound.exit_code == 1  # the named experiment's damaged run still counts
    (broken / "metrics.csv").write_text((tmp_path / "my-copy" / "tiny" / "metrics.csv").read_text())
    assert runner.invoke(app, ["report", "--out", str(tmp_path), "-q"]).exit_code == 0


def test_progress_is_shown_and_quiet_stays_silent(tmp_path):
    synthetic_run(tmp_path / "my-copy" / "tiny")
    synthetic_run(tmp_path / "my-copy" / "lecture")
    shown = io.StringIO()
    write_report(tmp_path, [], Reporter(quiet=False, console=Console(file=shown, width=100)))
    assert "report: redrawing figures" in shown.getvalue() and "2/2" in shown.getvalue()
    silent = io.StringIO()
    write_report(tmp_path, [], Reporter(quiet=True, console=Console(file=silent)))
    assert silent.getvalue() == ""


# Labels, selection and user errors


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
    assert dict(lecture.facts)["seeds"] == "2 (0, 1)"


def test_run_folders_are_found_and_hidden_or_empty_ones_skipped(tmp_path):
    for experiment, scale, files in [
        ("b", "tiny", ["run.json", "metrics.csv"]),
        ("b", "lecture", ["run.json"]),  # half a run: listed, to be reported damaged
        ("a", "tiny", ["run.json", "metrics.csv"]),
        ("b", ".tiny.partial-7", ["run.json", "metrics.csv"]),
    ]:
        folder = tmp_path / experiment / scale
        folder.mkdir(parents=True)
        for name in files:
            (folder / name).write_text("{}")
    (tmp_path / "c" / "tiny").mkdir(parents=True)  # no files: not a run
    found = [f.relative_to(tmp_path).as_posix() for f in selected_runs(tmp_path, [])]
    assert found == ["a/tiny", "b/lecture", "b/tiny"]
    assert [f.parent.name for f in selected_runs(tmp_path, ["b"])] == ["b", "b"]


def test_an_empty_results_folder_says_what_to_run(tmp_path):
    result = runner.invoke(app, ["report", "--out", str(tmp_path)])
    assert result.exit_code == 2
    [message] = result.stderr.splitlines()
    assert message.startswith(f"error: no results under {tmp_path}/; run `dlexp run all --scale")
    assert not (tmp_path / MARKDOWN_FILE).exists()


def test_an_unknown_experiment_name_is_one_clear_error(tmp_path):
    result = runner.invoke(app, ["report", "vanishing-gradients", "--out", str(tmp_path)])
    assert result.exit_code == 2
    [message] = result.stderr.splitlines()
    assert "unknown experiment 'vanishing-gradients'; did you mean vanishing-gradient?" in message
    assert missing_results(EXPERIMENT, tmp_path, []) == (
        f"no results for {EXPERIMENT} under {tmp_path}/; "
        f"run `dlexp run {EXPERIMENT} --out {tmp_path}` first."
    )


# On real MNIST


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory) -> Path:
    """vanishing-gradient at tiny scale on real MNIST, through the CLI as a user runs it."""
    out = tmp_path_factory.mktemp("tiny") / "results"
    result = runner.invoke(
        app, ["run", EXPERIMENT, "--scale", "tiny", "--out", str(out), "--quiet"]
    )
    assert result.exit_code in (0, 1), result.output
    return out


@pytest.fixture(scope="module")
def reported(tiny_results: Path, tmp_path_factory) -> Path:
    """A copy of the tiny results with its figures deleted, then the report of it."""
    out = tmp_path_factory.mktemp("reported") / "results"
    shutil.copytree(tiny_results, out)
    shutil.rmtree(out / EXPERIMENT / "tiny" / "figures")
    assert write_report(out, []).damaged == []
    return out


@pytest.fixture
def results(tiny_results: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny results, free to change."""
    out = tmp_path / "results"
    shutil.copytree(tiny_results, out)
    return out


@needs_mnist
def test_report_names_the_run_its_verdicts_and_the_tiny_label(reported):
    markdown, page = texts(reported)
    claims = load(EXPERIMENT).claims
    for text in (markdown, page):
        assert EXPERIMENT in text
        assert "tiny scale: code path only" in text
        assert "do not reproduce the lecture" in text
        assert all(claim.id in text for claim in claims)
        assert "Deep Learning I" in text and "Instable gradient" in text
    summary = markdown.split("\n## ")[1]
    rows = [line for line in summary.splitlines() if line.startswith(f"| {EXPERIMENT} |")]
    assert len(rows) == len(claims)
    for row, claim in zip(rows, claims):
        assert f"| {claim.id} | {claim.kind} | " in row
        assert re.search(r"\| (PASS|FAIL) \(at tiny scale\) \| \S+ ± \S+ \(n = \d+\) \|", row)
        assert "| tiny scale: code path only |" in row
    assert "**PASS**" not in markdown and "**FAIL**" not in markdown  # reserved for the lecture
    assert "| train_images | 200 | 1000 |" in markdown  # the tiny value next to the lecture's
    assert "| commit |" in markdown and "| wall time |" in markdown
    assert "#### Run facts" in markdown and "Provenance" not in markdown


@needs_mnist
def test_figures_are_regenerated_from_the_csv_alone(reported, tiny_results):
    drawn = sorted(p.name for p in (tiny_results / EXPERIMENT / "tiny" / "figures").iterdir())
    redrawn = sorted(p.name for p in (reported / EXPERIMENT / "tiny" / "figures").iterdir())
    assert redrawn == drawn and drawn
    markdown, _ = texts(reported)
    links = re.findall(r"!\[[^]]*\]\(([^)]+)\)", markdown)
    assert len(links) == len(drawn) // 2 and all((reported / link).is_file() for link in links)


@needs_mnist
def test_the_html_is_self_contained_with_the_figures_embedded(reported):
    _, page = texts(reported)
    figures = sorted((reported / EXPERIMENT / "tiny" / "figures").glob("*.png"))
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == len(figures) > 0
    assert all(src.startswith("data:image/png;base64,") for src in sources)
    embedded = {base64.b64decode(src.split(",", 1)[1]) for src in sources}
    assert embedded == {figure.read_bytes() for figure in figures}
    assert not re.search(r"<(link|script|iframe)\b|@import|url\(|https?://", page)
    assert re.search(r'class="verdict (pass|fail)"', page)


@needs_mnist
def test_the_report_is_deterministic(reported):
    first = texts(reported)
    write_report(reported, [])
    assert texts(reported) == first


@needs_mnist
def test_a_truncated_csv_is_damaged_its_figures_kept_and_the_others_rendered(results):
    """The issue's case: metrics.csv cut at a row boundary used to be redrawn as empty plots.
    Now the folder is listed as damaged (the rows run.json records as written are missing),
    its figures stay byte for byte, and a second, sound run still renders."""
    folder = results / EXPERIMENT / "tiny"
    rows = len(pd.read_csv(folder / "metrics.csv"))
    assert json.loads((folder / "run.json").read_text())["metrics_rows"] == rows
    other = results / EXPERIMENT / "small"
    shutil.copytree(folder, other)
    edit_run_info(other, scale="small")
    drawn = figure_bytes(folder)
    cut_rows(folder, 400)
    written = write_report(results, [])
    assert [d.folder for d in written.damaged] == [folder]
    reason = f"metrics.csv has 399 rows, run.json records {rows} written (cut off)"
    assert written.damaged[0].reason == reason
    assert figure_bytes(folder) == drawn
    markdown, page = texts(results)
    assert f"### {EXPERIMENT} at small scale: code path only" in markdown
    assert f"### {EXPERIMENT} at tiny" not in markdown
    assert page.count("data:image/png;base64,") == len(drawn) // 2
    assert f"{folder}/" in page and reason in page and reason in markdown


@needs_mnist
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
    assert write_report(results, []).damaged == []
    markdown, page = texts(results)
    summary = markdown.split("\n## ")[1]
    kind = next(claim.kind for claim in load(EXPERIMENT).claims if claim.id == "exploding")
    assert f"| {EXPERIMENT} | tiny scale: code path only | exploding | {kind} | FAIL (at" in summary
    assert f"| my-copy | tiny scale: code path only | exploding | {kind} | PASS (at" in summary
    assert "recorded at run time: PASS" in markdown and "recorded at run time: PASS" in page
    assert "those recorded at run time, not regenerated" in markdown
    figures = len(list((folder / "figures").glob("*.png")))
    assert page.count("data:image/png;base64,") == 2 * figures
    write_report(results, ["my-copy"])
    markdown, _ = texts(results)
    assert "my-copy" in markdown and EXPERIMENT not in markdown


@needs_mnist
def test_a_figure_or_check_failing_on_the_csv_is_reported_not_fatal(results):
    """A sound CSV the finding's code cannot use: the report still comes out, with the figures
    and verdicts recorded at run time and each problem shown at the top and in the run's
    section."""
    folder = results / EXPERIMENT / "tiny"
    drawn = figure_bytes(folder)
    rewrite_csv(folder, lambda t: t.drop(columns="part"))
    assert write_report(results, []).damaged == []
    markdown, page = texts(results)
    for problem in ("figures not regenerated", "claims not re-checked"):
        assert markdown.count(problem) == 2 and page.count(problem) == 2
    assert figure_bytes(folder) == drawn
    recorded = json.loads((folder / "run.json").read_text())["claims"]
    summary = markdown.split("\n## ")[1]
    for claim in recorded:
        label = "PASS" if claim["passed"] else "FAIL"
        assert f"| {claim['id']} | {claim['kind']} | {label} (at tiny scale) |" in summary


@needs_mnist
def test_run_all_at_tiny_scale_then_report_names_every_declared_experiment(tmp_path):
    """CI smoke test: every declared experiment at tiny scale on real MNIST, then the report."""
    ran = runner.invoke(app, ["run", "all", "--scale", "tiny", "--out", str(tmp_path), "--quiet"])
    assert ran.exit_code in (0, 1), ran.output
    assert write_report(tmp_path, []).damaged == []
    markdown, page = texts(tmp_path)
    for name in available():
        assert f"(`{name}`)" in markdown and f'id="{name}"' in page
    assert "not regenerated" not in markdown and "not re-checked" not in markdown
    assert "Declared but without results" not in markdown, ran.output  # one raised an error


def test_an_edited_copy_is_reported_from_its_own_declaration(tmp_path):
    copy = tmp_path / "mine.toml"
    text = available()["backprop-by-hand"].read_text()
    copy.write_text(text.replace("epsilon = 1e-6", "epsilon = 1e-5"))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(copy), "--out", str(out), "-q"])
    assert result.exit_code in (0, 1), result.output
    (folder,) = [p for p in out.glob("backprop-by-hand@*/lecture")]
    written = write_report(out, ["backprop-by-hand"])
    markdown = written.paths[0].read_text()
    assert folder.parent.name in markdown and "epsilon" in markdown
    assert not written.damaged
    copy.write_text(text.replace("epsilon = 1e-6", "epsilon = 1e-4"))  # changed since the run
    assert declaration_of(folder, json.loads((folder / "run.json").read_text())) is None
