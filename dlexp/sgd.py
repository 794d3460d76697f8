"""The update step: mini-batch gradient descent, with the lectures' weight penalties and momentum.

The gradient of a mini-batch of m examples, with the L2 and L1 penalties' λ/n terms on the weights
(not on biases, nor on batch norm's γ and β):

    g = (1/m) Σ_x ∂C_x/∂w + (λ₂/n) w + (λ₁/n) sgn(w)

Plain gradient descent (momentum μ = 0): w ← w − η g, i.e. for the weights

    w ← (1 − ηλ₂/n) w − (ηλ₁/n) sgn(w) − (η/m) Σ_x ∂C_x/∂w.

With momentum μ > 0, each parameter keeps a velocity v (zero at the start of training), in one
of two forms (`ModelSpec.momentum_form`):

    "heavy-ball" (Nielsen ch. 3; PyTorch's SGD with dampening 0, whose buffer is −v/η):
        v ← μ v − η g,      w ← w + v
    "one-step", deck 004 "Momentum" as the slide writes it (only the previous gradient, not a
    decaying sum of all of them: θ_{t+1} = θ_t − γ (α [∂L/∂θ]_{t−1} + [∂L/∂θ]_t)):
        w ← w + μ v − η g,  v ← −η g

The penalties are part of g, so they enter the velocity too (as PyTorch's `weight_decay`).
"""

from __future__ import annotations

import torch

from dlexp.dropout import Masks
from dlexp.models import StackedMLP
from dlexp.trace import LayerError, Trace


class SGDStep:
    """One gradient-descent step for every parameter of every model, layer by layer as
    backpropagation reaches it, with η, λ₂, λ₁, μ and the momentum form each model's own."""

    def __init__(self, net: StackedMLP, n: int) -> None:
        self.net = net
        specs = net.specs
        self.eta = self._per_model([s.eta for s in specs])
        self.decay = self._per_model([1.0 - s.eta * s.l2 / n for s in specs])
        self.shrink = self._per_model([s.eta * s.l1 / n for s in specs])
        self.penalty_l2 = self._per_model([s.eta * s.l2 / n for s in specs])
        self.l2 = any(s.l2 > 0 for s in specs)
        self.l1 = any(s.l1 > 0 for s in specs)
        self.momentum = self._per_model([s.momentum for s in specs])
        self.with_momentum = any(s.momentum > 0 for s in specs)
        heavy_ball = [s.momentum_form == "heavy-ball" for s in specs]
        self.heavy_ball = torch.tensor(heavy_ball, device=net.device).view(-1, 1, 1)
        self.form = heavy_ball[0] if len(set(heavy_ball)) == 1 else None
        self.velocity: dict[tuple[str, int], torch.Tensor] = {}
        self._ones: dict[int, torch.Tensor] = {}

    def _per_model(self, values: list[float]) -> float | torch.Tensor:
        """A scalar when every model shares the value, else a column [M, 1, 1]."""
        if len(set(values)) == 1:
            return float(values[0])
        return torch.tensor(values, device=self.net.device, dtype=self.net.dtype).view(-1, 1, 1)

    def ones(self, m: int) -> torch.Tensor:
        """[M, 1, m] ones, kept per batch size: Σ_x δ_x as a batched product updates b in place."""
        if m not in self._ones:
            net = self.net
            self._ones[m] = torch.ones(net.n_models, 1, m, device=net.device, dtype=net.dtype)
        return self._ones[m]

    def __call__(self, trace: Trace, y: torch.Tensor, masks: Masks) -> None:
        m = y.shape[1]
        for error in self.net.backprop(trace, y, masks):
            if self.with_momentum:
                self.momentum_step(error, m)
            else:
                self.plain_step(error, m)

    def plain_step(self, error: LayerError, m: int) -> None:
        """w ← (1 − ηλ₂/n) w − (ηλ₁/n) sgn(w) − (η/m) Σ_x δ_x a_xᵀ, b ← b − (η/m) Σ_x δ_x; the
        product Σ δ aᵀ is accumulated straight into W."""
        layer, delta, previous, norm = error
        weight, bias = self.net.weights[layer], self.net.bias_rows[layer]
        uniform_eta = isinstance(self.eta, float)
        alpha = -self.eta / m if uniform_eta else -1.0 / m
        step = delta if uniform_eta else delta * self.eta
        signs = weight.sign() if self.l1 else None
        if is_shared(previous):  # one input for all models: one matrix product for all of them
            if not isinstance(self.decay, float):
                weight.mul_(self.decay)
            beta = self.decay if isinstance(self.decay, float) else 1.0
            flat_weight(weight).addmm_(flat_errors(step), previous[0], beta=beta, alpha=alpha)
        elif isinstance(self.decay, float):
            weight.baddbmm_(step.mT, previous, beta=self.decay, alpha=alpha)
        else:
            weight.mul_(self.decay)
            weight.baddbmm_(step.mT, previous, alpha=alpha)
        if signs is not None:
            weight.sub_(signs.mul_(self.shrink))
        bias.baddbmm_(self.ones(m), step, alpha=alpha)
        if norm is not None:
            for parameter, summed in zip(self.norm_parameters(layer), norm):
                parameter.sub_(summed * (self.eta / m))

    def momentum_step(self, error: LayerError, m: int) -> None:
        """Each parameter moved by its velocity (see the module's equations)."""
        layer, delta, previous, norm = error
        weight = self.net.weights[layer]
        uniform_eta = isinstance(self.eta, float)
        alpha = -self.eta / m if uniform_eta else -1.0 / m
        step = delta if uniform_eta else delta * self.eta
        if is_shared(previous):
            descent = (flat_errors(step) @ previous[0]).view_as(weight).mul_(alpha)
        else:
            descent = torch.bmm(step.mT, previous).mul_(alpha)  # −(η/m) Σ_x δ_x a_xᵀ
        if self.l2:
            descent.sub_(weight * self.penalty_l2)
        if self.l1:
            descent.sub_(weight.sign().mul_(self.shrink))
        self.move(("weight", layer), weight, descent)
        bias_descent = step.sum(1, keepdim=True).mul_(alpha)
        self.move(("bias", layer), self.net.bias_rows[layer], bias_descent)
        if norm is not None:
            for name, parameter, summed in zip(("γ", "β"), self.norm_parameters(layer), norm):
                self.move((name, layer), parameter, summed * (-self.eta / m))

    def move(self, key: tuple[str, int], parameter: torch.Tensor, descent: torch.Tensor) -> None:
        """parameter ← parameter + μ v + descent (descent = −η g), then v ← that step (heavy
        ball) or descent (one-step)."""
        velocity = self.velocity.get(key)
        if velocity is None:
            parameter.add_(descent)
            self.velocity[key] = descent
        elif self.form is None:
            step = velocity * self.momentum + descent
            parameter.add_(step)
            self.velocity[key] = torch.where(self.heavy_ball, step, descent)
        elif self.form:
            parameter.add_(velocity.mul_(self.momentum).add_(descent))
        else:
            parameter.add_(velocity.mul_(self.momentum)).add_(descent)
            self.velocity[key] = descent

    def norm_parameters(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        norm = self.net.norm
        assert norm is not None
        return norm.gamma[layer], norm.beta[layer]


def is_shared(previous: torch.Tensor) -> bool:
    """Whether a^{l−1} [M, B, in] is one input seen by every model (an expanded view)."""
    return previous.dim() == 3 and previous.shape[0] > 1 and previous.stride(0) == 0


def flat_errors(step: torch.Tensor) -> torch.Tensor:
    """δ [M, B, out] as the [M·out, B] matrix whose product with a shared a [B, in] is every
    model's Σ_x δ_x a_xᵀ at once."""
    return step.mT.reshape(-1, step.shape[1])


def flat_weight(weight: torch.Tensor) -> torch.Tensor:
    """W [M, out, in] as the [M·out, in] matrix it is in memory."""
    return weight.view(-1, weight.shape[-1])
