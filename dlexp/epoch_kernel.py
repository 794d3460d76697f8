"""The compiled loops of `dlexp.compiled_epoch`: one epoch of mini-batch gradient descent for a
stack of sigmoid MLPs, model by model and step by step, each model's products through BLAS
(numba's np.dot) and everything between them a loop over units and examples.

Compiled once per machine and kept in numba's cache (`cache=True`), so a process only loads it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

SIGMOID_CROSS_ENTROPY, SOFTMAX, SIGMOID_QUADRATIC, LINEAR = range(4)


@njit(cache=True)
def _buffers(weights, batch):
    """Per layer: a^l and δ^l [batch, out] and the gradient Σ δ aᵀ [out, in]."""
    activations, errors, gradients = [], [], []
    for weight in weights:
        out, fan_in = weight.shape[1], weight.shape[2]
        activations.append(np.empty((batch, out), np.float32))
        errors.append(np.empty((batch, out), np.float32))
        gradients.append(np.empty((out, fan_in), np.float32))
    return np.empty((batch, weights[0].shape[2]), np.float32), activations, errors, gradients


@njit(cache=True)
def epoch(inputs, divisor, targets, order, weights, biases, depths, outputs, eta, decay, shrink,
           batch):  # fmt: skip
    n_models, n = order.shape
    full = _buffers(weights, batch)
    last = _buffers(weights, n % batch if n % batch else batch)
    for m in range(n_models):
        for start in range(0, n, batch):
            size = min(batch, n - start)
            buffers = full if size == batch else last
            rows = order[m, start : start + size]
            _step(m, rows, inputs, divisor, targets, weights, biases, depths[m], outputs[m],
                  np.float32(-eta[m] / size), decay[m], shrink[m], buffers)  # fmt: skip


@njit(cache=True)
def _step(m, rows, inputs, divisor, targets, weights, biases, depth, output, alpha, decay, shrink,
          buffers):  # fmt: skip
    """One mini-batch step of model m: forward, the four equations backwards, the update."""
    x, activations, errors, gradients = buffers
    last = len(weights) - 1
    one = np.float32(1.0)
    for i in range(len(rows)):
        example = inputs[rows[i]]
        for j in range(x.shape[1]):
            x[i, j] = np.float32(example[j]) / divisor
    previous = x
    for k in range(depth + 1):
        layer = k if k < depth else last
        a, bias = activations[layer], biases[layer][m]
        np.dot(previous, weights[layer][m].T, a)
        if k < depth or output in (SIGMOID_CROSS_ENTROPY, SIGMOID_QUADRATIC):
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
        previous = a
    delta, a = errors[last], activations[last]
    for i in range(len(rows)):
        y = targets[rows[i]]
        for j in range(a.shape[1]):
            delta[i, j] = a[i, j] - y[j]
            if output == SIGMOID_QUADRATIC:
                delta[i, j] *= a[i, j] - a[i, j] * a[i, j]
    for k in range(depth, -1, -1):
        layer = k if k < depth else last
        weight, bias, gradient = weights[layer][m], biases[layer][m], gradients[layer]
        previous = x if k == 0 else activations[k - 1]
        if k > 0:  # δ^{l−1} through W^l before W^l is updated
            upstream = errors[k - 1]
            np.dot(delta, weight, upstream)
            for i in range(upstream.shape[0]):
                for j in range(upstream.shape[1]):
                    f = previous[i, j]
                    upstream[i, j] = upstream[i, j] * (one - f) * f
        np.dot(delta.T, previous, gradient)
        if shrink:  # L1: the sign of the weight before this step, as in `dlexp.sgd`
            for i in range(weight.shape[0]):
                for j in range(weight.shape[1]):
                    w = weight[i, j]
                    weight[i, j] = decay * w + alpha * gradient[i, j] - shrink * np.sign(w)
        else:
            for i in range(weight.shape[0]):
                for j in range(weight.shape[1]):
                    weight[i, j] = decay * weight[i, j] + alpha * gradient[i, j]
        for j in range(bias.shape[0]):
            total = np.float32(0.0)
            for i in range(delta.shape[0]):
                total += delta[i, j]
            bias[j] += alpha * total
        if k > 0:
            delta = upstream
