"""The empirical dying-ReLU checks: what kills units (a bad initialisation, non-centred or raw
inputs, a too large η) and whether leaky ReLU tackles it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dlexp.finding import Outcome

from .tables import (
    at_epoch,
    bad_starts,
    diverged_models,
    final,
    final_validation_accuracy,
    good_start,
    inputs_name,
    left_out,
    metric,
    relu,
    shift_of,
    start_name,
    sweep,
    unit_name,
    worst_layer,
)


def at_initialisation(table: pd.DataFrame) -> pd.DataFrame:
    """The ReLU nets' dead share per hidden layer before training."""
    return at_epoch(relu(metric(table, "dead_fraction")), 0)


def layers_line(values: pd.DataFrame) -> str:
    """`layer 1 0.01, layer 2 0.20, layer 3 0.95`: each layer's mean over the rows."""
    means = values.groupby("layer")["value"].mean()
    return ", ".join(f"layer {layer} {value:.2f}" for layer, value in means.items())


def rising(means: pd.Series, step: float) -> bool:
    """Seed means that never fall by more than `step` from one point to the next."""
    return bool(np.all(np.diff(means.to_numpy()) >= -step))


def negative_bias_kills_from_the_start(
    table: pd.DataFrame, protocol: dict[str, Any], large_share: float, almost_none: float
) -> Outcome:
    """At initialisation (pixels in [0, 1]), every negative b leaves ≥ `large_share` of some
    hidden layer of the ReLU nets dead in every seed; b = 0 at most `almost_none` of every layer."""
    start = at_initialisation(table)
    start = start[start.inputs == "normalised"]
    worst = worst_layer(start).groupby(level=["bias", "seed"]).max()
    negative = worst[worst.index.get_level_values("bias") < 0]
    zero = worst[worst.index.get_level_values("bias") == 0]
    killed, spared = (negative >= large_share).all(), (zero <= almost_none).all()
    passed = len(negative) > 0 and len(zero) > 0 and bool(killed and spared)
    detail = "dead share at initialisation, mean over seeds: " + "; ".join(
        f"b = {bias:g}: {layers_line(group)}" for bias, group in start.groupby("bias")
    )
    return Outcome(passed, negative.tolist(), detail)


def non_centred_inputs_kill_from_the_start(
    table: pd.DataFrame, protocol: dict[str, Any], large_share: float, almost_none: float
) -> Outcome:
    """At initialisation (b = 0), the ReLU nets' worst-layer dead share rises (seed means, within
    one unit) from centred pixels through [0, 1] pixels to each larger shift x + s; the largest
    shift leaves ≥ `large_share` of some layer dead and centred pixels ≤ `almost_none` of every
    layer, in every seed."""
    start = at_initialisation(table)
    start = start[(start.bias == 0) & (start.inputs != "raw")]
    worst = worst_layer(start).groupby(level=["inputs", "seed"]).max()
    by_inputs = worst.groupby(level="inputs").mean()
    order = sorted(by_inputs.index, key=shift_of)
    if "centred" not in order or not order[-1].startswith("shifted"):
        return Outcome(False, [], "not measured: needs centred and shifted inputs")
    largest, centred = worst.loc[order[-1]], worst.loc["centred"]
    ordered = rising(by_inputs[order], 1.0 / protocol["hidden_units"])
    passed = ordered and bool((largest >= large_share).all() and (centred <= almost_none).all())
    detail = "dead share at initialisation, mean over seeds: " + "; ".join(
        f"{inputs_name(inputs)}: {layers_line(start[start.inputs == inputs])}" for inputs in order
    )
    return Outcome(passed, largest.tolist(), detail)


def raw_inputs_kill_during_training(
    table: pd.DataFrame, protocol: dict[str, Any], min_gap: float
) -> Outcome:
    """ReLU nets, b = 0, at each raw-input η: at initialisation raw and [0, 1] pixels leave
    exactly the same share of every layer dead; after epoch 1 the raw net's worst layer has
    ≥ `min_gap` more of its units dead than the [0, 1] net of the same seed, in every seed whose
    raw net did not diverge, and at least one seed per η did not."""
    etas = protocol["raw_inputs"]["etas"]
    dead = relu(metric(table, "dead_fraction"))
    dead = dead[(dead.bias == 0) & dead.eta.isin(etas) & dead.inputs.isin(["raw", "normalised"])]
    start = at_epoch(dead, 0).pivot_table(
        index=["eta", "seed", "layer"], columns="inputs", values="value"
    )
    same_start = len(start) > 0 and bool((start.get("raw") == start.get("normalised")).all())
    after = worst_layer(at_epoch(dead, 1)).droplevel(["unit", "leak", "bias", "epoch"])
    after = after.unstack("inputs").reindex(columns=["raw", "normalised"])
    gap = (after.raw - after.normalised).dropna()
    per_eta = gap.groupby(level="eta")
    enough = bool((gap >= min_gap).all()) and per_eta.size().reindex(etas).fillna(0).min() > 0
    gone = diverged_models(table)
    gone = gone[(gone.inputs == "raw") & (gone.unit == "relu")].groupby("eta").seed.nunique()
    detail = f"dead share at initialisation equal in every layer: {'yes' if same_start else 'no'}"
    for eta in etas:
        part = after.loc[eta] if eta in after.index.get_level_values("eta") else after.iloc[:0]
        detail += (
            f"; η = {eta:g}: worst layer after epoch 1 raw {part.raw.mean():.2f}, [0, 1] "
            f"{part.normalised.mean():.2f}, raw nets diverged: {gone.get(eta, 0)} seeds "
            f"(a raw step acts like a [0, 1] step at 255 η ≈ {255 * eta:.2g})"
        )
    smallest = gap.loc[min(etas)] if min(etas) in gap.index.get_level_values("eta") else gap[:0]
    return Outcome(same_start and enough, smallest.tolist(), detail)


def dead_fraction_grows_with_eta(
    table: pd.DataFrame, protocol: dict[str, Any], large_share: float, almost_none: float
) -> Outcome:
    """ReLU nets of the η sweep: the worst layer's final dead share rises over the whole sweep
    (seed means never fall by more than one unit's share), is ≥ `large_share` at the largest η
    with a net that did not diverge and ≤ `almost_none` at the smallest, in every such seed."""
    etas = protocol["etas"]
    dead = relu(sweep(metric(table, "dead_fraction"), etas))
    worst = worst_layer(final(dead)).droplevel(["unit", "leak", "bias", "inputs", "epoch"])
    by_eta = worst.groupby(level="eta").mean().dropna()
    if by_eta.empty:
        return Outcome(False, [], "every ReLU net of the η sweep diverged")
    ordered = rising(by_eta, 1.0 / protocol["hidden_units"])
    largest = worst.loc[by_eta.index.max()].dropna()
    smallest = worst.loc[min(etas)].dropna() if min(etas) in by_eta.index else largest[:0]
    killed, spared = (largest >= large_share).all(), (smallest <= almost_none).all()
    passed = ordered and len(smallest) > 0 and bool(killed and spared)
    detail = (
        "mean final dead share of the worst ReLU layer by η: "
        + ", ".join(f"{eta:g}: {value:.2f}" for eta, value in by_eta.items())
        + left_out(worst)
        + "; dead share at initialisation: "
        + layers_line(at_epoch(dead, 0))
    )
    return Outcome(passed, largest.tolist(), detail)


def accuracy_by_unit(table: pd.DataFrame) -> pd.DataFrame:
    """Final validation accuracy: a row per (b, inputs, seed), a column per (unit, leak)."""
    accuracy = final_validation_accuracy(table).droplevel("eta").reset_index()
    return accuracy.pivot_table(
        index=["bias", "inputs", "seed"], columns=["unit", "leak"], values="value"
    )


def accuracies_line(rows: pd.DataFrame) -> str:
    """`ReLU 0.107, leaky α=0.01 0.107, leaky α=0.1 0.927`: mean final validation accuracy."""
    columns = sorted(rows.columns, key=lambda column: (column[0] != "relu", column[1]))
    return ", ".join(f"{unit_name(u, a)} {rows[(u, a)].mean():.3f}" for u, a in columns)


def leaky_relu_keeps_training(
    table: pd.DataFrame, protocol: dict[str, Any], leak: float, trained_floor: float
) -> Outcome:
    """From every negative bias b at the stable η (units dead from the start), the leaky nets with
    slope `leak` end with a validation accuracy of at least `trained_floor` in every seed and a
    higher mean than the ReLU nets (a ReLU net whose dead units came back may match its leaky
    twin). Value: per seed, the smallest leaky − ReLU gain over the b.
    Shifted inputs (their own matched η) and centred pixels are reported beside it."""
    eta = protocol["bad_starts"]["eta"]
    accuracy = accuracy_by_unit(bad_starts(table, eta))
    dead = bad_starts(relu(metric(table, "dead_fraction")), eta)
    at_start = worst_layer(at_epoch(dead, 0)).groupby(level=["bias", "inputs"]).mean()
    at_end = worst_layer(final(dead)).groupby(level=["bias", "inputs"]).mean()
    gains, parts, failing = [], [], []
    for (bias, inputs), rows in accuracy.groupby(level=["bias", "inputs"]):
        start, end = at_start.get((bias, inputs), np.nan), at_end.get((bias, inputs), np.nan)
        parts.append(
            f"{start_name(bias, inputs)}: ReLU worst layer dead {start:.0%} at the start, "
            f"{end:.0%} at the end; accuracy " + accuracies_line(rows)
        )
        if bias >= 0:
            continue
        leaky = rows.get(("leaky", leak), pd.Series(np.nan, index=rows.index))
        gain = (leaky - rows[("relu", 0.0)]).droplevel(["bias", "inputs"])
        gains.append(gain)
        if not (gain.mean() > 0 and (leaky >= trained_floor).all()):
            failing.append(f"b = {bias:g}")
    if not gains:
        return Outcome(False, [], "not measured: no negative bias among the bad starts")
    smallest = pd.concat(gains, axis=1).min(axis=1)
    detail = "; ".join(parts) + (f"; not remedied: {', '.join(failing)}" if failing else "")
    remedy = accuracy_by_unit(table[(table.inputs == "centred") & (table.eta == eta)])
    good = accuracy_by_unit(good_start(table[table.eta == eta]))
    detail += f"; at η = {eta:g}, b = 0: pixels in [0, 1] {accuracies_line(good)}"
    if len(remedy):
        detail += f"; pixels − their mean {accuracies_line(remedy)}"
    passed = not failing and smallest.notna().all()
    return Outcome(bool(passed), smallest.tolist(), detail)
