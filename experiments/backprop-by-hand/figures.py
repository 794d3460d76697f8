"""Figures: the slides' numbers beside their recomputation, and how closely the three ways of
computing a gradient agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from dlexp.figures import save

from .checks import (
    RECOMPUTED,
    SLIDE,
    by_method,
    explanation,
    gradient_pairs,
    printed_numbers,
    relative_errors,
    tolerance,
)

TITLES = {
    "forward_example": 'deck "Deep learning", slide "Forward example"',
    "sigmoid_gate": 'deck "Deep learning", sigmoid example and its gradient step (η = 0.001)',
    "chain_rule": 'deck "Deep learning", slide "Computational graph"',
    "torch_illustration": 'deck "Introduction to Deep Learning", slide "Illustration in 3 steps"',
}
WRONG, RIGHT = "#f8d0d0", "#d8f0d8"


def figures(table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path) -> list[Path]:
    return [*figure_worked_numbers(table, folder), *figure_gradient_agreement(table, folder)]


def figure_worked_numbers(table: pd.DataFrame, folder: Path) -> list[Path]:
    """One table per worked example: the printed number, the recomputed one, and a verdict."""
    examples = [e for e in TITLES if e in set(table.variant)]
    heights = [len(printed_numbers(table, e)) + 2 for e in examples]
    fig, axes = plt.subplots(
        len(examples), 1, figsize=(10.5, 0.28 * sum(heights) + 1.2),
        gridspec_kw={"height_ratios": heights},
    )  # fmt: skip
    for ax, example in zip(np.atleast_1d(axes), examples):
        numbers = by_method(table, example)
        rows, colours = [], []
        for quantity, printed in printed_numbers(table, example).items():
            correct = numbers.at[quantity, RECOMPUTED]
            agrees = abs(correct - numbers.at[quantity, SLIDE]) <= tolerance(printed)
            verdict = (
                "agrees"
                if agrees
                else "wrong: " + (explanation(numbers, quantity, printed) or "not explained")
            )
            rows.append([quantity, printed, f"{correct:.6g}", verdict])
            colours.append(["white"] * 3 + [RIGHT if agrees else WRONG])
        ax.axis("off")
        ax.set_title(TITLES[example], fontsize=9, loc="left")
        cells = ax.table(
            cellText=rows,
            cellColours=colours,
            colLabels=["quantity", "slide", "recomputed (float64)", "the slide's number"],
            colWidths=[0.16, 0.12, 0.17, 0.55],
            loc="upper center",
            cellLoc="left",
        )
        cells.auto_set_font_size(False)
        cells.set_fontsize(8)
    fig.suptitle("The slides' worked numbers, recomputed from their own inputs")
    return save(fig, folder, "worked_numbers")


SHORT = {
    "forward_example": "forward example\n(4-3-1 net)",
    "sigmoid_gate": "sigmoid example",
    "torch_illustration": "PyTorch illustration",
}


def figure_gradient_agreement(table: pd.DataFrame, folder: Path) -> list[Path]:
    """Relative difference of each partial derivative: backprop vs autograd and vs the wiggle,
    one section of the x axis per slide network."""
    fig, ax = plt.subplots(figsize=(8, 4.4))
    floor = 1e-18  # exact agreement drawn here, so that it shows on the log axis
    comparisons = (("autograd", "o"), ("central difference", "s"))
    start, centres, names = 0, [], []
    for example in [e for e in SHORT if e in set(table.variant)]:
        rows = table[table.variant == example]
        for offset, (other, marker) in enumerate(comparisons):
            pairs = gradient_pairs(rows, "backprop", other)
            errors = relative_errors(pairs["backprop"], pairs[other]).clip(lower=floor)
            positions = start + np.arange(len(errors)) + 0.3 * offset
            label = f"backprop vs {other}" if start == 0 else None
            colour = f"C{offset}"
            ax.plot(positions, errors, marker, color=colour, linestyle="none", label=label)
        count = len(gradient_pairs(rows, "backprop", "autograd"))
        centres.append(start + (count - 1) / 2)
        names.append(SHORT[example])
        start += count + 1
        ax.axvline(start - 1, color="grey", linewidth=0.5)
    ax.set_xticks(centres, names, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylim(floor / 10, 1e-4)
    ax.axhline(1e-6, color="grey", linestyle="--", linewidth=1)
    ax.text(0, 1.6e-6, "1e-6: the agreement asked of the wiggle", fontsize=8, color="grey")
    ax.set_xlabel("each partial derivative ∂L/∂w of the slides' networks")
    ax.set_ylabel(f"relative difference (log scale; {floor:g} = identical)")
    ax.set_title("Three ways to the same gradient, in float64")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(0.0, 0.35))
    return save(fig, folder, "gradient_agreement")
