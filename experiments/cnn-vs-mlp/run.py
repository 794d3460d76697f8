"""CNN versus MLP: both trained at every η of their own sweep, every seed, the same data, epochs
and mini-batches; after the last epoch each is scored on the full validation and test splits and
on the test images shifted by 1–3 pixels. The CNN's first-layer kernels and the equivariance
error of its first feature maps are recorded too, and every layer's parameter count.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F

from dlexp.conv_trainer import (
    ConvMeasure,
    after_training,
    conv_accuracy_and_cost,
)
from dlexp.convnet import LENET5_HIDDEN, Conv, ConvSpec, StackedConvNet, feature_shapes, lenet5
from dlexp.finding import Protocol, RunContext, Training
from dlexp.measures import accuracy_and_cost
from dlexp.model_spec import ModelSpec
from dlexp.splits import Split
from dlexp.table import long_row
from dlexp.trainer import Schedule

# Both nets: ReLU hidden units, He et al.'s N(0, 2/n_in) weights, zero biases, softmax outputs with
# the log-likelihood cost; plain SGD, no penalty: like with like, only the architecture differs.
COMMON = {"activation": "relu", "output": "softmax", "cost": "cross-entropy", "weight_init": "he"}
SIDE = 28
DIRECTIONS = ((0, 1), (0, -1), (1, 0), (-1, 0))  # (rows, columns): right, left, down, up
SHIFT_SEED = 2024  # which way each test image is moved: one fixed draw shared by every net


def cnn_specs(protocol: Protocol, seeds: list[int], etas: list[float]) -> list[ConvSpec]:
    return [
        ConvSpec(
            variant=f"cnn-eta{eta:g}",
            seed=seed,
            layers=lenet5(protocol["pooling"]),
            hidden=LENET5_HIDDEN,
            eta=eta,
            batch_size=protocol["batch_size"],
            params={"model": "cnn", "eta": eta},
            **COMMON,
        )
        for eta in etas
        for seed in seeds
    ]


def mlp_specs(protocol: Protocol, seeds: list[int], etas: list[float]) -> list[ModelSpec]:
    return [
        ModelSpec(
            variant=f"mlp-eta{eta:g}",
            seed=seed,
            sizes=(SIDE * SIDE, protocol["mlp_hidden_units"], 10),
            bias_std=0.0,
            eta=eta,
            batch_size=protocol["batch_size"],
            params={"model": "mlp", "eta": eta},
            **COMMON,
        )
        for eta in etas
        for seed in seeds
    ]


def shifted(images: torch.Tensor, pixels: int, directions: torch.Tensor) -> torch.Tensor:
    """Each image [n, 784] moved by `pixels` in its direction (an index into DIRECTIONS), the
    uncovered border filled with background (0)."""
    grid = images.view(-1, 1, SIDE, SIDE)
    padded = F.pad(grid, (pixels,) * 4)
    moved = torch.empty_like(grid)
    for index, (down, right) in enumerate(DIRECTIONS):
        top, left = pixels - down * pixels, pixels - right * pixels
        window = padded[:, :, top : top + SIDE, left : left + SIDE]
        mine = directions == index
        moved[mine] = window[mine]
    return moved.view(len(images), -1)


def shifted_splits(test: Split, shifts: list[int]) -> dict[str, Split]:
    generator = torch.Generator().manual_seed(SHIFT_SEED)
    directions = torch.randint(len(DIRECTIONS), (len(test),), generator=generator)
    directions = directions.to(test.images.device)
    return {
        f"test_shifted_{s}px": Split(shifted(test.images, s, directions), test.labels)
        for s in shifts
    }


def first_maps(net: StackedConvNet, images: torch.Tensor) -> torch.Tensor:
    """f(z) of the first convolutional layer in float64, [B, M·maps, 28, 28]."""
    layer = net.layers[0]
    assert isinstance(layer, Conv)
    x = images.double().view(-1, 1, SIDE, SIDE).expand(-1, net.n_models, SIDE, SIDE)
    weight, bias = net.weights[0].double(), net.biases[0].double()
    z = F.conv2d(x, weight, bias, padding=layer.padding, groups=net.n_models)
    return net.f(z)


def kernels_and_equivariance(images: torch.Tensor, shifts: list[int]) -> ConvMeasure:
    """The first layer's kernels (one metric per weight) and, per shift s, the equivariance error
    max |maps(shift(x)) − shift(maps(x))| / max |maps(x)| over the interior, where neither the
    original nor the shifted kernel window reaches the border (float64)."""

    def measure(net: StackedConvNet) -> dict[str, torch.Tensor]:
        m = net.n_models
        weight = net.weights[0].detach().view(m, -1, *net.weights[0].shape[1:])
        values = {
            f"conv1_kernel_{k + 1}_{r + 1}_{c + 1}": weight[:, k, 0, r, c]
            for k in range(weight.shape[1])
            for r in range(weight.shape[3])
            for c in range(weight.shape[3])
        }
        maps = first_maps(net, images).view(len(images), m, -1, SIDE, SIDE)
        scale = maps.abs().amax(dim=(0, 2, 3, 4))
        margin = weight.shape[-1]
        for s in shifts:
            worst = torch.zeros(m, dtype=torch.float64, device=maps.device)
            for index, (down, right) in enumerate(DIRECTIONS):
                direction = torch.full((len(images),), index, device=images.device)
                moved = first_maps(net, shifted(images, s, direction))
                moved = moved.view_as(maps)
                expected = torch.roll(maps, (down * s, right * s), dims=(3, 4))
                inner = slice(s + margin, SIDE - s - margin)
                gap = (moved - expected)[..., inner, inner].abs().amax(dim=(0, 2, 3, 4))
                worst = torch.maximum(worst, gap / scale)
            values[f"equivariance_error_{s}px"] = worst
        return values

    return measure


def parameter_rows(spec: ConvSpec | ModelSpec) -> list[dict[str, Any]]:
    """Epoch-0 rows: each layer's parameters (weights + biases) and, for a convolutional layer,
    those of the dense layer it replaces (every input unit to every output unit, one bias per
    output unit)."""
    counts: list[tuple[int, int | None]] = []
    sizes = spec.sizes if isinstance(spec, ModelSpec) else ()
    if isinstance(spec, ConvSpec):
        shapes = feature_shapes(spec)
        for layer, before, after in zip(spec.layers, shapes, shapes[1:]):
            if isinstance(layer, Conv):
                own = layer.maps * (before[0] * layer.kernel**2 + 1)
                units_in, units_out = math.prod(before), math.prod(after)
                counts.append((own, units_in * units_out + units_out))
        sizes = (math.prod(shapes[-1]), *spec.hidden, spec.outputs)
    counts += [(n_in * n_out + n_out, None) for n_in, n_out in itertools.pairwise(sizes)]
    rows = []
    for layer, (own, dense) in enumerate(counts, start=1):
        rows.append(long_row(spec.variant, spec.seed, 0, layer, "parameters", own, **spec.params))
        if dense is not None:
            rows.append(
                long_row(
                    spec.variant, spec.seed, 0, layer, "dense_parameters", dense, **spec.params
                )
            )
    return rows


def measure(context: RunContext) -> pd.DataFrame:
    protocol = context.protocol
    mnist = context.mnist()
    train = mnist.train.subset(protocol["train_images"])
    test = mnist.test.subset(protocol["eval_images"])
    evaluation = {
        "validation": mnist.validation.subset(protocol["eval_images"]),
        "test": test,
        **shifted_splits(test, protocol["shifts"]),
    }
    # Only the last epoch is scored: the claims and figures use nothing else.
    schedule = Schedule(protocol["epochs"], measure_every=protocol["epochs"])
    cnns = cnn_specs(protocol, context.seeds, protocol["eta_sweep"]["cnn"])
    mlps = mlp_specs(protocol, context.seeds, protocol["eta_sweep"]["mlp"])
    equivariance_images = test.images[: protocol["equivariance_images"]]
    cnn_measures = [
        after_training(conv_accuracy_and_cost(evaluation)),
        after_training(kernels_and_equivariance(equivariance_images, protocol["shifts"])),
    ]
    mlp_measures = [after_training(accuracy_and_cost(evaluation))]
    cnn_table, mlp_table = context.train_together(
        [
            Training(cnns, train, schedule, cnn_measures, "cnn vs mlp: CNN mini-batch steps"),
            Training(mlps, train, schedule, mlp_measures, "cnn vs mlp: MLP mini-batch steps"),
        ]
    )
    counts = pd.DataFrame([row for spec in (*cnns, *mlps) for row in parameter_rows(spec)])
    return pd.concat([cnn_table, mlp_table, counts], ignore_index=True)
