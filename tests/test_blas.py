"""The first layer's stacked product through NumPy's BLAS: the same numbers as torch.bmm, the
tensors' memory shared, the threads limited."""

import torch
from threadpoolctl import threadpool_info

from dlexp.blas import stacked_product, use_blas_threads


def test_stacked_product_is_bmm_of_each_model() -> None:
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(5, 10, 784, generator=generator)
    weights = torch.randn(5, 30, 784, generator=generator)
    product = stacked_product(a, weights.mT)  # W^T as the transposed view the trainer passes
    assert product.shape == (5, 10, 30) and product.dtype == torch.float32
    torch.testing.assert_close(product, torch.bmm(a, weights.mT), rtol=1e-5, atol=1e-4)
    for m in range(5):  # each model's product is its own: no model sees another's weights
        torch.testing.assert_close(product[m], a[m] @ weights[m].T, rtol=1e-5, atol=1e-4)


def test_stacked_product_in_float64_is_exact_to_rounding() -> None:
    a = torch.randn(3, 4, 6, dtype=torch.float64)
    b = torch.randn(3, 6, 2, dtype=torch.float64)
    assert stacked_product(a, b).dtype == torch.float64
    torch.testing.assert_close(stacked_product(a, b), torch.bmm(a, b), rtol=1e-12, atol=1e-12)


def test_blas_threads_follow_the_limit() -> None:
    use_blas_threads(1)
    blas = [info for info in threadpool_info() if info["user_api"] == "blas"]
    assert blas and all(info["num_threads"] == 1 for info in blas)
