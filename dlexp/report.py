"""The report: every finished run under a results folder in one document, as REPORT.md and as a
self-contained report.html (figures embedded, styles inline) that opens offline.

Nothing is trained. Each run folder is checked first (`dlexp.report_folders`); a damaged one is
listed with the reason and its figures are left as they were. Every other run's figures are
redrawn and its claims re-checked from its metrics.csv alone, with the resolved protocol
recorded in its run.json. A run at any scale other than the lecture's, or with a protocol
changed from the lecture's, is labelled as such wherever it appears (`dlexp.report_runs`).

Both documents come from the Jinja2 templates in `dlexp/templates/`; the HTML one is
autoescaped by Jinja2, the Markdown one escapes its text with the `md` filters below.
"""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup, escape

import dlexp
from dlexp.claims import Verdict, check_claims
from dlexp.figures import rendering_in_parallel
from dlexp.painter import figures_of
from dlexp.progress import Reporter
from dlexp.registry import DEFAULT_SCALE, Experiment, ExperimentError, available, parse
from dlexp.report_folders import DamagedRun, RunData, candidate_runs, read_run
from dlexp.report_runs import Damaged, Figure, Run, settings, value_text
from dlexp.results import FIGURES, atomic_folder
from dlexp.runner import code_of
from dlexp.workers import cpu_cores

MARKDOWN_FILE = "REPORT.md"
HTML_FILE = "report.html"
TEMPLATES = {MARKDOWN_FILE: "report.md.j2", HTML_FILE: "report.html.j2"}
MEASURED = "measured: mean ± 95% CI over seeds"
KINDS = {"empirical": "empirical finding", "identity": "identity"}


@dataclass(frozen=True)
class Written:
    """What `write_report` wrote, and the run folders it skipped as damaged."""

    paths: list[Path]
    damaged: list[Damaged]


@dataclass(frozen=True)
class Tally:
    """The verdicts of a group of runs, counted over all claims and over each kind."""

    label: str
    verdicts: list[Verdict]

    def count(self, kind: str | None = None) -> str:
        chosen = [v for v in self.verdicts if kind is None or v.kind == kind]
        return f"{sum(v.passed for v in chosen)} of {len(chosen)}" if chosen else "none"


def write_report(out: Path, names: list[str], reporter: Reporter | None = None) -> Written:
    """Check every run folder under `out` (or the named experiments' only), regenerate the
    figures and re-check the claims of each sound one, and write `out`/REPORT.md and
    `out`/report.html. Damaged folders are listed in both and returned, never redrawn."""
    folders = selected_runs(out, names)
    reporter = reporter or Reporter(quiet=True)
    runs: list[Run] = []
    damaged: list[Damaged] = []
    with reporter.session():
        advance = reporter.task("report: redrawing figures", len(folders))
        for folder in folders:
            try:
                runs.append(regenerate(folder, read_run(folder)))
            except DamagedRun as error:
                damaged.append(Damaged(folder, str(error)))
            advance(1)
    runs.sort(key=lambda r: (r.experiment, r.scale != DEFAULT_SCALE, r.scale, r.folder))
    context = report_context(runs, damaged, out, names)
    paths = []
    for file, template in TEMPLATES.items():
        (out / file).write_text(render(template, context), encoding="utf-8")
        paths.append(out / file)
    return Written(paths, damaged)


def selected_runs(out: Path, names: list[str]) -> list[Path]:
    """The run folders under `out`, of the named experiments when names are given."""
    folders = candidate_runs(out)
    present = sorted({experiment_of(f) for f in folders})
    for name in names:
        if name not in present:
            raise ExperimentError(missing_results(name, out, present))
    if not folders:
        raise ExperimentError(
            f"no results under {out}/; run `dlexp run all --scale tiny --out {out}` "
            f"(or `dlexp run <name> --out {out}`) first."
        )
    return [f for f in folders if not names or experiment_of(f) in names]


def experiment_of(folder: Path) -> str:
    """The experiment a run folder belongs to: `NAME` of `NAME/scale` and of an edited copy's
    `NAME@hash/scale`."""
    return folder.parent.name.partition("@")[0]


def missing_results(name: str, out: Path, present: list[str]) -> str:
    """One sentence for a named experiment that has no results under `out`."""
    if name in available():
        return f"no results for {name} under {out}/; run `dlexp run {name} --out {out}` first."
    close = difflib.get_close_matches(name, sorted({*available(), *present}), n=3)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return f"unknown experiment {name!r}; {hint}`dlexp list` shows all of them."


def regenerate(folder: Path, data: RunData) -> Run:
    """Redraw one checked run's figures and re-check its claims from its table; what the
    experiment's code cannot do with the table is noted, and the run-time result shown."""
    name, protocol, scale = data.info["experiment"], data.info["protocol"], data.info["scale"]
    declaration = declaration_of(folder, data.info)
    problems: list[str] = []
    figures = sorted((folder / FIGURES).glob("*.png"))
    verdicts = data.recorded
    if declaration is not None:
        try:
            figures = redraw(declaration, data.table, protocol, scale, folder / FIGURES)
        except Exception as error:
            problems.append(
                f"figures not regenerated, shown as drawn at run time: {describe(error)}"
            )
        try:
            finding = code_of(declaration)
            verdicts = check_claims(declaration.claims, finding.checks, data.table, protocol)
        except Exception as error:
            problems.append(
                f"claims not re-checked, shown as recorded at run time: {describe(error)}"
            )
    return Run(
        experiment=name,
        folder=folder,
        info=data.info,
        declaration=declaration,
        settings=settings(protocol, declaration),
        verdicts=verdicts,
        recorded={v.id: v.passed for v in data.recorded},
        figures=[Figure(path) for path in figures],
        problems=problems,
    )


def declaration_of(folder: Path, info: dict[str, Any]) -> Experiment | None:
    """The declaration a run was made from: the shipped one for `NAME/scale`; for an edited
    copy's `NAME@hash/scale`, the copy itself while it is unchanged since the run (its SHA-256
    as recorded), else None (the run is then shown as recorded)."""
    if "@" not in folder.parent.name:
        return shipped_declaration(info["experiment"])
    path = Path(str(info.get("declaration", "")))
    try:
        copy = parse(path)
    except ExperimentError:
        return None
    return copy if copy.file_sha256 == info.get("declaration_sha256") else None


def shipped_declaration(name: str) -> Experiment | None:
    """The shipped declaration of `name`; None for a run made from a renamed copy by path."""
    path = available().get(name)
    if path is None:
        return None
    try:
        return parse(path)
    except ExperimentError:
        return None


def redraw(
    declaration: Experiment, table: pd.DataFrame, protocol: dict[str, Any], scale: str, target: Path
) -> list[Path]:
    """The finding's figures drawn afresh from the table; they replace `target` only when all
    are drawn. Returns the PNGs in the finding's order."""
    with atomic_folder(target) as staging, rendering_in_parallel(cpu_cores()):
        drawn = figures_of(declaration.code)(table, protocol, scale, staging)
    return [target / path.name for path in drawn if path.suffix == ".png"]


def describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def report_context(
    runs: list[Run], damaged: list[Damaged], out: Path, names: list[str]
) -> dict[str, Any]:
    """Everything the templates show."""
    reported = {run.experiment for run in runs} | {d.experiment for d in damaged}
    not_run = [] if names else sorted(set(available()) - reported)
    lecture = [v for run in runs if run.reproduces_lecture for v in run.verdicts]
    other = [v for run in runs if not run.reproduces_lecture for v in run.verdicts]
    tallies = [Tally("the lecture's protocol", lecture)] if lecture else []
    if other:
        tallies.append(Tally("other scales or changed protocols (code path only)", other))
    experiments = [
        (name, list(group)) for name, group in itertools.groupby(runs, lambda r: r.experiment)
    ]
    return {
        "version": dlexp.__version__,
        "out": out,
        "runs": runs,
        "experiments": experiments,
        "damaged": damaged,
        "tallies": tallies,
        "advice": advice(runs, out, not_run),
        "measured": MEASURED,
        "kinds": KINDS,
    }


def advice(runs: list[Run], out: Path, not_run: list[str]) -> list[str]:
    """What is left to run for a complete report."""
    lines = []
    if not_run:
        lines.append(
            f"Declared but without results under {out}/: {', '.join(not_run)} "
            f"(`dlexp run <name> --out {out}`)."
        )
    no_lecture = sorted(
        {r.experiment for r in runs} - {r.experiment for r in runs if r.reproduces_lecture}
    )
    if no_lecture:
        lines.append(
            f"No run at the lecture's protocol yet: {', '.join(no_lecture)} "
            f"(`dlexp run <name> --out {out}`)."
        )
    return lines


def source_text(declaration: Experiment) -> str:
    source = declaration.source
    text = f"{source.deck}, slide “{source.slide}”"
    return text + (f"; also {source.also}" if source.also else "")


def title_of(runs: list[Run]) -> str:
    first = runs[0]
    return first.declaration.title if first.declaration else str(first.info.get("title", ""))


def md(text: Any, cell: bool = False) -> str:
    """Text safe in a Markdown paragraph (or, with `cell`, a table cell): one line, Markdown's
    active characters escaped outside `code spans`; a cell escapes `|` inside them too."""
    parts = re.split(r"(`[^`]*`)", str(text).replace("\r", " ").replace("\n", " "))
    escaped = [
        (part.replace("|", "\\|") if cell else part)
        if part.startswith("`")
        else re.sub(r"([\\|*<\[\]])", r"\\\1", part)
        for part in parts
    ]
    return "".join(escaped)


def code_spans(text: Any) -> Markup:
    """Text escaped for HTML, with its `code spans` shown as <code>."""
    return Markup(re.sub(r"`([^`]*)`", r"<code>\1</code>", str(escape(text))))


ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("dlexp", "templates"),
    autoescape=lambda name: name is not None and name.endswith(".html.j2"),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
ENVIRONMENT.filters.update(
    md=md, md_cell=lambda text: md(text, cell=True), code=code_spans, value=value_text
)
ENVIRONMENT.globals.update(source_text=source_text, title_of=title_of)


def render(template: str, context: dict[str, Any]) -> str:
    """One template rendered; runs of blank lines (left by template tags) become one."""
    text = ENVIRONMENT.get_template(template).render(context)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip() + "\n"
