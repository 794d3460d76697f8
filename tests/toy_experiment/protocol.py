"""The toy protocol."""

from typing import Annotated

from pydantic import Field

from dlexp.protocol import Epochs, Eta, ProtocolModel, Seeds


class Protocol(ProtocolModel):
    seeds: Seeds
    examples: Annotated[int, Field(ge=10, le=10_000)]
    epochs: Epochs
    eta: Eta
