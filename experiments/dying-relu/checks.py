"""The dying-ReLU claim checks: each tests one sentence of the slide over the results table.

The two identities (a dead unit gets no gradient; in hidden layer 1 it stays dead) hold by the
ReLU's derivative and by the fixed training images; the causes (bad initialisation, non-centred or
raw inputs, a too large η) and the remedy (leaky ReLU) are empirical: `causes` checks them.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dlexp.finding import Outcome

from .causes import (
    dead_fraction_grows_with_eta,
    leaky_relu_keeps_training,
    negative_bias_kills_from_the_start,
    non_centred_inputs_kill_from_the_start,
    raw_inputs_kill_during_training,
)
from .tables import MODEL, metric, relu, with_units


def dead_units_get_no_gradient(table: pd.DataFrame, protocol: dict[str, Any]) -> Outcome:
    """In every model, layer and epoch with such units: the dead ReLU units' own weights and bias
    get exactly zero gradient, every never-positive leaky unit a non-zero one, and no leaky unit is
    counted dead. Value: per seed, the mean of the leaky layers' smallest such gradient."""
    dead = with_units(metric(table, "dead_unit_gradient"), table, "dead_fraction")
    dead = dead.dropna(subset=["value"])
    never = metric(table, "never_positive_gradient")
    leaky = with_units(never[never.unit == "leaky"], table, "never_positive_fraction")
    leaky = leaky.dropna(subset=["value"])
    counted = metric(table, "dead_fraction")
    counted_leaky = counted[(counted.unit == "leaky") & (counted.value > 0)]
    exactly_zero, non_zero = (dead.value == 0).all(), (leaky.value > 0).all()
    passed = (
        bool((dead.unit == "relu").any())
        and len(leaky) > 0
        and bool(exactly_zero and non_zero)
        and counted_leaky.empty
    )
    detail = (
        f"dead ReLU units: largest gradient {dead.value.max():.3g} over {len(dead)} layers × "
        f"epochs; never-positive leaky units: smallest {leaky.value.min():.3g} over {len(leaky)} "
        f"layers × epochs (median of each layer's smallest {leaky.value.median():.3g}); leaky "
        f"layers × epochs counted with dead units: {len(counted_leaky)}"
    )
    return Outcome(passed, leaky.groupby("seed")["value"].mean().tolist(), detail)


def dead_before_and_after(table: pd.DataFrame) -> pd.DataFrame:
    """Per ReLU model, hidden layer and epoch ≥ 1 with units dead at the previous measurement:
    `dead_before` (that share of the layer), `stayed` (the share of the layer dead then and now),
    `still` (stayed / dead before) and `change` (the largest change of their own weights and
    bias since). Diverged nets (NaN) are left out."""
    keys = [*MODEL, "layer", "epoch"]
    dead = relu(metric(table, "dead_fraction"))
    earlier = dead.assign(epoch=dead.epoch + 1).set_index(keys)["value"]
    stayed = relu(metric(table, "stayed_dead_fraction")).set_index(keys)["value"]
    pairs = stayed.to_frame("stayed")
    pairs["dead_before"] = earlier.reindex(pairs.index)
    change = relu(metric(table, "dead_weight_change")).set_index(keys)["value"]
    pairs["change"] = change.reindex(pairs.index)
    pairs = pairs[pairs.dead_before > 0].dropna(subset=["stayed"]).reset_index()
    return pairs.assign(still=pairs.stayed / pairs.dead_before)


def pooled_share(pairs: pd.DataFrame, by: str) -> pd.Series:
    """Of the units dead at one measurement, the share dead at the next, pooled per `by`."""
    sums = pairs.groupby(by)[["stayed", "dead_before"]].sum()
    return sums.stayed / sums.dead_before


def dead_units_stay_dead(table: pd.DataFrame, protocol: dict[str, Any]) -> Outcome:
    """Hidden layer 1 of every ReLU net that did not diverge: every unit dead at one measurement
    is dead at the next (share exactly 1) and its own weights and bias are unchanged (exactly).
    Deeper layers, whose inputs move, are measured and reported, not required."""
    pairs = dead_before_and_after(table)
    first = pairs[pairs.layer == 1]
    stayed = bool((first.still == 1.0).all()) and bool((first.change == 0.0).all())
    passed = len(first) > 0 and stayed
    units = protocol["hidden_units"]
    detail = (
        f"hidden layer 1: {len(first)} nets × epochs with dead units, share still dead "
        f"{pooled_share(first, 'layer').min():.3f}, largest change of their weights "
        f"{first.change.max():.3g}"
        if len(first)
        else "hidden layer 1: no ReLU net had a dead unit"
    )
    deeper = pairs[pairs.layer > 1]
    for layer, group in deeper.groupby("layer"):
        revived = ((group.dead_before - group.stayed) * units).sum()
        moved = (group.change > 0).sum()
        detail += (
            f"; layer {layer}: share still dead {pooled_share(group, 'layer').iloc[0]:.3f} "
            f"({revived:.0f} of {(group.dead_before * units).sum():.0f} dead units came back), "
            f"dead units' weights changed in {moved} of {len(group)} nets × epochs"
        )
    return Outcome(passed, pooled_share(first, "seed").tolist(), detail)


CHECKS = {
    "dead_units_get_no_gradient": dead_units_get_no_gradient,
    "dead_units_stay_dead": dead_units_stay_dead,
    "negative_bias_kills_from_the_start": negative_bias_kills_from_the_start,
    "non_centred_inputs_kill_from_the_start": non_centred_inputs_kill_from_the_start,
    "raw_inputs_kill_during_training": raw_inputs_kill_during_training,
    "dead_fraction_grows_with_eta": dead_fraction_grows_with_eta,
    "leaky_relu_keeps_training": leaky_relu_keeps_training,
}
