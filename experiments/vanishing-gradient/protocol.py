"""The vanishing-gradient protocol: types and ranges of every key of `[protocol]`."""

from typing import Annotated, Literal

from pydantic import Field

from dlexp.protocol import (
    Epochs,
    Eta,
    HeldOutImages,
    Lambda,
    NonEmpty,
    ProtocolModel,
    Seeds,
    TrainImages,
    Units,
)

HiddenLayers = Annotated[int, Field(ge=2, le=100)]


class Exploding(ProtocolModel):
    depth: Annotated[int, Field(ge=1, le=5)]  # 0.5·25⁵ is exact in float32 up to 5 layers
    weight: Annotated[float, Field(strict=False, gt=0, le=1e4)]
    epochs: Epochs


Network = Literal["sigmoid", "relu", "relu-he", "residual"]


class Deep(ProtocolModel):
    depth: HiddenLayers
    etas: dict[Network, NonEmpty(Eta)]  # each network's own sweep
    eval_images: HeldOutImages


class Protocol(ProtocolModel):
    seeds: Seeds
    train_images: TrainImages
    epochs: Epochs
    measure_every: Epochs
    eta: Eta
    l2: Lambda
    hidden_units: Units
    depths: NonEmpty(HiddenLayers)
    networks: NonEmpty(Network, including=("sigmoid",))
    deep: Deep
    exploding: Exploding
