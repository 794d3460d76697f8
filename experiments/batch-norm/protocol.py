"""The batch-norm protocol: types and ranges of every key of `[protocol]`."""

from typing import Annotated

from pydantic import Field

from dlexp.protocol import (
    BatchNormProtocol,
    Epochs,
    Eta,
    HeldOutImages,
    NonEmpty,
    Seeds,
    Units,
)

HiddenLayers = Annotated[int, Field(ge=1, le=100)]


class Protocol(BatchNormProtocol):
    """`train_images` and `batch_size` come with `BatchNormProtocol`'s rule."""

    seeds: Seeds
    hidden_layers: HiddenLayers
    hidden_units: Units
    eval_images: HeldOutImages
    distribution_images: HeldOutImages
    epochs: Epochs
    etas: NonEmpty(Eta)
