"""Reading the results table: curves per model, the last epoch, pairs with the unregularised
model of the same seed, and |w| histograms."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from dlexp.registry import ExperimentError

from .run import (
    CURVES,
    FULL_DATA,
    KINDS,
    PARAMS,
    PARTS,
    SMALL_DATA,
    UNREGULARISED,
    regulariser_label,
)
from .weight_histograms import MAGNITUDE_EDGES, WEIGHT_COUNT


def variants(table: pd.DataFrame) -> pd.DataFrame:
    """One row per variant with its parameters, in the lecture's order: the 1,000 clean images,
    then the noisy labels, then all the images; narrow before wide; then none, L2 (by λ), L1,
    dropout, dropout + L2, input + hidden dropout."""
    rows = table.drop_duplicates("variant")[["variant", *PARAMS]]
    order = rows.assign(
        part_order=rows.part.map(PARTS.index),
        kind=rows.regulariser.map(lambda kind: KINDS.index(kind) if kind in KINDS else len(KINDS)),
    ).sort_values(["part_order", "hidden", "kind", "lambda_l2", "lambda_l1"])
    return order[["variant", *PARAMS]].reset_index(drop=True)


def label_of(row: Any) -> str:
    """A variant's regularisation as in a legend, from its parameters."""
    return regulariser_label(row.lambda_l2, row.lambda_l1, row.keep_prob, row.input_keep_prob)


def curves(table: pd.DataFrame) -> pd.DataFrame:
    """One row per model and measured epoch, a column per per-epoch metric (NaN where a split
    was not evaluated for that model), plus the variant's params; variants in `variants` order."""
    rows = table[table.metric.isin(CURVES)]
    wide = rows.pivot(index=["variant", "seed", "epoch"], columns="metric", values="value")
    wide = wide.reindex(columns=CURVES).reset_index()
    wide["gap"] = wide["train_accuracy"] - wide["test_accuracy"]
    return variants(table).merge(wide, on="variant")


def final_epoch(table: pd.DataFrame) -> pd.DataFrame:
    """Each model's curves at its last epoch: one row per (variant, seed)."""
    all_epochs = curves(table)
    last = all_epochs.groupby("variant")["epoch"].transform("max")
    return all_epochs[all_epochs.epoch == last].reset_index(drop=True)


def lecture_lambda(protocol: dict[str, Any], part: str) -> float:
    """The λ the lecture uses for L2: 0.1 on 1,000 images, 5.0 on all 50,000."""
    return protocol["full_data"]["l2"] if part == FULL_DATA else protocol["l2"]


def other_lambda(row: Any, protocol: dict[str, Any]) -> bool:
    """Whether a variant is L2 at a λ other than the lecture's (a point of the λ sweep)."""
    lecture = lecture_lambda(protocol, row.part)
    return row.regulariser == "L2" and not math.isclose(row.lambda_l2, lecture)


def paired_with_unregularised(final: pd.DataFrame, chosen: pd.DataFrame) -> pd.DataFrame:
    """`chosen` models next to the unregularised model of the same data, width and seed (which
    shares their initialisation), its columns suffixed "_none"."""
    baseline = final[final.regulariser == UNREGULARISED]
    keys = ["part", "hidden", "seed"]
    return chosen.merge(baseline, on=keys, suffixes=("", "_none")).sort_values([*keys, "variant"])


def plateau_epoch(accuracy: pd.Series, within: float) -> int:
    """The first epoch whose accuracy comes within `within` of the best of the whole run:
    training after it gains less than that."""
    return int(accuracy.index[accuracy >= accuracy.max() - within][0])


def unregularised_lecture_net(table: pd.DataFrame, protocol: dict[str, Any]) -> pd.DataFrame:
    """Curves of Nielsen's overfitting network: unregularised, 1,000 clean images, 30 hidden."""
    all_epochs = curves(table)
    return all_epochs[
        (all_epochs.part == SMALL_DATA)
        & (all_epochs.regulariser == UNREGULARISED)
        & (all_epochs.hidden == protocol["hidden_units"])
    ]


def final_weight_histograms(table: pd.DataFrame) -> pd.DataFrame:
    """The |w| histogram of every model after its last epoch, counts as fractions of its weights."""
    counts = table[table.metric == WEIGHT_COUNT]
    counts = counts[counts.epoch == counts.groupby("variant")["epoch"].transform("max")].copy()
    totals = counts.groupby(["variant", "seed"])["value"].transform("sum")
    counts["fraction"] = counts["value"] / totals
    return counts


def near_zero_fractions(table: pd.DataFrame, near_zero: float) -> pd.DataFrame:
    """Per model after its last epoch: the fraction of its weights with |w| < `near_zero`."""
    if not np.isclose(MAGNITUDE_EDGES, near_zero, rtol=1e-9, atol=0).any():
        raise ExperimentError(
            f"near_zero = {near_zero:g} is not an edge of the |w| histogram; use a power of ten "
            "between 1e-6 and 100 (four edges per decade)."
        )
    histograms = final_weight_histograms(table)
    below = histograms[histograms.w_high <= near_zero * (1 + 1e-9)]
    fractions = below.groupby(["variant", "seed"])["fraction"].sum().rename("near_zero")
    return fractions.reset_index().merge(variants(table), on="variant")


def points(fraction: float) -> str:
    """An accuracy (a fraction) in percent or points, one decimal."""
    return f"{100 * fraction:.1f}"
