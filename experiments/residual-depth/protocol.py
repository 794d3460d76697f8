"""The residual-depth protocol: types and ranges of every key of `[protocol]`."""

from typing import Annotated

from pydantic import Field, model_validator

from dlexp.protocol import (
    TRAIN_SPLIT,
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
    depths: NonEmpty(HiddenLayers)
    hidden_units: Units
    eval_images: HeldOutImages
    gradient_images: Annotated[int, Field(ge=1, le=TRAIN_SPLIT)]
    epochs: Epochs
    etas: NonEmpty(Eta)

    @model_validator(mode="after")
    def gradient_images_are_training_images(self) -> "Protocol":
        if self.gradient_images > self.train_images:
            raise ValueError(
                f"gradient_images = {self.gradient_images} exceeds train_images = "
                f"{self.train_images}; the gradient norms are taken on training images"
            )
        return self
