"""The MSE-versus-cross-entropy protocol: types and ranges of every key of `[protocol]`."""

from typing import Annotated, Literal

from pydantic import Field, model_validator

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

Parameter = Annotated[float, Field(allow_inf_nan=False)]
Cost = Literal["mse", "bce", "softmax-nll"]


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
    best_eta_after: Annotated[int, Field(ge=1)]  # epoch 0 is the untrained net
    eta_sweep: Annotated[dict[Cost, NonEmpty(Eta)], Field(min_length=3, max_length=3)]

    @model_validator(mode="after")
    def chosen_within_training(self) -> "Mnist":
        if self.best_eta_after > self.epochs:
            raise ValueError(f"best_eta_after must be at most epochs ({self.epochs})")
        return self


class Protocol(ProtocolModel):
    seeds: Seeds
    neuron: Neuron
    mnist: Mnist
