"""Shared plotting: log axes labelled in Unicode (10⁻³, 2×10⁻¹) with the same ticks and the same
labels as matplotlib's mathtext default; no comb of minor ticks on a log axis over many decades; a
figure with constrained layout laid out once."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.layout_engine import ConstrainedLayoutEngine

from dlexp.figures import plain_log_labels, save


def tick_labels(axis, minor: bool = False) -> list[str]:
    return [label.get_text() for label in axis.get_ticklabels(minor=minor)]


def log_figure(low: float, high: float) -> plt.Figure:
    figure, ax = plt.subplots()
    ax.plot([1, 2], [low, high])
    ax.set_yscale("log")
    return figure


def test_log_labels_are_the_defaults_written_in_unicode():
    default, plain = log_figure(1e-3, 1e2), log_figure(1e-3, 1e2)
    plain_log_labels(plain)
    default.canvas.draw()
    plain.canvas.draw()
    before, after = tick_labels(default.axes[0].yaxis), tick_labels(plain.axes[0].yaxis)
    assert [bool(text) for text in before] == [bool(text) for text in after]
    assert before[1] == "$\\mathdefault{10^{-3}}$"
    assert after[1:7] == ["10⁻³", "10⁻²", "10⁻¹", "10⁰", "10¹", "10²"]
    assert not any("$" in text for text in after)
    plt.close(default)
    plt.close(plain)


def test_minor_labels_of_a_narrow_log_axis_keep_their_coefficient():
    figure = log_figure(0.15, 0.9)
    plain_log_labels(figure)
    figure.canvas.draw()
    minor = [text for text in tick_labels(figure.axes[0].yaxis, minor=True) if text]
    assert "2×10⁻¹" in minor and "6×10⁻¹" in minor
    plt.close(figure)


def test_a_formatter_chosen_by_the_figure_is_left_alone(tmp_path):
    figure = log_figure(1e-3, 1e2)
    chosen = matplotlib.ticker.FormatStrFormatter("%g")
    figure.axes[0].yaxis.set_major_formatter(chosen)
    save(figure, tmp_path, "chosen")
    assert figure.axes[0].yaxis.get_major_formatter() is chosen
    assert (tmp_path / "chosen.png").exists() and (tmp_path / "chosen.svg").exists()


def test_a_log_axis_over_more_than_four_decades_loses_its_minor_ticks_only(tmp_path):
    wide, narrow = log_figure(1e-7, 1e1), log_figure(1e-2, 1e1)
    wide.axes[0].set_xscale("log")  # x from 1 to 2: a third of a decade, minor ticks kept
    for name, figure in (("wide", wide), ("narrow", narrow)):
        save(figure, tmp_path, name)
        figure.canvas.draw()
    y_wide, y_narrow = wide.axes[0].yaxis, narrow.axes[0].yaxis
    assert y_wide.get_minorticklocs().size == 0 and y_narrow.get_minorticklocs().size > 10
    assert wide.axes[0].xaxis.get_minorticklocs().size > 0
    assert [t for t in tick_labels(y_wide) if t][:3] == ["10⁻⁸", "10⁻⁷", "10⁻⁶"]  # every decade


def colour_bar_figure() -> plt.Figure:
    figure, axes = plt.subplots(1, 2, layout="constrained")
    image = axes[0].imshow([[0.0, 1.0], [1.0, 0.0]])
    axes[1].plot([0, 1], [1, 0])
    axes[1].set_ylabel("a long label that constrained layout makes room for")
    figure.colorbar(image, ax=axes, label="value")
    return figure


def test_a_constrained_figure_is_laid_out_once_by_its_engine_then_written(tmp_path):
    laid_out = colour_bar_figure()
    laid_out.draw_without_rendering()
    want = [ax.get_position().bounds for ax in laid_out.axes]
    figure = colour_bar_figure()
    before = [ax.get_position().bounds for ax in figure.axes]
    paths = save(figure, tmp_path, "bar")
    assert [path.name for path in paths] == ["bar.png", "bar.svg"]
    assert all(path.stat().st_size > 0 for path in paths)
    assert [ax.get_position().bounds for ax in figure.axes] == want != before
    assert not isinstance(figure.get_layout_engine(), ConstrainedLayoutEngine)
    plt.close(laid_out)
