"""The batch-norm checks. The base η is the plain net's own best of the sweep: the η whose
validation accuracy, averaged over seeds and over every epoch, is highest (the area under its
learning curve, which rewards learning fast and ending high). Batch norm is compared with the
plain net at that η and at `factor` times it; an η a check needs but the run did not train makes
it FAIL, saying so."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from dlexp.finding import DIVERGED, Outcome

CHANCE_PERCENT = 10.0


def accuracy_curves(table: pd.DataFrame) -> pd.DataFrame:
    """Validation accuracy (%) after each epoch ≥ 1: network, eta, seed, epoch, value."""
    rows = table[(table.metric == "validation_accuracy") & (table.epoch > 0)]
    return rows.assign(value=rows["value"] * 100)[["network", "eta", "seed", "epoch", "value"]]


def base_eta(table: pd.DataFrame) -> float | None:
    """The plain net's best η (see the module docstring), or None without plain nets."""
    curves = accuracy_curves(table)
    plain = curves[curves.network == "plain"].groupby("eta")["value"].mean().dropna()
    return float(plain.idxmax()) if len(plain) else None


def trained_at(table: pd.DataFrame, eta: float) -> pd.DataFrame:
    """The accuracy curves at η (matched to within rounding)."""
    curves = accuracy_curves(table)
    return curves[np.isclose(curves.eta, eta, rtol=1e-9)]


def missing(curves: pd.DataFrame, eta: float | None) -> str | None:
    """Why a comparison at η cannot be made, or None."""
    if eta is None:
        return "not measured: no plain net, so no base η"
    absent = [n for n in ("plain", "batch-norm") if n not in set(curves.network)]
    if absent:
        return f"not measured: no {' and no '.join(absent)} net at η = {eta:g}; add it to etas"
    return None


def steps_to_target(curves: pd.DataFrame, target_percent: float, steps: int) -> pd.Series:
    """Per seed: mini-batch steps until the validation accuracy first reached the target
    (∞ when it never did), measured after each epoch of `steps` steps."""
    reached = curves[curves.value >= target_percent].groupby("seed")["epoch"].min() * steps
    return reached.astype(float).reindex(sorted(curves.seed.unique()), fill_value=math.inf)


def steps_per_epoch(protocol: dict[str, Any]) -> int:
    return -(-protocol["train_images"] // protocol["batch_size"])


def fewer_steps(table: pd.DataFrame, protocol: dict[str, Any], target_percent: float) -> Outcome:
    """At the plain net's best η, batch norm reaches `target_percent` validation accuracy in
    fewer steps than the plain net in every seed (value: plain steps / batch-norm steps; a net
    that never reached it counts the whole run plus one epoch, a bound)."""
    eta = base_eta(table)
    curves = trained_at(table, eta) if eta is not None else accuracy_curves(table).iloc[:0]
    if (absent := missing(curves, eta)) is not None:
        return Outcome(False, [], absent)
    steps = steps_per_epoch(protocol)
    never = (curves.epoch.max() + 1) * steps
    needed = {
        network: steps_to_target(curves[curves.network == network], target_percent, steps)
        for network in ("plain", "batch-norm")
    }
    plain, norm = needed["plain"], needed["batch-norm"]
    speed_up = plain.replace(math.inf, never) / norm.replace(math.inf, never)
    detail = f"base η {eta:g} (the plain net's best); steps to {target_percent:g}% accuracy: " + (
        "; ".join(
            f"{network}: " + ", ".join("never" if math.isinf(s) else f"{s:.0f}" for s in values)
            for network, values in needed.items()
        )
    )
    passed = bool(np.isfinite(norm).all() and (norm < plain).all())
    return Outcome(passed, speed_up.tolist(), detail + " (per seed)")


def diverged_seeds(table: pd.DataFrame, network: str, eta: float) -> list[int]:
    rows = table[(table.metric == DIVERGED) & (table.network == network)]
    rows = rows[np.isclose(rows.eta, eta, rtol=1e-9)]
    return sorted(int(s) for s in rows.seed.unique())


def tolerates_larger_eta(
    table: pd.DataFrame,
    protocol: dict[str, Any],
    factor: float,
    floor_percent: float,
    margin_points: float,
) -> Outcome:
    """At `factor` × the base η, batch norm still trains (final validation accuracy above
    `floor_percent` in every seed) and beats the plain net there by at least `margin_points` in
    every seed; a plain net whose accuracy is not a number counts at chance (value: batch-norm
    minus plain final validation accuracy, in points)."""
    base = base_eta(table)
    eta = base * factor if base is not None else None
    curves = trained_at(table, eta) if eta is not None else accuracy_curves(table).iloc[:0]
    if (absent := missing(curves, eta)) is not None:
        return Outcome(False, [], absent)
    final = curves[curves.epoch == curves.epoch.max()]
    by_network = final.pivot(index="seed", columns="network", values="value")
    norm, plain = by_network["batch-norm"], by_network["plain"].fillna(CHANCE_PERCENT)
    gain = norm - plain
    diverged = diverged_seeds(table, "plain", eta)
    detail = (
        f"η {eta:g} = {factor:g} × the plain net's best {base:g}: final validation accuracy "
        f"batch-norm {norm.mean():.1f}%, plain {plain.mean():.1f}% (mean)"
        + (f"; plain diverged in seed(s) {', '.join(map(str, diverged))}" if diverged else "")
    )
    under = norm[~(norm > floor_percent)]
    if len(under):
        detail += f"; batch-norm under the {floor_percent:g}% floor in {len(under)} seed(s)"
    passed = bool((gain >= margin_points).all()) and under.empty
    return Outcome(passed, gain.tolist(), detail)


CHECKS = {"fewer_steps": fewer_steps, "tolerates_larger_eta": tolerates_larger_eta}
