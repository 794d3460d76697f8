"""The cyclic garbage collector kept off long-lived and inherited objects (`dlexp.collector`)."""

import gc
from collections.abc import Iterator
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from dlexp import figures
from dlexp.collector import long_lived
from dlexp.figures import rendering_in_parallel, save
from dlexp.workers import run_jobs


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    """Each test starts and leaves with nothing frozen and the collector on."""
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.enable()


def tracked(objects: list[object]) -> int:
    """How many of `objects` a full collection would walk."""
    walked = {id(each) for each in gc.get_objects()}
    return sum(id(each) in walked for each in objects)


def test_long_lived_pauses_the_collector_then_freezes_what_was_made():
    with long_lived():
        assert not gc.isenabled()
        made = [[index] for index in range(1_000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(made)
    assert tracked(made) == 0
    later = [[index] for index in range(10)]
    assert tracked(later) == len(later)


def test_long_lived_leaves_a_paused_collector_paused():
    gc.disable()
    with long_lived():
        pass
    assert not gc.isenabled()


def test_a_worker_walks_only_what_it_makes_not_what_it_inherited():
    inherited = [[index] for index in range(50_000)]
    assert tracked(inherited) == len(inherited)

    def job(advance) -> int:
        return len(gc.get_objects())

    walked = run_jobs([job, job], costs=[1, 1], workers=2, advances=[lambda steps: None] * 2)
    assert all(count < len(inherited) // 10 for count in walked), walked


def test_a_renderer_walks_only_what_it_makes_not_what_it_inherited(tmp_path, monkeypatch):
    inherited = [[index] for index in range(50_000)]

    def count_walked(figure: plt.Figure, paths: list[Path]) -> None:
        paths[0].write_text(str(len(gc.get_objects())))

    monkeypatch.setattr(figures, "render", count_walked)
    with rendering_in_parallel(2):
        figure, _ = plt.subplots()
        (path, _) = save(figure, tmp_path, "walked")
    assert int(path.read_text()) < len(inherited) // 10
