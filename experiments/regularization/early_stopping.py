"""Early stopping, read off the recorded validation curves (no retraining).

The deck's rule (V3 "Deep Learning I", "Early-stopping"): use the validation error to decide when
to stop; stop when the monitored quantity has not improved for n (the patience) epochs. Nielsen
(ch. 3) monitors the validation accuracy with n = 10, "no-improvement-in-ten", and warns that
networks can plateau near one accuracy for quite some time and then improve again, so that a short
patience may stop too early (he suggests loosening it to twenty, fifty, … epochs).

A fair comparison keeps the model a practitioner would have: the one of the best validation epoch
found before the patience ran out (its weights saved when it was seen), scored on the test images,
against the model trained to the end. The best *test* epoch is never used: choosing it needs the
very images it is scored on.
"""

from __future__ import annotations

import pandas as pd

from dlexp.registry import ExperimentError

from .tables import curves, variants

# What is monitored, and whether a higher value is an improvement.
MONITORS = {"validation_accuracy": True, "validation_cost": False}
COLUMNS = [
    "variant",
    "seed",
    "monitor",
    "patience",
    "stop_epoch",
    "kept_epoch",
    "test_kept",
    "last_epoch",
    "test_end",
    "peak_epoch",
    "test_peak",
]


def stopping_point(monitored: pd.Series, patience: int, higher_is_better: bool) -> tuple[int, int]:
    """(stop, kept): training stops at the first epoch that comes `patience` epochs after the
    best value so far without improving on it (the last epoch if none does); the model kept is
    the one of that best epoch. Equal is no improvement; NaN never is."""
    best, kept = None, int(monitored.index[0])
    for epoch, value in monitored.items():
        if best is None or (value > best if higher_is_better else value < best):
            best, kept = value, int(epoch)
        elif epoch - kept >= patience:
            return int(epoch), kept
    return int(monitored.index[-1]), kept


def early_stopping(table: pd.DataFrame, patience: int, monitor: str) -> pd.DataFrame:
    """Per model whose `monitor` was recorded every epoch: where early stopping with `patience`
    stops (`stop_epoch`), the epoch of the model it keeps (`kept_epoch`) and that model's test
    accuracy (`test_kept`), against the test accuracy at the last epoch (`test_end`); `gain` is
    kept − end, `epoch_fraction` the share of the run's epochs trained before stopping. The test
    accuracy's own peak (`test_peak`, `peak_epoch`) describes the curve; no choice uses it."""
    if monitor not in MONITORS:
        raise ExperimentError(f"monitor must be one of {list(MONITORS)}, not {monitor!r}.")
    rows = []
    all_epochs = curves(table)
    for (variant, seed), model in all_epochs.groupby(["variant", "seed"], sort=False):
        model = model.set_index("epoch").sort_index()
        if model[monitor].isna().any() or len(model) < 2:
            continue
        stop, kept = stopping_point(model[monitor], patience, MONITORS[monitor])
        test = model["test_accuracy"]
        rows.append(
            {
                "variant": variant,
                "seed": seed,
                "monitor": monitor,
                "patience": patience,
                "stop_epoch": stop,
                "kept_epoch": kept,
                "test_kept": test.loc[kept],
                "last_epoch": int(test.index[-1]),
                "test_end": test.iloc[-1],
                "peak_epoch": int(test.idxmax()),
                "test_peak": test.max(),
            }
        )
    stops = pd.DataFrame(rows, columns=COLUMNS)
    stops["gain"] = stops["test_kept"] - stops["test_end"]
    stops["epoch_fraction"] = stops["stop_epoch"] / stops["last_epoch"]
    return stops.merge(variants(table), on="variant")


def all_stops(table: pd.DataFrame, patiences: list[int]) -> pd.DataFrame:
    """`early_stopping` for every monitor and patience, one table."""
    tables = [early_stopping(table, p, monitor) for monitor in MONITORS for p in patiences]
    return pd.concat(tables, ignore_index=True)
