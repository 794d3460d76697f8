"""Slow learning with MSE: a confidently wrong sigmoid neuron barely learns; with BCE, fast.

The lecture's derivation, for a sigmoid output ŷ = σ(z), z = w·x + b:

    quadratic cost        C = ½(ŷ − y)²                       ∂C/∂w = x (ŷ − y) σ'(z)
    binary cross-entropy  C = −[y ln ŷ + (1 − y) ln(1 − ŷ)]   ∂C/∂w = x (ŷ − y)

With the quadratic cost (MSE) a neuron whose output is far off *and* saturated (|z| large, so
σ'(z) ≈ 0) gets almost no gradient: "counter-intuitive: big mistakes should lead to big learning
steps". With binary cross-entropy (BCE) σ'(z) cancels: the larger the error, the faster it learns.

Two parts. (1) One sigmoid neuron with input x = 1 and target y = 0, started unsaturated
((w, b) = (0.6, 0.9), ŷ ≈ 0.82) and saturated ((2, 2), ŷ ≈ 0.98), trained by gradient descent:
with MSE the saturated start takes many times longer to fall below 0.5; with BCE it does not.
(2) MNIST with a 784-30-10 sigmoid network started with large N(0, 1) weights and biases (so many
outputs start saturated and wrong), SGD with the same η for every cost: BCE is ahead after the first
epoch and reaches 90% validation accuracy sooner; softmax + NLL is shown as a third line.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.ticker import MaxNLocator

from dlexp.data import Split
from dlexp.figures import line_with_band, save, scale_note, summarise
from dlexp.finding import Outcome, RunContext
from dlexp.measures import accuracy_and_cost
from dlexp.models import ModelSpec, StackedMLP
from dlexp.trainer import Measure, Schedule

COSTS = {
    "mse": {"output": "sigmoid", "cost": "quadratic"},
    "bce": {"output": "sigmoid", "cost": "cross-entropy"},
    "softmax-nll": {"output": "softmax", "cost": "cross-entropy"},
}
LABELS = {"mse": "MSE  ½‖ŷ − y‖²", "bce": "binary cross-entropy", "softmax-nll": "softmax + NLL"}
COLOURS = {"mse": "tab:red", "bce": "tab:blue", "softmax-nll": "tab:green"}
STARTS = ("unsaturated", "saturated")
NEURON_COSTS = ("mse", "bce")
INPUT_X = 1.0
TARGET_Y = 0


def neuron_specs(neuron: dict[str, Any]) -> list[ModelSpec]:
    """Both starts × both costs: one sigmoid neuron each, plain gradient descent on one example."""
    return [
        ModelSpec(
            variant=f"{cost}, {start} start",
            seed=0,
            sizes=(1, 1),
            eta=neuron["eta"],
            batch_size=1,
            params={"part": "neuron", "cost": cost, "start": start, "eta": neuron["eta"]},
            **COSTS[cost],
        )
        for start in STARTS
        for cost in NEURON_COSTS
    ]


def single_neuron(net: StackedMLP, neuron: dict[str, Any]) -> StackedMLP:
    """The stack of single neurons, each with its start's (w, b) written in."""
    for m, spec in enumerate(net.specs):
        w, b = neuron[spec.params["start"]]
        net.weights[0][m].fill_(w)
        net.biases[0][m].fill_(b)
    return net


def neuron_readings(example: Split) -> Measure:
    """The lecture's picture of a single neuron on its one example: output ŷ, cost C, ∂C/∂w and
    ∂C/∂b (= ∂C/∂z, since ∂z/∂b = 1)."""

    def measure(net: StackedMLP) -> dict[str, torch.Tensor]:
        trace = net.forward(example.images)
        grad_w, grad_b = net.gradients(example.images, example.labels)
        return {
            "output": trace.output[:, 0, 0],
            "cost": net.cost(trace, example.labels)[:, 0],
            "dC_dw": grad_w[0][:, 0, 0],
            "dC_db": grad_b[0][:, 0],
        }

    return measure


def output_gradient_magnitude(probe: Split) -> Measure:
    """Mean |∂C_x/∂z^L_j| over the probe's examples x and output units j: how hard the output
    layer is pushed to learn. δ^L = (ŷ − y) σ'(z) for MSE, ŷ − y for BCE and softmax + NLL."""

    def measure(net: StackedMLP) -> dict[str, torch.Tensor]:
        trace = net.forward(probe.images)
        delta = net.output_error(trace, net.targets(probe.labels))
        return {"output_gradient": delta.abs().mean(dim=(1, 2))}

    return measure


def mnist_etas(mnist: dict[str, Any]) -> list[float]:
    """The claims' η first, then the sweep's other values."""
    return list(dict.fromkeys([mnist["eta"], *mnist["eta_sweep"]]))


def mnist_specs(mnist: dict[str, Any], seeds: list[int]) -> list[ModelSpec]:
    """Every cost × η × seed: 784-30-10 sigmoid nets with large N(0, 1) weights and biases."""
    return [
        ModelSpec(
            variant=f"{cost}, η = {eta:g}",
            seed=seed,
            sizes=(784, mnist["hidden_units"], 10),
            weight_init="large",
            eta=eta,
            batch_size=mnist["batch_size"],
            params={"part": "mnist", "cost": cost, "eta": eta},
            **COSTS[cost],
        )
        for eta in mnist_etas(mnist)
        for cost in COSTS
        for seed in seeds
    ]


def measure(context: RunContext) -> pd.DataFrame:
    neuron, mnist = context.protocol["neuron"], context.protocol["mnist"]
    example = Split(torch.full((1, 1), INPUT_X), torch.tensor([TARGET_Y])).to(context.device)
    neurons = context.train_stack(
        single_neuron(context.stack(neuron_specs(neuron)), neuron),
        example,
        Schedule(neuron["epochs"]),
        [neuron_readings(example)],
        "single neuron: gradient descent",
    )
    data = context.mnist()
    images = data.train.subset(mnist["train_images"])
    validation = data.validation.subset(mnist["validation_images"])
    probe = data.train.subset(mnist["gradient_images"])
    specs = mnist_specs(mnist, context.seeds)
    measures = [accuracy_and_cost({"validation": validation}), output_gradient_magnitude(probe)]
    table = context.train(
        specs, images, Schedule(mnist["epochs"]), measures, "MNIST: MSE vs BCE vs softmax"
    )
    return pd.concat([neurons, table], ignore_index=True)


def neuron_metric(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    return table[(table.part == "neuron") & (table.metric == metric)].sort_values("epoch")


def one_neuron(rows: pd.DataFrame, cost: str, start: str) -> pd.DataFrame:
    """The rows of the neuron trained with `cost` from `start`."""
    return rows[(rows.cost == cost) & (rows.start == start)]


def epochs_to_fall_below(table: pd.DataFrame, cost: str, start: str, below: float) -> float:
    """The first epoch after which the neuron's output ŷ is below `below`; inf if it never is."""
    output = one_neuron(neuron_metric(table, "output"), cost, start)
    under = output[output["value"] < below]
    return float(under.epoch.iloc[0]) if len(under) else math.inf


def mse_slow_when_saturated(
    table: pd.DataFrame, protocol: dict[str, Any], below: float, min_ratio: float
) -> Outcome:
    """With MSE the saturated start needs at least `min_ratio` times the epochs of the
    unsaturated start for ŷ to fall below `below`."""
    unsaturated = epochs_to_fall_below(table, "mse", "unsaturated", below)
    saturated = epochs_to_fall_below(table, "mse", "saturated", below)
    ratio = saturated / unsaturated
    detail = (
        f"MSE: ŷ < {below:g} after {unsaturated:g} epochs (unsaturated), {saturated:g} (saturated)"
    )
    return Outcome(bool(ratio >= min_ratio), [ratio], detail)


def bce_fast_when_wrong(
    table: pd.DataFrame, protocol: dict[str, Any], below: float, max_ratio: float
) -> Outcome:
    """From the saturated start, BCE needs at most `max_ratio` of MSE's epochs for ŷ to fall
    below `below`."""
    bce = epochs_to_fall_below(table, "bce", "saturated", below)
    mse = epochs_to_fall_below(table, "mse", "saturated", below)
    unsaturated = epochs_to_fall_below(table, "bce", "unsaturated", below)
    ratio = bce / mse
    detail = (
        f"saturated start: ŷ < {below:g} after {bce:g} epochs with BCE, {mse:g} with MSE "
        f"(BCE from the unsaturated start: {unsaturated:g})"
    )
    return Outcome(bool(ratio <= max_ratio), [ratio], detail)


def validation_accuracy(table: pd.DataFrame, eta: float) -> pd.DataFrame:
    """MNIST validation accuracy at learning rate η, one column per cost, rows (seed, epoch)."""
    rows = table[(table.part == "mnist") & (table.metric == "validation_accuracy")]
    rows = rows[np.isclose(rows.eta.astype(float), eta)]
    return rows.pivot_table(index=["seed", "epoch"], columns="cost", values="value")


def sweep_note(
    table: pd.DataFrame,
    protocol: dict[str, Any],
    holds: Callable[[pd.DataFrame], list[bool]],
) -> str:
    """In how many seeds the claim `holds` (given the validation accuracy, one bool per seed) at
    each other η of the sweep, as a note for the detail line."""
    mnist = protocol["mnist"]
    others = [eta for eta in mnist_etas(mnist) if eta != mnist["eta"]]
    notes = []
    for eta in others:
        held = holds(validation_accuracy(table, eta))
        notes.append(f"η = {eta:g}: {sum(held)}/{len(held)} seeds")
    return f"; at the sweep's other η it holds in {', '.join(notes)}" if notes else ""


def bce_ahead_after(accuracy: pd.DataFrame, epoch: int) -> pd.Series:
    """Per seed, BCE's minus MSE's validation accuracy after `epoch`."""
    at = accuracy.xs(epoch, level="epoch")
    return at["bce"] - at["mse"]


def bce_ahead_after_epoch(table: pd.DataFrame, protocol: dict[str, Any], epoch: int) -> Outcome:
    """After `epoch`, BCE's validation accuracy is above MSE's in every seed, at the claims' η."""
    eta = protocol["mnist"]["eta"]
    lead = bce_ahead_after(validation_accuracy(table, eta), epoch)
    detail = (
        f"η = {eta:g}, after epoch {epoch}: BCE ahead in {int((lead > 0).sum())}/{len(lead)} seeds"
        + sweep_note(table, protocol, lambda acc: (bce_ahead_after(acc, epoch) > 0).tolist())
    )
    return Outcome(bool((lead > 0).all()), (100 * lead).tolist(), detail)


def epochs_to_reach(accuracy: pd.DataFrame, cost: str, target: float) -> pd.Series:
    """Per seed, the first epoch at which `cost` reaches `target` validation accuracy; inf if
    it never does."""
    reached = accuracy[cost].unstack("epoch").ge(target)
    epochs = reached.columns.to_numpy(float)
    return reached.apply(lambda row: epochs[row.to_numpy()].min(initial=math.inf), axis=1)


def bce_reaches_sooner(accuracy: pd.DataFrame, target: float) -> list[bool]:
    bce, mse = epochs_to_reach(accuracy, "bce", target), epochs_to_reach(accuracy, "mse", target)
    return (np.isfinite(bce) & (bce < mse)).tolist()


def bce_reaches_accuracy_sooner(
    table: pd.DataFrame, protocol: dict[str, Any], accuracy: float
) -> Outcome:
    """In every seed, at the claims' η, BCE reaches `accuracy` in fewer epochs than MSE. The value
    is MSE's epochs minus BCE's, "never" counted as epochs + 1 (so a lower bound then)."""
    mnist = protocol["mnist"]
    validation = validation_accuracy(table, mnist["eta"])
    bce = epochs_to_reach(validation, "bce", accuracy)
    mse = epochs_to_reach(validation, "mse", accuracy)
    never = mnist["epochs"] + 1
    saved = mse.replace(math.inf, never) - bce.replace(math.inf, never)

    def listed(epochs: pd.Series) -> str:
        return ", ".join("never" if math.isinf(e) else f"{e:g}" for e in epochs)

    detail = (
        f"η = {mnist['eta']:g}, epochs to {accuracy:.0%} per seed: BCE {listed(bce)}; "
        f"MSE {listed(mse)}"
        + sweep_note(table, protocol, lambda acc: bce_reaches_sooner(acc, accuracy))
    )
    return Outcome(all(bce_reaches_sooner(validation, accuracy)), saved.tolist(), detail)


CHECKS = {
    "mse_slow_when_saturated": mse_slow_when_saturated,
    "bce_fast_when_wrong": bce_fast_when_wrong,
    "bce_ahead_after_epoch": bce_ahead_after_epoch,
    "bce_reaches_accuracy_sooner": bce_reaches_accuracy_sooner,
}


def figures(table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path) -> list[Path]:
    return [
        *figure_neuron_learning(table, scale, folder),
        *figure_output_gradient_vs_output(table, scale, folder),
        *figure_mnist_accuracy(table, protocol, scale, folder),
        *figure_mnist_output_gradient(table, protocol, scale, folder),
    ]


def start_label(table: pd.DataFrame, start: str) -> str:
    """`saturated start, ŷ₀ = 0.98`, the output read from the table's epoch 0."""
    return f"{start} start, ŷ₀ = {initial_output(table, start):.2f}"


def initial_output(table: pd.DataFrame, start: str) -> float:
    output = neuron_metric(table, "output")
    return float(output[(output.start == start) & (output.epoch == 0)]["value"].iloc[0])


def mark_crossing(ax: plt.Axes, table: pd.DataFrame, cost: str, start: str) -> None:
    """A dot where the output first falls below 0.5, labelled with its epoch (MSE's label above
    the line, BCE's below, so that close crossings stay readable)."""
    epoch = epochs_to_fall_below(table, cost, start, 0.5)
    if math.isfinite(epoch):
        ax.plot(epoch, 0.5, "o", color=COLOURS[cost], markersize=5)
        ax.annotate(
            f"epoch {epoch:g}",
            (epoch, 0.5),
            xytext=(4, 6) if cost == "mse" else (4, -14),
            textcoords="offset points",
            color=COLOURS[cost],
            fontsize=8,
        )


def figure_neuron_learning(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    """The lecture's picture: output and cost per epoch, per start, per cost."""
    eta = float(neuron_metric(table, "output").eta.iloc[0])
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5), sharex=True, sharey="row")
    for column, start in enumerate(STARTS):
        for row, metric in enumerate(("output", "cost")):
            ax = axes[row, column]
            values = neuron_metric(table, metric)
            for cost in NEURON_COSTS:
                run_ = one_neuron(values, cost, start)
                ax.plot(run_.epoch, run_["value"], color=COLOURS[cost], label=LABELS[cost])
        axes[0, column].axhline(0.5, color="grey", linestyle=":", linewidth=1)
        for cost in NEURON_COSTS:
            mark_crossing(axes[0, column], table, cost, start)
        axes[0, column].set_title(start_label(table, start))
        axes[0, column].set_ylim(0, 1)
        axes[1, column].set_xlabel(f"epoch (gradient descent, η = {eta:g}, x = 1, y = 0)")
    axes[0, 0].set_ylabel("output ŷ = σ(w·x + b)")
    axes[1, 0].set_ylabel("cost C (log scale)")
    axes[1, 0].set_yscale("log")
    axes[0, 0].legend(fontsize=8, loc="upper right")
    fig.suptitle(
        "One sigmoid neuron, confidently wrong: with MSE it is slow to start, with BCE it is not"
        + scale_note(scale)
    )
    return save(fig, folder, "single_neuron_output_and_cost")


def figure_output_gradient_vs_output(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    """|∂C/∂w| per epoch, and |∂C/∂z| against ŷ for y = 0: the analytic curves ŷ²(1 − ŷ) (MSE)
    and ŷ (BCE) with the neurons' measured (ŷ, |∂C/∂b|) of every epoch as points."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    grad_w = neuron_metric(table, "dC_dw")
    for cost in NEURON_COSTS:
        for start, style in zip(STARTS, ("--", "-")):
            run_ = one_neuron(grad_w, cost, start)
            left.plot(
                run_.epoch,
                run_["value"].abs(),
                color=COLOURS[cost],
                linestyle=style,
                label=f"{LABELS[cost]}, {start_label(table, start)}",
            )
    left.set_yscale("log")
    left.set_xlabel("epoch")
    left.set_ylabel("speed of learning |∂C/∂w| (log scale)")
    left.set_title("Gradient per epoch")
    left.legend(fontsize=7, loc="upper right")
    y_hat = np.linspace(0.0, 1.0, 201)
    right.plot(y_hat, y_hat, color=COLOURS["bce"], label="BCE: ŷ − y = ŷ")
    mse_label = "MSE: (ŷ − y) σ'(z) = ŷ²(1 − ŷ)"
    right.plot(y_hat, y_hat**2 * (1 - y_hat), color=COLOURS["mse"], label=mse_label)
    output = neuron_metric(table, "output")
    grad_b = neuron_metric(table, "dC_db")
    for cost in NEURON_COSTS:
        ours = output[output.cost == cost]
        right.scatter(
            ours["value"],
            grad_b.loc[grad_b.cost == cost, "value"].abs(),
            s=10,
            facecolors="none",
            edgecolors=COLOURS[cost],
            linewidths=0.6,
            label=f"measured every epoch, {cost.upper()}",
        )
    for start in STARTS:
        start_output = initial_output(table, start)
        right.axvline(start_output, color="grey", linestyle=":", linewidth=1)
        right.annotate(
            f"{start}\nstart",
            (start_output, 0.55),
            xytext=(-4, 0),
            textcoords="offset points",
            ha="right",
            fontsize=8,
            color="grey",
        )
    right.set_xlabel("output ŷ (target y = 0, so the error grows to the right)")
    right.set_ylabel("|∂C/∂z| = |∂C/∂b| at the output neuron")
    right.set_title("Error signal against output ŷ")
    right.legend(fontsize=7, loc="upper left")
    fig.suptitle(
        "Big mistake, small step with MSE: σ'(z) ≈ 0 when the neuron is saturated"
        + scale_note(scale)
    )
    return save(fig, folder, "output_gradient_vs_output")


def mnist_metric(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    return table[(table.part == "mnist") & (table.metric == metric)]


def per_eta_panels(
    table: pd.DataFrame, protocol: dict[str, Any], metric: str
) -> tuple[plt.Figure, list]:
    """One axis per η of the sweep, ascending, each with that η's rows of `metric`."""
    rows = mnist_metric(table, metric)
    etas = sorted(rows.eta.astype(float).unique())
    fig, axes = plt.subplots(1, len(etas), figsize=(4.6 * len(etas), 4.3), sharey=True)
    panels = [
        (ax, eta, rows[np.isclose(rows.eta.astype(float), eta)])
        for ax, eta in zip(np.atleast_1d(axes), etas)
    ]
    for ax, eta, _ in panels:
        claims = " (the claims' η)" if np.isclose(eta, protocol["mnist"]["eta"]) else ""
        ax.set_title(f"η = {eta:g} for every cost{claims}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig, panels


def lines_per_cost(ax: plt.Axes, rows: pd.DataFrame, scale_by: float = 1.0) -> None:
    """Per cost, the mean over seeds with its 95% CI band, and each seed as a thin line (with
    three seeds the band is wide; the thin lines show whether one seed or all lag)."""
    for cost in COSTS:
        of_cost = rows[rows.cost == cost].assign(value=lambda r: r["value"] * scale_by)
        if len(of_cost):
            summary = summarise(of_cost, ["epoch"])
            line_with_band(ax, summary["epoch"], summary, color=COLOURS[cost], label=LABELS[cost])
            for _, seed in of_cost.sort_values("epoch").groupby("seed"):
                ax.plot(seed.epoch, seed["value"], color=COLOURS[cost], linewidth=0.6, alpha=0.5)


def network_title(protocol: dict[str, Any]) -> str:
    mnist = protocol["mnist"]
    return (
        f"MNIST, 784-{mnist['hidden_units']}-10 sigmoid net, N(0, 1) weights and biases, "
        f"SGD with mini-batches of {mnist['batch_size']}"
    )


def figure_mnist_accuracy(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    fig, panels = per_eta_panels(table, protocol, "validation_accuracy")
    for ax, _, rows in panels:
        lines_per_cost(ax, rows, scale_by=100.0)
        ax.axhline(90, color="grey", linestyle=":", linewidth=1)
        ax.set_ylim(0, 100)
        ax.set_xlabel("epoch (0 = untrained)")
    panels[0][0].set_ylabel("validation accuracy (%): mean ± 95% CI, thin: seeds")
    panels[0][0].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"Validation accuracy.\n{network_title(protocol)}" + scale_note(scale))
    return save(fig, folder, "mnist_validation_accuracy")


def figure_mnist_output_gradient(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    fig, panels = per_eta_panels(table, protocol, "output_gradient")
    for ax, _, rows in panels:
        lines_per_cost(ax, rows)
        ax.set_yscale("log")
        ax.set_xlabel("epoch (0 = untrained)")
    panels[0][0].set_ylabel(
        r"mean $|\partial C_x / \partial z^L_j|$ over x, j (log scale; thin: seeds)"
    )
    panels[0][0].legend(fontsize=8, loc="lower left")
    probe = f"the first {protocol['mnist']['gradient_images']:,} training images"
    fig.suptitle(
        f"Error signal at the output layer, on {probe}.\n{network_title(protocol)}"
        + scale_note(scale)
    )
    return save(fig, folder, "mnist_output_gradient")
