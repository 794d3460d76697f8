"""Stacks of fully connected networks that share one architecture, trained side by side.

Every model is the lectures' MLP (Nielsen, ch. 1-3): for each layer l,

    z^l = W^l a^{l-1} + b^l,        a^l = f(z^l)            (plus a^{l-1} with a skip connection)

and the gradient comes from the four backpropagation equations

    δ^L = ∂C/∂z^L         (a^L − y for cross-entropy, (a^L − y) σ'(z^L) for the quadratic cost)
    δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ f'(z^l)
    ∂C/∂b^l = δ^l,                  ∂C/∂W^l = δ^l (a^{l-1})ᵀ.

A `StackedMLP` holds M such models at once: W^l is a tensor [M, out, in], activations are
[M, batch, units], and each equation above is one batched matrix product over the M models, so the
models never mix yet cost one computation. Each model has its own hyper-parameters (η, λ, dropout,
leak, cost, momentum) and its own random stream. Which units a training step keeps is
`dlexp.dropout`'s; batch normalisation is `dlexp.batch_norm`'s; the update step `dlexp.sgd`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from dlexp.activations import activation
from dlexp.batch_norm import BatchNorm
from dlexp.blas import stacked_product
from dlexp.costs import COSTS, Cost, output_minus_target
from dlexp.dropout import Masks
from dlexp.model_spec import ModelSpec, initial_parameters
from dlexp.trace import LayerError, Trace


class StackedMLP:
    """M models of one architecture: `weights[l]` is [M, out, in], `biases[l]` is [M, out].

    Models whose hidden layers all have one width may differ in depth: the stack is as deep as the
    deepest, and in a shallower model the extra hidden layers are pass-throughs (a^l = a^{l-1},
    selected exactly, never computed into its output) that it neither uses nor trains.
    """

    def __init__(
        self,
        specs: list[ModelSpec],
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if len({s.architecture for s in specs}) != 1:
            raise ValueError("models stacked together must share an architecture (see ModelSpec)")
        self.specs = specs
        self.device = torch.device(device)
        self.dtype = dtype  # float64 only for exact gradient checks
        deepest = max(specs, key=lambda s: s.n_hidden)
        self.sizes, self.activation, self.residual = (
            deepest.sizes,
            deepest.activation,
            deepest.residual,
        )
        self.depths = [s.n_hidden for s in specs]
        self.generators = [torch.Generator().manual_seed(s.seed) for s in specs]
        shapes = list(zip(self.sizes[1:], self.sizes[:-1]))
        m = len(specs)
        self.weights = [torch.zeros(m, o, i, device=self.device, dtype=dtype) for o, i in shapes]
        self.biases = [torch.zeros(m, o, device=self.device, dtype=dtype) for o, _ in shapes]
        for model, (spec, generator) in enumerate(zip(specs, self.generators)):
            initial = initial_parameters(spec, generator)
            for layer, (weight, bias) in zip(self.own_layers(model), initial):
                self.weights[layer][model] = weight
                self.biases[layer][model] = bias
        hidden_layers = range(self.n_layers - 1)
        self.active_scale = [
            self._column([layer < d for d in self.depths]) for layer in hidden_layers
        ]
        self.active = [scale.bool() for scale in self.active_scale]
        self.all_active = [all(layer < d for d in self.depths) for layer in hidden_layers]
        self.skips = [self.has_skip(layer) for layer in hidden_layers]
        self.bias_rows = [bias.unsqueeze(1) for bias in self.biases]
        self.bias_columns = [bias.unsqueeze(2) for bias in self.biases]
        self.weights_t = [weight.mT for weight in self.weights]
        self.keep_prob = self._column([s.keep_prob for s in specs])
        self.dropout = any(s.keep_prob < 1.0 for s in specs)
        self.input_keep_prob = self._column([s.input_keep_prob for s in specs])
        self.input_dropout = any(s.input_keep_prob < 1.0 for s in specs)
        self.norm = (
            BatchNorm(m, list(self.sizes[1:-1]), self.device, dtype) if deepest.batch_norm else None
        )
        self.costs = self._groups([COSTS[(s.output, s.cost)] for s in specs])
        self.error_is_a_minus_y = all(c.output_error is output_minus_target for c, _ in self.costs)
        # NumPy's BLAS and torch.sigmoid round each output unit by its place in the kernel, so
        # hidden units that start as exact copies ("equal" initialisation) stay copies only under
        # torch.bmm and a written-out σ, which round every unit alike (deck 004's symmetry, the
        # weight-init experiment's identity).
        equal = any(s.weight_init == "equal" for s in specs)
        self.first_product = torch.bmm if equal else stacked_product
        # A pass on one input shared by every model (a test pass, full-batch descent) runs in
        # columns, one per example: W x^T [M·out, B] as one product, then W^l a^T per layer.
        # For products this shape, B long and out short, that is BLAS's fast orientation: per
        # 1,000 images and 12 nets, a 30-unit hidden layer's product 431 → 202 µs, the output
        # layer's 548 → 72 µs. Measured (best of five, alternating with rows): scoring 10,000
        # images with 15 784-100-10 nets 328–435 → 287–294 ms; an epoch's 70,000 images with
        # 12 depth-sweep nets of 3–4 hidden layers 0.75–0.88 → 0.67–0.70 s; a full-batch step
        # of six 10-hidden-layer nets on 1,000 images 22.1–24.3 → 18.0–22.5 ms. Stacks that
        # need exact copies keep rows, the layout in which torch.bmm rounds every unit alike.
        self.columns = not equal
        leaks = [s.leak for s in specs]  # a number when the models share it (`ReLU`)
        leak = float(leaks[0]) if len(set(leaks)) == 1 else self._column(leaks)
        self.f = activation(self.activation, leak=leak, exact_copies=equal)

    def _groups(self, kinds: list[type]) -> list[tuple[Cost, torch.Tensor]]:
        """One instance per distinct kind, in order of first appearance, with the [M, 1, 1] mask
        of the models of that kind."""
        return [
            (kind(), self._column([k is kind for k in kinds]).bool())
            for kind in dict.fromkeys(kinds)
        ]

    @staticmethod
    def _per_group(
        groups: list[tuple[Cost, torch.Tensor]], compute: Callable[[Cost], torch.Tensor]
    ) -> torch.Tensor:
        """compute(kind) for each model by its kind; one computation when all share one."""
        (first, _), *rest = groups
        result = compute(first)
        for kind, mask in rest:
            result = torch.where(mask.view(-1, *[1] * (result.dim() - 1)), compute(kind), result)
        return result

    def _column(self, values: list[float] | list[bool]) -> torch.Tensor:
        return torch.tensor(values, dtype=self.dtype, device=self.device).view(-1, 1, 1)

    @property
    def n_models(self) -> int:
        return len(self.specs)

    @property
    def n_layers(self) -> int:
        return len(self.weights)

    def finite(self) -> list[bool]:
        """Per model, whether every weight and bias is finite (False once it has diverged)."""
        parameters = [tensor.flatten(1) for tensor in (*self.weights, *self.biases)]
        return torch.cat(parameters, dim=1).isfinite().all(dim=1).tolist()

    def own_layers(self, model: int) -> list[int]:
        """The stack's layer indices that are model `model`'s own: its hidden layers and output."""
        return [*range(self.depths[model]), self.n_layers - 1]

    def has_skip(self, layer: int) -> bool:
        """A hidden layer has a skip connection a^l = a^{l-1} + f(z^l) when its width is kept."""
        keeps_width = self.sizes[layer] == self.sizes[layer + 1]
        return self.residual and layer > 0 and keeps_width

    def output_activation(self, z: torch.Tensor) -> torch.Tensor:
        return self._per_group(self.costs, lambda cost: cost.output(z))

    def forward(
        self, x: torch.Tensor, masks: Masks | None = None, lit: torch.Tensor | None = None
    ) -> Trace:
        """Feed x [M, B, n_in] (or [B, n_in], shared by all models) forward.

        With `masks` this is a training pass with their dropout; without, a test pass in which
        every unit is used, scaled down by its p (the inputs by `input_keep_prob`, hidden units'
        outputs by `keep_prob`). In a test pass x [B, k] may hold only the `lit` input units
        (their indices), the others being 0 in every example (`first_layer`).
        """
        x = x.to(self.dtype)
        training = masks is not None
        input_mask = masks.inputs if training else None
        shared = x.dim() == 2 and input_mask is None
        a = x.expand(self.n_models, *x.shape) if x.dim() == 2 else x
        if input_mask is not None:
            a = a * input_mask
        scale = self.input_keep_prob if not training and self.input_dropout else None
        trace = Trace(inputs=a, output_of=self.output_activation, input_scale=scale)
        columns = shared and self.columns
        for layer in range(self.n_layers):
            if layer == 0:
                z = self.first_layer(x if shared else a, scale, lit)
            elif columns:  # a is the [M, B, in] view of [M, in, B]: z^l = (W^l a^T + b^l)^T
                z = self.first_product(self.weights[layer], a.mT).add_(self.bias_columns[layer]).mT
            else:
                z = torch.baddbmm(self.bias_rows[layer], a, self.weights_t[layer])
            if layer == self.n_layers - 1:
                # In rows again: z^L is small, and reductions over its units want them adjacent.
                # a^L is computed when asked for (`Trace.output`).
                trace.zs.append(z.contiguous())
                break
            if self.norm is not None:
                z, normalised = self.norm.forward(layer, z, training)
                trace.normalised.append(normalised)
            f = self.f.value(z)
            mask = masks.hidden[layer] if training else None
            h = f * mask if mask is not None else f
            if not training and self.dropout:
                h = h * self.keep_prob
            new = a + h if self.skips[layer] else h
            a = new if self.all_active[layer] else torch.where(self.active[layer], new, a)
            trace.zs.append(z)
            trace.fs.append(f)
            trace.activations.append(a)
        return trace

    def targets(self, labels: torch.Tensor) -> torch.Tensor:
        """The desired output y: one-hot over the output units, or the 0/1 label itself when the
        network has a single output neuron."""
        if self.sizes[-1] == 1:
            return labels.to(self.dtype).unsqueeze(-1)
        return torch.nn.functional.one_hot(labels, self.sizes[-1]).to(self.dtype)

    def predictions(self, trace: Trace) -> torch.Tensor:
        """The predicted class: the most active output unit, or z > 0 for a single neuron."""
        z = trace.zs[-1]
        return (z[..., 0] > 0).long() if self.sizes[-1] == 1 else z.argmax(-1)

    def first_layer(
        self, x: torch.Tensor, scale: torch.Tensor | None, lit: torch.Tensor | None = None
    ) -> torch.Tensor:
        """z^1 [M, B, out] for x [B, in] shared by every model (one matrix product; in columns,
        the view of [M, out, B], see `columns`) or x [M, B, in]; with `scale` (test pass with
        input dropout), of the inputs scaled by p. With `lit`, x [B, k] holds only the input
        units of those indices, and z^1_j = Σ_k w_jk x_k + b_j runs over them alone: the other
        units are 0 in every example and add nothing."""
        if x.dim() == 3:
            z = self.first_product(x, self.weights_t[0])
        else:
            m, n_out, n_in = self.weights[0].shape
            weight = self.weights[0].view(m * n_out, n_in)
            if lit is not None:  # (of the [M·out, in] matrix: 5× faster than of [M, out, in])
                weight = weight.index_select(1, lit)
            if self.columns:
                z = (weight @ x.T).view(m, n_out, len(x))
                z = z.mul_(scale) if scale is not None else z
                return z.add_(self.bias_columns[0]).mT  # in place: z is this pass's own
            z = (x @ weight.T).view(len(x), m, n_out).transpose(0, 1)
        return (z if scale is None else z * scale) + self.bias_rows[0]

    def output_error(self, trace: Trace, y: torch.Tensor) -> torch.Tensor:
        """δ^L = ∂C/∂z^L of each model's own cost."""
        z, a = trace.zs[-1], trace.output
        if self.error_is_a_minus_y:
            return output_minus_target(z, a, y)  # one subtraction for a stack of such costs
        return self._per_group(self.costs, lambda cost: cost.output_error(z, a, y))

    def backprop(
        self, trace: Trace, y: torch.Tensor, masks: Masks | None = None
    ) -> Iterator[LayerError]:
        """Per layer, from the output back: δ^l, a^{l-1} (and batch norm's γ, β gradients).

        ∂C_x/∂b^l = δ^l_x and ∂C_x/∂W^l = δ^l_x (a^{l-1}_x)ᵀ. The error is passed on through
        W^l (and γ^l) before layer l's `LayerError` is yielded, so the caller may update layer l
        in place.
        """
        delta = self.output_error(trace, y)
        upstream = delta
        for layer in range(self.n_layers - 1, -1, -1):
            norm = None
            if layer < self.n_layers - 1:
                delta = self.f.times_derivative(upstream, trace.zs[layer], trace.fs[layer])
                mask = masks.hidden[layer] if masks is not None else None
                if mask is not None:
                    delta = delta * mask
                if not self.all_active[layer]:
                    delta = delta * self.active_scale[layer]
                if self.norm is not None:
                    delta, *grads = self.norm.backward(layer, delta, trace.normalised[layer])
                    norm = (grads[0], grads[1])
            previous = trace.layer_input(layer)
            if layer > 0:
                downstream = torch.bmm(delta, self.weights[layer])
                hidden = layer < self.n_layers - 1
                if hidden and self.skips[layer]:
                    downstream = downstream + upstream
                elif hidden and not self.all_active[layer]:
                    downstream = torch.where(self.active[layer], downstream, upstream)
                upstream = downstream
            yield LayerError(layer, delta, previous, norm)

    def gradients(
        self, x: torch.Tensor, labels: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """∂C/∂W^l and ∂C/∂b^l per layer, C averaged over the examples (x [B, n_in] or
        [M, B, n_in]), in test mode: no dropout masks."""
        trace = self.forward(x)
        y = self.targets(labels)
        grad_w: list[torch.Tensor] = [torch.empty(0)] * self.n_layers
        grad_b: list[torch.Tensor] = [torch.empty(0)] * self.n_layers
        batch = trace.inputs.shape[1]
        for layer, delta, previous, _ in self.backprop(trace, y):
            grad_w[layer] = torch.bmm(delta.transpose(1, 2), previous) / batch
            grad_b[layer] = delta.sum(1) / batch
        return grad_w, grad_b

    def cost(self, trace: Trace, labels: torch.Tensor) -> torch.Tensor:
        """Per model and example, C_x of each model's own cost."""
        z, y = trace.zs[-1], self.targets(labels)
        return self._per_group(self.costs, lambda cost: cost.value(z, y))
