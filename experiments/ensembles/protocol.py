"""The ensembles protocol: types and ranges of every key of `[protocol]`."""

from typing import Annotated, Literal

from pydantic import Field

from dlexp.protocol import (
    BatchSize,
    Epochs,
    Eta,
    HeldOutImages,
    NonEmpty,
    ProtocolModel,
    TrainImages,
    Units,
)

# Every subset of the nets votes: 2 nets at least, and few enough that the 2^M subsets are cheap.
Nets = Annotated[int, Field(ge=2, le=12)]


class Etas(ProtocolModel):
    cnn: Eta
    mlp: Eta


class Protocol(ProtocolModel):
    seeds: Nets
    models: NonEmpty(Literal["mlp", "cnn"])
    train_images: TrainImages
    eval_images: HeldOutImages
    epochs: Epochs
    batch_size: BatchSize
    pooling: Literal["max", "average"]
    mlp_hidden_units: Units
    eta: Etas
