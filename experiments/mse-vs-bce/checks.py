"""The claim checks. Single neuron: the gradient at each start (no η), and each cost's own ratio of
epochs from the two starts. MNIST: each cost at its own best η, under each initialisation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from dlexp.finding import Outcome

from .run import INITS

# Single neuron


def neuron_metric(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    return table[(table.part == "neuron") & (table.metric == metric)].sort_values("epoch")


def one_neuron(rows: pd.DataFrame, cost: str, start: str) -> pd.DataFrame:
    """The rows of the neuron trained with `cost` from `start`."""
    return rows[(rows.cost == cost) & (rows.start == start)]


def initial_value(table: pd.DataFrame, metric: str, cost: str, start: str) -> float:
    """`metric` of the neuron trained with `cost` from `start`, before any step (epoch 0)."""
    rows = one_neuron(neuron_metric(table, metric), cost, start)
    return float(rows[rows.epoch == 0]["value"].iloc[0])


def gradient_ratio(table: pd.DataFrame, cost: str) -> tuple[float, str]:
    """|∂C/∂w| at the saturated start over |∂C/∂w| at the unsaturated one, before any step (so
    no η enters), and a line naming both gradients and outputs."""
    gradient = {
        s: abs(initial_value(table, "dC_dw", cost, s)) for s in ("unsaturated", "saturated")
    }
    output = {s: initial_value(table, "output", cost, s) for s in gradient}
    detail = f"{cost.upper()}: |∂C/∂w| = " + ", ".join(
        f"{gradient[s]:.4g} at the {s} start (ŷ₀ = {output[s]:.3f})" for s in gradient
    )
    return gradient["saturated"] / gradient["unsaturated"], detail


def mse_gradient_smaller_when_saturated(table: pd.DataFrame, protocol: dict[str, Any]) -> Outcome:
    """With MSE the more wrong, saturated start has the smaller gradient: σ'(z) wins over ŷ − y."""
    ratio, detail = gradient_ratio(table, "mse")
    return Outcome(bool(ratio < 1), [ratio], detail)


def bce_gradient_larger_when_wrong(table: pd.DataFrame, protocol: dict[str, Any]) -> Outcome:
    """With BCE the more wrong start has the larger gradient: ∂C/∂w = x (ŷ − y)."""
    ratio, detail = gradient_ratio(table, "bce")
    return Outcome(bool(ratio > 1), [ratio], detail)


def epochs_to_fall_below(table: pd.DataFrame, cost: str, start: str, below: float) -> float:
    """The first epoch after which the neuron's output ŷ is below `below`; inf if it never is."""
    output = one_neuron(neuron_metric(table, "output"), cost, start)
    under = output[output["value"] < below]
    return float(under.epoch.iloc[0]) if len(under) else math.inf


def slow_down(table: pd.DataFrame, cost: str, below: float) -> tuple[float, float, float]:
    """Epochs for ŷ to fall below `below` from the unsaturated and the saturated start, and their
    ratio: the same for every small η, since η only stretches both runs' time alike."""
    unsaturated = epochs_to_fall_below(table, cost, "unsaturated", below)
    saturated = epochs_to_fall_below(table, cost, "saturated", below)
    return unsaturated, saturated, saturated / unsaturated


def saturation_slows_mse_more(
    table: pd.DataFrame, protocol: dict[str, Any], below: float, min_factor: float
) -> Outcome:
    """MSE's slow-down from the saturated start is at least `min_factor` times BCE's."""
    mse, bce = slow_down(table, "mse", below), slow_down(table, "bce", below)
    factor = mse[2] / bce[2]
    detail = "; ".join(
        f"{name}: ŷ < {below:g} after {u:g} epochs (unsaturated), {s:g} (saturated), ratio {r:.3g}"
        for name, (u, s, r) in (("MSE", mse), ("BCE", bce))
    )
    return Outcome(bool(factor >= min_factor), [factor], detail)


# MNIST


def validation_accuracy(table: pd.DataFrame, init: str) -> pd.DataFrame:
    """Validation accuracy of the nets started with `init`: index (cost, η, seed), a column per
    epoch."""
    rows = table[
        (table.part == "mnist") & (table.metric == "validation_accuracy") & (table.init == init)
    ]
    return rows.pivot_table(index=["cost", "eta", "seed"], columns="epoch", values="value")


def best_etas(table: pd.DataFrame, protocol: dict[str, Any], init: str) -> dict[str, float]:
    """Per cost, the η of its sweep with the highest mean validation accuracy (over seeds) after
    epoch `best_eta_after`, for nets started with `init` (the smaller η on a tie). Chosen on the
    images the costs are then compared on: every cost gets the same advantage."""
    after = protocol["mnist"]["best_eta_after"]
    mean = validation_accuracy(table, init)[after].groupby(["cost", "eta"]).mean()
    return {cost: float(mean[cost].idxmax()) for cost in mean.index.unique("cost")}


def at_edge(table: pd.DataFrame, cost: str, eta: float) -> bool:
    """Whether `eta` is the smallest or largest η of `cost`'s sweep (a better one may lie
    beyond it)."""
    sweep = table[(table.part == "mnist") & (table.cost == cost)].eta.astype(float)
    return bool(np.isclose(eta, sweep.min()) or np.isclose(eta, sweep.max()))


def at_best_eta(table: pd.DataFrame, protocol: dict[str, Any], init: str) -> pd.DataFrame:
    """Validation accuracy per (cost, seed), a column per epoch, each cost at its own best η."""
    accuracy = validation_accuracy(table, init)
    best = best_etas(table, protocol, init)
    rows = [
        accuracy.xs((cost, eta), level=["cost", "eta"]).assign(cost=cost)
        for cost, eta in best.items()
    ]
    return pd.concat(rows).set_index("cost", append=True).reorder_levels(["cost", "seed"])


def eta_note(table: pd.DataFrame, protocol: dict[str, Any], init: str) -> str:
    """`N(0, 1) init, best η: MSE 3, BCE 1`, with a warning for an η at its sweep's edge."""
    best = best_etas(table, protocol, init)
    named = ", ".join(
        f"{cost.upper()} {best[cost]:g}"
        + (" (at its sweep's edge)" if at_edge(table, cost, best[cost]) else "")
        for cost in ("mse", "bce")
    )
    return f"{INITS[init]} init, best η: {named}"


def bce_lead(table: pd.DataFrame, protocol: dict[str, Any], init: str, epoch: int) -> pd.Series:
    """Per seed, BCE's minus MSE's validation accuracy after `epoch` (points), each at its own
    best η."""
    accuracy = at_best_eta(table, protocol, init)[epoch]
    return 100 * (accuracy["bce"] - accuracy["mse"])


def bce_ahead_at_own_eta(table: pd.DataFrame, protocol: dict[str, Any], epoch: int) -> Outcome:
    """With N(0, 1) initialisation, after `epoch`, BCE is ahead of MSE in every seed, each cost
    at its own best η."""
    lead = bce_lead(table, protocol, "large", epoch)
    accuracy = at_best_eta(table, protocol, "large")[epoch].groupby("cost").mean()
    detail = (
        f"{eta_note(table, protocol, 'large')}; after epoch {epoch}: BCE {accuracy['bce']:.2%}, "
        f"MSE {accuracy['mse']:.2%} (mean); BCE ahead in {int((lead > 0).sum())}/{len(lead)} seeds"
    )
    return Outcome(bool((lead > 0).all()), lead.tolist(), detail)


def epochs_to_reach(accuracy: pd.DataFrame, target: float) -> pd.Series:
    """Per row, the first epoch at which accuracy reaches `target`; inf if it never does."""
    reached = accuracy.ge(target)
    epochs = reached.columns.to_numpy(float)
    return reached.apply(lambda row: epochs[row.to_numpy()].min(initial=math.inf), axis=1)


def bce_reaches_accuracy_sooner(
    table: pd.DataFrame, protocol: dict[str, Any], accuracy: float
) -> Outcome:
    """With N(0, 1) initialisation, each cost at its own best η, BCE reaches `accuracy` in fewer
    epochs than MSE in every seed. The value is MSE's epochs minus BCE's, "never" counted as
    epochs + 1 (so a lower bound then)."""
    epochs = epochs_to_reach(at_best_eta(table, protocol, "large"), accuracy)
    bce, mse = epochs["bce"], epochs["mse"]
    never = protocol["mnist"]["epochs"] + 1
    saved = mse.replace(math.inf, never) - bce.replace(math.inf, never)

    def listed(values: pd.Series) -> str:
        return ", ".join("never" if math.isinf(e) else f"{e:g}" for e in values)

    detail = (
        f"{eta_note(table, protocol, 'large')}; epochs to {accuracy:.0%} per seed: "
        f"BCE {listed(bce)}; MSE {listed(mse)}"
    )
    return Outcome(bool((np.isfinite(bce) & (bce < mse)).all()), saved.tolist(), detail)


def saturation_widens_bce_lead(
    table: pd.DataFrame, protocol: dict[str, Any], epoch: int
) -> Outcome:
    """BCE's lead after `epoch` (each cost at its own best η, chosen per initialisation) is
    larger with N(0, 1) weights than with N(0, 1/n) weights, in every seed."""
    large = bce_lead(table, protocol, "large", epoch)
    normalized = bce_lead(table, protocol, "normalized", epoch)
    widening = large - normalized
    detail = (
        f"BCE's lead after epoch {epoch}: {large.mean():+.2f} points with {INITS['large']} "
        f"weights, {normalized.mean():+.2f} with {INITS['normalized']} (mean); "
        f"{eta_note(table, protocol, 'large')}; {eta_note(table, protocol, 'normalized')}"
    )
    return Outcome(bool((widening > 0).all()), widening.tolist(), detail)


CHECKS = {
    "mse_gradient_smaller_when_saturated": mse_gradient_smaller_when_saturated,
    "bce_gradient_larger_when_wrong": bce_gradient_larger_when_wrong,
    "saturation_slows_mse_more": saturation_slows_mse_more,
    "bce_ahead_at_own_eta": bce_ahead_at_own_eta,
    "bce_reaches_accuracy_sooner": bce_reaches_accuracy_sooner,
    "saturation_widens_bce_lead": saturation_widens_bce_lead,
}
