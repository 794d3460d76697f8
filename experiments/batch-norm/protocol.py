"""The batch-norm protocol: types and ranges of every key of `[protocol]`."""

from typing import Annotated

from pydantic import Field

from dlexp.protocol import (
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
    hidden_layers: HiddenLayers
    hidden_units: Units
    train_images: TrainImages
    eval_images: HeldOutImages
    distribution_images: HeldOutImages
    epochs: Epochs
    batch_size: NormalisableBatch
    etas: NonEmpty(Eta)
