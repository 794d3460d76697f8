"""Shared helpers: the CLI in-process, the experiments' code by name, real-MNIST markers and a
builder of long-table rows."""

import importlib
import os
from types import ModuleType

import pytest
from typer.testing import CliRunner

from dlexp.cli import app
from dlexp.finding import load_code, package_name
from dlexp.registry import EXPERIMENTS_DIR

needs_mnist = pytest.mark.skipif(
    not os.environ.get("DLEXP_DATA_DIR"),
    reason="set DLEXP_DATA_DIR to a folder holding MNIST (CI: ../shared/data) to run this test",
)


def dlexp(*args: str):
    """Invoke the CLI in-process, as a user would on the command line."""
    return CliRunner().invoke(app, list(args))


def code(name: str, part: str) -> ModuleType:
    """One module (`run`, `checks`, `figures`, `protocol`) of a shipped experiment's code."""
    folder = EXPERIMENTS_DIR / name
    load_code(folder)
    return importlib.import_module(f"{package_name(folder.resolve())}.{part}")
