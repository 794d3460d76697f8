"""The dying-ReLU protocol: types and ranges of every key of `[protocol]`."""

from typing import Annotated

from pydantic import Field

from dlexp.protocol import (
    BatchSize,
    Epochs,
    Eta,
    HeldOutImages,
    NonEmpty,
    ProtocolModel,
    Seeds,
    TrainImages,
    Units,
)


class BadStarts(ProtocolModel):
    etas: NonEmpty(Eta)
    biases: NonEmpty(Annotated[float, Field(strict=False, allow_inf_nan=False)])


class Protocol(ProtocolModel):
    seeds: Seeds
    train_images: TrainImages
    validation_images: HeldOutImages
    epochs: Epochs
    batch_size: BatchSize
    hidden_layers: Annotated[int, Field(ge=1, le=20)]
    hidden_units: Units
    leak: Annotated[float, Field(strict=False, gt=0, lt=1)]
    etas: NonEmpty(Eta)
    gradient_images: TrainImages
    bad_starts: BadStarts
