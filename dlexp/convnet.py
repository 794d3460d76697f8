"""Stacks of convolutional networks (convolution, pooling, a fully connected head) that share one
architecture, trained side by side with autograd.

The convolutional-layer deck, "Convolutional Layer": "Share the same parameters across different
locations"; deck "Deep Learning I", "Realization in network": the feature maps
Z_{i,j,k} = Σ_{l,m,n} V_{l,j+m−1,k+n−1} K_{i,l,m,n} (a cross-correlation, as the deck notes).
Each model is

    input [C, H, W] → (convolution → f → pooling)… → flatten → (dense → f)… → output layer,

with f the hidden activation, max or average pooling per feature map and the output layer and cost
of `dlexp.costs` (softmax + log-likelihood, or sigmoid outputs + cross-entropy).

A `StackedConvNet` holds M such models at once: the M models' feature maps are the channels of one
tensor [B, M·C, H, W] and each convolution is one grouped convolution with one group per model
(weight [M·out, in, k, k], groups = M), so a model only ever sees its own maps; pooling acts per
channel; the dense layers are batched matrix products [M, B, in] × [M, in, out]. Measured on this
project's CPU (one thread, mini-batches of 10, three LeNet-5 seeds), this beat im2col with batched
products and `torch.func.functional_call` under `vmap` (`bench/bench_convnet.py` prints the
latter and the idiomatic loop side by side). The backward pass is autograd's; the MLP keeps its
hand-written backpropagation in `dlexp.models`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from dlexp.costs import COSTS, cost_of_labels
from dlexp.model_spec import WEIGHT_INITS, dense_multiply_adds


@dataclass(frozen=True)
class Conv:
    """A convolutional layer of `maps` feature maps with `kernel` × `kernel` kernels, stride 1,
    the input zero-padded by `padding` pixels on each side."""

    maps: int
    kernel: int
    padding: int = 0


@dataclass(frozen=True)
class Pool:
    """Pooling of non-overlapping `size` × `size` windows of each feature map: "max" or "average"
    (deck "Deep Learning I", "Pooling and Striding": "averaging four neighboring replicated
    detectors … Taking the maximum of the four works slightly better")."""

    kind: str = "max"
    size: int = 2


Layer = Conv | Pool
POOLS = ("max", "average")
# The hidden activations of `dlexp.activations` as single autograd kernels (its ReLU is written
# for leaky slopes; torch.relu is the same function with leak 0 and made a LeNet-5 step ≈ 1.6×
# faster here).
ACTIVATIONS = {"sigmoid": torch.sigmoid, "relu": torch.relu, "tanh": torch.tanh}

LENET5_HIDDEN = (120, 84)


def lenet5(pooling: str = "max") -> tuple[Layer, ...]:
    """LeNet-5's feature layers (LeCun et al. 1998; deck "Deep Learning I", "The architecture of
    LeNet5"): C1 six 5×5 maps of the 28×28 image zero-padded to LeNet's 32×32, 2×2 pooling, C3
    sixteen 5×5 maps, 2×2 pooling; its dense layers are `LENET5_HIDDEN` (120 units, LeNet's C5, a
    5×5 convolution of a 5×5 map, and 84) before 10 outputs. Unlike LeNet-5: the activation is
    the spec's (not its scaled tanh), pooling is max or average (not its trainable subsampling),
    C3 sees all six C1 maps (not its partial table), outputs are the spec's (not RBF units)."""
    return (Conv(6, 5, padding=2), Pool(pooling), Conv(16, 5), Pool(pooling))


@dataclass(frozen=True)
class ConvSpec:
    """One convolutional model: its feature layers, dense hidden layers, initialisation and SGD
    hyper-parameters (as `dlexp.model_spec.ModelSpec`: weights N(0, std²) with std from
    `WEIGHT_INITS` of the layer's fan-in n_in = in·k·k and fan-out n_out = out·k·k, biases
    N(bias_mean, bias_std²); η, L2 λ as λ/n weight decay on weights only, heavy-ball momentum μ).
    With no feature layers it is an MLP, as `ModelSpec(sizes=(784, *hidden, outputs))`."""

    variant: str
    seed: int
    layers: tuple[Layer, ...] = ()
    hidden: tuple[int, ...] = ()
    outputs: int = 10
    input_shape: tuple[int, int, int] = (1, 28, 28)
    activation: str = "relu"
    output: str = "softmax"
    cost: str = "cross-entropy"
    weight_init: str = "he"
    bias_mean: float = 0.0
    bias_std: float = 0.0
    eta: float = 0.1
    l2: float = 0.0
    momentum: float = 0.0
    batch_size: int = 10
    params: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {list(ACTIVATIONS)}")
        if (self.output, self.cost) not in COSTS:
            raise ValueError(f"(output, cost) must be one of {list(COSTS)}")
        if self.weight_init not in WEIGHT_INITS or self.weight_init == "equal":
            raise ValueError("weight_init must be a random initialisation of WEIGHT_INITS")
        if any(isinstance(layer, Pool) and layer.kind not in POOLS for layer in self.layers):
            raise ValueError(f"pooling must be one of {list(POOLS)}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), not {self.momentum}")
        feature_shapes(self)  # raises when a layer leaves no pixels

    @property
    def architecture(self) -> tuple:
        """What models must share to be stacked: every layer, the output and cost, the batch."""
        return (
            self.layers,
            self.hidden,
            self.outputs,
            self.input_shape,
            self.activation,
            self.output,
            self.cost,
            self.batch_size,
        )

    @property
    def layer_multiply_adds(self) -> list[int]:
        """Multiply-adds of one example's forward pass through each layer with weights, from the
        input: each convolution's maps × in × k² per output pixel, then the dense layers'
        n_in·n_out (LeNet-5: 117,600, 240,000, then 48,000, 10,080 and 840)."""
        shapes = feature_shapes(self)
        counts = [
            layer.maps * c * layer.kernel**2 * h * w
            for layer, (c, _, _), (_, h, w) in zip(self.layers, shapes, shapes[1:])
            if isinstance(layer, Conv)
        ]
        c, h, w = shapes[-1]
        return counts + dense_multiply_adds((c * h * w, *self.hidden, self.outputs))

    @property
    def multiply_adds(self) -> int:
        """Multiply-adds of one example's forward pass (`ModelSpec.multiply_adds`)."""
        return sum(self.layer_multiply_adds)


def feature_shapes(spec: ConvSpec) -> list[tuple[int, int, int]]:
    """[C, H, W] after each feature layer, the input's first."""
    shapes = [spec.input_shape]
    for layer in spec.layers:
        c, h, w = shapes[-1]
        if isinstance(layer, Conv):
            side = 2 * layer.padding - layer.kernel + 1
            c, h, w = layer.maps, h + side, w + side
        else:
            h, w = h // layer.size, w // layer.size
        if h < 1 or w < 1:
            raise ValueError(f"layer {layer} leaves no pixels of a {shapes[-1]} input")
        shapes.append((c, h, w))
    return shapes


def layer_shapes(spec: ConvSpec) -> list[tuple[tuple[int, ...], int]]:
    """(weight shape, fan-out) of each layer with parameters: convolutions [out, in, k, k],
    then the dense layers [out, in], the output layer last."""
    shapes = []
    for layer, (c, _, _) in zip(spec.layers, feature_shapes(spec)):
        if isinstance(layer, Conv):
            k = layer.kernel
            shapes.append(((layer.maps, c, k, k), layer.maps * k * k))
    c, h, w = feature_shapes(spec)[-1]
    sizes = (c * h * w, *spec.hidden, spec.outputs)
    shapes += [((n_out, n_in), n_out) for n_in, n_out in itertools.pairwise(sizes)]
    return shapes


def initial_parameters(
    spec: ConvSpec, generator: torch.Generator
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(weight, bias) per layer, drawn from the model's own generator in the order
    `dlexp.model_spec.initial_parameters` draws them (weight, then bias, layer by layer)."""
    layers = []
    for shape, fan_out in layer_shapes(spec):
        fan_in = int(torch.tensor(shape[1:]).prod())
        std = WEIGHT_INITS[spec.weight_init](fan_in, fan_out)
        weight = torch.randn(*shape, generator=generator) * std
        bias = torch.randn(shape[0], generator=generator) * spec.bias_std + spec.bias_mean
        layers.append((weight, bias))
    return layers


class StackedConvNet:
    """M convolutional models of one architecture. Convolution weights are [M·out, in, k, k]
    (model m's kernels are rows m·out … m·out + out − 1), biases [M·out]; dense weights are kept
    transposed, (W^l)ᵀ [M, in, out], biases [M, 1, out]. `parameters` lists them all, weights and
    biases alternating, layer by layer; each requires grad.

    Transposed, a dense layer's weight gradient aᵀδ comes out of autograd in the weights' own
    layout, so the update adds it in one contiguous pass: in a step of three LeNet-5s, updating
    the 400 × 120 layer took 130 µs from the gradient of W (a transposed view) and 16 µs alone
    from aᵀδ; a step 2.92–3.29 → 2.63–2.73 ms (two of a pair 2.11–2.58 → 1.99–2.18 ms,
    alternating)."""

    def __init__(self, specs: list[ConvSpec], device: torch.device | str = "cpu") -> None:
        if len({s.architecture for s in specs}) != 1:
            raise ValueError("models stacked together must share an architecture (see ConvSpec)")
        self.specs = specs
        self.device = torch.device(device)
        first = specs[0]
        self.layers = first.layers
        self.shapes = feature_shapes(first)
        self.generators = [torch.Generator().manual_seed(s.seed) for s in specs]
        drawn = [initial_parameters(s, g) for s, g in zip(specs, self.generators)]
        self.weights: list[torch.Tensor] = []
        self.biases: list[torch.Tensor] = []
        self.n_conv = sum(isinstance(layer, Conv) for layer in self.layers)
        for index in range(len(drawn[0])):
            weight = torch.stack([model[index][0] for model in drawn])
            bias = torch.stack([model[index][1] for model in drawn])
            if index < self.n_conv:
                weight, bias = weight.flatten(0, 1), bias.flatten()
            else:
                weight, bias = weight.mT.contiguous(), bias.unsqueeze(1)
            self.weights.append(weight.to(self.device).requires_grad_())
            self.biases.append(bias.to(self.device).requires_grad_())
        self.f = ACTIVATIONS[first.activation]
        self.cost_of = COSTS[(first.output, first.cost)]()

    @property
    def n_models(self) -> int:
        return len(self.specs)

    @property
    def parameters(self) -> list[torch.Tensor]:
        return [p for pair in zip(self.weights, self.biases) for p in pair]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The feature maps [B, M·C, H, W] after the last feature layer for x [M, B, C·H·W] or
        [B, C·H·W] (the same images for every model).

        Max pooling is taken before f, which gives the same numbers and gradients, since a
        non-decreasing f commutes with the maximum: f(max z) = max f(z), with f then applied to a
        quarter of the units."""
        m = self.n_models
        c, h, w = self.shapes[0]
        if x.dim() == 2:
            a = x.view(-1, 1, c, h, w).expand(-1, m, c, h, w).reshape(-1, m * c, h, w)
        else:
            a = x.view(m, -1, c * h * w).transpose(0, 1).reshape(-1, m * c, h, w)
        # Channels-last (one pixel's M·C channels side by side) made a LeNet-5 training step
        # ≈ 1.4× faster than the default layout on this project's CPU.
        a = a.contiguous(memory_format=torch.channels_last)
        conv, pending = 0, False  # pending: f not yet applied to the last convolution's output
        for layer in self.layers:
            if isinstance(layer, Conv):
                if pending:
                    a = self.f(a)
                weight, bias = self.weights[conv], self.biases[conv]
                a = F.conv2d(a, weight, bias, padding=layer.padding, groups=m)
                conv, pending = conv + 1, True
            elif layer.kind == "max":
                a = F.max_pool2d(a, layer.size)
            else:
                if pending:
                    a, pending = self.f(a), False
                a = F.avg_pool2d(a, layer.size)
        return self.f(a) if pending else a

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """z^L [M, B, outputs] for x [M, B, C·H·W] or [B, C·H·W]."""
        a = self.features(x)
        a = a.reshape(len(a), self.n_models, -1).transpose(0, 1)
        dense = list(zip(self.weights[self.n_conv :], self.biases[self.n_conv :]))
        for index, (weight, bias) in enumerate(dense):
            z = torch.baddbmm(bias, a, weight)  # a W^lᵀ + b: weight is (W^l)ᵀ
            a = self.f(z) if index < len(dense) - 1 else z
        return z

    def cost(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """C_x per model and example [M, B] for labels [B] or [M, B]."""
        return cost_of_labels(self.cost_of, z, labels)

    def finite(self) -> list[bool]:
        """Per model: whether every one of its parameters is finite (a diverged model's are not)."""
        m = self.n_models
        flat = torch.cat([p.detach().reshape(m, -1) for p in self.parameters], dim=1)
        return flat.isfinite().all(dim=1).tolist()

    def layer_parameters(self) -> list[tuple[int, int]]:
        """(weights, biases) of one model, per layer with parameters from the input."""
        m = self.n_models
        return [(w.numel() // m, b.numel() // m) for w, b in zip(self.weights, self.biases)]
