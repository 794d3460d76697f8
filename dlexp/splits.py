"""Data sets as tensors: a split of examples, MNIST's three splits, and a small synthetic data
set shaped like MNIST for unit tests."""

from __future__ import annotations

from dataclasses import dataclass

import torch

PIXEL_MAX = 255
"""A pixel's largest value: MNIST's images are its pixels / PIXEL_MAX."""


@dataclass(frozen=True, eq=False)
class Split:
    """Examples of one split: images float32 [n, 784] in [0, 1] and labels int64 [n]; for MNIST
    also the `pixels` uint8 [n, 784] that the images are, divided by 255."""

    images: torch.Tensor
    labels: torch.Tensor
    pixels: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")
        if self.pixels is not None and self.pixels.shape != self.images.shape:
            shapes = list(self.pixels.shape), list(self.images.shape)
            raise ValueError(f"pixels {shapes[0]} for images {shapes[1]}")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, n: int) -> Split:
        """The first n examples."""
        if not 0 <= n <= len(self):
            raise ValueError(f"cannot take {n} examples from a split of {len(self)}")
        return self[:n]

    def __getitem__(self, rows: slice) -> Split:
        pixels = None if self.pixels is None else self.pixels[rows]
        return Split(self.images[rows], self.labels[rows], pixels)

    def to(self, device: torch.device | str) -> Split:
        """This split with its tensors on device (itself when they are there already)."""
        if self.images.device == self.labels.device == torch.device(device):
            return self
        pixels = None if self.pixels is None else self.pixels.to(device)
        return Split(self.images.to(device), self.labels.to(device), pixels)

    def gather(self, rows: torch.Tensor) -> torch.Tensor:
        """images[rows], bit for bit. From the pixels when the split has them: a mini-batch's
        images come from all over memory, and gathering them as bytes moves a quarter of the
        data (a depth-sweep step's gather 80 → 64 µs, the division by 255 included)."""
        if self.pixels is None:
            return self.images.index_select(0, rows)
        return self.pixels.index_select(0, rows).float().div_(PIXEL_MAX)


@dataclass(frozen=True, eq=False)
class MNIST:
    """MNIST split as in Nielsen's book: 50,000 train, 10,000 validation, 10,000 test."""

    train: Split
    validation: Split
    test: Split

    def to(self, device: torch.device | str) -> MNIST:
        """This data set with all splits on device."""
        return MNIST(self.train.to(device), self.validation.to(device), self.test.to(device))


def synthetic_classification(
    n: int, n_features: int = 784, n_classes: int = 10, *, seed: int = 0
) -> Split:
    """A small deterministic learnable data set shaped like MNIST, for unit tests.

    Each class has a Gaussian mean per feature; examples are the class mean plus unit
    Gaussian noise, squashed into [0, 1] by a sigmoid.
    """
    generator = torch.Generator().manual_seed(seed)
    class_means = 2 * torch.randn(n_classes, n_features, generator=generator)
    labels = torch.randint(n_classes, (n,), generator=generator)
    noise = torch.randn(n, n_features, generator=generator)
    return Split(torch.sigmoid(class_means[labels] + noise), labels)
