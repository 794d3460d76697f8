"""Dying ReLUs: a unit whose pre-activation is ≤ 0 for every training input never fires again.

The lecture's argument: the ReLU's gradient is 1 for z > 0 and 0 otherwise. If a unit's
z = wᵀa + b is ≤ 0 for every training example, its output is 0 and δ = (Wᵀδ') ⊙ f'(z) is 0 for
every example, so ∂C/∂w and ∂C/∂b are 0: nothing ever moves it again, it is dead. Units die from
the start when the biases are initialised clearly negative or the inputs are unnormalised
([0, 255] pixels), and during training when η is too large, since one big update can push wᵀa + b
below 0 for every input. Leaky ReLU (slope α = 0.01 for z < 0) keeps a small gradient in a unit
that never fires, so such a unit can still learn.

A unit counts as dead when z ≤ 0 on every one of the fixed training images (the images it is
trained on); for a leaky unit the same "never positive" fraction is recorded, with its gradient.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from dlexp.data import Split
from dlexp.figures import line_with_band, save, scale_note, summarise
from dlexp.finding import Outcome, RunContext
from dlexp.measures import accuracy_and_cost, hidden_pre_activations
from dlexp.models import ModelSpec, StackedMLP
from dlexp.trainer import Measure, Schedule

RAW_PIXEL_SCALE = 255.0
"""Unnormalised inputs: the pixels as stored, in [0, 255] instead of [0, 1]."""

UNITS = ("relu", "leaky")
"""The hidden units compared: ReLU (slope 0 for z < 0) and leaky ReLU (slope α)."""


def unit_spec(
    protocol: dict[str, Any], unit: str, eta: float, bias: float, inputs: str, seed: int
) -> ModelSpec:
    """784-100-100-100-10 with (leaky) ReLU hidden units, He weights N(0, 2/n_in), every bias b,
    softmax and cross-entropy, trained by mini-batch SGD with learning rate η."""
    leak = protocol["leak"] if unit == "leaky" else 0.0
    return ModelSpec(
        variant=f"{unit}, η={eta:g}, b={bias:g}, {inputs} inputs",
        seed=seed,
        sizes=(784, *[protocol["hidden_units"]] * protocol["hidden_layers"], 10),
        activation="relu",
        leak=leak,
        weight_init="he",
        bias_mean=bias,
        bias_std=0.0,
        output="softmax",
        cost="cross-entropy",
        eta=eta,
        batch_size=protocol["batch_size"],
        params={"unit": unit, "eta": eta, "bias": bias, "inputs": inputs},
    )


def grid(protocol: dict[str, Any], seeds: list[int], inputs: str) -> list[ModelSpec]:
    """The η sweep from a good start (b = 0, normalised inputs) and the bad starts (negative b;
    raw inputs) at their own ηs, each with ReLU and leaky ReLU units, for every seed."""
    bad = protocol["bad_starts"]
    if inputs == "raw":
        starts = [(0.0, eta) for eta in bad["etas"]]
    else:
        starts = [(0.0, eta) for eta in protocol["etas"]]
        starts += [(bias, eta) for bias in bad["biases"] for eta in bad["etas"]]
    return [
        unit_spec(protocol, unit, eta, bias, inputs, seed)
        for seed in seeds
        for unit in UNITS
        for bias, eta in starts
    ]


def diverged(net: StackedMLP) -> torch.Tensor:
    """Per model: True once any weight or bias is inf or NaN (its z are then meaningless)."""
    finite = [torch.isfinite(p).flatten(1).all(1) for p in [*net.weights, *net.biases]]
    return ~torch.stack(finite).all(0)


def never_positive(net: StackedMLP, images: torch.Tensor) -> torch.Tensor:
    """[M, hidden layers, units]: True where z ≤ 0 for every image — a dead ReLU unit (every
    hidden layer as wide as the first)."""
    ever_positive = torch.zeros(
        net.n_models, net.n_layers - 1, net.sizes[1], dtype=torch.bool, device=net.device
    )
    for zs in hidden_pre_activations(net, images):
        ever_positive |= torch.stack([(z > 0).any(dim=1) for z in zs], dim=1)
    return ~ever_positive


def share(part: torch.Tensor, whole: torch.Tensor) -> torch.Tensor:
    """|part| / |whole| over the units of each model and layer; NaN where `whole` is empty."""
    return part.sum(-1).double() / whole.sum(-1).double()


def dead_units(data: Split, gradient_images: int) -> Measure:
    """Per hidden layer: `dead_fraction` (z ≤ 0 on every image of `data`), `still_dead_fraction`
    (of the units dead at the previous measurement, the share still dead: do they come back?) and
    `dead_unit_gradient`, the mean |∂C/∂b_j| over the dead units j, C averaged over the first
    `gradient_images` images: exactly 0 for ReLU, α times the error passed back for leaky
    units. Also `diverged` (1 once a parameter is inf/NaN), where the per-layer values are NaN.

    The previous measurement's dead units are kept in this closure per stack: `train` may
    measure several stacks, in parallel threads."""
    previous: WeakKeyDictionary[StackedMLP, torch.Tensor] = WeakKeyDictionary()
    sample = data.subset(gradient_images)

    def measure(net: StackedMLP) -> dict[str, torch.Tensor]:
        broken = diverged(net).view(-1, 1)
        dead = never_positive(net, data.images)
        _, grad_b = net.gradients(sample.images, sample.labels)
        gradient = torch.stack([g.abs() for g in grad_b[:-1]], dim=1)
        values = {
            "dead_fraction": dead.double().mean(-1),
            "dead_unit_gradient": share(gradient * dead, dead),
        }
        if net in previous:
            values["still_dead_fraction"] = share(previous[net] & dead, previous[net])
        previous[net] = dead
        values = {name: v.masked_fill(broken, float("nan")) for name, v in values.items()}
        return {**values, "diverged": broken.view(-1).double()}

    return measure


def raw(split: Split) -> Split:
    """The same images with unnormalised pixels in [0, 255]."""
    return Split(split.images * RAW_PIXEL_SCALE, split.labels)


def measure(context: RunContext) -> pd.DataFrame:
    protocol = context.protocol
    mnist = context.mnist()
    training = mnist.train.subset(protocol["train_images"])
    validation = mnist.validation.subset(protocol["validation_images"])
    inputs = {"normalised": (training, validation), "raw": (raw(training), raw(validation))}
    grids = {name: grid(protocol, context.seeds, name) for name in inputs}
    epochs = protocol["epochs"]
    tables = []
    for name, (training, validation) in inputs.items():
        measures = [
            dead_units(training, protocol["gradient_images"]),
            accuracy_and_cost({"train": training, "validation": validation}),
        ]
        tables.append(
            context.train(
                grids[name], training, Schedule(epochs), measures, f"dying ReLU: {name} inputs"
            )
        )
    return pd.concat(tables, ignore_index=True)


# --- selecting from the results table (works on the table read back from metrics.csv) ---


def metric(table: pd.DataFrame, name: str) -> pd.DataFrame:
    return table[table.metric == name]


def good_start(values: pd.DataFrame) -> pd.DataFrame:
    """The η sweep: b = 0 and inputs in [0, 1]."""
    return values[(values.bias == 0) & (values.inputs == "normalised")]


def final(values: pd.DataFrame) -> pd.DataFrame:
    return values[values.epoch == values.epoch.max()]


def worst_layer(values: pd.DataFrame) -> pd.Series:
    """Per (unit, η, b, inputs, seed, epoch): the dead fraction of the most-affected layer."""
    keys = ["unit", "eta", "bias", "inputs", "seed", "epoch"]
    return values.groupby(keys)["value"].max(min_count=1)


def final_accuracy(table: pd.DataFrame) -> pd.Series:
    """Per (unit, η, b, inputs, seed): the validation accuracy after the last epoch."""
    acc = final(metric(table, "validation_accuracy"))
    return acc.set_index(["unit", "eta", "bias", "inputs", "seed"])["value"]


def diverged_models(table: pd.DataFrame) -> pd.DataFrame:
    """(unit, η, b, inputs, seed) of every model whose parameters became inf/NaN."""
    flags = final(metric(table, "diverged"))
    return flags[flags.value > 0][["unit", "eta", "bias", "inputs", "seed"]]


# --- claim checks ---


def final_worst_relu_layer(table: pd.DataFrame) -> pd.Series:
    """Per (η, seed) of the η sweep's ReLU nets: the worst layer's final dead fraction, NaN for a
    net that diverged (inf/NaN weights: its units output NaN, they are not dead)."""
    dead = final(good_start(metric(table, "dead_fraction")))
    worst = worst_layer(dead[dead.unit == "relu"])
    return worst.droplevel(["unit", "bias", "inputs", "epoch"])


def left_out(values: pd.Series) -> str:
    """`; diverged nets left out (seeds): η=1: 2` — per η, the seeds whose value is NaN."""
    missing = values[values.isna()].groupby(level="eta").size()
    counts = ", ".join(f"η={eta:g}: {n}" for eta, n in missing.items())
    return f"; diverged nets left out (seeds): {counts}" if counts else ""


def dead_fraction_grows_with_eta(
    table: pd.DataFrame, protocol: dict[str, Any], large_share: float, almost_none: float
) -> Outcome:
    """ReLU nets from the good start: the most-affected layer's final dead fraction rises with η
    (seed means never fall by more than one unit's share), is ≥ `large_share` at the largest η
    and ≤ `almost_none` at the smallest, in every seed that did not diverge."""
    worst = final_worst_relu_layer(table)
    by_eta = worst.groupby(level="eta").mean().dropna()
    one_unit = 1.0 / protocol["hidden_units"]
    rising = bool(np.all(np.diff(by_eta.to_numpy()) >= -one_unit))
    etas = worst.index.get_level_values("eta")
    largest, smallest = worst.loc[etas.max()].dropna(), worst.loc[etas.min()].dropna()
    killed, spared = (largest >= large_share).all(), (smallest <= almost_none).all()
    passed = rising and len(largest) > 0 and len(smallest) > 0 and bool(killed and spared)
    detail = "mean final dead fraction of the worst ReLU layer by η: " + ", ".join(
        f"{eta:g}: {value:.2f}" for eta, value in by_eta.items()
    )
    return Outcome(passed, largest.tolist(), detail + left_out(worst))


def dead_units_stay_dead(
    table: pd.DataFrame, protocol: dict[str, Any], min_share: float
) -> Outcome:
    """Of the units of every ReLU net (all starts) that are dead at one measurement, the share
    still dead at the next, pooled per seed over nets, layers and epochs (weighted by how many
    were dead), is at least `min_share` in every seed. Diverged nets are left out."""
    keys = ["unit", "eta", "bias", "inputs", "seed", "layer", "epoch"]
    dead = metric(table, "dead_fraction")
    earlier = dead.assign(epoch=dead.epoch + 1).set_index(keys)["value"]
    pairs = metric(table, "still_dead_fraction").set_index(keys)["value"].to_frame("still")
    pairs["dead_before"] = earlier.reindex(pairs.index)
    pairs = pairs[pairs.dead_before > 0].dropna().reset_index()
    pairs["stayed"] = pairs.still * pairs.dead_before

    def pooled(by: list[str]) -> pd.Series:
        sums = pairs.groupby(by)[["stayed", "dead_before"]].sum()
        return sums.stayed / sums.dead_before

    shares = pooled(["unit", "seed"])
    relu = shares.loc["relu"] if "relu" in shares.index else pd.Series(dtype=float)
    by_layer = pooled(["unit", "layer"])
    by_start = pooled(["unit", "bias", "inputs"])
    detail = "share still dead, ReLU by layer: " + ", ".join(
        f"{layer}: {value:.3f}" for layer, value in by_layer.get("relu", pd.Series()).items()
    )
    detail += "; ReLU by start: " + ", ".join(
        f"{start_label(b, i)}: {value:.3f}"
        for (b, i), value in by_start.get("relu", pd.Series()).items()
    )
    if "leaky" in shares.index:
        detail += (
            f"; never-positive leaky units still never positive: {shares.loc['leaky'].mean():.3f}"
        )
    passed = len(relu) > 0 and bool((relu >= min_share).all())
    return Outcome(passed, relu.tolist(), detail)


def negative_bias_kills_from_the_start(
    table: pd.DataFrame, protocol: dict[str, Any], large_share: float, almost_none: float
) -> Outcome:
    """At initialisation (epoch 0), every negative bias b leaves ≥ `large_share` of some hidden
    layer dead in every seed, b = 0 at most `almost_none`."""
    start = metric(table, "dead_fraction")
    start = start[(start.epoch == 0) & (start.inputs == "normalised") & (start.unit == "relu")]
    worst = worst_layer(start).groupby(level=["bias", "seed"]).max()
    negative = worst[worst.index.get_level_values("bias") < 0]
    zero = worst.loc[0.0]
    killed, spared = (negative >= large_share).all(), (zero <= almost_none).all()
    passed = len(negative) > 0 and bool(killed and spared)
    by_bias = worst.groupby(level="bias").mean()
    detail = "worst layer's dead fraction at initialisation by b: " + ", ".join(
        f"{bias:g}: {value:.2f}" for bias, value in by_bias.items()
    )
    return Outcome(passed, negative.tolist(), detail)


def raw_inputs_kill_from_the_start(
    table: pd.DataFrame, protocol: dict[str, Any], large_share: float, almost_none: float
) -> Outcome:
    """After the first epoch at the smallest η of the bad starts, ReLU nets fed raw [0, 255]
    pixels have ≥ `large_share` of some hidden layer dead, the same nets fed [0, 1] pixels at
    most `almost_none`, in every seed that did not diverge. (At epoch 0 the two agree exactly:
    with b = 0, scaling the input by 255 scales every z of a ReLU net but keeps its sign.)"""
    eta = min(protocol["bad_starts"]["etas"])
    dead = metric(table, "dead_fraction")
    dead = dead[(dead.epoch == 1) & (dead.unit == "relu") & (dead.eta == eta) & (dead.bias == 0)]
    worst = worst_layer(dead).droplevel(["unit", "eta", "bias", "epoch"])
    raw_nets, normalised = worst.loc["raw"].dropna(), worst.loc["normalised"].dropna()
    killed, spared = (raw_nets >= large_share).all(), (normalised <= almost_none).all()
    passed = len(raw_nets) > 0 and len(normalised) > 0 and bool(killed and spared)
    gone = diverged_models(table)
    gone = gone[gone.inputs == "raw"].groupby(["unit", "eta"]).seed.nunique()
    detail = (
        f"worst layer's dead fraction after epoch 1 at η = {eta:g}: raw {raw_nets.mean():.2f}, "
        f"[0, 1] {normalised.mean():.2f}; raw-input nets that diverged (inf/NaN), seeds: "
        + (", ".join(f"{u} η={e:g}: {n}" for (u, e), n in gone.items()) or "none")
    )
    return Outcome(passed, raw_nets.tolist(), detail)


def leaky_relu_keeps_training(
    table: pd.DataFrame, protocol: dict[str, Any], large_share: float
) -> Outcome:
    """At the smallest η where the ReLU nets (good start) end with ≥ `large_share` of some layer
    dead (seed mean), the leaky-ReLU net of every seed ends with a higher validation accuracy
    than the ReLU net of the same seed. Value: leaky − ReLU final accuracy per seed."""
    worst = final_worst_relu_layer(table).groupby(level="eta").mean()
    killing = worst[worst >= large_share]
    if killing.empty:
        return Outcome(False, [], f"no η leaves ≥ {large_share:.0%} of a ReLU layer dead")
    eta = float(killing.index.min())
    accuracy = final_accuracy(good_start(table)).droplevel(["bias", "inputs"])
    relu, leaky = accuracy.loc["relu"], accuracy.loc["leaky"]
    gain = leaky.loc[eta] - relu.loc[eta]
    by_eta = pd.DataFrame(
        {"relu": relu.groupby(level="eta").mean(), "leaky": leaky.groupby(level="eta").mean()}
    )
    gone = diverged_models(good_start(table))
    gone = gone[gone.eta == eta].groupby("unit").seed.nunique()
    diverged_seeds = ", ".join(f"{UNIT_NAMES[u]} {n}/{len(gain)}" for u, n in gone.items())
    accuracies = ", ".join(f"η={e:g}: {r.relu:.3f} / {r.leaky:.3f}" for e, r in by_eta.iterrows())
    detail = (
        f"at η = {eta:g}: {worst[eta]:.0%} of the worst ReLU layer dead, diverged (seeds): "
        f"{diverged_seeds or 'none'}; mean final accuracy ReLU / leaky: {accuracies}"
    )
    return Outcome(bool((gain > 0).all()), gain.tolist(), detail)


def dead_units_get_no_gradient(table: pd.DataFrame, protocol: dict[str, Any]) -> Outcome:
    """Every dead ReLU unit has ∂C/∂b exactly 0; every never-positive leaky unit a non-zero one
    (mean over a layer's such units, every model, layer and epoch). Value: per seed, the mean
    |∂C/∂b| of the never-positive leaky units."""
    gradient = metric(table, "dead_unit_gradient").dropna(subset=["value"])
    relu, leaky = gradient[gradient.unit == "relu"], gradient[gradient.unit == "leaky"]
    exactly_zero, non_zero = (relu.value == 0).all(), (leaky.value > 0).all()
    passed = len(relu) > 0 and len(leaky) > 0 and bool(exactly_zero and non_zero)
    per_seed = leaky.groupby("seed")["value"].mean()
    detail = (
        f"dead ReLU units: largest mean |∂C/∂b| {relu.value.max():.3g} over {len(relu)} layers × "
        f"epochs; never-positive leaky units: smallest {leaky.value.min():.3g}, "
        f"median {leaky.value.median():.3g}"
    )
    return Outcome(passed, per_seed.tolist(), detail)


CHECKS = {
    "dead_fraction_grows_with_eta": dead_fraction_grows_with_eta,
    "dead_units_stay_dead": dead_units_stay_dead,
    "negative_bias_kills_from_the_start": negative_bias_kills_from_the_start,
    "raw_inputs_kill_from_the_start": raw_inputs_kill_from_the_start,
    "leaky_relu_keeps_training": leaky_relu_keeps_training,
    "dead_units_get_no_gradient": dead_units_get_no_gradient,
}

# --- figures ---

UNIT_STYLES = {
    "relu": {"linestyle": "-", "marker": "o"},
    "leaky": {"linestyle": "--", "marker": "s", "markerfacecolor": "none"},
}
UNIT_NAMES = {"relu": "ReLU", "leaky": "leaky ReLU"}
LAYER_COLOURS = dict(zip((1, 2, 3), plt.cm.viridis([0.05, 0.45, 0.8])))
START_COLOURS = {
    (0.0, "normalised"): "tab:blue",
    (-0.5, "normalised"): "tab:orange",
    (-1.0, "normalised"): "tab:red",
    (0.0, "raw"): "tab:purple",
}
DIVERGED_MARKERS = {"relu": "x", "leaky": "+"}


def start_label(bias: float, inputs: str) -> str:
    pixels = "raw pixels in [0, 255]" if inputs == "raw" else "pixels in [0, 1]"
    return f"b = {bias:g}, {pixels}"


def start_colour(bias: float, inputs: str) -> str:
    return START_COLOURS.get((float(bias), inputs), "tab:gray")


def figures(table: pd.DataFrame, protocol: dict[str, Any], scale: str, folder: Path) -> list[Path]:
    return [
        *figure_dead_fraction_over_epochs(table, scale, folder),
        *figure_bad_starts_over_epochs(table, scale, folder),
        *figure_final_dead_fraction_vs_eta(table, scale, folder),
        *figure_validation_accuracy_vs_eta(table, scale, folder),
    ]


def panels_with_legend_row(
    n_panels: int, ncols: int, panel_size: tuple[float, float], legend_height: float
) -> tuple[plt.Figure, list[plt.Axes], plt.Axes]:
    """A grid of panels (shared axes) and below it one axis-less row that holds the legend."""
    nrows = -(-n_panels // ncols)
    width, height = panel_size
    fig = plt.figure(figsize=(max(width * ncols, 9.0), height * nrows + legend_height))
    grid = fig.add_gridspec(nrows + 1, ncols, height_ratios=[height] * nrows + [legend_height])
    panels: list[plt.Axes] = []
    for index in range(n_panels):
        share = panels[0] if panels else None
        panels.append(
            fig.add_subplot(grid[index // ncols, index % ncols], sharex=share, sharey=share)
        )
    legend = fig.add_subplot(grid[-1, :])
    legend.axis("off")
    return fig, panels, legend


def diverged_note(table: pd.DataFrame, selection: pd.DataFrame) -> str:
    """`diverged: leaky ReLU 2/3 seeds` for the models of `selection` whose weights became
    inf/NaN; empty when none did."""
    models = selection[["unit", "eta", "bias", "inputs"]].drop_duplicates()
    gone = diverged_models(table).merge(models)
    seeds = selection.seed.nunique()
    notes = [f"{UNIT_NAMES[u]} {g.seed.nunique()}/{seeds}" for u, g in gone.groupby("unit")]
    return "\ndiverged (seeds): " + ", ".join(notes) if notes else ""


def unit_first(item: tuple[tuple, pd.DataFrame]) -> tuple:
    """Sort key for groups keyed (unit, …): ReLU before leaky ReLU, then the rest of the key."""
    (unit, *rest), _ = item
    return (UNITS.index(unit), *rest)


def dead_fraction_panel(ax: plt.Axes, values: pd.DataFrame) -> None:
    """Dead fraction per hidden layer against epoch, ReLU solid and leaky dashed, mean ± CI."""
    summary = summarise(values.dropna(subset=["value"]), ["unit", "layer", "epoch"])
    for (unit, layer), group in sorted(summary.groupby(["unit", "layer"]), key=unit_first):
        line_with_band(
            ax,
            group["epoch"],
            group,
            color=LAYER_COLOURS.get(layer, "gray"),
            markersize=4,
            label=f"{UNIT_NAMES[unit]}, hidden layer {layer}",
            **UNIT_STYLES[unit],
        )


def dead_fraction_grid(
    table: pd.DataFrame, panels: list[tuple[str, pd.DataFrame]], ncols: int, title: str
) -> plt.Figure:
    fig, axes, legend = panels_with_legend_row(len(panels), ncols, (3.6, 3.1), 0.8)
    for index, (ax, (name, values)) in enumerate(zip(axes, panels)):
        dead_fraction_panel(ax, values)
        ax.set_title(name + diverged_note(table, values), fontsize=9)
        if values[values.epoch > 0].value.isna().all():
            ax.text(
                0.5,
                0.5,
                "every net diverged:\nno dead fraction after epoch 0",
                transform=ax.transAxes,
                ha="center",
                va="center",
                fontsize=9,
            )
        if index % ncols == 0:
            ax.set_ylabel("dead fraction of the layer")
        else:
            ax.tick_params(labelleft=False)
        if index + ncols >= len(panels):
            ax.set_xlabel("epoch (0 = initialisation)")
    axes[0].set_ylim(-0.03, 1.03)
    axes[0].set_xticks(sorted(panels[0][1].epoch.unique()))
    legend.legend(*axes[0].get_legend_handles_labels(), loc="center", ncol=3, fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


def figure_dead_fraction_over_epochs(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    dead = good_start(metric(table, "dead_fraction"))
    panels = [(f"η = {eta:g}", group) for eta, group in dead.groupby("eta")]
    fig = dead_fraction_grid(
        table,
        panels,
        ncols=min(4, len(panels)),
        title="Dead units per hidden layer as training goes on, by learning rate η\n"
        "(dead: z ≤ 0 on every training image, for leaky ReLU: never positive; b = 0, pixels in "
        "[0, 1]; mean ± 95% CI over seeds)" + scale_note(scale),
    )
    return save(fig, folder, "dead_fraction_over_epochs")


def figure_bad_starts_over_epochs(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    dead = metric(table, "dead_fraction")
    bad = dead[(dead.bias != 0) | (dead.inputs != "normalised")]
    starts = bad[["bias", "inputs"]].drop_duplicates().sort_values(["inputs", "bias"])
    etas = sorted(bad.eta.unique())
    panels = []
    for bias, inputs in starts.itertuples(index=False):
        for eta in etas:
            values = bad[(bad.bias == bias) & (bad.inputs == inputs) & (bad.eta == eta)]
            panels.append((f"{start_label(bias, inputs)}, η = {eta:g}", values))
    fig = dead_fraction_grid(
        table,
        panels,
        ncols=len(etas) if len(etas) > 1 else len(panels),
        title="Bad starts: dead units after a negative bias initialisation or with raw pixels\n"
        "(mean ± 95% CI over seeds)" + scale_note(scale),
    )
    return save(fig, folder, "dead_fraction_bad_starts")


def per_start(values: pd.DataFrame):
    """(bias, inputs, unit, summary over seeds against η) for each start and unit: the good start
    first, ReLU before leaky ReLU. A NaN value (a diverged net's dead fraction) is left out."""
    groups = values.dropna(subset=["value"]).groupby(["bias", "inputs", "unit"])
    for (bias, inputs, unit), group in sorted(groups, key=good_start_first):
        yield bias, inputs, unit, summarise(group, ["eta"])


def good_start_first(item: tuple[tuple, pd.DataFrame]) -> tuple:
    (bias, inputs, unit), _ = item
    return (inputs == "raw", -bias, UNITS.index(unit))


def plot_against_eta(ax: plt.Axes, values: pd.DataFrame) -> None:
    for bias, inputs, unit, summary in per_start(values):
        line_with_band(
            ax,
            summary["eta"],
            summary,
            color=start_colour(bias, inputs),
            label=f"{UNIT_NAMES[unit]}, {start_label(bias, inputs)}",
            **UNIT_STYLES[unit],
        )


def mark_diverged(ax: plt.Axes, points: pd.DataFrame) -> None:
    """A marker at (η, y) for each diverged model of `points` (columns unit, eta, y, bias,
    inputs): × for ReLU, + for leaky ReLU, in the colour of its start."""
    for (unit, bias, inputs), group in points.groupby(["unit", "bias", "inputs"]):
        ax.scatter(
            group.eta,
            group.y,
            marker=DIVERGED_MARKERS[unit],
            s=50,
            color=start_colour(bias, inputs),
            clip_on=False,
            zorder=5,
        )
    for unit in UNITS:
        if (points.unit == unit).any():
            label = f"{UNIT_NAMES[unit]} diverged (weights became inf/NaN)"
            ax.scatter([], [], marker=DIVERGED_MARKERS[unit], color="black", label=label)


def eta_axis(ax: plt.Axes, table: pd.DataFrame) -> None:
    etas = sorted(table.eta.unique())
    ax.set_xscale("log")
    ax.set_xticks(etas, [f"{eta:g}" for eta in etas], fontsize=8)
    ax.minorticks_off()
    ax.set_xlabel("learning rate η (log scale)")


def figure_final_dead_fraction_vs_eta(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    dead = final(metric(table, "dead_fraction"))
    layers = sorted(dead.layer.unique())
    fig, axes, legend = panels_with_legend_row(len(layers), len(layers), (5.2, 4.0), 1.0)
    gone = diverged_models(table).assign(y=1.06)
    for ax, layer in zip(axes, layers):
        plot_against_eta(ax, dead[dead.layer == layer])
        mark_diverged(ax, gone)
        eta_axis(ax, table)
        ax.set_title(f"hidden layer {layer}")
    axes[0].set_ylim(-0.03, 1.1)
    axes[0].set_ylabel("dead fraction after the last epoch")
    legend.legend(*axes[0].get_legend_handles_labels(), loc="center", ncol=3, fontsize=8)
    fig.suptitle(
        "Final dead fraction against η, ReLU (solid) vs leaky ReLU (dashed), mean ± 95% CI over "
        "seeds\n(a diverged net has no dead fraction: it is marked at the top, × ReLU, + leaky)"
        + scale_note(scale),
        fontsize=10,
    )
    return save(fig, folder, "final_dead_fraction_vs_eta")


def figure_validation_accuracy_vs_eta(table: pd.DataFrame, scale: str, folder: Path) -> list[Path]:
    accuracy = final(metric(table, "validation_accuracy"))
    fig, axes, legend = panels_with_legend_row(1, 1, (8.0, 4.6), 1.4)
    ax = axes[0]
    plot_against_eta(ax, accuracy)
    ax.axhline(0.1, color="gray", linewidth=0.8, linestyle=":", label="chance (10 classes)")
    keys = ["unit", "eta", "bias", "inputs", "seed"]
    gone = diverged_models(table).merge(accuracy[[*keys, "value"]]).rename(columns={"value": "y"})
    mark_diverged(ax, gone)
    eta_axis(ax, table)
    ax.set_ylim(0, 1)
    ax.set_ylabel("validation accuracy after the last epoch")
    legend.legend(*ax.get_legend_handles_labels(), loc="center", ncol=2, fontsize=8)
    ax.set_title(
        "Validation accuracy against η: ReLU (solid) vs leaky ReLU (dashed)\n"
        "mean ± 95% CI over seeds; a diverged net (× ReLU, + leaky) counts at its accuracy"
        + scale_note(scale),
        fontsize=10,
    )
    return save(fig, folder, "validation_accuracy_vs_eta")
