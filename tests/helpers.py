"""Shared helpers for tests that run experiments on the real MNIST."""

import os

import pytest
from typer.testing import CliRunner

from dlexp.cli import app

needs_mnist = pytest.mark.skipif(
    not os.environ.get("DLEXP_DATA_DIR"),
    reason="set DLEXP_DATA_DIR to a folder holding MNIST (CI: ../shared/data) to run this test",
)


def dlexp(*args: str):
    """Invoke the CLI in-process, as a user would on the command line."""
    return CliRunner().invoke(app, list(args))
