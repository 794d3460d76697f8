"""The dlexp command line: list, show, run and report, generic over the declared experiments."""

from __future__ import annotations

import functools
import importlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dlexp.collector import long_lived
from dlexp.console import (
    cell,
    err_console,
    guarded,
    interrupted,
    out_console,
    safe_output,
    sigterm_as_interrupt,
)
from dlexp.painter import painting
from dlexp.progress import Reporter, quiet_by_default
from dlexp.registry import (
    DEFAULT_SCALE,
    Experiment,
    get_path,
    leaf_keys,
    load,
    load_all,
    parse_setting,
)

if TYPE_CHECKING:
    from dlexp.runner import Prepared, RunResult

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Reproduce the findings of introductory deep-learning lectures and check their claims.",
)


@app.callback()
def setup() -> None:
    """Reproduce the findings of introductory deep-learning lectures and check their claims."""
    safe_output()


def main() -> NoReturn:
    """The `dlexp` command: the app, then an exit that skips Python's teardown.

    Tearing down the interpreter after torch is imported takes about 0.4 s (the objects of
    thousands of modules, measured: `import torch` 1.6 s with its teardown, 1.2 s without), more
    than a tiny run's training. By the time the app returns every file it wrote is closed and
    every process it started has ended, so only the standard streams are left to flush."""
    try:
        app(prog_name="dlexp")
        code = 0
    except SystemExit as done:
        code = exit_code(done.code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def exit_code(code: object) -> int:
    """SystemExit's code as the process's: None is 0; any other non-integer is printed, as
    Python would, and exits 1."""
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=sys.stderr)
    return 1


@app.command("list")
def list_experiments() -> None:
    """A table of the experiments: name, lecture claim and source, claims, and rough runtime
    per scale."""
    table = Table(title="dlexp experiments", show_lines=True, expand=True)
    table.add_column("name", no_wrap=True, style="bold")
    # The claim and its source share the one column that wraps, and the claims' count and the
    # runtime of each scale the other: an 80-column terminal left a few letters to each of six.
    table.add_column("lecture claim (deck: slide)", ratio=1)
    table.add_column("claims, runtime", no_wrap=True)
    for experiment in guarded(load_all):
        source = cell(f"\n({experiment.source.deck}: {experiment.source.slide})")
        source.stylize("dim")
        runtimes = "\n".join(
            f"{scale}: {experiment.runtime[scale]}" if scale in experiment.runtime else scale
            for scale in experiment.scales
        )
        table.add_row(
            cell(experiment.name),
            cell(experiment.claim) + source,
            cell(
                f"{len(experiment.claims)} claims\n"
                f"({experiment.empirical_claims} empirical)\n{runtimes}"
            ),
        )
    out_console.print(table)


@app.command()
def show(
    name: Annotated[str, typer.Argument(help="experiment name or path to its .toml file")],
) -> None:
    """Every protocol parameter, the claim, the source and the lecture's reference numbers."""
    experiment: Experiment = guarded(lambda: load(name))
    print_ = functools.partial(out_console.print, highlight=False)
    print_(f"[bold]{escape(experiment.name)}[/] — {escape(experiment.title)}")
    print_(Text(f"claim: {experiment.claim}"))
    print_(Text(f"source: {experiment.source_line}"))
    print_(Text(f"declared in: {experiment.path}"))
    table = Table(title="protocol (lecture scale unless a scale column says otherwise)")
    table.add_column("parameter")
    table.add_column(DEFAULT_SCALE)
    others = [s for s in experiment.scales if s != DEFAULT_SCALE]
    for scale in others:
        table.add_column(scale)
    resolved = {s: experiment.resolve(s) for s in experiment.scales}
    for key in leaf_keys(experiment.protocol):
        row = [key, repr(get_path(resolved[DEFAULT_SCALE], key))]
        for scale in others:
            value = get_path(resolved[scale], key)
            row.append(repr(value) if value != get_path(resolved[DEFAULT_SCALE], key) else "")
        table.add_row(*map(cell, row))
    print_(table)
    if experiment.reference:
        reference = Table(title="the lecture's reference numbers")
        reference.add_column("quantity")
        reference.add_column("value")
        for key, value in experiment.reference.items():
            reference.add_row(cell(key), cell(value))
        print_(reference)
    claims = Table(title="claims checked")
    for column in ("id", "kind", "the slide says", "checked as", "lecture"):
        claims.add_column(column, overflow="fold")
    for claim in experiment.claims:
        row = (claim.id, claim.kind, claim.quote, claim.sentence, claim.reference)
        claims.add_row(*map(cell, row))
    print_(claims)


@app.command()
def run(
    name: Annotated[str, typer.Argument(help="experiment name, folder or .toml path, or 'all'")],
    scale: Annotated[str, typer.Option(help="named scale: lecture (default) or tiny")] = (
        DEFAULT_SCALE
    ),
    seeds: Annotated[int | None, typer.Option(min=1, max=100, help="number of seeds")] = None,
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu or cuda")] = "auto",
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="override a protocol entry: key=value")
    ] = None,
    out: Annotated[Path, typer.Option(help="results root")] = Path("results"),
    data_dir: Annotated[
        Path | None, typer.Option(help="folder holding MNIST (the only place looked at)")
    ] = None,
    strict: Annotated[
        bool, typer.Option(help="a failed claim exits 1 at any scale, not only at lecture scale")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="processes training at once [default: one per CPU core]"),
    ] = None,
) -> None:
    """Train, measure, check the lecture's claims and write results/<experiment>/<scale>/.

    Exit code: 0 when it ran (at a scale other than lecture the verdicts are indicative), 1 when
    a claim failed at lecture scale (any scale with --strict) or a check could not run, 2 for a
    usage or data error, found before any training."""
    reporter = Reporter(quiet=quiet or quiet_by_default())
    with sigterm_as_interrupt():
        overrides = dict(guarded(lambda: [parse_setting(item) for item in set_ or []]))
        experiments = guarded(load_all) if name == "all" else [guarded(lambda: load(name))]
        with painting([experiment.code for experiment in experiments]):
            # torch is imported only now, while the painter imports matplotlib on the other core
            with long_lived():
                runner = guarded(lambda: importlib.import_module("dlexp.runner"))
            prepared = [  # every experiment is checked before any is trained
                guarded(
                    lambda e=each: runner.prepare(e, scale, overrides, seeds),
                    f"{each.name}: " if name == "all" else "",
                )
                for each in experiments
            ]
            chosen = guarded(lambda: runner.pick_device(device))
            guarded(
                lambda: runner.check_inputs(prepared, out, data_dir, progress=not reporter.quiet)
            )
            run_one = functools.partial(
                runner.run_prepared,
                device=chosen,
                out=out,
                reporter=reporter,
                data_dir=data_dir,
                workers=workers,
            )
            if name == "all":
                failed = run_all(run_one, prepared, scale, reporter, strict)
            else:
                result: RunResult = guarded(lambda: run_one(prepared[0]))
                print_result(result)
                failed = not succeeded(result, strict)
    if failed:
        raise typer.Exit(1)


def decisive(result: RunResult, strict: bool) -> bool:
    """Whether the verdicts decide the exit code: at lecture scale, or at any with --strict."""
    return strict or result.scale == DEFAULT_SCALE


def succeeded(result: RunResult, strict: bool) -> bool:
    if result.problems:
        return False
    return not decisive(result, strict) or all(v.passed for v in result.verdicts)


def print_result(result: RunResult) -> None:
    print_ = functools.partial(out_console.print, highlight=False)
    workers = f"{result.workers} worker" + "s" * (result.workers > 1)
    speed = (
        f"{result.models} models × {result.model_steps / result.models:,.0f} steps, "
        f"{result.steps_per_second:,.0f} model-steps/s on {workers}"
        if result.models
        else "nothing to train"
    )
    print_(
        f"[bold]{escape(result.experiment.name)}[/] at {escape(result.scale)} scale: "
        f"{result.wall_seconds:.1f} s, {speed}; "
        f"results in {escape(str(result.folder))}/ (metrics.csv, run.json, figures/)"
    )
    if result.diverged:
        err_console.print(
            f"[yellow]warning:[/] {result.diverged} of {result.models} models diverged (inf or "
            f"NaN weights or measurements, e.g. η too large); they are data: marked `diverged` "
            f"in metrics.csv and noted in every verdict.",
            highlight=False,
        )
    for problem in result.problems:
        err_console.print(f"[bold red]error:[/] {escape(problem)}", highlight=False)
    indicative = result.scale != DEFAULT_SCALE
    if indicative:
        print_(
            f"note: at {escape(result.scale)} scale the verdicts are indicative: they check the "
            f"code path, not the lecture's claim (--strict makes a FAIL exit 1).",
            style="yellow",
        )
    for v in result.verdicts:
        colour = "green" if v.passed else "red"
        label = f"{v.label} (indicative)" if indicative else v.label
        print_(
            f"[bold {colour}]{label}[/] "
            + escape(
                f"{v.id} ({v.kind}): {v.text} — measured {v.measured()}; "
                f"lecture: {v.reference or 'n/a'}; {v.detail}"
            )
        )


def run_all(
    run_one: Callable[[Prepared], RunResult],
    prepared: list[Prepared],
    scale: str,
    reporter: Reporter,
    strict: bool,
) -> bool:
    """Every declared experiment in turn under one progress display; one failure does not stop
    the others. Returns whether any run failed (see `succeeded`)."""
    summary = Table(title=f"dlexp run all ({scale} scale)")
    for column in ("experiment", "passed", "failed", "wall time", "status"):
        summary.add_column(column)
    any_failed = False
    with reporter.session():
        overall = reporter.task("all experiments", len(prepared))
        for item in prepared:
            name = item.experiment.name
            clock = time.perf_counter()
            try:
                result = run_one(item)
            except KeyboardInterrupt as error:
                interrupted(error, "the experiment in progress wrote nothing.")
            except Exception as error:  # one broken experiment must not stop the others
                err_console.print(
                    f"[bold red]error:[/] {escape(f'{name}: {type(error).__name__}: {error}')}",
                    highlight=False,
                )
                elapsed = f"{time.perf_counter() - clock:.1f} s"
                summary.add_row(name, "-", "-", elapsed, "error")
                any_failed = True
                overall(1)
                continue
            overall(1)
            print_result(result)
            passed = sum(v.passed for v in result.verdicts)
            failed = len(result.verdicts) - passed
            any_failed |= not succeeded(result, strict)
            status = "all claims hold" if failed == 0 else "claims failed"
            if not decisive(result, strict):
                status += " (indicative)"
            if result.problems:
                status = "code failed (see above)"
            summary.add_row(name, str(passed), str(failed), f"{result.wall_seconds:.1f} s", status)
    out_console.print(summary)
    return any_failed


@app.command()
def report(
    names: Annotated[list[str] | None, typer.Argument(help="experiments to include")] = None,
    out: Annotated[Path, typer.Option(help="results root")] = Path("results"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
) -> None:
    """Regenerate every figure from the CSVs alone and write REPORT.md and report.html.

    Exit code 1 when a damaged run folder was skipped (its figures are left as they were)."""
    with long_lived():
        from dlexp.report import write_report

    reporter = Reporter(quiet=quiet or quiet_by_default())
    written = guarded(lambda: write_report(out, names or [], reporter))
    for path in written.paths:
        out_console.print(Text(f"wrote {path}"))
    for damaged in written.damaged:
        err_console.print(f"[yellow]warning:[/] {escape(damaged.message)}", highlight=False)
    if written.damaged:
        raise typer.Exit(1)
