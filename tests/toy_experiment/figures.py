"""The toy figure."""

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from dlexp.figures import save


def figures(table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path) -> list[Path]:
    fig, ax = plt.subplots()
    rows = table[table.metric == "train_accuracy"]
    for depth, group in rows.groupby("depth"):
        means = group.groupby("epoch")["value"].mean() * 100
        ax.plot(means.index, means.to_numpy(), label=f"{depth} hidden")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training accuracy (%)")
    ax.legend()
    return save(fig, folder, "toy_accuracy")
