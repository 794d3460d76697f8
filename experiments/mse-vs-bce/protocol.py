"""The MSE-versus-cross-entropy protocol: types and ranges of every key of `[protocol]`."""

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

Parameter = Annotated[float, Field(strict=False, allow_inf_nan=False)]


class Neuron(ProtocolModel):
    unsaturated: Annotated[list[Parameter], Field(min_length=2, max_length=2)]  # (w, b)
    saturated: Annotated[list[Parameter], Field(min_length=2, max_length=2)]
    eta: Eta
    epochs: Epochs


class Mnist(ProtocolModel):
    train_images: TrainImages
    validation_images: HeldOutImages
    gradient_images: TrainImages
    hidden_units: Units
    batch_size: BatchSize
    epochs: Epochs
    eta: Eta
    eta_sweep: NonEmpty(Eta)


class Protocol(ProtocolModel):
    seeds: Seeds
    neuron: Neuron
    mnist: Mnist
