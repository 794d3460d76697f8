"""Selecting from the dying-ReLU results table (works on the table read back from metrics.csv) and
naming what it holds."""

from __future__ import annotations

import pandas as pd

MODEL = ["unit", "leak", "eta", "bias", "inputs", "seed"]
"""The columns that name one trained model."""

UNIT_NAMES = {"relu": "ReLU", "leaky": "leaky ReLU"}


def metric(table: pd.DataFrame, name: str) -> pd.DataFrame:
    return table[table.metric == name]


def relu(values: pd.DataFrame) -> pd.DataFrame:
    return values[values.unit == "relu"]


def good_start(values: pd.DataFrame) -> pd.DataFrame:
    """b = 0 and pixels in [0, 1]: the η sweep."""
    return values[(values.bias == 0) & (values.inputs == "normalised")]


def sweep(values: pd.DataFrame, etas: list[float]) -> pd.DataFrame:
    """The η sweep's models: the good start at the protocol's ηs."""
    values = good_start(values)
    return values[values.eta.isin(etas)]


def final(values: pd.DataFrame) -> pd.DataFrame:
    return values[values.epoch == values.epoch.max()]


def with_units(values: pd.DataFrame, table: pd.DataFrame, count: str) -> pd.DataFrame:
    """The rows of `values` whose model, layer and epoch has units: `count` > 0 there (a share
    of the layer's units, e.g. `dead_fraction`)."""
    keys = [*MODEL, "layer", "epoch"]
    shares = metric(table, count).set_index(keys)["value"]
    present = shares.reindex(values.set_index(keys).index).to_numpy() > 0
    return values[present]


def at_epoch(values: pd.DataFrame, epoch: int) -> pd.DataFrame:
    return values[values.epoch == epoch]


def worst_layer(values: pd.DataFrame) -> pd.Series:
    """Per model and epoch: the value of the most-affected hidden layer; NaN when a layer's value
    is NaN (a diverged net: its units output NaN, they are not dead)."""
    groups = values.groupby([*MODEL, "epoch"])["value"]
    worst = groups.max()
    return worst.mask(values["value"].isna().groupby([values[k] for k in [*MODEL, "epoch"]]).any())


def final_validation_accuracy(table: pd.DataFrame) -> pd.Series:
    """Per model: the validation accuracy after the last epoch."""
    return final(metric(table, "validation_accuracy")).set_index(MODEL)["value"]


def diverged_models(table: pd.DataFrame) -> pd.DataFrame:
    """The model columns of every model the engine marked `diverged` (weights or measurements
    became inf/NaN), once each."""
    flags = metric(table, "diverged")
    return flags[flags.value > 0][MODEL].drop_duplicates()


def left_out(values: pd.Series, level: str = "eta") -> str:
    """`; diverged nets left out (seeds): η=1: 2` — per `level`, the seeds whose value is NaN."""
    missing = values[values.isna()].groupby(level=level).size()
    counts = ", ".join(f"{level_name(level, key)}: {n}" for key, n in missing.items())
    return f"; diverged nets left out (seeds): {counts}" if counts else ""


def level_name(level: str, key: object) -> str:
    return f"η={key:g}" if level == "eta" else str(key)


def unit_name(unit: str, leak: float) -> str:
    """`ReLU` or `leaky ReLU α=0.01`."""
    return UNIT_NAMES[unit] + (f" α={leak:g}" if unit == "leaky" else "")


def inputs_name(inputs: str) -> str:
    """How a student reads the inputs: pixels in [0, 1], in [0, 255], shifted or centred."""
    if inputs == "normalised":
        return "pixels in [0, 1]"
    if inputs == "raw":
        return "raw pixels in [0, 255]"
    if inputs == "centred":
        return "pixels − their mean"
    return "pixels + " + inputs.removeprefix("shifted+")


def start_name(bias: float, inputs: str) -> str:
    return f"b = {bias:g}, {inputs_name(inputs)}"


def shift_of(inputs: str) -> float:
    """The shift s of the inputs x + s; 0 for [0, 1] pixels, −1 (before them) for centred."""
    if inputs.startswith("shifted+"):
        return float(inputs.removeprefix("shifted+"))
    return -1.0 if inputs == "centred" else 0.0


def bad_starts(values: pd.DataFrame, eta: float) -> pd.DataFrame:
    """The bad starts' models: negative b at `eta`, and shifted inputs (at their matched η)."""
    negative = (values.bias < 0) & (values.inputs == "normalised") & (values.eta == eta)
    return values[negative | values.inputs.str.startswith("shifted")]
