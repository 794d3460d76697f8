"""|w| histograms: how many of a model's weights lie in each magnitude bin, before training and
after the last epoch (L1's claim: it drives weights to zero; L2 only shrinks them)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import torch

from dlexp.model_spec import ModelSpec
from dlexp.models import StackedMLP
from dlexp.table import long_row

WEIGHT_COUNT = "weight_count"

# |w| histogram bins: [0, 10⁻⁶), four per decade from 10⁻⁶ to 10², and [10², ∞).
MAGNITUDE_EDGES = (0.0, *(10.0 ** (np.arange(-24, 9) / 4)).tolist(), math.inf)
INNER_EDGES = torch.tensor(MAGNITUDE_EDGES[1:-1], dtype=torch.float64)


def weight_magnitude_counts(weights: list[torch.Tensor]) -> list[int]:
    """How many of the weights fall in each |w| bin of MAGNITUDE_EDGES."""
    magnitudes = torch.cat([w.abs().flatten() for w in weights]).to("cpu", torch.float64)
    bins = torch.bucketize(magnitudes, INNER_EDGES, right=True)
    return torch.bincount(bins, minlength=len(MAGNITUDE_EDGES) - 1).tolist()


class WeightMagnitudeHistogram:
    """A measure that keeps each model's weights as first and as last measured: before training
    and after the final epoch. It reports no per-epoch metric; `rows` gives a stack's |w|
    histograms as table rows (metric "weight_count", the bin in columns w_low ≤ |w| < w_high)."""

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

    def rows(self, net: StackedMLP, final_epoch: int) -> pd.DataFrame:
        bins = list(itertools.pairwise(MAGNITUDE_EDGES))
        records = [
            long_row(
                spec.variant,
                spec.seed,
                epoch,
                0,
                WEIGHT_COUNT,
                float(count),
                w_low=low,
                w_high=high,
                **spec.params,
            )
            for epoch, snapshots in ((0, self.initial), (final_epoch, self.final))
            for spec in net.specs
            for (low, high), count in zip(bins, weight_magnitude_counts(snapshots[spec]))
        ]
        return pd.DataFrame(records)
