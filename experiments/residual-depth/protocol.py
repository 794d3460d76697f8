"""The residual-depth protocol: types and ranges of every key of `[protocol]`."""

from typing import Annotated

from pydantic import Field

from dlexp.protocol import (
    TRAIN_SPLIT,
    Epochs,
    Eta,
    HeldOutImages,
    NonEmpty,
    ProtocolModel,
    Seeds,
    TrainImages,
    Units,
)

HiddenLayers = Annotated[int, Field(ge=1, le=100)]
# Batch normalisation needs at least two examples to take a mini-batch's statistics.
NormalisableBatch = Annotated[int, Field(ge=2)]


class Protocol(ProtocolModel):
    seeds: Seeds
    depths: NonEmpty(HiddenLayers)
    hidden_units: Units
    train_images: TrainImages
    eval_images: HeldOutImages
    gradient_images: Annotated[int, Field(ge=1, le=TRAIN_SPLIT)]
    epochs: Epochs
    batch_size: NormalisableBatch
    etas: NonEmpty(Eta)
