"""The dlexp command line: list, show, run and report, generic over the declared experiments."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from dlexp.data import DataError
from dlexp.progress import Reporter, quiet_by_default
from dlexp.registry import (
    DEFAULT_SCALE,
    Experiment,
    ExperimentError,
    get_path,
    leaf_keys,
    load,
    load_all,
    parse_setting,
)
from dlexp.runner import Prepared, RunResult, pick_device, prepare, run_prepared

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Reproduce the findings of introductory deep-learning lectures and check their claims.",
)
out_console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

USER_ERRORS = (ExperimentError, DataError)


def fail(message: str) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def guarded(action: Callable[[], Any]) -> Any:
    """Run `action`; a user error becomes one line and exit 2, Ctrl-C one line and exit 130."""
    try:
        return action()
    except USER_ERRORS as error:
        fail(str(error))
    except KeyboardInterrupt:
        err_console.print("interrupted: nothing was written; earlier results are untouched.")
        raise typer.Exit(130) from None


@app.command("list")
def list_experiments() -> None:
    """A table of the experiments: name, lecture claim, source, scales and rough runtime."""
    table = Table(title="dlexp experiments", show_lines=True, expand=True)
    table.add_column("name", no_wrap=True, style="bold")
    table.add_column("lecture claim", ratio=4)
    table.add_column("source", ratio=2)
    table.add_column("claims", no_wrap=True)
    table.add_column("scales", no_wrap=True)
    table.add_column("runtime", no_wrap=True)
    for experiment in guarded(load_all):
        table.add_row(
            experiment.name,
            experiment.claim,
            f"{experiment.source.deck}: {experiment.source.slide}",
            f"{len(experiment.claims)}\n({experiment.empirical_claims} empirical)",
            "\n".join(experiment.scales),
            "\n".join(f"{s}: {t}" for s, t in experiment.runtime.items()),
        )
    out_console.print(table)


@app.command()
def show(
    name: Annotated[str, typer.Argument(help="experiment name or path to its .toml file")],
) -> None:
    """Every protocol parameter, the claim, the source and the lecture's reference numbers."""
    experiment: Experiment = guarded(lambda: load(name))
    print_ = out_console.print
    print_(f"[bold]{experiment.name}[/] — {experiment.title}")
    print_(f"claim: {experiment.claim}", highlight=False)
    print_(f"source: {experiment.source_line}", highlight=False)
    print_(f"declared in: {experiment.path}", highlight=False)
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
        table.add_row(*row)
    print_(table)
    if experiment.reference:
        reference = Table(title="the lecture's reference numbers")
        reference.add_column("quantity")
        reference.add_column("value")
        for key, value in experiment.reference.items():
            reference.add_row(key, str(value))
        print_(reference)
    claims = Table(title="claims checked")
    for column in ("id", "kind", "the slide says", "checked as", "lecture"):
        claims.add_column(column, overflow="fold")
    for claim in experiment.claims:
        claims.add_row(claim.id, claim.kind, claim.quote, claim.sentence, claim.reference)
    print_(claims)


@app.command()
def run(
    name: Annotated[str, typer.Argument(help="experiment name, folder or .toml path, or 'all'")],
    scale: Annotated[str, typer.Option(help="named scale: lecture (default) or tiny")] = (
        DEFAULT_SCALE
    ),
    seeds: Annotated[int | None, typer.Option(min=1, help="number of seeds")] = None,
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu or cuda")] = "auto",
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="override a protocol entry: key=value")
    ] = None,
    out: Annotated[Path, typer.Option(help="results root")] = Path("results"),
    data_dir: Annotated[Path | None, typer.Option(help="folder holding MNIST")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
) -> None:
    """Train, measure, check the lecture's claims and write results/<experiment>/<scale>/."""
    reporter = Reporter(quiet=quiet or quiet_by_default())
    overrides = dict(guarded(lambda: [parse_setting(item) for item in set_ or []]))
    names = [e.name for e in guarded(load_all)] if name == "all" else [name]
    prepared = [guarded(lambda n=n: prepare(load(n), scale, overrides, seeds)) for n in names]
    run_one = functools.partial(
        run_prepared,
        device=guarded(lambda: pick_device(device)),
        out=out,
        reporter=reporter,
        data_dir=data_dir,
    )
    if name == "all":
        run_all(run_one, prepared, scale, reporter)
        return
    result: RunResult = guarded(lambda: run_one(prepared[0]))
    print_result(result)
    if not all(v.passed for v in result.verdicts):
        raise typer.Exit(1)


def print_result(result: RunResult) -> None:
    out_console.print(
        f"[bold]{result.experiment.name}[/] at {result.scale} scale: {result.wall_seconds:.1f} s; "
        f"results in {result.folder}/ (metrics.csv, run.json, figures/)",
        highlight=False,
    )
    if result.scale != DEFAULT_SCALE:
        out_console.print(
            f"note: {result.scale} scale checks the code path, not the lecture's claim.",
            style="yellow",
        )
    for v in result.verdicts:
        colour = "green" if v.passed else "red"
        out_console.print(
            f"[bold {colour}]{v.label}[/] {v.id} ({v.kind}): {v.text} — measured {v.measured()}; "
            f"lecture: {v.reference or 'n/a'}; {v.detail}",
            highlight=False,
        )


def run_all(
    run_one: Callable[[Prepared], RunResult],
    prepared: list[Prepared],
    scale: str,
    reporter: Reporter,
) -> None:
    """Every declared experiment in turn under one progress display; one failure does not stop
    the others, and the exit code says whether every claim held."""
    summary = Table(title=f"dlexp run all ({scale} scale)")
    for column in ("experiment", "passed", "failed", "wall time", "status"):
        summary.add_column(column)
    all_passed = True
    with reporter.session():
        overall = reporter.task("all experiments", len(prepared))
        for item in prepared:
            name = item.experiment.name
            clock = time.perf_counter()
            try:
                result = run_one(item)
            except KeyboardInterrupt:
                err_console.print("interrupted: the experiment in progress wrote nothing.")
                raise typer.Exit(130) from None
            except Exception as error:  # one broken experiment must not stop the others
                err_console.print(f"[bold red]error:[/] {name}: {error}", highlight=False)
                elapsed = f"{time.perf_counter() - clock:.1f} s"
                summary.add_row(name, "-", "-", elapsed, "error")
                all_passed = False
                overall(1)
                continue
            overall(1)
            print_result(result)
            passed = sum(v.passed for v in result.verdicts)
            failed = len(result.verdicts) - passed
            all_passed &= failed == 0
            summary.add_row(
                name,
                str(passed),
                str(failed),
                f"{result.wall_seconds:.1f} s",
                "all claims hold" if failed == 0 else "claims failed",
            )
    out_console.print(summary)
    if not all_passed:
        raise typer.Exit(1)


@app.command()
def report(
    names: Annotated[list[str] | None, typer.Argument(help="experiments to include")] = None,
    out: Annotated[Path, typer.Option(help="results root")] = Path("results"),
) -> None:
    """Regenerate every figure from the CSVs alone and write REPORT.md and report.html."""
    from dlexp.report import write_report

    paths = guarded(lambda: write_report(out, names or []))
    for path in paths:
        out_console.print(f"wrote {path}", highlight=False)
