"""The figures: the single neuron's output, cost and gradient, and MNIST accuracy and output-layer
error signal per epoch."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FormatStrFormatter, MaxNLocator, NullFormatter

from dlexp.figures import line_with_band, save, scale_note, summarise_on_log_scale

from .checks import (
    best_etas,
    epochs_to_fall_below,
    initial_value,
    neuron_metric,
    one_neuron,
    slow_down,
)
from .run import COSTS, INITS, NEURON_COSTS, STARTS

LABELS = {"mse": "MSE  ½‖ŷ − y‖²", "bce": "binary cross-entropy", "softmax-nll": "softmax + NLL"}
COLOURS = {"mse": "tab:red", "bce": "tab:blue", "softmax-nll": "tab:green"}


def figures(table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path) -> list[Path]:
    return [
        *figure_neuron_learning(table, scale, folder),
        *figure_output_gradient_vs_output(table, scale, folder),
        *figure_mnist_eta_sweep(table, protocol, scale, folder),
        *figure_mnist_accuracy(table, protocol, scale, folder),
        *figure_mnist_output_gradient(table, protocol, scale, folder),
    ]


def start_label(table: pd.DataFrame, start: str) -> str:
    """`saturated start, ŷ₀ = 0.98`, the output read from the table's epoch 0."""
    return f"{start} start, ŷ₀ = {initial_output(table, start):.2f}"


def initial_output(table: pd.DataFrame, start: str) -> float:
    """ŷ before any step: the same for both costs."""
    return initial_value(table, "output", "mse", start)


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
    mse, bce = slow_down(table, "mse", 0.5), slow_down(table, "bce", 0.5)
    fig.suptitle(
        f"One sigmoid neuron, confidently wrong: the saturated start slows MSE ×{mse[2]:.1f}, "
        f"BCE only ×{bce[2]:.1f}\n(epochs to ŷ < 0.5: MSE {mse[0]:g} → {mse[1]:g}, BCE {bce[0]:g} "
        f"→ {bce[1]:g}. One η for both costs sets each one's time scale:\ncompare a cost's two "
        f"starts, not one cost's epochs with the other's)" + scale_note(scale)
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
    eta = float(grad_w.eta.iloc[0])
    left.set_xlabel(f"epoch (gradient descent, η = {eta:g})")
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
        for cost in NEURON_COSTS:
            gradient = abs(initial_value(table, "dC_db", cost, start))
            right.plot(start_output, gradient, "o", color=COLOURS[cost], markersize=7, zorder=3)
            right.annotate(
                f"{gradient:.3f}",
                (start_output, gradient),
                xytext=(-8, 6) if cost == "bce" else (-8, -4),
                textcoords="offset points",
                ha="right",
                fontsize=8,
                color=COLOURS[cost],
            )
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
    right.plot([], [], "ko", markersize=7, label="before the first step (the claims)")
    right.set_title("Error signal against output ŷ (no η involved)")
    right.legend(fontsize=7, loc="upper left")
    fig.suptitle(
        "Big mistake, small step with MSE: σ'(z) ≈ 0 when the neuron is saturated"
        + scale_note(scale)
    )
    return save(fig, folder, "output_gradient_vs_output")


def mnist_metric(table: pd.DataFrame, metric: str, init: str) -> pd.DataFrame:
    return table[(table.part == "mnist") & (table.metric == metric) & (table.init == init)]


def network_title(protocol: dict[str, Any]) -> str:
    mnist = protocol["mnist"]
    return (
        f"MNIST, 784-{mnist['hidden_units']}-10 sigmoid net, biases N(0, 1), "
        f"SGD with mini-batches of {mnist['batch_size']}"
    )


def init_panels() -> tuple[plt.Figure, np.ndarray]:
    """One panel per initialisation, sharing the y axis."""
    fig, axes = plt.subplots(1, len(INITS), figsize=(5.6 * len(INITS), 4.6), sharey=True)
    return fig, np.atleast_1d(axes)


def validation_error(rows: pd.DataFrame) -> pd.DataFrame:
    """Validation accuracy rows as error in percent: on a log axis the first epoch's tens of
    percent and the last epochs' single points both stay readable."""
    return rows.assign(value=lambda r: 100 * (1 - r["value"]))


def error_axis(ax: plt.Axes) -> None:
    ax.set_yscale("log")
    ax.set_yticks([1, 2, 3, 5, 10, 20, 50, 100])
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.axhline(10, color="grey", linestyle=":", linewidth=1)
    ax.set_ylim(top=100)


def figure_mnist_eta_sweep(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    """Validation error after the epoch that picks each cost's η, against η: each cost's best η
    (a star) should lie inside its sweep, not at an end."""
    after = protocol["mnist"]["best_eta_after"]
    fig, axes = init_panels()
    for ax, init in zip(axes, INITS):
        rows = mnist_metric(table, "validation_accuracy", init)
        rows = validation_error(rows[rows.epoch == after])
        best = best_etas(table, protocol, init)
        for cost in COSTS:
            of_cost = rows[rows.cost == cost]
            summary = summarise_on_log_scale(of_cost, ["eta"])
            ax.plot(summary["eta"], summary["mean"], "o-", color=COLOURS[cost], label=LABELS[cost])
            ax.scatter(of_cost.eta, of_cost["value"], s=8, color=COLOURS[cost], alpha=0.5)
            top = summary[np.isclose(summary["eta"], best[cost])]
            ax.plot(top["eta"], top["mean"], "*", color=COLOURS[cost], markersize=16)
        error_axis(ax)
        ax.set_xscale("log")
        etas = sorted(rows.eta.astype(float).unique())
        ax.set_xticks(etas, [f"{eta:g}" for eta in etas])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("learning rate η (log scale)")
        ax.set_title(f"{INITS[init]} weights")
    axes[0].set_ylabel(f"validation error after epoch {after} (%, log scale)")
    axes[0].plot([], [], "k*", markersize=10, linestyle="none", label="its best η")
    axes[0].scatter([], [], s=8, color="grey", label="one seed")
    handles, labels = axes[0].get_legend_handles_labels()
    axes[-1].legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1))
    fig.suptitle(
        "Each cost's own learning-rate sweep: geometric mean over seeds, dotted line = 90% "
        f"accuracy\n{network_title(protocol)}" + scale_note(scale)
    )
    return save(fig, folder, "mnist_eta_sweep")


def lines_at_best_eta(ax: plt.Axes, rows: pd.DataFrame, best: dict[str, float], init: str) -> None:
    """Per cost at its own best η: the geometric mean over seeds with its 95% CI band (a log
    axis), and each seed as a thin line (with three seeds the band is wide; the thin lines show
    whether one seed or all lag)."""
    for cost in COSTS:
        eta = best[cost]
        of_cost = rows[(rows.cost == cost) & np.isclose(rows.eta.astype(float), eta)]
        summary = summarise_on_log_scale(of_cost, ["epoch"])
        label = f"{LABELS[cost]}, η = {eta:g}"
        line_with_band(ax, summary["epoch"], summary, color=COLOURS[cost], label=label)
        for _, seed in of_cost.sort_values("epoch").groupby("seed"):
            ax.plot(seed.epoch, seed["value"], color=COLOURS[cost], linewidth=0.6, alpha=0.5)
    ax.set_yscale("log")
    ax.set_title(f"{INITS[init]} weights, each cost at its own best η")
    ax.set_xlabel("epoch (0 = untrained)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def figure_mnist_accuracy(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    fig, axes = init_panels()
    for ax, init in zip(axes, INITS):
        rows = validation_error(mnist_metric(table, "validation_accuracy", init))
        lines_at_best_eta(ax, rows, best_etas(table, protocol, init), init)
        error_axis(ax)
        ax.legend(fontsize=8, loc="upper right")
    axes[0].set_ylabel("validation error (%, log scale)")
    fig.suptitle(
        "Validation error: geometric mean and 95% CI over seeds, thin lines = seeds, dotted = "
        f"90% accuracy\n{network_title(protocol)}" + scale_note(scale)
    )
    return save(fig, folder, "mnist_validation_error")


def figure_mnist_output_gradient(
    table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path
) -> list[Path]:
    fig, axes = init_panels()
    for ax, init in zip(axes, INITS):
        rows = mnist_metric(table, "output_gradient", init)
        lines_at_best_eta(ax, rows, best_etas(table, protocol, init), init)
        ax.legend(fontsize=8, loc="upper right")
    axes[0].set_ylabel(r"mean $|\partial C_x / \partial z^L_j|$ over x and j (log scale)")
    probe = f"the first {protocol['mnist']['gradient_images']:,} training images"
    fig.suptitle(
        f"Error signal at the output layer, on {probe} (geometric mean, 95% CI, thin lines = "
        f"seeds);\na step moves the weights by η times it, so MSE's larger best η makes up part "
        f"of the gap.\n{network_title(protocol)}" + scale_note(scale)
    )
    return save(fig, folder, "mnist_output_gradient")
