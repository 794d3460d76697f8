"""The compiled loops of `dlexp.compiled_epoch`: one epoch of mini-batch gradient descent for a
stack of MLPs, model by model and step by step, each model's products through BLAS (numba's
np.dot) and everything between them a loop over units and examples.

Compiled once per machine and kept in numba's cache (`cache=True`), so a process only loads it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

SIGMOID_CROSS_ENTROPY, SOFTMAX, SIGMOID_QUADRATIC, LINEAR = range(4)  # output layer and cost
SIGMOID, TANH, RELU = range(3)  # hidden activation f
# Columns of the per-model settings: η, 1 − ηλ₂/n, ηλ₁/n, ηλ₂/n, μ, heavy ball (1) or one-step
# (0) momentum, leaky ReLU's α.
ETA, DECAY, SHRINK, PENALTY, MU, HEAVY_BALL, LEAK = range(7)


@njit(cache=True)
def _buffers(weights, batch):
    """The input x [batch, in]; per layer a^l and δ^l [batch, out], the gradients Σ_x δ_x a_xᵀ
    [out, in] and Σ_x δ_x [out]."""
    activations = [np.empty((batch, w.shape[1]), np.float32) for w in weights]
    errors = [np.empty((batch, w.shape[1]), np.float32) for w in weights]
    gradients = [np.empty((w.shape[1], w.shape[2]), np.float32) for w in weights]
    sums = [np.empty(w.shape[1], np.float32) for w in weights]
    x = np.empty((batch, weights[0].shape[2]), np.float32)
    return x, activations, errors, gradients, sums


@njit(cache=True)
def epoch(inputs, divisor, targets, order, weights, biases, velocities, masks, dropping, depths,
          outputs, settings, activation, momentum, batch):  # fmt: skip
    """One epoch of every model; `velocities` (weights' then biases') are kept between epochs;
    `masks[i]` [M, mini-batches, units] keeps (1) or deletes (0) the inputs (i = 0) or hidden
    layer i's outputs for a mini-batch, where `dropping[i]`."""
    n_models, n = order.shape
    full = _buffers(weights, batch)
    last = _buffers(weights, n % batch) if n % batch else full  # a short last mini-batch
    for m in range(n_models):
        for start in range(0, n, batch):
            size = min(batch, n - start)
            buffers = full if size == batch else last
            rows = order[m, start : start + size]
            _step(m, start // batch, rows, inputs, divisor, targets, weights, biases, velocities,
                  masks, dropping, depths[m], outputs[m], settings[m], activation, momentum,
                  buffers)  # fmt: skip


@njit(cache=True)
def _step(m, step, rows, inputs, divisor, targets, weights, biases, velocities, masks, dropping,
          depth, output, setting, activation, momentum, buffers):  # fmt: skip
    """One mini-batch step of model m: forward, the four equations backwards, the update."""
    x, activations, errors, gradients, sums = buffers
    last = len(weights) - 1
    one = np.float32(1.0)
    leak = np.float32(setting[LEAK])
    for i in range(len(rows)):
        example = inputs[rows[i]]
        for j in range(x.shape[1]):
            x[i, j] = np.float32(example[j]) / divisor
    if dropping[0]:
        _keep(x, masks[0][m, step])
    previous = x
    for k in range(depth + 1):
        layer = k if k < depth else last
        a, bias = activations[layer], biases[layer][m]
        np.dot(previous, weights[layer][m].T, a)
        if k < depth and activation == TANH:
            for i in range(a.shape[0]):
                for j in range(a.shape[1]):
                    a[i, j] = np.tanh(a[i, j] + bias[j])
        elif k < depth and activation == RELU:
            for i in range(a.shape[0]):
                for j in range(a.shape[1]):
                    z = a[i, j] + bias[j]
                    a[i, j] = z if z > 0 else z * leak
        elif k < depth or output in (SIGMOID_CROSS_ENTROPY, SIGMOID_QUADRATIC):
            for i in range(a.shape[0]):
                for j in range(a.shape[1]):
                    a[i, j] = one / (one + np.exp(-(a[i, j] + bias[j])))
        elif output == SOFTMAX:
            for i in range(a.shape[0]):
                for j in range(a.shape[1]):
                    a[i, j] += bias[j]
                top = a[i].max()
                total = np.float32(0.0)
                for j in range(a.shape[1]):
                    a[i, j] = np.exp(a[i, j] - top)
                    total += a[i, j]
                for j in range(a.shape[1]):
                    a[i, j] /= total
        else:
            for i in range(a.shape[0]):
                for j in range(a.shape[1]):
                    a[i, j] += bias[j]
        if k < depth and dropping[k + 1]:
            _keep(a, masks[k + 1][m, step])
        previous = a
    delta, a = errors[last], activations[last]
    for i in range(len(rows)):
        y = targets[rows[i]]
        for j in range(a.shape[1]):
            delta[i, j] = a[i, j] - y[j]
            if output == SIGMOID_QUADRATIC:
                delta[i, j] *= a[i, j] - a[i, j] * a[i, j]
    alpha = np.float32(-setting[ETA] / len(rows))
    for k in range(depth, -1, -1):
        layer = k if k < depth else last
        weight, bias, gradient, summed = (
            weights[layer][m],
            biases[layer][m],
            gradients[layer],
            sums[layer],
        )
        previous = x if k == 0 else activations[k - 1]
        if k > 0:  # δ^{l−1} = (W^l)ᵀ δ^l ⊙ f'(z^{l−1}), through W^l before W^l is updated
            upstream = errors[k - 1]
            np.dot(delta, weight, upstream)
            for i in range(upstream.shape[0]):
                for j in range(upstream.shape[1]):
                    f = previous[i, j]
                    if activation == TANH:
                        upstream[i, j] = upstream[i, j] * (one - f * f)
                    elif activation == RELU:
                        upstream[i, j] = upstream[i, j] * (one if f > 0 else leak)
                    else:
                        upstream[i, j] = upstream[i, j] * (one - f) * f
            if dropping[k]:  # a deleted unit passes no error back
                _keep(upstream, masks[k][m, step])
        np.dot(delta.T, previous, gradient)
        for j in range(bias.shape[0]):
            total = np.float32(0.0)
            for i in range(delta.shape[0]):
                total += delta[i, j]
            summed[j] = total
        if momentum:
            velocity = velocities[layer][m]
            for i in range(weight.shape[0]):
                _move(weight[i], velocity[i], gradient[i], alpha, setting, True)
            _move(bias, velocities[last + 1 + layer][m][0], summed, alpha, setting, False)
        else:
            _descend(weight, gradient, alpha, np.float32(setting[DECAY]),
                     np.float32(setting[SHRINK]))  # fmt: skip
            for j in range(bias.shape[0]):
                bias[j] += alpha * summed[j]
        if k > 0:
            delta = upstream


@njit(cache=True)
def _keep(values, mask):
    """values [rows, units] times the 0/1 mask [units] of this mini-batch."""
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            values[i, j] *= mask[j]


@njit(cache=True)
def _descend(weight, gradient, alpha, decay, shrink):
    """w ← (1 − ηλ₂/n) w − (η/m) Σ δ aᵀ − (ηλ₁/n) sgn(w), the sign of w before this step."""
    if shrink:
        for i in range(weight.shape[0]):
            for j in range(weight.shape[1]):
                w = weight[i, j]
                weight[i, j] = decay * w + alpha * gradient[i, j] - shrink * np.sign(w)
    else:
        for i in range(weight.shape[0]):
            for j in range(weight.shape[1]):
                weight[i, j] = decay * weight[i, j] + alpha * gradient[i, j]


@njit(cache=True)
def _move(parameter, velocity, gradient, alpha, setting, penalised):
    """With momentum (`dlexp.sgd`): descent d = −(η/m) Σ δ aᵀ − (ηλ₂/n) w − (ηλ₁/n) sgn(w) (the
    penalties on weights only), then heavy ball v ← μ v + d, w ← w + v, or one-step
    w ← w + μ v + d, v ← d."""
    mu, penalty = np.float32(setting[MU]), np.float32(setting[PENALTY])
    shrink = np.float32(setting[SHRINK])
    for j in range(parameter.shape[0]):
        w = parameter[j]
        descent = alpha * gradient[j]
        if penalised:
            descent = descent - w * penalty - shrink * np.sign(w)
        if setting[HEAVY_BALL]:
            velocity[j] = mu * velocity[j] + descent
            parameter[j] = w + velocity[j]
        else:
            parameter[j] = w + mu * velocity[j] + descent
            velocity[j] = descent
