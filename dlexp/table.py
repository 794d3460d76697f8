"""The long results table: one measurement a row, as metrics.csv stores it.

Core columns `variant, seed, epoch, layer, metric, value`, then the variant's parameters by name.
Layer 0 stands for the whole network; epoch 0 is before training.
"""

from __future__ import annotations

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


def tidy(table: pd.DataFrame) -> pd.DataFrame:
    """The long format: the core columns first, then each variant's parameters by name."""
    extra = sorted(c for c in table.columns if c not in CORE_COLUMNS)
    return table[CORE_COLUMNS + extra].reset_index(drop=True)
