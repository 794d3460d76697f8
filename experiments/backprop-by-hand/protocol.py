"""The backprop-by-hand protocol: only the wiggle ε; the worked examples are fixed by the slides."""

from typing import Annotated, Literal

from pydantic import Field

from dlexp.protocol import ProtocolModel


class Protocol(ProtocolModel):
    seeds: Literal[1]  # nothing is random: the slides' numbers are the inputs
    epsilon: Annotated[float, Field(allow_inf_nan=False, gt=0, le=1e-2)]
