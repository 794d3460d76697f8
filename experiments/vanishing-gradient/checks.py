"""The vanishing-gradient claim checks, on the per-layer gradient norms and the accuracies.

A layer's "speed of learning" is ‖∂C/∂b^l‖; how unevenly a net's hidden layers learn is their
spread, max/min over the hidden layers (1 when all learn at one speed). Where networks with
different activations are compared after training, each is trained at its own best η of the
sweep (the highest mean validation accuracy after the last epoch), never at one shared η.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from dlexp.finding import Outcome
from dlexp.registry import reference_of

REFERENCE = reference_of(__file__)
SIGMOID_SLOPE_AT_ZERO = float(REFERENCE["sigmoid_slope_at_zero"])
SLIDE_FACTOR = float(REFERENCE["exploding_factor"])
NAMES = {
    "sigmoid": "sigmoid",
    "relu": "ReLU (sigmoid's init)",
    "relu-he": "ReLU (He init)",
    "residual": "residual sigmoid",
}

Net = tuple[str, int, int]  # (network, depth, seed)


def gradient_norms(table: pd.DataFrame, part: str) -> pd.DataFrame:
    return table[(table.metric == "gradient_norm") & (table.part == part)]


def hidden_norms(table: pd.DataFrame, parts: Iterable[str] = ("depth",)) -> pd.DataFrame:
    """Per-layer gradient norms of the hidden layers only (the output layer dropped)."""
    norms = table[(table.metric == "gradient_norm") & table.part.isin(list(parts))]
    return norms[norms.layer <= norms.depth]


def per_net(norms: pd.DataFrame, epoch: int) -> dict[Net, np.ndarray]:
    """(network, depth, seed) → the hidden layers' norms at `epoch`, from the input side."""
    at = norms[norms.epoch == epoch].sort_values("layer")
    return {
        (network, int(depth), int(seed)): group["value"].to_numpy(float)
        for (network, depth, seed), group in at.groupby(["network", "depth", "seed"])
    }


def at_initialisation(table: pd.DataFrame) -> dict[Net, np.ndarray]:
    """Every net's hidden-layer norms before training, both parts (a deep net's initial weights
    are the same at every η of the sweep: one copy kept)."""
    norms = hidden_norms(table, ("depth", "deep"))
    norms = norms[norms.epoch == 0].drop_duplicates(["network", "depth", "seed", "layer"])
    return per_net(norms, 0)


def spread(norms: np.ndarray) -> float:
    """max/min of the hidden layers' gradient norms: 1 when all layers learn at one speed."""
    return float(norms.max() / norms.min())


def final_accuracy(table: pd.DataFrame, split: str = "validation") -> pd.DataFrame:
    """The deep nets' accuracy (%) after the last epoch: one row per network, η and seed."""
    rows = table[(table.metric == f"{split}_accuracy") & (table.part == "deep")]
    rows = rows[rows.epoch == rows.epoch.max()]
    return rows.assign(value=rows["value"] * 100)[["network", "eta", "seed", "value"]]


def best_etas(table: pd.DataFrame) -> dict[str, float]:
    """Each network's η of the sweep with the highest mean validation accuracy after the last
    epoch (a diverged net, NaN, counts as the worst)."""
    means = final_accuracy(table).groupby(["network", "eta"])["value"].mean().fillna(-np.inf)
    return {network: float(group.idxmax()[1]) for network, group in means.groupby(level=0)}


def eta_note(table: pd.DataFrame, network: str, eta: float) -> str:
    """`η = 0.1`, flagged when it lies at an end of the network's sweep (a better η may lie
    beyond it)."""
    swept = sorted(final_accuracy(table).query("network == @network").eta.unique())
    edge = len(swept) > 1 and eta in (swept[0], swept[-1])
    return f"η = {eta:g}" + (", an end of its sweep" if edge else "")


def deep_at_best_eta(table: pd.DataFrame) -> pd.DataFrame:
    """The deep part's rows of each network at its own best η."""
    best = best_etas(table)
    deep = table[table.part == "deep"]
    return deep[deep.eta == deep.network.map(best)]


def gradient_grows_towards_output(
    table: pd.DataFrame, protocol: dict[str, Any], max_first_to_last: float
) -> Outcome:
    """Sigmoid nets, every depth and seed: norms increase layer by layer towards the output, at
    initialisation and after the last epoch, and first/last < `max_first_to_last` at init."""
    norms = hidden_norms(table)
    norms = norms[norms.network == "sigmoid"]
    if norms.empty:
        return Outcome(False, [], "not measured: no sigmoid net of the depth sweep")
    final = int(norms.epoch.max())
    start, end = per_net(norms, 0), per_net(norms, final)
    increasing = [bool(np.all(np.diff(v) > 0)) for v in [*start.values(), *end.values()]]
    ratios = {k: v[0] / v[-1] for k, v in start.items()}
    by_depth = pd.Series(ratios).groupby(level=1).mean()
    detail = (
        f"increasing in {sum(increasing)}/{len(increasing)} (net, epoch 0 and {final}); "
        "first/last at init by depth: "
        + ", ".join(f"{d} hidden: {r:.3g}" for d, r in by_depth.items())
    )
    passed = all(increasing) and all(r < max_first_to_last for r in ratios.values())
    return Outcome(passed, list(ratios.values()), detail)


def exploding_factor(table: pd.DataFrame, protocol: dict[str, Any]) -> Outcome:
    """In the chain with every weight w and z = 0, each layer's |∂C/∂b| is exactly w·σ'(0)
    times the next layer's, at initialisation (25 for the slides' w = 100)."""
    factor = protocol["exploding"]["weight"] * SIGMOID_SLOPE_AT_ZERO
    chain = gradient_norms(table, "exploding")
    values = chain[chain.epoch == 0].sort_values("layer")["value"].to_numpy(float)
    ratios = values[:-1] / values[1:]
    passed = len(ratios) > 0 and bool(np.allclose(ratios, factor, rtol=1e-6, atol=0.0))
    detail = (
        f"consecutive ratios {', '.join(f'{r:.6g}' for r in ratios)} (w·σ'(0) = {factor:g}, "
        f"the slide's {SLIDE_FACTOR:g}); "
        f"first layer {values[0]:.3g}"
    )
    return Outcome(passed, ratios.tolist(), detail)


def mitigation_at_initialisation(
    table: pd.DataFrame, protocol: dict[str, Any], min_advantage: float
) -> Outcome:
    """Before training, every other network's spread is below the sigmoid net's of the same
    depth and seed, and at the deepest depth the sigmoid spread is at least `min_advantage`
    times theirs. Close to an identity: σ' ≤ 1/4 against ReLU's 1 for z > 0, He's variance,
    and the skip's identity term fix these ratios before any training."""
    start = at_initialisation(table)
    others = [k for k in start if k[0] != "sigmoid"]
    if not others:
        return Outcome(False, [], "not measured: no network besides the sigmoid net")
    deepest = max(depth for _, depth, _ in start)
    advantages, below = [], []
    for network, depth, seed in others:
        ratio = spread(start[("sigmoid", depth, seed)]) / spread(start[(network, depth, seed)])
        below.append(ratio > 1)
        if depth == deepest:
            advantages.append(ratio)
    spreads = pd.Series({k: spread(v) for k, v in start.items()})
    spreads = spreads[spreads.index.get_level_values(1) == deepest].groupby(level=0).mean()
    detail = (
        f"below the sigmoid's in {sum(below)}/{len(below)} (net, depth, seed); "
        f"mean spread at init, {deepest} hidden layers: "
        + ", ".join(f"{NAMES.get(n, n)} {s:.3g}" for n, s in spreads.items())
    )
    passed = all(below) and all(a >= min_advantage for a in advantages)
    return Outcome(passed, advantages, detail)


def spread_during_training(deep: pd.DataFrame) -> pd.DataFrame:
    """seed × epoch table of each network's spread after each measured epoch (init excluded)."""
    norms = hidden_norms(deep, ("deep",))
    norms = norms[norms.epoch > 0]
    spreads = norms.groupby(["network", "seed", "epoch"])["value"].agg(lambda v: v.max() / v.min())
    return spreads.unstack("epoch")


def mitigates_in_deep_nets(
    table: pd.DataFrame,
    protocol: dict[str, Any],
    networks: list[str],
    min_advantage: float,
    min_gain_points: float,
    floor_percent: float,
) -> Outcome:
    """Deep nets, each network at its own best η: for every network of `networks` and seed,
    (1) during training its spread stays below the sigmoid net's, by a factor of at least
    `min_advantage` on geometric average over the measured epochs, and (2) after the last epoch
    its validation accuracy is at least `min_gain_points` above the sigmoid net's of the same
    seed and above `floor_percent` (a net that did not train never passes)."""
    deep = deep_at_best_eta(table)
    present = set(deep.network)
    absent = [n for n in ["sigmoid", *networks] if n not in present]
    if absent:
        return Outcome(False, [], f"not measured: no deep {', '.join(absent)} net in the table")
    best = best_etas(table)
    spreads = spread_during_training(deep)
    accuracy = final_accuracy(deep).set_index(["network", "seed"])["value"]
    gains, parts, passed = [], [], True
    for network in networks:
        advantage = np.exp(np.log(spreads.loc["sigmoid"] / spreads.loc[network]).mean(axis=1))
        gain = accuracy.loc[network] - accuracy.loc["sigmoid"]
        lowest = accuracy.loc[network].min()
        passed &= bool(
            (advantage >= min_advantage).all()
            and (gain >= min_gain_points).all()
            and lowest > floor_percent
        )
        gains += gain.tolist()
        parts.append(
            f"{NAMES.get(network, network)} ({eta_note(table, network, best[network])}): "
            "validation "
            f"{accuracy.loc[network].mean():.2f}% (lowest {lowest:.2f}%), spread "
            f"{advantage.min():.3g}× below the sigmoid's (geometric mean over epochs, "
            "smallest over seeds)"
        )
    depth = int(deep.depth.iloc[0])
    detail = (
        f"{depth} hidden layers; sigmoid ({eta_note(table, 'sigmoid', best['sigmoid'])}): "
        "validation "
        f"{accuracy.loc['sigmoid'].mean():.2f}%; " + "; ".join(parts)
    )
    return Outcome(passed, gains, detail)


CHECKS = {
    "gradient_grows_towards_output": gradient_grows_towards_output,
    "exploding_factor": exploding_factor,
    "mitigation_at_initialisation": mitigation_at_initialisation,
    "mitigates_in_deep_nets": mitigates_in_deep_nets,
}
