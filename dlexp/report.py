"""The report: every finished run under a results folder in one document, as REPORT.md and as a
self-contained report.html (figures embedded, no external files) that opens offline.

Nothing is trained. Each run's figures are regenerated and its claims re-checked from its
metrics.csv alone, with the resolved protocol recorded in its run.json. A run at any scale other
than the lecture's, or with a protocol changed from the lecture's, is labelled as such wherever
it appears: its verdicts check the code path, they do not reproduce the lecture.
"""

from __future__ import annotations

import base64
import difflib
import html
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

import dlexp
from dlexp.api import recorded_verdict
from dlexp.claims import Verdict, check_claims
from dlexp.registry import (
    DEFAULT_SCALE,
    Experiment,
    ExperimentError,
    available,
    get_path,
    leaf_keys,
    parse,
)
from dlexp.results import FIGURES, atomic_folder, finished_runs, read_info, read_table
from dlexp.runner import code_of

MARKDOWN_FILE = "REPORT.md"
HTML_FILE = "report.html"
MEASURED = "measured: mean ± 95% CI over seeds"
SUMMARY_HEADER = ["experiment", "scale", "claim", "verdict", MEASURED, "lecture"]


@dataclass(frozen=True)
class Setting:
    """One protocol entry of a run, next to the lecture protocol's value when that differs."""

    key: str
    value: Any
    lecture: Any
    changed: bool


@dataclass(frozen=True)
class Run:
    """One run folder with its figures regenerated and its claims re-checked."""

    experiment: str
    folder: Path
    info: dict[str, Any]
    declaration: Experiment | None
    protocol: list[Setting]
    verdicts: list[Verdict]
    recorded: dict[str, bool]
    figures: list[Path]
    problems: list[str]

    @property
    def scale(self) -> str:
        return str(self.info["scale"])

    @property
    def anchor(self) -> str:
        return f"{self.experiment}-{self.scale}"

    @property
    def changed_keys(self) -> list[str]:
        return [s.key for s in self.protocol if s.changed]

    @property
    def reproduces_lecture(self) -> bool:
        """Only a run of the declared lecture protocol, unchanged, tests the lecture's claim."""
        return (
            self.declaration is not None and self.scale == DEFAULT_SCALE and not self.changed_keys
        )

    @property
    def scale_label(self) -> str:
        """The scale as tables show it: plain for the lecture's protocol, flagged otherwise."""
        if self.reproduces_lecture:
            return DEFAULT_SCALE
        if self.scale != DEFAULT_SCALE:
            return f"{self.scale} scale: code path only"
        if self.declaration is None:
            return f"{self.scale}: declaration not found"
        return f"{self.scale}, changed protocol"

    @property
    def qualifier(self) -> str:
        """What marks this run's verdicts in tables; empty for the lecture's protocol."""
        if self.reproduces_lecture:
            return ""
        if self.scale != DEFAULT_SCALE:
            return f"at {self.scale} scale"
        return "as recorded" if self.declaration is None else "changed protocol"

    @property
    def caveat(self) -> str:
        """Why this run's verdicts do not reproduce the lecture; empty when they do."""
        if self.reproduces_lecture:
            return ""
        if self.declaration is None:
            return (
                f"The declaration of {self.experiment} is not among the shipped experiments, so "
                "the verdicts and figures below are those recorded at run time, not regenerated."
            )
        if self.scale != DEFAULT_SCALE:
            return (
                f"{self.scale.capitalize()} scale: this run checks the code path only. Its "
                "verdicts do not reproduce the lecture; run "
                f"`dlexp run {self.experiment}` (lecture scale) for that."
            )
        changes = ", ".join(
            f"{s.key} = {value_text(s.value)} (lecture: {value_text(s.lecture)})"
            for s in self.protocol
            if s.changed
        )
        return (
            f"Lecture scale with a changed protocol: {changes}. Its verdicts do not reproduce "
            "the lecture."
        )


def write_report(out: Path, names: list[str]) -> list[Path]:
    """Regenerate the figures and re-check the claims of every finished run under `out` (or of
    the named experiments only), and write `out`/REPORT.md and `out`/report.html."""
    runs = [regenerate(folder) for folder in selected_runs(out, names)]
    not_run = [] if names else sorted(set(available()) - {run.experiment for run in runs})
    markdown_path, html_path = out / MARKDOWN_FILE, out / HTML_FILE
    markdown_path.write_text(markdown_report(runs, out, not_run), encoding="utf-8")
    html_path.write_text(html_report(runs, out, not_run), encoding="utf-8")
    return [markdown_path, html_path]


def selected_runs(out: Path, names: list[str]) -> list[Path]:
    """The finished run folders under `out`, of the named experiments when names are given,
    the lecture scale first within each experiment."""
    folders = [f for f in finished_runs(out) if not f.name.startswith(".")]
    present = sorted({f.parent.name for f in folders})
    for name in names:
        if name not in present:
            raise ExperimentError(missing_results(name, out, present))
    if not folders:
        raise ExperimentError(
            f"no results under {out}/; run `dlexp run all --scale tiny --out {out}` "
            f"(or `dlexp run <name> --out {out}`) first."
        )
    chosen = [f for f in folders if not names or f.parent.name in names]
    return sorted(chosen, key=lambda f: (f.parent.name, f.name != DEFAULT_SCALE, f.name))


def missing_results(name: str, out: Path, present: list[str]) -> str:
    """One sentence for a named experiment that has no results under `out`."""
    if name in available():
        return f"no results for {name} under {out}/; run `dlexp run {name} --out {out}` first."
    close = difflib.get_close_matches(name, sorted({*available(), *present}), n=3)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return f"unknown experiment {name!r}; {hint}`dlexp list` shows all of them."


def regenerate(folder: Path) -> Run:
    """Read one run folder back, redraw its figures and re-check its claims from the CSV."""
    try:
        info = read_info(folder)
        table = read_table(folder)
        name, protocol, scale = str(info["experiment"]), info["protocol"], str(info["scale"])
    except (OSError, ValueError, KeyError) as error:
        raise ExperimentError(
            f"cannot read the run in {folder}/ ({error}); run that experiment again."
        ) from None
    declaration = shipped_declaration(name)
    recorded = recorded_verdicts(info)
    problems: list[str] = []
    figures = sorted((folder / FIGURES).glob("*.png"))
    verdicts = recorded
    if declaration is not None:
        try:
            figures = redraw(declaration, table, protocol, scale, folder / FIGURES)
        except Exception as error:
            problems.append(
                f"figures not regenerated, shown as drawn at run time: {describe(error)}"
            )
        try:
            finding = code_of(declaration)
            verdicts = check_claims(declaration.claims, finding.checks, table, protocol)
        except Exception as error:
            problems.append(
                f"claims not re-checked, shown as recorded at run time: {describe(error)}"
            )
    return Run(
        experiment=name,
        folder=folder,
        info=info,
        declaration=declaration,
        protocol=settings(protocol, declaration),
        verdicts=verdicts,
        recorded={v.id: v.passed for v in recorded},
        figures=figures,
        problems=problems,
    )


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
    with atomic_folder(target) as staging:
        drawn = code_of(declaration).figures(table, protocol, scale, staging)
    return [target / path.name for path in drawn if path.suffix == ".png"]


def describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def recorded_verdicts(info: dict[str, Any]) -> list[Verdict]:
    """The verdicts run.json recorded at run time."""
    return [recorded_verdict(claim) for claim in info.get("claims", [])]


def settings(protocol: dict[str, Any], declaration: Experiment | None) -> list[Setting]:
    """The run's protocol flattened to dotted keys, each marked where it differs from the
    declared lecture protocol."""
    lecture = flat(declaration.resolve(DEFAULT_SCALE)) if declaration else {}
    rows = []
    for key, value in flat(protocol).items():
        declared = lecture.get(key)
        changed = declaration is not None and (key not in lecture or declared != value)
        rows.append(Setting(key, value, declared, changed))
    return rows


def flat(protocol: dict[str, Any]) -> dict[str, Any]:
    return {key: get_path(protocol, key) for key in leaf_keys(protocol)}


def value_text(value: Any) -> str:
    """A protocol value as written in a declaration: 0.1, true, [2, 3, 4], sigmoid."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if value is None:
        return "—"
    return repr(value) if isinstance(value, float) else str(value)


def duration(seconds: Any) -> str:
    try:
        seconds = float(seconds)
    except (TypeError, ValueError):
        return "unknown"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    return f"{minutes // 60} h {minutes % 60} min"


def provenance(run: Run) -> list[tuple[str, str]]:
    """Where and how the run was made, from its run.json."""
    info = run.info
    seeds = info.get("seeds", [])
    device = f"{info.get('device', 'unknown')} ({info.get('device_name', 'unknown')}"
    device += f", {info['threads']} threads)" if "threads" in info else ")"
    versions = ", ".join(
        f"{label} {info[key]}"
        for label, key in (("dlexp", "dlexp"), ("torch", "torch"), ("Python", "python"))
        if key in info
    )
    return [
        ("scale", run.scale_label),
        ("seeds", f"{len(seeds)} ({', '.join(str(s) for s in seeds)})"),
        (
            "overrides",
            ", ".join(f"{k}={v}" for k, v in info.get("overrides", {}).items()) or "none",
        ),
        ("device", device),
        ("versions", versions or "unknown"),
        ("platform", str(info.get("platform", "unknown"))),
        ("commit", str(info.get("commit") or "unknown")),
        ("date (UTC)", f"{info.get('started', 'unknown')} → {info.get('finished', 'unknown')}"),
        ("wall time", duration(info.get("wall_seconds"))),
        ("results", f"{run.folder}/"),
    ]


def recheck_note(run: Run, verdict: Verdict) -> str:
    """A note when the re-check from the CSV disagrees with the verdict recorded at run time."""
    recorded = run.recorded.get(verdict.id)
    if recorded is None or recorded == verdict.passed:
        return ""
    label = "PASS" if recorded else "FAIL"
    return f"recorded at run time: {label}; the check or the CSV changed since"


def tally(runs: list[Run], faithful: bool) -> str:
    verdicts = [v for run in runs if run.reproduces_lecture == faithful for v in run.verdicts]
    passed = sum(v.passed for v in verdicts)
    return f"{passed} of {len(verdicts)} claims pass"


def overview(runs: list[Run]) -> list[str]:
    """Sentences counting the verdicts, the lecture's own protocol apart from the rest."""
    lines = []
    if any(run.reproduces_lecture for run in runs):
        lines.append(f"At the lecture's protocol: {tally(runs, True)}.")
    if not all(run.reproduces_lecture for run in runs):
        lines.append(
            f"At other scales or changed protocols: {tally(runs, False)}; these check the code "
            "path only and do not reproduce the lecture."
        )
    return lines


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


def by_experiment(runs: list[Run]) -> Iterable[tuple[str, list[Run]]]:
    for name, group in itertools.groupby(runs, key=lambda run: run.experiment):
        yield name, list(group)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def title_of(runs: list[Run]) -> str:
    first = runs[0]
    return first.declaration.title if first.declaration else str(first.info.get("title", ""))


def generated_line(runs: list[Run], out: Path) -> str:
    return (
        f"Generated by dlexp {dlexp.__version__} from {plural(len(runs), 'run folder')} "
        f"under {out}/: "
        "every figure redrawn and every claim re-checked from the run's metrics.csv alone "
        "(nothing retrained)."
    )


# Markdown


def md(text: Any) -> str:
    """Text safe inside a Markdown table cell or paragraph; `code spans` are kept as they are."""
    parts = re.split(r"(`[^`]*`)", str(text).replace("\n", " "))
    return "".join(
        part if part.startswith("`") else re.sub(r"([\\|*<])", r"\\\1", part) for part in parts
    )


def md_table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def md_verdict(run: Run, verdict: Verdict) -> str:
    if run.reproduces_lecture:
        return f"**{verdict.label}**"
    return f"{verdict.label} ({run.qualifier})"


def markdown_report(runs: list[Run], out: Path, not_run: list[str]) -> str:
    lines = [
        "# dlexp report: the lectures' claims, measured",
        "",
        md(generated_line(runs, out)),
        "",
    ]
    lines += ["## Summary of verdicts", ""]
    lines += [f"- {md(line)}" for line in [*overview(runs), *advice(runs, out, not_run)]]
    lines.append("")
    problems = [(run, problem) for run in runs for problem in run.problems]
    lines += [f"- **problem** in {run.experiment} ({run.scale}): {md(p)}" for run, p in problems]
    lines += [""] if problems else []
    lines += md_table(
        SUMMARY_HEADER,
        (
            [
                run.experiment,
                md(run.scale_label),
                v.id,
                md_verdict(run, v),
                md(v.measured()),
                md(v.reference or "n/a"),
            ]
            for run in runs
            for v in run.verdicts
        ),
    )
    for name, group in by_experiment(runs):
        lines += markdown_experiment(name, group, out)
    return "\n".join(lines).rstrip() + "\n"


def markdown_experiment(name: str, runs: list[Run], out: Path) -> list[str]:
    declaration = runs[0].declaration
    lines = [f"## {md(title_of(runs))} (`{name}`)", ""]
    if declaration is not None:
        lines += [f"> {md(declaration.claim)}", ">", f"> — {md(source_text(declaration))}", ""]
        if declaration.reference:
            lines += ["The lecture's numbers:", ""]
            lines += md_table(
                ["quantity", "lecture"],
                ([md(k), md(v)] for k, v in declaration.reference.items()),
            )
    for run in runs:
        lines += markdown_run(run, out)
    return lines


def markdown_run(run: Run, out: Path) -> list[str]:
    lines = [f"### {run.experiment} at {md(run.scale_label)}", ""]
    if run.caveat:
        lines += [f"> **{md(run.caveat)}**", ""]
    lines += [f"> **problem:** {md(p)}" for p in run.problems]
    lines += [""] if run.problems else []
    lines += ["#### Protocol", ""]
    if run.changed_keys:
        rows = (
            [s.key, md(value_text(s.value)), md(value_text(s.lecture)) if s.changed else ""]
            for s in run.protocol
        )
        lines += md_table(["parameter", "this run", "lecture, if different"], rows)
    else:
        lines += md_table(
            ["parameter", "value"], ([s.key, md(value_text(s.value))] for s in run.protocol)
        )
    lines += ["#### Claims", ""]
    lines += md_table(
        ["claim", "verdict", MEASURED, "lecture"],
        (
            [v.id, md_verdict(run, v), md(v.measured()), md(v.reference or "n/a")]
            for v in run.verdicts
        ),
    )
    for v in run.verdicts:
        note = recheck_note(run, v)
        lines.append(f"- **{v.id}**: {md(v.text)}")
        lines.append(f"  <br>detail: {md(v.detail)}" + (f" ({md(note)})" if note else ""))
    lines += ["", "#### Figures", ""]
    for figure in run.figures:
        lines += [f"![{md(caption(figure))}]({figure.relative_to(out).as_posix()})", ""]
    lines += ["#### Provenance", ""]
    lines += md_table(["", ""], ([key, md(value)] for key, value in provenance(run)))
    return lines


def source_text(declaration: Experiment) -> str:
    source = declaration.source
    text = f"{source.deck}, slide “{source.slide}”"
    return text + (f"; also {source.also}" if source.also else "")


def caption(figure: Path) -> str:
    return figure.stem.replace("_", " ")


# HTML

PROTOCOL_ROWS = 10  # a longer protocol is shown as two tables side by side

STYLE = """
:root { --pass: #1a7f37; --fail: #cf222e; --line: #d0d7de; --muted: #57606a;
        --soft: #f6f8fa; --warn: #fff8c5; --warn-edge: #bf8700; }
* { box-sizing: border-box; }
body { margin: 0; color: #1f2328; background: #fff; line-height: 1.5;
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
       sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 32px 64px; }
h1 { font-size: 1.9em; margin: 0.2em 0 0.1em; }
h2 { font-size: 1.45em; margin-top: 2.4em; padding-bottom: 0.25em;
     border-bottom: 2px solid var(--line); }
h3 { font-size: 1.2em; margin-top: 1.8em; }
h4 { font-size: 1em; margin: 1.4em 0 0.4em; color: var(--muted); text-transform: uppercase;
     letter-spacing: 0.04em; }
a { color: #0969da; text-decoration: none; }
a:hover { text-decoration: underline; }
code, .num { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
             font-size: 0.92em; }
.generated, .detail, figcaption, .name { color: var(--muted); }
.detail { font-size: 0.88em; margin-top: 0.2em; }
table { border-collapse: collapse; width: 100%; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid var(--line); padding: 5px 9px; text-align: left; vertical-align: top;
         overflow-wrap: break-word; }
.nowrap { white-space: nowrap; }
th { background: var(--soft); font-weight: 600; }
td.num { white-space: nowrap; }
table.settings { width: auto; }
.side-by-side { display: flex; flex-wrap: wrap; gap: 0 28px; align-items: flex-start; }
table.settings td { white-space: nowrap; }
td.changed { background: var(--warn); }
tr.indicative td { background: #fbfbfc; }
.verdict { display: inline-block; min-width: 3.6em; text-align: center; font-weight: 700;
           font-size: 0.85em; padding: 1px 8px; border-radius: 10px; color: #fff;
           border: 1.5px solid transparent; white-space: nowrap; }
.verdict.pass { background: var(--pass); }
.verdict.fail { background: var(--fail); }
.indicative .verdict.pass { background: #fff; color: var(--pass); border-color: var(--pass); }
.indicative .verdict.fail { background: #fff; color: var(--fail); border-color: var(--fail); }
.scale { display: inline-block; font-size: 0.8em; font-weight: 600; padding: 0 7px;
         border-radius: 4px; background: var(--warn); border: 1px solid var(--warn-edge);
         color: #7d4e00; white-space: nowrap; }
.scale.lecture { background: #dafbe1; border-color: var(--pass); color: var(--pass); }
h3 .scale { vertical-align: middle; margin-left: 0.4em; }
.banner { margin: 0.6em 0 1em; padding: 9px 14px; border-radius: 6px; background: var(--warn);
          border: 1px solid var(--warn-edge); border-left-width: 6px; font-weight: 500; }
.banner.problem { background: #ffebe9; border-color: var(--fail); }
blockquote { margin: 0.8em 0 1em; padding: 0.6em 1em; background: var(--soft);
             border-left: 4px solid #8c959f; font-size: 1.05em; }
blockquote footer { margin-top: 0.4em; color: var(--muted); font-size: 0.88em; }
figure { margin: 1em 0 1.6em; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line);
             border-radius: 4px; }
figcaption { font-size: 0.85em; margin-top: 0.3em; }
ul.notes { padding-left: 1.2em; }
"""


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def tag(name: str, body: str, **attributes: str) -> str:
    attrs = "".join(f' {k.rstrip("_")}="{esc(v)}"' for k, v in attributes.items() if v)
    return f"<{name}{attrs}>{body}</{name}>"


def html_table(header: list[str], rows: Iterable[str], class_: str = "") -> str:
    """A table; an empty header leaves out the head row (key-value tables)."""
    head = tag("thead", tag("tr", "".join(tag("th", esc(h)) for h in header))) if header else ""
    body = "\n".join(rows)
    return tag("table", f"\n{head}\n<tbody>\n{body}\n</tbody>\n", class_=class_)


def inline(text: str) -> str:
    """Escaped text with its `code spans` as <code>."""
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", esc(text))


def row_class(run: Run) -> str:
    return "" if run.reproduces_lecture else "indicative"


def verdict_badge(verdict: Verdict) -> str:
    return tag("span", verdict.label, class_=f"verdict {verdict.label.lower()}")


def scale_badge(run: Run) -> str:
    class_ = "scale lecture" if run.reproduces_lecture else "scale"
    return tag("span", esc(run.scale_label), class_=class_)


def html_report(runs: list[Run], out: Path, not_run: list[str]) -> str:
    summary_rows = (row for run in runs for row in summary_rows_of(run))
    notes = [inline(line) for line in [*overview(runs), *advice(runs, out, not_run)]]
    problems = [
        tag(
            "div",
            f"<b>problem</b> in {esc(run.experiment)} ({esc(run.scale)}): {esc(p)}",
            class_="banner problem",
        )
        for run in runs
        for p in run.problems
    ]
    body = [
        tag("h1", "dlexp report: the lectures’ claims, measured"),
        tag("p", esc(generated_line(runs, out)), class_="generated"),
        tag("h2", "Summary of verdicts", id="summary"),
        tag("ul", "".join(tag("li", note) for note in notes), class_="notes"),
        *problems,
        html_table(
            SUMMARY_HEADER,
            summary_rows,
        ),
    ]
    body += [html_experiment(name, group) for name, group in by_experiment(runs)]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>dlexp report</title>\n"
        f"<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + "\n</main>\n</body>\n</html>\n"
    )


def summary_rows_of(run: Run) -> list[str]:
    """One row per claim; the experiment and its scale label span the run's rows."""
    span = str(max(len(run.verdicts), 1))
    run_cells = tag(
        "td", tag("a", esc(run.experiment), href=f"#{run.anchor}"), rowspan=span, class_="nowrap"
    ) + tag("td", scale_badge(run), rowspan=span)
    if not run.verdicts:
        return [tag("tr", run_cells + tag("td", "no claims declared", colspan="4"))]
    return [
        tag(
            "tr",
            (run_cells if index == 0 else "")
            + tag("td", esc(v.id), class_="nowrap")
            + tag("td", verdict_badge(v))
            + tag("td", esc(v.measured()), class_="num")
            + tag("td", inline(v.reference or "n/a")),
            class_=row_class(run),
        )
        for index, v in enumerate(run.verdicts)
    ]


def html_experiment(name: str, runs: list[Run]) -> str:
    declaration = runs[0].declaration
    parts = [
        tag("h2", esc(title_of(runs)), id=name),
        tag("p", f"experiment <code>{esc(name)}</code>", class_="name"),
    ]
    if declaration is not None:
        quote = inline(declaration.claim) + tag("footer", "— " + inline(source_text(declaration)))
        parts.append(tag("blockquote", quote))
        if declaration.reference:
            rows = (
                tag("tr", tag("td", inline(key)) + tag("td", inline(str(value))))
                for key, value in declaration.reference.items()
            )
            parts += [tag("h4", "The lecture’s numbers"), html_table(["quantity", "lecture"], rows)]
    parts += [html_run(run) for run in runs]
    return tag("section", "\n".join(parts), class_="experiment")


def html_run(run: Run) -> str:
    parts = [
        tag(
            "h3",
            f"{esc(run.experiment)} at {esc(run.scale)} scale {scale_badge(run)}",
            id=run.anchor,
        )
    ]
    if run.caveat:
        parts.append(tag("div", inline(run.caveat), class_="banner"))
    parts += [
        tag("div", f"<b>problem:</b> {esc(p)}", class_="banner problem") for p in run.problems
    ]
    parts += [tag("h4", "Protocol"), html_protocol(run)]
    claim_rows = (
        tag(
            "tr",
            tag(
                "td",
                f"<b>{esc(v.id)}</b>: {inline(v.text)}"
                + tag("div", "detail: " + inline(v.detail) + note_text(run, v), class_="detail"),
            )
            + tag("td", esc(v.measured()), class_="num")
            + tag("td", inline(v.reference or "n/a"))
            + tag("td", verdict_badge(v)),
            class_=row_class(run),
        )
        for v in run.verdicts
    )
    parts += [
        tag("h4", "Claims"),
        html_table(["claim", MEASURED, "lecture", "verdict"], claim_rows),
        tag("h4", "Figures"),
        *(html_figure(figure) for figure in run.figures),
        tag("h4", "Provenance"),
        html_table(
            [],
            (tag("tr", tag("td", esc(k)) + tag("td", esc(v))) for k, v in provenance(run)),
            class_="settings",
        ),
    ]
    return tag("article", "\n".join(parts), class_="run")


def note_text(run: Run, verdict: Verdict) -> str:
    note = recheck_note(run, verdict)
    return f" ({esc(note)})" if note else ""


def html_protocol(run: Run) -> str:
    """The protocol as one table, split side by side when long, so that it stays short."""
    if run.changed_keys:
        header = ["parameter", "this run", "lecture, if different"]
        rows = [
            tag(
                "tr",
                tag("td", esc(s.key))
                + tag("td", esc(value_text(s.value)), class_="changed" if s.changed else "")
                + tag("td", esc(value_text(s.lecture)) if s.changed else ""),
            )
            for s in run.protocol
        ]
    else:
        header = ["parameter", "value"]
        rows = [
            tag("tr", tag("td", esc(s.key)) + tag("td", esc(value_text(s.value))))
            for s in run.protocol
        ]
    middle = (len(rows) + 1) // 2
    halves = [rows] if len(rows) <= PROTOCOL_ROWS else [rows[:middle], rows[middle:]]
    tables = "".join(html_table(header, half, class_="settings") for half in halves)
    return tag("div", tables, class_="side-by-side")


def html_figure(figure: Path) -> str:
    data = base64.b64encode(figure.read_bytes()).decode("ascii")
    image = f'<img alt="{esc(caption(figure))}" src="data:image/png;base64,{data}">'
    return tag("figure", image + tag("figcaption", esc(f"{caption(figure)} ({figure.name})")))
