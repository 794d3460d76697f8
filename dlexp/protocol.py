"""Protocol schemas: the types and ranges every experiment's protocol is checked against before
any training starts. Each experiment declares its model once (its `protocol.py`), from the field
types here; an error names the key, the value and what is allowed.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from dlexp.activations import ACTIVATIONS
from dlexp.model_spec import WEIGHT_INITS
from dlexp.registry import ExperimentError

# MNIST in Nielsen's split; an image count can never exceed its split.
TRAIN_SPLIT, VALIDATION_SPLIT, TEST_SPLIT = 50_000, 10_000, 10_000


class ProtocolModel(BaseModel):
    """Base of every experiment's protocol model: unknown keys are errors; ints are accepted
    where floats are expected, nothing else is converted."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# Floats are strict too: an int is accepted, a bool or a string ("0.5") is not; NaN and ±inf
# never are (η = nan would train nothing and write NaNs).
Number = Annotated[float, Field(allow_inf_nan=False)]
Seeds = Annotated[int, Field(ge=1, le=100)]
Epochs = Annotated[int, Field(ge=1)]
Eta = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Lambda = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Probability = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
Units = Annotated[int, Field(ge=1, le=100_000)]
BatchSize = Annotated[int, Field(ge=1)]
TrainImages = Annotated[int, Field(ge=1, le=TRAIN_SPLIT)]
HeldOutImages = Annotated[int, Field(ge=1, le=VALIDATION_SPLIT)]
Depth = Annotated[int, Field(ge=0, le=100)]
ActivationName = Literal[tuple(ACTIVATIONS)]  # type: ignore[valid-type]
WeightInit = Literal[tuple(WEIGHT_INITS)]  # type: ignore[valid-type]


# Batch normalisation needs at least two examples to take a mini-batch's statistics.
NormalisableBatch = Annotated[int, Field(ge=2)]


class BatchNormProtocol(ProtocolModel):
    """A protocol of batch-normalised nets: `train_images` split into mini-batches of
    `batch_size` must not leave a last mini-batch of one example, which has no spread."""

    train_images: TrainImages
    batch_size: NormalisableBatch

    @model_validator(mode="after")
    def no_lone_last_example(self) -> BatchNormProtocol:
        if self.train_images % self.batch_size == 1:
            raise ValueError(
                f"train_images = {self.train_images} leaves a last mini-batch of one image, "
                "which batch normalisation cannot normalise; change train_images or batch_size"
            )
        return self


def NonEmpty(item: Any, including: tuple[Any, ...] = ()) -> Any:
    """A non-empty list of `item` without repeats that holds every value of `including` (the
    variants an experiment's claims compare against, e.g. the sigmoid net)."""

    def distinct(values: list) -> list:
        if len(set(map(repr, values))) != len(values):
            raise ValueError("must not repeat a value")
        missing = [value for value in including if value not in values]
        if missing:
            needed = ", ".join(map(repr, missing))
            raise ValueError(f"must include {needed}, which the claims compare against")
        return values

    return Annotated[list[item], Field(min_length=1), AfterValidator(distinct)]


def validate_protocol(model: type[ProtocolModel], protocol: dict[str, Any]) -> dict[str, Any]:
    """The protocol checked against `model`, as plain data (ints given for floats become
    floats); an `ExperimentError` naming the first bad key otherwise."""
    try:
        return model.model_validate(protocol).model_dump()
    except ValidationError as error:
        raise ExperimentError(protocol_problem(error, protocol)) from None


def protocol_problem(error: ValidationError, protocol: dict[str, Any]) -> str:
    problem = error.errors()[0]
    location = [str(part) for part in problem["loc"]]
    value = problem.get("input")
    message = re.sub(r"^(Value error|Assertion failed), ", "", problem["msg"])
    if problem["type"] == "extra_forbidden":
        return f"protocol key {'.'.join(location)} is not one this experiment has."
    if problem["type"] == "missing":
        return f"protocol key {'.'.join(location)} is missing; add it to the declaration."
    key = ".".join(part for part in location if not part.isdigit())
    message = message[0].lower() + message[1:]
    if not location:  # a rule about several keys together (a model validator)
        return f"the protocol is not allowed: {message}."
    if location[-1].isdigit():  # one item of a list: show the whole list and the item
        whole = _lookup(protocol, [part for part in location if not part.isdigit()])
        return (
            f"{key} = {whole!r} is not allowed: its item {value!r} is not; {message}; "
            f"set it with --set {key}=[...]."
        )
    shown = "a table" if isinstance(value, dict) else repr(value)
    return f"{key} = {shown} is not allowed: {message}; set it with --set {key}=..."


def _lookup(protocol: Any, keys: list[str]) -> Any:
    for key in keys:
        protocol = protocol.get(key) if isinstance(protocol, dict) else None
    return protocol
