"""Stacked matrix products of a training step's first layer, on the CPU through NumPy's BLAS.

A mini-batch step multiplies each model's own m examples [m, 784] by its own W^T [784, n]: small
products (10 × 784 × 30 per depth-sweep net) that `torch.bmm` hands to MKL, whose kernels for so
few rows reach about a third of this machine's peak on its AMD EPYC cores whatever MKL's settings
(MKL_ENABLE_INSTRUCTIONS, MKL_CBWR, measured). NumPy's OpenBLAS computes the same products
2.7× faster: one step's first layer for 12 nets 62 µs against 166 µs; a whole step of a
12-net depth-sweep shard 466 µs against 556 µs (of a 6-net shard 306 against 332 µs).
Larger products (evaluation's 1,000 × 784 × 360) run at the same speed in both, so only the
stacked first-layer product goes through here. BLAS threads follow torch's (`use_blas_threads`).
OpenBLAS rounds each output column by its place in the kernel (units that start as exact copies
drift apart by 1e-9 in a step); `StackedMLP` keeps torch.bmm for stacks that need copies to stay
exact.
"""

from __future__ import annotations

import numpy as np
import torch
from threadpoolctl import threadpool_limits


def stacked_product(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b for stacks a [M, n, k] and b [M, k, p]: NumPy's BLAS on the CPU (sharing the
    tensors' memory, no copy), `torch.bmm` on other devices."""
    if a.device.type != "cpu":
        return torch.bmm(a, b)
    return torch.from_numpy(np.matmul(a.numpy(), b.numpy()))


def use_blas_threads(threads: int) -> None:
    """NumPy's BLAS runs `threads` threads, as torch does: two processes of two spin-waiting
    threads each on two cores would slow both."""
    threadpool_limits(limits=threads, user_api="blas")
