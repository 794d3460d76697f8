"""The long results table: one measurement a row, as metrics.csv stores it.

Core columns `variant, seed, epoch, layer, metric, value`, then the variant's parameters by name.
Layer 0 stands for the whole network; epoch 0 is before training.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

CORE_COLUMNS = ["variant", "seed", "epoch", "layer", "metric", "value"]


def long_row(
    variant: str, seed: int, epoch: int, layer: int, metric: str, value: float, **params: Any
) -> dict[str, Any]:
    """One row of the long table."""
    return {
        "variant": variant,
        "seed": seed,
        "epoch": epoch,
        "layer": layer,
        "metric": metric,
        "value": value,
        **params,
    }


def model_rows(
    specs: Sequence[Any],
    model: list[int],
    epoch: list[int],
    layer: list[int],
    metric: list[str],
    value: list[float],
) -> pd.DataFrame:
    """Rows of the long table given by column, row i measured on model `specs[model[i]]`, whose
    variant, seed and params fill the rest of the row: the table `long_row` would build, without
    a dictionary per row (a 400-epoch run has hundreds of thousands of rows)."""
    labels = pd.DataFrame([{"variant": s.variant, "seed": s.seed, **s.params} for s in specs])
    table = labels.iloc[model].reset_index(drop=True)
    columns = (("epoch", epoch, "int64"), ("layer", layer, "int64"), ("metric", metric, object),
               ("value", value, "float64"))  # fmt: skip
    for position, (name, column, dtype) in enumerate(columns, start=2):
        # typed, so that a stack measured only jointly (no rows) keeps whole epochs in a concat
        table.insert(position, name, pd.Series(column, dtype=dtype))
    return table


def long_table(
    specs: Sequence[Any],
    records: list[tuple[int, dict[str, Any]]],
    layers_of: Callable[[int, Any], list[tuple[int, float]]],
) -> pd.DataFrame:
    """The long table of a stack's measurements: `records` holds (epoch, metric → tensor) and
    `layers_of(m, tensor)` gives model m's (layer, value) pairs of a metric's tensor."""
    columns: tuple[list, ...] = ([], [], [], [], [])
    for epoch, values in records:
        for metric, tensor in values.items():
            for m in range(len(specs)):
                for layer, value in layers_of(m, tensor):
                    for column, item in zip(columns, (m, epoch, layer, metric, value)):
                        column.append(item)
    return model_rows(specs, *columns)


def tidy(table: pd.DataFrame) -> pd.DataFrame:
    """The long format: the core columns first, then each variant's parameters by name."""
    extra = sorted(c for c in table.columns if c not in CORE_COLUMNS)
    return table[CORE_COLUMNS + extra].reset_index(drop=True)
