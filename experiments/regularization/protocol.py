"""The regularization protocol: types and ranges of every key of `[protocol]`."""

from typing import Annotated, Literal

from pydantic import Field

from dlexp.dropout import DROPOUT_MASKS
from dlexp.protocol import (
    BatchSize,
    Epochs,
    Eta,
    HeldOutImages,
    Lambda,
    NonEmpty,
    Probability,
    ProtocolModel,
    Seeds,
    TrainImages,
    Units,
    WeightInit,
)


class FullData(ProtocolModel):
    train_images: TrainImages
    hidden_units: Units
    epochs: Epochs
    l2: Lambda


class Protocol(ProtocolModel):
    seeds: Seeds
    train_images: TrainImages
    validation_images: HeldOutImages
    test_images: HeldOutImages
    epochs: Epochs
    eta: Eta
    batch_size: BatchSize
    weight_init: WeightInit
    hidden_units: Units
    wide_hidden_units: Units
    l2: Lambda
    other_l2: NonEmpty(Lambda)
    l1: Lambda
    keep_prob: Probability
    input_keep_prob: Probability
    dropout_masks: Literal[DROPOUT_MASKS]  # type: ignore[valid-type]
    label_noise: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)]
    patience: NonEmpty(Annotated[int, Field(ge=1)])
    full_data: FullData
