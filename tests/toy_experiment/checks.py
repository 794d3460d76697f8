"""The toy claim check."""

from typing import Any

import pandas as pd

from dlexp.finding import Outcome


def hidden_layer_helps(table: pd.DataFrame, protocol: dict[str, Any], min_gain: float) -> Outcome:
    final = table[(table.metric == "train_accuracy") & (table.epoch == table.epoch.max())]
    by_depth = final.pivot(index="seed", columns="depth", values="value") * 100
    gain = by_depth[1] - by_depth[0]
    return Outcome(bool((gain >= min_gain).all()), gain.tolist(), f"gain {gain.mean():.1f} points")


CHECKS = {"hidden_layer_helps": hidden_layer_helps}
