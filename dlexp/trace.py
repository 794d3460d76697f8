"""What the forward and backward passes of a stack hand each other: the `Trace` of a forward
pass (what backpropagation needs) and the `LayerError` backpropagation yields per layer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

import torch

from dlexp.batch_norm import Normalised


@dataclass
class Trace:
    """What a forward pass keeps for backpropagation: the input units (after their dropout mask),
    z^l of every layer, f(z^l) and a^l of every hidden layer; in a test pass with input dropout,
    the inputs' scale p [M, 1, 1]; with batch normalisation, what each hidden layer's backward
    pass needs. With batch norm, z^l is the normalised pre-activation γ ẑ + β, the input of f.

    The output a^L = `output_of`(z^L) is computed when first asked for: a test pass scored by
    cross-entropy or log-likelihood needs only z^L (a 10-way softmax was a sixth of evaluating).
    """

    inputs: torch.Tensor
    output_of: Callable[[torch.Tensor], torch.Tensor]
    zs: list[torch.Tensor] = field(default_factory=list)
    fs: list[torch.Tensor] = field(default_factory=list)
    activations: list[torch.Tensor] = field(default_factory=list)
    input_scale: torch.Tensor | None = None
    normalised: list[Normalised] = field(default_factory=list)

    @cached_property
    def output(self) -> torch.Tensor:
        """a^L."""
        return self.output_of(self.zs[-1])

    def layer_input(self, layer: int) -> torch.Tensor:
        """a^{l-1}, what layer l multiplies by W^l (the scaled inputs for the first layer)."""
        if layer > 0:
            return self.activations[layer - 1]
        return self.inputs if self.input_scale is None else self.inputs * self.input_scale


class LayerError(NamedTuple):
    """What backpropagation gives per layer l: δ^l [M, B, out] and a^{l-1} [M, B, in], and with
    batch normalisation Σ_x ∂C_x/∂γ^l and Σ_x ∂C_x/∂β^l [M, 1, out] (else None)."""

    layer: int
    delta: torch.Tensor
    previous: torch.Tensor
    norm: tuple[torch.Tensor, torch.Tensor] | None = None
