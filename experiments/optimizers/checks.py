"""The optimiser claims' checks. A run a check needs but the table lacks makes it FAIL, saying
so. The oscillation of a training-cost curve is its total rise: the sum of its increases from
one epoch to the next (0 for a cost that only falls)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from dlexp.finding import Outcome

COST = "train_total_cost"


def curves(table: pd.DataFrame, part: str, metric: str, by: str = "eta") -> pd.DataFrame:
    """epoch × (`by`, seed) table of `metric` for the nets of `part`, from epoch 1 on."""
    rows = table[(table.part == part) & (table.metric == metric) & (table.epoch > 0)]
    return rows.pivot_table(index="epoch", columns=[by, "seed"], values="value")


def total_rise(curve: pd.Series) -> float:
    """The sum of the increases of `curve` from one epoch to the next."""
    return float(curve.diff().clip(lower=0).sum())


def sweep_ends(costs: pd.DataFrame) -> tuple[float, float, float] | None:
    """The smallest, a middle and the largest η of the sweep (None with fewer than three)."""
    etas = sorted(set(costs.columns.get_level_values("eta")))
    if len(etas) < 3:
        return None
    return etas[0], etas[len(etas) // 2], etas[-1]


def large_eta_oscillates(table: pd.DataFrame, protocol: dict[str, Any]) -> Outcome:
    """The largest η's cost rises more in total than the middle η's, and ends higher."""
    costs = curves(table, "eta", COST)
    if (etas := sweep_ends(costs)) is None:
        return Outcome(False, [], "not measured: needs three η of the mini-batch sweep")
    _, middle, large = etas
    rises = {eta: [total_rise(costs[eta][s]) for s in costs[eta]] for eta in (middle, large)}
    final = costs.iloc[-1]
    gap = final[large] - final[middle]
    passed = all(r > m for r, m in zip(rises[large], rises[middle])) and bool((gap > 0).all())
    detail = (
        f"total rise of the training cost η = {large:g}: {mean(rises[large]):.3g}, η = "
        f"{middle:g}: {mean(rises[middle]):.3g}; after the last epoch "
        f"{final[large].mean():.4f} vs {final[middle].mean():.4f} (means)"
    )
    return Outcome(passed, gap.tolist(), detail)


def small_eta_crawls(table: pd.DataFrame, protocol: dict[str, Any]) -> Outcome:
    """The smallest η's training cost is above the middle η's after every epoch."""
    costs = curves(table, "eta", COST)
    if (etas := sweep_ends(costs)) is None:
        return Outcome(False, [], "not measured: needs three η of the mini-batch sweep")
    small, middle, _ = etas
    above = costs[small] - costs[middle]
    first, final = costs.iloc[0], costs.iloc[-1]
    detail = (
        f"training cost after epoch 1: η = {small:g} {first[small].mean():.4f}, η = {middle:g} "
        f"{first[middle].mean():.4f}; after the last: {final[small].mean():.4f} vs "
        f"{final[middle].mean():.4f} (means); total rise with η = {small:g}: "
        f"{mean([total_rise(costs[small][s]) for s in costs[small]]):.3g}"
    )
    return Outcome(bool((above > 0).all().all()), above.iloc[-1].tolist(), detail)


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def best_eta(accuracy: pd.DataFrame) -> float:
    """The η whose nets end with the highest mean validation accuracy."""
    return float(accuracy.iloc[-1].groupby(level="eta").mean().idxmax())


def examples_to_reach(curve: pd.Series, target: float, n: int) -> float:
    """Training examples processed when the accuracy (%) first reaches `target`, else NaN."""
    reached = curve[curve >= target]
    return float(reached.index.min() * n) if len(reached) else math.nan


def edge_note(eta: float, etas: list[float]) -> str:
    return (
        " (at the edge of its sweep: a better η may lie beyond)"
        if eta in (etas[0], etas[-1])
        else ""
    )


def minibatch_needs_fewer_examples(
    table: pd.DataFrame, protocol: dict[str, Any], target_percent: float, min_factor: float
) -> Outcome:
    """Examples to `target_percent`: full batch ÷ mini-batch ≥ `min_factor` in every seed, each at
    the best η of its own sweep; a full-batch net that never got there counts with its budget."""
    mini = curves(table, "eta", "validation_accuracy") * 100
    full = curves(table, "full-batch", "validation_accuracy") * 100
    if mini.empty or full.empty:
        return Outcome(False, [], "not measured: needs the mini-batch and the full-batch nets")
    n = protocol["train_images"]
    eta_mini, eta_full = best_eta(mini), best_eta(full)
    ratios, never, mini_never = [], 0, 0
    for seed in mini[eta_mini].columns:
        needed = examples_to_reach(mini[eta_mini][seed], target_percent, n)
        mini_never += math.isnan(needed)
        full_needed = examples_to_reach(full[eta_full][seed], target_percent, n)
        if math.isnan(full_needed):
            never += 1
            full_needed = float(full.index.max() * n)
        ratios.append(full_needed / needed)
    etas_full = sorted(set(full.columns.get_level_values("eta")))
    detail = (
        f"mini-batch η = {eta_mini:g}: {mini[eta_mini].iloc[0].mean():.2f}% after one epoch "
        f"({n:,} examples); full batch η = {eta_full:g}{edge_note(eta_full, etas_full)}: "
        f"{full[eta_full].iloc[-1].mean():.2f}% after {full.index.max() * n:,} examples; "
        f"{never} of {len(ratios)} full-batch nets never reached {target_percent:g}%"
    )
    if mini_never:
        detail += f", nor did {mini_never} of the mini-batch nets (no ratio for them)"
    passed = bool(ratios) and all(r >= min_factor for r in ratios)  # NaN never passes
    return Outcome(passed, ratios, detail)


def momentum_pairs(table: pd.DataFrame, metric: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(epoch × (eta, seed) of plain SGD, epoch × (form, eta, seed) of momentum)."""
    plain = curves(table, "eta", metric)
    rows = table[(table.part == "momentum") & (table.metric == metric) & (table.epoch > 0)]
    momentum = rows.pivot_table(index="epoch", columns=["form", "eta", "seed"], values="value")
    return plain, momentum


def epochs_to_reach(curve: pd.Series, target: float) -> int:
    """The first epoch at which the accuracy (%) reaches `target`, else one past the run."""
    reached = curve[curve >= target]
    return int(reached.index.min()) if len(reached) else int(curve.index.max()) + 1


def momentum_reaches_target_sooner(
    table: pd.DataFrame, protocol: dict[str, Any], target_percent: float
) -> Outcome:
    """Momentum reaches `target_percent` in fewer epochs than plain SGD at the same η."""
    plain, momentum = momentum_pairs(table, "validation_accuracy")
    if momentum.empty:
        return Outcome(False, [], "not measured: no momentum nets")
    values, parts = [], []
    for (form, eta), group in momentum.T.groupby(level=["form", "eta"]):
        if eta not in plain.columns.get_level_values("eta"):
            return Outcome(False, [], f"not measured: plain SGD at η = {eta:g}")
        gains = []
        for (_, _, seed), curve in group.iterrows():
            plain_epochs = epochs_to_reach(plain[eta][seed] * 100, target_percent)
            gains.append(plain_epochs - epochs_to_reach(curve * 100, target_percent))
        values += gains
        parts.append(f"{form} η = {eta:g}: {mean(gains):+.2f} epochs")
    detail = f"epochs to {target_percent:g}%, plain minus momentum (mean): " + ", ".join(parts)
    return Outcome(all(v > 0 for v in values), values, detail)


def momentum_damps_oscillation(table: pd.DataFrame, protocol: dict[str, Any]) -> Outcome:
    """Momentum's training cost rises no more in total than plain SGD's at the same η."""
    plain, momentum = momentum_pairs(table, COST)
    if momentum.empty:
        return Outcome(False, [], "not measured: no momentum nets")
    values, parts = [], []
    for (form, eta), group in momentum.T.groupby(level=["form", "eta"]):
        if eta not in plain.columns.get_level_values("eta"):
            return Outcome(False, [], f"not measured: plain SGD at η = {eta:g}")
        plain_rises = [total_rise(plain[eta][seed]) for (_, _, seed) in group.index]
        rises = [total_rise(curve) for _, curve in group.iterrows()]
        values += [p - r for p, r in zip(plain_rises, rises)]
        parts.append(f"{form} η = {eta:g}: {mean(rises):.3g} vs plain {mean(plain_rises):.3g}")
    detail = "total rise of the training cost, momentum vs plain (mean): " + ", ".join(parts)
    return Outcome(all(v >= 0 for v in values), values, detail)


CHECKS = {
    "large_eta_oscillates": large_eta_oscillates,
    "small_eta_crawls": small_eta_crawls,
    "minibatch_needs_fewer_examples": minibatch_needs_fewer_examples,
    "momentum_reaches_target_sooner": momentum_reaches_target_sooner,
    "momentum_damps_oscillation": momentum_damps_oscillation,
}
