"""Overfitting and its remedies: L2 weight decay, L1, dropout and early stopping.

The lecture's claim: a network with many parameters fits its training data, noise included, and
fails to generalise. Nielsen's classic set-up (ch. 3) shows it: a 784-30-10 sigmoid network with
23,860 parameters trained on only 1,000 MNIST images drives its training cost down for 400 epochs
and reaches 100% training accuracy, while its test accuracy stops improving long before and stays
far below.

The remedies, each a `ModelSpec` field of the batched trainer:

    L2 weight decay   C = C₀ + λ/2n Σ w²    →   w ← (1 − ηλ/n) w − η ∂C₀/∂w
    L1                C = C₀ + λ/n Σ |w|    →   w ← w − (ηλ/n) sgn(w) − η ∂C₀/∂w
    dropout           each hidden unit kept with probability p for a whole mini-batch; at
                      test time every unit is used, its output scaled down by p
    early stopping    stop when the validation accuracy has not improved for `patience` epochs

L2 ("big weight decay coefficient → big penalty for big weights") and dropout (which "prevents
co-adaptation", an ensemble of thinned networks) should each give a higher test accuracy and a
smaller train–test gap than no regularisation; L2 shrinks the weights, L1 drives many of them to
zero; early stopping, read off the recorded validation curves (no retraining), should land within a
point of the best test accuracy of the whole run. A second part trains on all 50,000 images, where
there is far less to overfit, with Nielsen's λ = 5.0 against none.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

from dlexp.data import Split
from dlexp.figures import line_with_band, save, scale_note, summarise, summarise_on_log_scale
from dlexp.finding import Outcome, RunContext
from dlexp.measures import accuracy_and_cost, weight_norm
from dlexp.models import ModelSpec, StackedMLP
from dlexp.trainer import Schedule

SMALL_DATA = "small data"
FULL_DATA = "full data"
UNREGULARISED = "unregularised"
KINDS = [UNREGULARISED, "L2", "L1", "dropout", "dropout + L2"]
PARAMS = ["part", "regulariser", "hidden", "train_images", "lambda_l2", "lambda_l1", "keep_prob"]
CURVES = [
    "train_cost",
    "train_accuracy",
    "validation_cost",
    "validation_accuracy",
    "test_cost",
    "test_accuracy",
    "weight_norm",
]
WEIGHT_COUNT = "weight_count"

# |w| histogram bins: [0, 10⁻⁶), four per decade from 10⁻⁶ to 10², and [10², ∞).
MAGNITUDE_EDGES = (0.0, *(10.0 ** (np.arange(-24, 9) / 4)).tolist(), math.inf)
INNER_EDGES = torch.tensor(MAGNITUDE_EDGES[1:-1], dtype=torch.float64)


# ---------------------------------------------------------------------------------------------
# The variants


def regulariser(l2: float, l1: float, keep_prob: float) -> str:
    """The kind of regularisation: "unregularised", "L2", "L1", "dropout", "dropout + L2", …"""
    switched_on = (("dropout", keep_prob < 1), ("L2", l2 > 0), ("L1", l1 > 0))
    names = [name for name, on in switched_on if on]
    return " + ".join(names) or UNREGULARISED


def regulariser_label(l2: float, l1: float, keep_prob: float) -> str:
    """The regularisation with its strength, as in a legend: "dropout p = 0.5 + L2 λ = 0.1"."""
    parts = [f"dropout p = {keep_prob:g}"] if keep_prob < 1 else []
    parts += [f"L2 λ = {l2:g}"] if l2 > 0 else []
    parts += [f"L1 λ = {l1:g}"] if l1 > 0 else []
    return " + ".join(parts) or "no regularisation"


def model_spec(
    protocol: dict[str, Any],
    part: str,
    images: int,
    hidden: int,
    seed: int,
    *,
    l2: float = 0.0,
    l1: float = 0.0,
    keep_prob: float = 1.0,
) -> ModelSpec:
    """A 784-hidden-10 sigmoid network with sigmoid outputs and the cross-entropy cost, SGD."""
    suffix = ", full data" if part == FULL_DATA else ""
    return ModelSpec(
        variant=f"{regulariser_label(l2, l1, keep_prob)}, {hidden} hidden{suffix}",
        seed=seed,
        sizes=(784, hidden, 10),
        weight_init=protocol["weight_init"],
        eta=protocol["eta"],
        l2=l2,
        l1=l1,
        keep_prob=keep_prob,
        batch_size=protocol["batch_size"],
        params={
            "part": part,
            "regulariser": regulariser(l2, l1, keep_prob),
            "hidden": hidden,
            "train_images": images,
            "lambda_l2": l2,
            "lambda_l1": l1,
            "keep_prob": keep_prob,
        },
    )


def small_data_specs(protocol: dict[str, Any], seeds: list[int]) -> list[ModelSpec]:
    """The 1,000-image variants × seeds: at the lecture's width none, L2 at every λ, L1 and
    dropout (alone and with L2); at the wide layer, where dropout has units to spare, none, L2,
    dropout and dropout + L2."""
    narrow, wide = protocol["hidden_units"], protocol["wide_hidden_units"]
    l2, l1, p = protocol["l2"], protocol["l1"], protocol["keep_prob"]
    settings = [
        (narrow, 0.0, 0.0, 1.0),
        *[(narrow, lam, 0.0, 1.0) for lam in sorted({l2, *protocol["other_l2"]})],
        (narrow, 0.0, l1, 1.0),
        (narrow, 0.0, 0.0, p),
        (narrow, l2, 0.0, p),
        (wide, 0.0, 0.0, 1.0),
        (wide, l2, 0.0, 1.0),
        (wide, 0.0, 0.0, p),
        (wide, l2, 0.0, p),
    ]
    images = protocol["train_images"]
    return [
        model_spec(protocol, SMALL_DATA, images, hidden, seed, l2=l2_, l1=l1_, keep_prob=p_)
        for hidden, l2_, l1_, p_ in dict.fromkeys(settings)
        for seed in seeds
    ]


def full_data_specs(protocol: dict[str, Any], seeds: list[int]) -> list[ModelSpec]:
    """All the training images, the wide hidden layer, Nielsen's λ against none."""
    full = protocol["full_data"]
    return [
        model_spec(protocol, FULL_DATA, full["train_images"], full["hidden_units"], seed, l2=lam)
        for lam in (0.0, full["l2"])
        for seed in seeds
    ]


# ---------------------------------------------------------------------------------------------
# Measuring


def weight_magnitude_counts(weights: list[torch.Tensor]) -> list[int]:
    """How many of the weights fall in each |w| bin of MAGNITUDE_EDGES."""
    magnitudes = torch.cat([w.abs().flatten() for w in weights]).to("cpu", torch.float64)
    bins = torch.bucketize(magnitudes, INNER_EDGES, right=True)
    return torch.bincount(bins, minlength=len(MAGNITUDE_EDGES) - 1).tolist()


class WeightMagnitudeHistogram:
    """A measure that keeps each model's weights as first and as last measured: before training
    and after the final epoch. It reports no per-epoch metric; `rows` gives their |w| histograms
    as table rows (metric "weight_count", the bin in columns w_low ≤ |w| < w_high)."""

    def __init__(self) -> None:
        self.initial: dict[ModelSpec, list[torch.Tensor]] = {}
        self.final: dict[ModelSpec, list[torch.Tensor]] = {}

    def __call__(self, net: StackedMLP) -> dict[str, torch.Tensor]:
        for m, spec in enumerate(net.specs):
            weights = [net.weights[layer][m].clone() for layer in net.own_layers(m)]
            if spec not in self.initial:
                self.initial[spec] = weights
            self.final[spec] = weights
        return {}

    def rows(self, final_epoch: int) -> pd.DataFrame:
        bins = list(itertools.pairwise(MAGNITUDE_EDGES))
        records = [
            {
                "variant": spec.variant,
                "seed": spec.seed,
                "epoch": epoch,
                "layer": 0,
                "metric": WEIGHT_COUNT,
                "value": float(count),
                "w_low": low,
                "w_high": high,
                **spec.params,
            }
            for epoch, snapshots in ((0, self.initial), (final_epoch, self.final))
            for spec, weights in snapshots.items()
            for (low, high), count in zip(bins, weight_magnitude_counts(weights))
        ]
        return pd.DataFrame(records)


def trained(
    context: RunContext,
    description: str,
    specs: list[ModelSpec],
    images: Split,
    epochs: int,
    held_out: dict[str, Split],
) -> pd.DataFrame:
    """Train `specs` on `images` in one call (the models of each width stacked), recording after
    every epoch cost and accuracy on the training images and the held-out splits, and ‖w‖; |w|
    histograms before training and after the last epoch."""
    histogram = WeightMagnitudeHistogram()
    measures = [accuracy_and_cost({"train": images, **held_out}), weight_norm, histogram]
    table = context.train(specs, images, Schedule(epochs), measures, description)
    return pd.concat([table, histogram.rows(epochs)], ignore_index=True)


def measure(context: RunContext) -> pd.DataFrame:
    protocol = context.protocol
    mnist = context.mnist()
    held_out = {
        "validation": mnist.validation.subset(protocol["validation_images"]),
        "test": mnist.test.subset(protocol["test_images"]),
    }
    full = protocol["full_data"]
    small = trained(
        context,
        f"regularization: {protocol['train_images']:,} images",
        small_data_specs(protocol, context.seeds),
        mnist.train.subset(protocol["train_images"]),
        protocol["epochs"],
        held_out,
    )
    large = trained(
        context,
        f"regularization: {full['train_images']:,} images",
        full_data_specs(protocol, context.seeds),
        mnist.train.subset(full["train_images"]),
        full["epochs"],
        held_out,
    )
    return pd.concat([small, large], ignore_index=True)


# ---------------------------------------------------------------------------------------------
# Reading the table


def variants(table: pd.DataFrame) -> pd.DataFrame:
    """One row per variant with its parameters, in the lecture's order: 1,000 images before all
    of them, narrow before wide, then none, L2 (by λ), L1, dropout, dropout + L2."""
    rows = table.drop_duplicates("variant")[["variant", *PARAMS]]
    order = rows.assign(
        full=rows.part == FULL_DATA, kind=rows.regulariser.map(KINDS.index)
    ).sort_values(["full", "hidden", "kind", "lambda_l2", "lambda_l1"])
    return order[["variant", *PARAMS]].reset_index(drop=True)


def curves(table: pd.DataFrame) -> pd.DataFrame:
    """One row per model and epoch, a column per per-epoch metric, plus the variant's params;
    the variants in the order of `variants`."""
    rows = table[table.metric.isin(CURVES)]
    wide = rows.pivot(index=["variant", "seed", "epoch"], columns="metric", values="value")
    wide = wide.reset_index()
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


def early_stopping_epoch(validation_accuracy: pd.Series, patience: int) -> int:
    """Where "no improvement in `patience` epochs" stops training: the first epoch that comes
    `patience` epochs after the best validation accuracy so far (the last epoch if none does)."""
    best, best_epoch = -math.inf, int(validation_accuracy.index[0])
    for epoch, accuracy in validation_accuracy.items():
        if accuracy > best:
            best, best_epoch = accuracy, int(epoch)
        elif epoch - best_epoch >= patience:
            return int(epoch)
    return int(validation_accuracy.index[-1])


def early_stopping(table: pd.DataFrame, patience: int) -> pd.DataFrame:
    """Per model: the epoch early stopping with `patience` stops at, the test accuracy there,
    at the last epoch, and at the best epoch of the whole run (with that epoch)."""
    rows = []
    for (variant, seed), model in curves(table).groupby(["variant", "seed"], sort=False):
        model = model.set_index("epoch").sort_index()
        stop = early_stopping_epoch(model["validation_accuracy"], patience)
        test = model["test_accuracy"]
        rows.append(
            {
                "variant": variant,
                "seed": seed,
                "patience": patience,
                "stop_epoch": stop,
                "test_at_stop": test.loc[stop],
                "last_epoch": int(test.index[-1]),
                "test_at_last": test.iloc[-1],
                "best_epoch": int(test.idxmax()),
                "test_best": test.max(),
            }
        )
    stops = pd.DataFrame(rows)
    stops["shortfall"] = stops["test_best"] - stops["test_at_stop"]
    return stops.merge(variants(table), on="variant")


def final_weight_histograms(table: pd.DataFrame) -> pd.DataFrame:
    """The |w| histogram of every model after its last epoch, counts as fractions of its weights."""
    counts = table[table.metric == WEIGHT_COUNT]
    counts = counts[counts.epoch == counts.groupby("variant")["epoch"].transform("max")].copy()
    counts["fraction"] = counts["value"] / counts.groupby(["variant", "seed"])["value"].transform(
        "sum"
    )
    return counts


def near_zero_fractions(table: pd.DataFrame, near_zero: float) -> pd.DataFrame:
    """Per model after its last epoch: the fraction of its weights with |w| < `near_zero`."""
    if not np.isclose(MAGNITUDE_EDGES, near_zero, rtol=1e-9, atol=0).any():
        raise ValueError(f"near_zero must be an edge of the |w| histogram, not {near_zero}")
    histograms = final_weight_histograms(table)
    below = histograms[histograms.w_high <= near_zero * (1 + 1e-9)]
    fractions = below.groupby(["variant", "seed"])["fraction"].sum().rename("near_zero")
    return fractions.reset_index().merge(variants(table), on="variant")


# ---------------------------------------------------------------------------------------------
# The claims


def points(fraction: float) -> str:
    return f"{100 * fraction:.1f}"


def unregularised_lecture_net(table: pd.DataFrame, protocol: dict[str, Any]) -> pd.DataFrame:
    """Curves of Nielsen's overfitting network: unregularised, 1,000 images, 30 hidden units."""
    all_epochs = curves(table)
    return all_epochs[
        (all_epochs.part == SMALL_DATA)
        & (all_epochs.regulariser == UNREGULARISED)
        & (all_epochs.hidden == protocol["hidden_units"])
    ]


def test_accuracy_stops_improving(
    table: pd.DataFrame, protocol: dict[str, Any], within: float, max_plateau_fraction: float
) -> Outcome:
    """Unregularised, every seed: the test accuracy comes within `within` of its best by
    `max_plateau_fraction` of the epochs, while the training cost keeps falling: it is lower at
    the last epoch than at that plateau epoch."""
    plateaus, falling, detail = [], [], []
    for seed, model in unregularised_lecture_net(table, protocol).groupby("seed"):
        model = model.set_index("epoch").sort_index()
        plateau = plateau_epoch(model["test_accuracy"], within)
        cost = model["train_cost"]
        plateaus.append(plateau)
        falling.append(bool(cost.iloc[-1] < cost.loc[plateau]))
        detail.append(
            f"seed {seed}: test accuracy within {points(within)} of its best "
            f"({points(model['test_accuracy'].max())}%) from epoch {plateau}; training cost "
            f"{cost.loc[plateau]:.3g} there, {cost.iloc[-1]:.3g} at epoch {cost.index[-1]}"
        )
    early = [plateau <= max_plateau_fraction * protocol["epochs"] for plateau in plateaus]
    passed = bool(plateaus) and all(falling) and all(early)
    return Outcome(passed, plateaus, "; ".join(detail))


def memorises_training_data(
    table: pd.DataFrame, protocol: dict[str, Any], min_train_accuracy: float, min_gap: float
) -> Outcome:
    """Unregularised, every seed: at the last epoch the training accuracy is at least
    `min_train_accuracy` and exceeds the test accuracy by at least `min_gap`."""
    all_epochs = unregularised_lecture_net(table, protocol)
    final = all_epochs[all_epochs.epoch == all_epochs.epoch.max()].sort_values("seed")
    passed = bool(len(final)) and bool(
        (final.train_accuracy >= min_train_accuracy).all() and (final.gap >= min_gap).all()
    )
    detail = "; ".join(
        f"seed {row.seed}: train {points(row.train_accuracy)}%, test {points(row.test_accuracy)}%"
        for row in final.itertuples()
    )
    return Outcome(passed, (100 * final.gap).tolist(), detail)


def beats_unregularised(
    table: pd.DataFrame, protocol: dict[str, Any], kind: str
) -> tuple[bool, list[float], str]:
    """Every model of regulariser `kind` (L2 at the lecture's λ) against the unregularised model
    of the same data, width and seed at the last epoch: higher test accuracy and a smaller gap."""
    final = final_epoch(table)
    chosen = final[final.regulariser == kind]
    if kind == "L2":
        lam = chosen.part.map(lambda part: lecture_lambda(protocol, part))
        chosen = chosen[np.isclose(chosen.lambda_l2, lam)]
    pairs = paired_with_unregularised(final, chosen)
    gains = pairs.test_accuracy - pairs.test_accuracy_none
    passed = bool(len(pairs)) and bool((gains > 0).all() and (pairs.gap < pairs.gap_none).all())
    detail = "; ".join(
        f"{variant}: test {points(group.test_accuracy.mean())}% vs "
        f"{points(group.test_accuracy_none.mean())}%, gap {points(group.gap.mean())} vs "
        f"{points(group.gap_none.mean())} points (mean over seeds), higher in "
        f"{int((group.test_accuracy > group.test_accuracy_none).sum())}/{len(group)} seeds"
        for variant, group in pairs.groupby("variant", sort=False)
    )
    return passed, (100 * gains).tolist(), detail


def l2_generalises_better(table: pd.DataFrame, protocol: dict[str, Any]) -> Outcome:
    """L2 at the lecture's λ against no regularisation, every width, data size and seed."""
    return Outcome(*beats_unregularised(table, protocol, "L2"))


def dropout_generalises_better(table: pd.DataFrame, protocol: dict[str, Any]) -> Outcome:
    """Dropout (hidden units kept with p) against no regularisation, every width and seed."""
    return Outcome(*beats_unregularised(table, protocol, "dropout"))


def l2_shrinks_weights(table: pd.DataFrame, protocol: dict[str, Any]) -> Outcome:
    """Every L2 model (every λ) ends with a smaller ‖w‖ than the unregularised model of the
    same data, width and seed; the values are the ratios ‖w‖_L2 / ‖w‖_none."""
    final = final_epoch(table)
    pairs = paired_with_unregularised(final, final[final.regulariser == "L2"])
    ratios = pairs.weight_norm / pairs.weight_norm_none
    by_variant = ratios.groupby(pairs.variant, sort=False).mean()
    detail = "mean ‖w‖ ratio: " + ", ".join(f"{v}: {r:.2f}" for v, r in by_variant.items())
    return Outcome(bool(len(pairs)) and bool((ratios < 1).all()), ratios.tolist(), detail)


def l1_drives_weights_to_zero(
    table: pd.DataFrame, protocol: dict[str, Any], near_zero: float
) -> Outcome:
    """The L1 model has a larger fraction of weights with |w| < `near_zero` than the L2 model
    of the same λ, width and seed; the values are the differences in points."""
    fractions = near_zero_fractions(table, near_zero)
    l1 = fractions[fractions.regulariser == "L1"]
    l2 = fractions[fractions.regulariser == "L2"]
    pairs = l1.merge(
        l2,
        left_on=["part", "hidden", "seed", "lambda_l1"],
        right_on=["part", "hidden", "seed", "lambda_l2"],
        suffixes=("_l1", "_l2"),
    )
    differences = pairs.near_zero_l1 - pairs.near_zero_l2
    detail = "; ".join(
        f"seed {row.seed}: |w| < {near_zero:g} for {points(row.near_zero_l1)}% of the weights "
        f"with L1 λ = {row.lambda_l1_l1:g}, {points(row.near_zero_l2)}% with L2"
        for row in pairs.itertuples()
    )
    passed = bool(len(pairs)) and bool((differences > 0).all())
    return Outcome(passed, (100 * differences).tolist(), detail)


def early_stopping_near_best(
    table: pd.DataFrame, protocol: dict[str, Any], patience: int, max_shortfall: float
) -> Outcome:
    """For every variant and seed, the test accuracy where early stopping with `patience`
    stops is within `max_shortfall` of the best epoch's; the values are the shortfalls."""
    stops = early_stopping(table, patience)
    worst = stops.loc[stops.shortfall.idxmax()]
    detail = (
        f"stops at epoch {stops.stop_epoch.median():.0f} (median; {stops.stop_epoch.min()}-"
        f"{stops.stop_epoch.max()}); test accuracy there {points(stops.test_at_stop.mean())}% vs "
        f"{points(stops.test_at_last.mean())}% at the last epoch (mean over all models); worst: "
        f"{worst.variant}, seed {worst.seed}, {points(worst.shortfall)} points below its best"
    )
    passed = bool((stops.shortfall <= max_shortfall).all())
    return Outcome(passed, (100 * stops.shortfall).tolist(), detail)


CHECKS = {
    "test_accuracy_stops_improving": test_accuracy_stops_improving,
    "memorises_training_data": memorises_training_data,
    "l2_generalises_better": l2_generalises_better,
    "dropout_generalises_better": dropout_generalises_better,
    "l2_shrinks_weights": l2_shrinks_weights,
    "l1_drives_weights_to_zero": l1_drives_weights_to_zero,
    "early_stopping_near_best": early_stopping_near_best,
}


# ---------------------------------------------------------------------------------------------
# Figures


def colours(table: pd.DataFrame) -> dict[str, Any]:
    """One colour per regularisation label, the same in every panel: black for none, blues for
    L2 (darker = larger λ), orange for L1, green for dropout, purple for dropout + L2."""
    labels = {}
    for row in variants(table).itertuples():
        labels[regulariser_label(row.lambda_l2, row.lambda_l1, row.keep_prob)] = row
    l2 = sorted(r.lambda_l2 for r in labels.values() if r.regulariser == "L2")
    blues = dict(zip(l2, plt.cm.Blues(np.linspace(0.35, 0.95, max(len(l2), 1)))))
    fixed = {"L1": "tab:orange", "dropout": "tab:green", "dropout + L2": "tab:purple"}
    fixed[UNREGULARISED] = "black"
    return {
        label: blues[row.lambda_l2] if row.regulariser == "L2" else fixed[row.regulariser]
        for label, row in labels.items()
    }


def label_of(row: Any) -> str:
    return regulariser_label(row.lambda_l2, row.lambda_l1, row.keep_prob)


def figures(table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path) -> list[Path]:
    return [
        *figure_overfitting(table, protocol, scale, folder),
        *figure_regularisers(table, protocol, scale, folder),
        *figure_gap(table, scale, folder),
        *figure_weight_histograms(table, protocol, scale, folder),
        *figure_early_stopping(table, protocol, scale, folder),
    ]


def figure_overfitting(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    """The lecture's overfitting picture: training cost keeps falling, test accuracy stalls."""
    net = unregularised_lecture_net(table, protocol)
    fig, (cost_ax, accuracy_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    cost = summarise_on_log_scale(net.assign(value=net["train_cost"]), ["epoch"])
    line_with_band(cost_ax, cost["epoch"], cost, color="black")
    cost_ax.set_yscale("log")
    cost_ax.set_xlabel("epoch")
    cost_ax.set_ylabel("training cost C₀ (cross-entropy; geometric mean, log scale)")
    cost_ax.set_title("The cost on the training images keeps falling…", fontsize=10)
    for metric, colour, name in (
        ("train_accuracy", "tab:red", "training images"),
        ("test_accuracy", "tab:blue", "test images"),
    ):
        summary = summarise(net.assign(value=100 * net[metric]), ["epoch"])
        line_with_band(accuracy_ax, summary["epoch"], summary, color=colour, label=name)
        last = summary.iloc[-1]
        accuracy_ax.annotate(
            f"{last['mean']:.1f}% at epoch {last['epoch']:.0f}",
            (last["epoch"], last["mean"]),
            xytext=(-4, -12),
            textcoords="offset points",
            ha="right",
            fontsize=8,
            color=colour,
        )
    accuracy_ax.set_ylim(0, 102)
    accuracy_ax.set_xlabel("epoch")
    accuracy_ax.set_ylabel("classification accuracy (%)")
    accuracy_ax.set_title("…while the test accuracy stops improving", fontsize=10)
    accuracy_ax.legend(loc="center right")
    fig.suptitle(
        f"Overfitting: 784-{protocol['hidden_units']}-10 sigmoid net, no regularisation, "
        f"{protocol['train_images']:,} training images (mean and 95% CI over seeds)"
        + scale_note(scale),
        fontsize=10,
    )
    return save(fig, folder, "overfitting")


def network_groups(all_epochs: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The models split by training set and width, each with a title: 784-30-10 on 1,000
    images, 784-100-10 on 1,000 images, 784-100-10 on all 50,000."""
    groups = all_epochs.groupby(["part", "hidden", "train_images"], sort=False)
    return [
        (f"784-{hidden}-10 on {images:,} training images", group)
        for (_, hidden, images), group in groups
    ]


def other_lambda(row: Any, protocol: dict[str, Any]) -> bool:
    """Whether a variant is L2 at a λ other than the lecture's (a point of the λ sweep)."""
    lecture = lecture_lambda(protocol, row.part)
    return row.regulariser == "L2" and not math.isclose(row.lambda_l2, lecture)


def figure_regularisers(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    """Per network and training set: training cost and test accuracy per variant, L2 at the
    lecture's λ only (every λ of the sweep is in the train_test_gap figure)."""
    shown = [row.variant for row in variants(table).itertuples() if not other_lambda(row, protocol)]
    all_epochs = curves(table)
    groups = network_groups(all_epochs[all_epochs.variant.isin(shown)])
    palette = colours(table)
    fig, axes = plt.subplots(len(groups), 2, figsize=(13, 3.6 * len(groups)), squeeze=False)
    for (title, group), (cost_ax, accuracy_ax) in zip(groups, axes):
        for _, model in group.groupby("variant", sort=False):
            label = label_of(model.iloc[0])
            style = {"color": palette[label], "label": label, "linewidth": 1.2}
            cost = summarise_on_log_scale(model.assign(value=model["train_cost"]), ["epoch"])
            line_with_band(cost_ax, cost["epoch"], cost, **style)
            accuracy = summarise(model.assign(value=100 * model["test_accuracy"]), ["epoch"])
            line_with_band(accuracy_ax, accuracy["epoch"], accuracy, **style)
        cost_ax.set_yscale("log")
        cost_ax.set_ylabel("training cost C₀ (geometric mean, log scale)")
        accuracy_ax.set_ylabel("test accuracy (%)")
        trained = group[group.epoch > 0]
        accuracy_ax.set_ylim(
            100 * trained.test_accuracy.quantile(0.02) - 2,
            min(100.0, 100 * trained.test_accuracy.max() + 2),
        )
        for ax in (cost_ax, accuracy_ax):
            ax.set_title(title, fontsize=10)
            ax.set_xlabel("epoch")
        accuracy_ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(
        "Training cost and test accuracy per regularisation, L2 at the lecture's λ "
        "(mean and 95% CI over seeds)" + scale_note(scale),
        fontsize=11,
    )
    return save(fig, folder, "regularisers_over_training")


def bars_with_ci(ax: plt.Axes, summary: pd.DataFrame, colours_: list[Any], digits: int) -> None:
    """Horizontal bars of the means with their 95% CI, the mean written beside each bar."""
    ys = np.arange(len(summary))
    errors = np.vstack([summary["mean"] - summary["low"], summary["high"] - summary["mean"]])
    ax.barh(
        ys,
        summary["mean"],
        color=colours_,
        alpha=0.8,
        xerr=np.nan_to_num(errors),
        capsize=2,
        error_kw={"linewidth": 0.8},
    )
    ends = np.fmax(summary["mean"], summary["high"].fillna(summary["mean"]))
    for y, mean, end in zip(ys, summary["mean"], ends):
        ax.annotate(
            f"{mean:.{digits}f}",
            (end, y),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=7,
        )
    ax.grid(axis="y", visible=False)


def figure_gap(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    """Per variant at the last epoch: test accuracy, train–test gap and ‖w‖, with 95% CI."""
    final = final_epoch(table)
    rows = variants(table).set_index("variant")
    order = rows.index.tolist()
    palette = colours(table)
    bar_colours = [palette[label_of(row)] for row in rows.itertuples()]
    fig, axes = plt.subplots(1, 3, figsize=(14, 0.3 * len(order) + 1.9), sharey=True)
    panels = (
        ("test_accuracy", 100.0, "test accuracy (%)", 1),
        ("gap", 100.0, "train − test accuracy (points)", 1),
        ("weight_norm", 1.0, "weight norm ‖w‖₂", 0),
    )
    for ax, (metric, factor, xlabel, digits) in zip(axes, panels):
        summary = summarise(final.assign(value=factor * final[metric]), ["variant"])
        bars_with_ci(ax, summary.set_index("variant").loc[order], bar_colours, digits)
        ax.set_xlabel(f"{xlabel} at the last epoch")
    low = 100 * final.test_accuracy.min()
    axes[0].set_xlim(max(0.0, 10 * math.floor(low / 10) - 10), 100)
    axes[0].set_yticks(np.arange(len(order)), order, fontsize=8)
    axes[0].invert_yaxis()
    fig.suptitle(
        "Generalisation per variant (mean and 95% CI over seeds); "
        "'full data' = all the training images" + scale_note(scale),
        fontsize=10,
    )
    return save(fig, folder, "train_test_gap")


def figure_weight_histograms(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    """|w| histograms after training: no regularisation, L2 and L1 at the lecture's λ."""
    counts = table[table.metric == WEIGHT_COUNT]
    counts = counts[(counts.part == SMALL_DATA) & (counts.hidden == protocol["hidden_units"])]
    lam = protocol["l2"]
    shown = counts[
        (counts.regulariser == UNREGULARISED)
        | ((counts.regulariser == "L2") & np.isclose(counts.lambda_l2, lam))
        | (counts.regulariser == "L1")
    ]
    palette = colours(table)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    initial = shown[(shown.epoch == 0) & (shown.regulariser == UNREGULARISED)]
    drawn = [("at initialisation", initial, "grey", "--")]
    final = final_weight_histograms(shown)
    for _, group in final.groupby("variant", sort=False):
        label = label_of(group.iloc[0])
        drawn.append((f"{label}, after training", group, palette[label], "-"))
    for name, group, colour, style in drawn:
        fractions = group.assign(
            value=group["value"] / group.groupby("seed")["value"].transform("sum")
        )
        summary = summarise(fractions, ["w_low", "w_high"]).sort_values("w_low")
        edges = np.append(summary["w_low"].to_numpy(float), summary["w_high"].iloc[-1])
        edges[0], edges[-1] = edges[1] / 10**0.25, edges[-2] * 10**0.25
        ax.stairs(
            100 * summary["mean"], edges, color=colour, linestyle=style, linewidth=1.6, label=name
        )
    l1_step = protocol["eta"] * protocol["l1"] / protocol["train_images"]
    ax.axvline(l1_step, color="tab:orange", linestyle=":", linewidth=1)
    ax.annotate(
        f"one L1 step ηλ/n = {l1_step:.0e}",
        (l1_step, 0.55),
        xycoords=("data", "axes fraction"),
        xytext=(4, 0),
        textcoords="offset points",
        va="top",
        fontsize=8,
        color="tab:orange",
    )
    ax.set_xscale("log")
    ax.set_xlabel("weight magnitude |w| (log scale; the outer bins also hold |w| < 10⁻⁶ and > 100)")
    ax.set_ylabel("share of the weights per bin (%, 4 bins per decade)")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(
        f"Weight magnitudes, 784-{protocol['hidden_units']}-10 on {protocol['train_images']:,} "
        "images (mean over seeds)" + scale_note(scale),
        fontsize=10,
    )
    return save(fig, folder, "weight_histograms")


def figure_early_stopping(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    """Per variant: the test accuracy early stopping gets for each patience, at the last epoch
    and at the best epoch; and the epochs where it stops."""
    order = variants(table)["variant"].tolist()
    stops = pd.concat([early_stopping(table, p) for p in protocol["patience"]], ignore_index=True)
    ys = np.arange(len(order))
    fig, (accuracy_ax, epoch_ax) = plt.subplots(
        1, 2, figsize=(13, 0.32 * len(order) + 1.8), sharey=True
    )
    markers = dict(zip(protocol["patience"], ("o", "s", "^", "D")))
    first = stops[stops.patience == protocol["patience"][0]]
    for column, name, marker, colour in (
        ("test_best", "best epoch (in hindsight)", "*", "gold"),
        ("test_at_last", "last epoch", "x", "black"),
    ):
        mean = first.groupby("variant")[column].mean().loc[order]
        accuracy_ax.scatter(100 * mean, ys, marker=marker, color=colour, label=name, zorder=3)
    for index, (patience, group) in enumerate(stops.groupby("patience")):
        offset = 0.15 * (index - 0.5)
        accuracy = group.groupby("variant")["test_at_stop"].mean().loc[order]
        epoch = group.groupby("variant")["stop_epoch"].mean().loc[order]
        style = {
            "marker": markers.get(patience, "o"),
            "facecolors": "none",
            "edgecolors": f"C{index}",
            "zorder": 4,
        }
        accuracy_ax.scatter(
            100 * accuracy, ys + offset, label=f"early stop, patience {patience}", **style
        )
        epoch_ax.scatter(epoch, ys + offset, label=f"stop epoch, patience {patience}", **style)
    best = first.groupby("variant")["best_epoch"].mean().loc[order]
    epoch_ax.scatter(best, ys, marker="*", color="gold", label="best test epoch", zorder=3)
    accuracy_ax.set_yticks(ys, order, fontsize=8)
    accuracy_ax.invert_yaxis()
    accuracy_ax.set_xlabel("test accuracy (%, mean over seeds)")
    accuracy_ax.legend(fontsize=7, loc="lower left")
    epoch_ax.set_xscale("log")
    epoch_ax.xaxis.set_major_locator(FixedLocator([1, 2, 5, 10, 20, 50, 100, 200, 400, 1000]))
    epoch_ax.xaxis.set_major_formatter(ScalarFormatter())
    epoch_ax.xaxis.set_minor_formatter(NullFormatter())
    epoch_ax.set_xlabel("epoch (log scale, mean over seeds)")
    epoch_ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(
        "Early stopping read off the validation curves: where it stops and what it keeps"
        + scale_note(scale),
        fontsize=10,
    )
    return save(fig, folder, "early_stopping")
