"""The CNN-versus-MLP protocol: types and ranges of every key of `[protocol]`."""

from typing import Annotated, Literal

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

Shift = Annotated[int, Field(ge=1, le=10)]


class EtaSweep(ProtocolModel):
    cnn: NonEmpty(Eta)
    mlp: NonEmpty(Eta)


class Protocol(ProtocolModel):
    seeds: Seeds
    train_images: TrainImages
    eval_images: HeldOutImages
    epochs: Epochs
    batch_size: BatchSize
    pooling: Literal["max", "average"]
    mlp_hidden_units: Units
    shifts: NonEmpty(Shift)
    equivariance_images: HeldOutImages
    eta_sweep: EtaSweep
