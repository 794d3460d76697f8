"""The depth sweep's protocol: types and ranges of every key of `[protocol]`."""

from typing import Literal

from dlexp.protocol import (
    BatchSize,
    Depth,
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


class Protocol(ProtocolModel):
    seeds: Seeds
    depths: NonEmpty(Depth)
    hidden_units: Units
    outputs: NonEmpty(Literal["sigmoid", "softmax"])
    train_images: TrainImages
    eval_images: HeldOutImages
    epochs: Epochs
    batch_size: BatchSize
    eta: Eta
    l2: Lambda
