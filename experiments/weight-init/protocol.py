"""The weight-initialisation protocol: types and ranges of every key of `[protocol]`."""

from typing import Annotated, Literal

from pydantic import Field

from dlexp.protocol import (
    BatchSize,
    Epochs,
    Eta,
    HeldOutImages,
    Lambda,
    NonEmpty,
    Number,
    ProtocolModel,
    Seeds,
    TrainImages,
    Units,
    WeightInit,
)


class Equal(ProtocolModel):
    weight_value: Number


class Deep(ProtocolModel):
    hidden_layers: Annotated[int, Field(ge=2, le=100)]
    hidden_units: Units
    activations: NonEmpty(Literal["tanh", "relu"], including=("tanh", "relu"))
    inits: NonEmpty(WeightInit, including=("glorot", "he", "large", "small"))
    probe_images: TrainImages


class Protocol(ProtocolModel):
    seeds: Seeds
    train_images: TrainImages
    eval_images: HeldOutImages
    hidden_units: Units
    inits: NonEmpty(
        Literal["normalized", "large", "he", "glorot", "small"], including=("normalized", "large")
    )
    epochs: Epochs
    batch_size: BatchSize
    eta: Eta
    l2: Lambda
    equal: Equal
    deep: Deep
