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

Leak = Annotated[float, Field(strict=False, gt=0, lt=1)]
Bias = Annotated[float, Field(strict=False, lt=0, allow_inf_nan=False)]
Shift = Annotated[float, Field(strict=False, gt=0, allow_inf_nan=False)]


class BadStarts(ProtocolModel):
    eta: Eta
    biases: NonEmpty(Bias)
    shifts: NonEmpty(Shift)


class RawInputs(ProtocolModel):
    etas: NonEmpty(Eta)


class Protocol(ProtocolModel):
    seeds: Seeds
    train_images: TrainImages
    validation_images: HeldOutImages
    epochs: Epochs
    batch_size: BatchSize
    hidden_layers: Annotated[int, Field(ge=1, le=20)]
    hidden_units: Units
    leaks: NonEmpty(Leak)
    etas: NonEmpty(Eta)
    gradient_images: TrainImages
    bad_starts: BadStarts
    raw_inputs: RawInputs
