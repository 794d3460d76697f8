"""The optimisers' protocol: types and ranges of every key of `[protocol]`."""

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from dlexp.protocol import (
    BatchSize,
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

Momentum = Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)]


class FullBatch(ProtocolModel):
    etas: NonEmpty(Eta)


class MomentumRuns(ProtocolModel):
    mu: Momentum
    forms: NonEmpty(Literal["heavy-ball", "one-step"])
    etas: NonEmpty(Eta)


class Protocol(ProtocolModel):
    seeds: Seeds
    train_images: TrainImages
    eval_images: HeldOutImages
    hidden_units: Units
    l2: Lambda
    epochs: Epochs
    batch_size: BatchSize
    etas: Annotated[NonEmpty(Eta), Field(min_length=3)]
    full_batch: FullBatch
    momentum: MomentumRuns

    @field_validator("momentum")
    @classmethod
    def _momentum_beside_plain(cls, momentum: MomentumRuns, info: ValidationInfo) -> MomentumRuns:
        """Momentum is compared with plain SGD at the same η: each of its η must be swept."""
        etas = info.data.get("etas", [])
        unswept = [eta for eta in momentum.etas if eta not in etas]
        if unswept:
            raise ValueError(f"momentum.etas {unswept} must be among etas {etas}")
        return momentum
