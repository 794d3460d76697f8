"""Depth versus accuracy: beyond two hidden layers, more sigmoid layers do not help on MNIST.

The slide (Nielsen, ch. 5): with 30-unit sigmoid hidden layers, no hidden layer gives ≈ 88%, one
≈ 96.5%, two ≈ 96.9%, three and four ≈ 96.5%. Deeper should be more expressive, yet plain SGD does
not turn the extra layers into accuracy — the puzzle the vanishing-gradient analysis answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd

from dlexp.claims import Outcome
from dlexp.figures import line_with_band, save, scale_note, summarise
from dlexp.models import ModelSpec
from dlexp.runner import RunContext
from dlexp.trainer import Schedule, accuracy_and_cost, total_steps, train

OUTPUT_LABELS = {
    "sigmoid": "sigmoid outputs + cross-entropy",
    "softmax": "softmax + log-likelihood",
}
SLIDE = {0: 88.0, 1: 96.5, 2: 96.9, 3: 96.5, 4: 96.5}
MAIN = "sigmoid"


def depth_specs(protocol: dict[str, Any], seeds: list[int]) -> list[ModelSpec]:
    return [
        ModelSpec(
            variant=f"{depth}-hidden-{output}",
            seed=seed,
            sizes=(784, *[protocol["hidden_units"]] * depth, 10),
            output=output,
            eta=protocol["eta"],
            l2=protocol["l2"],
            batch_size=protocol["batch_size"],
            params={"depth": depth, "output": output},
        )
        for depth in protocol["depths"]
        for output in protocol["outputs"]
        for seed in seeds
    ]


def run(context: RunContext) -> pd.DataFrame:
    protocol = context.protocol
    mnist = context.mnist()
    train_split = mnist.train.subset(protocol["train_images"])
    evaluation = {
        "validation": mnist.validation.subset(protocol["eval_images"]),
        "test": mnist.test.subset(protocol["eval_images"]),
    }
    specs = depth_specs(protocol, context.seeds)
    epochs = protocol["epochs"]
    advance = context.task(
        "depth vs accuracy: mini-batch steps", total_steps(specs, len(train_split), epochs)
    )
    return train(
        specs,
        train_split,
        Schedule(epochs),
        [accuracy_and_cost(evaluation)],
        device=context.device,
        advance=advance,
    )


def final_accuracy(table: pd.DataFrame, split: str = "validation") -> pd.DataFrame:
    """Accuracy in percent after the last epoch: one row per depth, output and seed."""
    rows = table[table.metric == f"{split}_accuracy"]
    rows = rows[rows.epoch == rows.epoch.max()]
    return rows.assign(value=rows["value"] * 100)[["depth", "output", "seed", "value"]]


def accuracy_by_depth(table: pd.DataFrame, output: str = MAIN) -> pd.DataFrame:
    """seed × depth table of final validation accuracy (%)."""
    final = final_accuracy(table)
    final = final[final.output == output]
    return final.pivot(index="seed", columns="depth", values="value")


def hidden_layer_helps(
    table: pd.DataFrame, protocol: dict[str, Any], min_gain_points: float
) -> Outcome:
    """One hidden layer beats none by at least `min_gain_points` in every seed."""
    by_depth = accuracy_by_depth(table)
    gain = by_depth[1] - by_depth[0]
    detail = f"0 hidden {by_depth[0].mean():.2f}%, 1 hidden {by_depth[1].mean():.2f}% (mean)"
    return Outcome(bool((gain >= min_gain_points).all()), gain.tolist(), detail)


def no_gain_beyond_two(table: pd.DataFrame, protocol: dict[str, Any]) -> Outcome:
    """The 3- and 4-layer means are not above the 2-layer mean."""
    by_depth = accuracy_by_depth(table)
    deeper = [d for d in (3, 4) if d in by_depth]
    differences = [float(v) for d in deeper for v in (by_depth[d] - by_depth[2])]
    means = by_depth.mean()
    passed = all(means[d] <= means[2] for d in deeper)
    detail = ", ".join(f"{d} hidden {means[d]:.2f}%" for d in [2, *deeper]) + " (mean)"
    return Outcome(passed, differences, detail)


def matches_slide_numbers(
    table: pd.DataFrame, protocol: dict[str, Any], tolerance_points: float
) -> Outcome:
    """Every depth's mean accuracy lies within `tolerance_points` of the slide's number."""
    means = accuracy_by_depth(table).mean()
    differences = {d: means[d] - SLIDE[d] for d in means.index if d in SLIDE}
    passed = all(abs(v) <= tolerance_points for v in differences.values())
    detail = "; ".join(f"{d} hidden: {means[d]:.2f}% vs slide {SLIDE[d]:.1f}%" for d in differences)
    return Outcome(passed, list(differences.values()), detail)


CHECKS = {
    "hidden_layer_helps": hidden_layer_helps,
    "no_gain_beyond_two": no_gain_beyond_two,
    "matches_slide_numbers": matches_slide_numbers,
}


def figures(table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path) -> list[Path]:
    return [
        *figure_accuracy_vs_depth(table, scale, folder),
        *figure_accuracy_per_epoch(table, scale, folder),
    ]


def figure_accuracy_vs_depth(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    final = final_accuracy(table)
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for output, group in summarise(final, ["output", "depth"]).groupby("output"):
        ax.errorbar(
            group["depth"],
            group["mean"],
            yerr=[group["mean"] - group["low"], group["high"] - group["mean"]],
            marker="o",
            capsize=4,
            label=f"measured: {OUTPUT_LABELS.get(output, output)}",
        )
    depths = sorted(final.depth.unique())
    ax.plot(
        depths,
        [SLIDE.get(d, np.nan) for d in depths],
        "k*",
        markersize=11,
        linestyle="none",
        label="the slide's number",
    )
    ax.set_xticks(depths)
    ax.set_ylim(top=min(100.0, ax.get_ylim()[1]), bottom=max(0.0, ax.get_ylim()[0]))
    ax.set_xlabel("number of hidden layers (30 sigmoid units each)")
    ax.set_ylabel("validation accuracy after the last epoch (%)")
    ax.set_title("Depth vs accuracy on MNIST (mean ± 95% CI over seeds)" + scale_note(scale))
    ax.legend(fontsize=8, loc="lower right")
    return save(fig, folder, "accuracy_vs_depth")


def figure_accuracy_per_epoch(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    """Validation error per epoch on a log scale: it shows both the deep nets' slow first
    epochs (tens of percent) and the tenths of a point that separate the depths at the end."""
    rows = table[table.metric == "validation_accuracy"]
    rows = rows[rows.epoch > 0].assign(value=lambda r: (1 - r["value"]) * 100)
    outputs = list(dict.fromkeys(o for o in OUTPUT_LABELS if o in set(rows.output)))
    fig, axes = plt.subplots(1, len(outputs), figsize=(5.5 * len(outputs), 4.2), sharey=True)
    for ax, output in zip(np.atleast_1d(axes), outputs):
        summary = summarise(rows[rows.output == output], ["depth", "epoch"])
        for depth, group in summary.groupby("depth"):
            line_with_band(ax, group["epoch"], group, label=f"{depth} hidden")
        ax.set_yscale("log")
        ax.set_yticks([1, 2, 3, 5, 10, 20, 50, 100])
        ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(OUTPUT_LABELS[output])
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.legend(fontsize=8, loc="upper right")
    np.atleast_1d(axes)[0].set_ylabel("validation error (%, log scale)")
    fig.suptitle(
        "Validation error per epoch, a line per depth (mean, 95% CI band)" + scale_note(scale)
    )
    return save(fig, folder, "validation_error_per_epoch")
