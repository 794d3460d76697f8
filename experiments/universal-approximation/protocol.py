"""The universal-approximation protocol: types and ranges of every key of `[protocol]`."""

from typing import Annotated

from pydantic import Field

from dlexp.protocol import BatchSize, Epochs, Eta, NonEmpty, ProtocolModel, Seeds

Width = Annotated[int, Field(ge=1, le=4096)]
HiddenLayersAndWidth = Annotated[
    list[Annotated[int, Field(ge=1, le=64)]], Field(min_length=2, max_length=2)
]


class Parity(ProtocolModel):
    bits: Annotated[int, Field(ge=2, le=12)]  # 2^12 patterns at most
    shallow_widths: NonEmpty(Width)
    deep: NonEmpty(HiddenLayersAndWidth)
    epochs: Epochs
    eta: Eta
    batch_size: BatchSize


class Protocol(ProtocolModel):
    seeds: Seeds
    represented_widths: NonEmpty(Width)
    steepness_per_unit: Annotated[float, Field(allow_inf_nan=False, gt=0, le=100)]
    trained_widths: NonEmpty(Width)
    train_points: Annotated[int, Field(ge=10, le=100_000)]
    grid_points: Annotated[int, Field(ge=11, le=100_001)]
    input_scale: Annotated[float, Field(allow_inf_nan=False, gt=0, le=1000)]
    epochs: Epochs
    etas: NonEmpty(Eta)
    momentum: Annotated[float, Field(allow_inf_nan=False, ge=0, lt=1)]
    batch_size: BatchSize
    parity: Parity
