"""Epochs of mini-batch gradient descent for a stack of MLPs, compiled by numba.

The same lecture equations as `dlexp.models` and `dlexp.sgd`, written per model and per example:

    z^l = W^l a^{l−1} + b^l,  a^l = f(z^l)   (the output layer: a^L of the model's own cost)
    δ^L = a^L − y  (cross-entropy, log-likelihood, linear outputs),  (a^L − y) σ'(z^L)  (quadratic)
    δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ f'(z^l)    (σ' = a(1 − a), tanh' = 1 − a², ReLU' = 1 or α)
    W^l ← (1 − ηλ₂/n) W^l − (η/m) Σ_x δ^l_x (a^{l−1}_x)ᵀ − (ηλ₁/n) sgn(W^l)
    b^l ← b^l − (η/m) Σ_x δ^l_x                 (with momentum μ: `dlexp.sgd`'s two forms)

At mini-batches of 10 the stacked torch step is some 50 small operations, each a few microseconds
of dispatch, around the two products per model that carry the arithmetic (`dlexp.trainer`). Here
a whole epoch is one call: each model's products go to BLAS and everything between them is a
compiled loop, so the overhead is gone. A shallower model of a stack simply skips the hidden
layers it does not have. Every model is computed on its own, so it ends exactly where it would
end alone; the rounding is not the torch step's (tests compare the two).

Only stacks that this covers take it (`compiles`): dropout masks per mini-batch (not per
example), no batch normalisation or skip connections, mini-batches, on the CPU, and long
trainings: loading the compiled code costs a process 0.7 s, against 20–35 µs saved per
model-step. A run loads it once, before its workers fork (`warm_up`), so that they inherit it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import torch

from dlexp.blas import use_blas_threads
from dlexp.costs import COSTS, CrossEntropy, LinearQuadratic, LogLikelihood, Quadratic
from dlexp.dropout import mini_batch_masks
from dlexp.model_spec import ModelSpec
from dlexp.models import StackedMLP
from dlexp.splits import Split

# The output layer and cost of each model, as the compiled loop tells them apart
# (`dlexp.epoch_kernel`'s SIGMOID_CROSS_ENTROPY, SOFTMAX, SIGMOID_QUADRATIC, LINEAR).
OUTPUTS = {CrossEntropy: 0, LogLikelihood: 1, Quadratic: 2, LinearQuadratic: 3}
ACTIVATIONS = {"sigmoid": 0, "tanh": 1, "relu": 2}  # SIGMOID, TANH, RELU

# Model-steps (steps × models) from which a stack takes the compiled epochs: they save 20–35 µs
# per model-step (a 12-net depth-sweep shard: 485–490 → 286–292 µs a step; 12 dying-relu nets of
# three 100-unit ReLU layers 1,180 → 756 µs), and loading them costs a process 0.4 s (numba and
# SciPy's BLAS) and 0.3 s more per kind of stack (the cached machine code), once per run when its
# workers inherit it (`warm_up`). A tiny run keeps the torch step and never imports numba.
MIN_MODEL_STEPS = 40_000

NOTHING = np.zeros((0, 0, 0), np.float32)  # no velocities (no momentum), no masks (no dropout)


def compiles(
    specs: list[ModelSpec],
    n: int,
    epochs: int,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
) -> bool:
    """Whether a stack of `specs` trained on n examples for `epochs` takes compiled epochs (in
    float32: float64 stacks are for exact gradient checks)."""
    model_steps = len(specs) * epochs * -(-n // specs[0].batch_size)
    return (
        device.type == "cpu"
        and dtype == torch.float32
        and model_steps >= MIN_MODEL_STEPS
        and all(
            not s.residual
            and not s.batch_norm
            and s.batch_size < n
            and (s.dropout_masks == "mini-batch" or s.keep_prob == s.input_keep_prob == 1.0)
            and s.weight_init != "equal"  # units that start equal stay copies only in torch.bmm
            for s in specs
        )
    )


@functools.cache
def kernel() -> Callable[..., None]:
    """The compiled epoch, imported (with numba) only by a process that trains with it. Its
    products run in SciPy's BLAS, which numba calls: given as many threads as torch's."""
    import scipy.linalg.cython_blas  # noqa: F401  (loaded now, so that its threads are set)

    from dlexp.epoch_kernel import epoch

    use_blas_threads(torch.get_num_threads())
    return epoch


class CompiledEpochs:
    """Epochs of one stack, compiled: call it with each epoch's order. Velocities (momentum) are
    kept between epochs, zero before the first step, as `dlexp.sgd` starts them."""

    def __init__(self, net: StackedMLP, n: int) -> None:
        specs = net.specs
        self.net = net
        self.depths = np.array([s.n_hidden for s in specs], np.int64)
        self.outputs = np.array([OUTPUTS[COSTS[(s.output, s.cost)]] for s in specs], np.int64)
        self.settings = np.array(
            [
                [s.eta, 1.0 - s.eta * s.l2 / n, s.eta * s.l1 / n, s.eta * s.l2 / n, s.momentum,
                 s.momentum_form == "heavy-ball", s.leak]
                for s in specs
            ]
        )  # fmt: skip
        self.activation = ACTIVATIONS[specs[0].activation]
        self.momentum = any(s.momentum > 0 for s in specs)
        shapes = [w.shape for w in net.weights] + [b.unsqueeze(1).shape for b in net.biases]
        velocities = [np.zeros(shape, np.float32) for shape in shapes] if self.momentum else []
        self.velocities = tuple(velocities or [NOTHING])
        self.dropout = net.dropout or net.input_dropout

    def __call__(self, inputs: torch.Tensor, targets: torch.Tensor, order: torch.Tensor) -> None:
        """One epoch for every model, weights and biases updated in place: model m takes its
        examples in `order[m]` ([M, n]), drawn before the epoch's dropout masks, which are drawn
        here as `dlexp.trainer.epoch_batches` draws them; `inputs` [n, in] are uint8 pixels
        (divided by 255, bit for bit `dlexp.splits.Split.images`) or float32 images, `targets`
        y [n, out]."""
        net = self.net
        _, drawn = mini_batch_masks(net, order.shape[1]) if self.dropout else (None, {})
        layers = range(net.n_layers)
        masks = tuple(drawn[i].numpy() if i in drawn else NOTHING for i in layers)
        kernel()(
            inputs.numpy(),
            np.float32(255.0 if inputs.dtype == torch.uint8 else 1.0),
            targets.numpy(),
            order.numpy(),
            tuple(w.numpy() for w in net.weights),
            tuple(b.numpy() for b in net.biases),
            self.velocities,
            masks,
            np.array([i in drawn for i in layers]),
            self.depths,
            self.outputs,
            self.settings,
            self.activation,
            self.momentum,
            net.specs[0].batch_size,
        )


def warm_up(spec: ModelSpec, data: Split) -> None:
    """Load the compiled epoch of stacks like `spec`'s on `data` (numba, SciPy's BLAS and the
    machine code for its kind of stack) by one step of a throwaway one-model stack on data's
    first mini-batch. A run does this before its workers fork, so that each inherits the code
    instead of loading it again (0.7 s a process; dying-relu forks 14)."""
    net = StackedMLP([spec])
    m = min(spec.batch_size, len(data))
    part = data[:m]
    inputs = part.images if part.pixels is None else part.pixels
    CompiledEpochs(net, m)(inputs, net.targets(part.labels), torch.arange(m).view(1, m))
