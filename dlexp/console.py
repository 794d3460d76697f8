"""What the command line prints and how it ends: one sentence and exit 2 for a user's error,
Ctrl-C and SIGTERM as interrupts, table cells that are never read as markup, and output that
survives a terminal that cannot show every character (symbols degrade to ASCII)."""

from __future__ import annotations

import codecs
import io
import signal
import sys
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from dlexp.errors import DataError
from dlexp.registry import ExperimentError

out_console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

USER_ERRORS = (ExperimentError, DataError)


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C."""


def fail(message: str) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def interrupted(error: KeyboardInterrupt, what: str) -> NoReturn:
    err_console.print(f"interrupted: {what}", highlight=False)
    raise typer.Exit(143 if isinstance(error, Terminated) else 130)


def guarded(action: Callable[[], Any], prefix: str = "") -> Any:
    """Run `action`; a user error becomes one line and exit 2, Ctrl-C (or SIGTERM) one line and
    exit 130 (143)."""
    try:
        return action()
    except USER_ERRORS as error:
        fail(f"{prefix}{error}")
    except KeyboardInterrupt as error:
        interrupted(error, "nothing was written; earlier results are untouched.")


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While running, SIGTERM interrupts like Ctrl-C: the run in progress writes nothing."""

    def terminate(_signal: int, _frame: object) -> None:
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cell(value: object) -> Text:
    """Table cells as plain text: brackets in a declaration are never read as markup."""
    return Text(str(value))


# What the symbols of the lectures become on a terminal that cannot show them (ASCII, Latin-1).
ASCII = {
    "η": "eta", "λ": "lambda", "σ": "sigma", "α": "alpha", "δ": "delta", "μ": "mu",
    "∂": "d", "Σ": "sum", "—": "-", "–": "-", "≈": "~", "×": "x", "·": "*", "≤": "<=",
    "≥": ">=", "≠": "!=", "→": "->", "←": "<-", "‖": "||", "±": "+/-", "…": "...", "∝": "~",
    "√": "sqrt", "∞": "inf", "′": "'", "‘": "'", "’": "'", "“": '"', "”": '"', "•": "*",
    "ᵀ": "^T", "⁻": "^-", "¹": "^1", "²": "^2", "³": "^3", "⁴": "^4", "⁵": "^5",
}  # fmt: skip


def _to_ascii(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: a symbol the output encoding lacks as ASCII (η → eta, ŷ → y), else
    '?'."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    replaced = "".join(
        ASCII.get(char)
        or unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
        or "?"
        for char in text
    )
    return replaced, error.end


codecs.register_error("dlexp-ascii", _to_ascii)


def safe_output() -> None:
    """Let stdout and stderr write any text: characters their encoding lacks degrade to ASCII
    instead of raising UnicodeEncodeError (PYTHONIOENCODING=ascii, a Latin-1 terminal)."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        if isinstance(stream, io.TextIOWrapper) and encoding not in ("utf8", "utf16", "utf32"):
            stream.reconfigure(errors="dlexp-ascii")
