"""Both cores (`dlexp.workers`): stacks cut into fixed shards, trained in forked processes, with
results byte-identical to training them in one process, whatever the number of workers; figures
rendered in forked processes (`dlexp.figures.rendering_in_parallel`), the same files."""

import filecmp

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from dlexp.convnet import LENET5_HIDDEN, ConvSpec, lenet5
from dlexp.data import Split
from dlexp.figures import rendering_in_parallel, save
from dlexp.finding import JointMeasure, RunContext, Training
from dlexp.model_spec import ModelSpec
from dlexp.models import StackedMLP
from dlexp.progress import Reporter
from dlexp.trainer import Schedule, train_stack
from dlexp.workers import cut, enough_shards, pair_up, run_jobs
from tests.helpers import dlexp, needs_mnist


@given(st.integers(1, 200), st.integers(1, 30))
def test_cut_keeps_the_order_and_makes_near_equal_shards_no_larger_than_asked(m, per_shard):
    models = list(range(m))
    shards = cut(models, per_shard)
    assert [model for shard in shards for model in shard] == models
    sizes = [len(shard) for shard in shards]
    assert max(sizes) - min(sizes) <= 1
    assert len(shards) == max(-(-m // per_shard), 2 if m >= per_shard else 1)
    assert max(sizes) <= per_shard


@given(st.integers(1, 60))
def test_pairs_keep_the_order_and_leave_no_model_alone_when_it_has_a_partner(m):
    models = list(range(m))
    shards = pair_up(models)
    assert [model for shard in shards for model in shard] == models
    sizes = [len(shard) for shard in shards]
    assert max(sizes) - min(sizes) <= 1
    assert len(shards) == max(m // 2, min(2, m))
    if m >= 4:
        assert min(sizes) == 2 and max(sizes) <= 3
    assert [len(shard) for shard in pair_up(list(range(9)))] == [3, 2, 2, 2]
    assert [len(shard) for shard in pair_up(list(range(5)))] == [3, 2]
    assert [len(shard) for shard in pair_up(list(range(3)))] == [2, 1]


@given(st.lists(st.integers(1, 30), min_size=1, max_size=4))
def test_a_lone_shard_is_halved_for_both_cores_and_more_shards_are_left_as_they_are(sizes):
    models = iter(range(sum(sizes)))
    shards = [[next(models) for _ in range(size)] for size in sizes]
    enough = enough_shards(shards)
    assert [model for shard in enough for model in shard] == list(range(sum(sizes)))
    if len(sizes) > 1 or sizes[0] == 1:
        assert enough == shards
    else:
        assert [len(shard) for shard in enough] == [-(-sizes[0] // 2), sizes[0] // 2]


def synthetic(n: int = 400) -> Split:
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(n, 20, generator=generator)
    return Split(images, (images[:, :10].sum(1) > 5).long() + 2 * (images[:, 0] > 0.5).long())


class LastWeights:
    """A measure keeping state per stack that it hands back as rows (`MeasureWithRows`)."""

    def __init__(self) -> None:
        self.kept: dict[ModelSpec, float] = {}

    def __call__(self, net: StackedMLP) -> dict[str, torch.Tensor]:
        for m, spec in enumerate(net.specs):
            self.kept[spec] = net.weights[0][m].abs().sum().item()
        return {"weight_sum": net.weights[0].abs().sum(dim=(1, 2))}

    def rows(self, net: StackedMLP, final_epoch: int) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {"variant": s.variant, "seed": s.seed, "metric": "kept", "value": self.kept[s]}
                for s in net.specs
            ]
        )


def train_with(workers: int, measure) -> tuple[pd.DataFrame, RunContext]:
    context = RunContext({}, [0], torch.device("cpu"), Reporter(quiet=True), workers=workers)
    specs = [
        ModelSpec(f"depth-{d}", seed, (20, *[8] * d, 4), eta=0.5, l2=1.0, keep_prob=0.8)
        for d in (1, 2, 3)
        for seed in range(9)
    ]
    return context.train(specs, synthetic(), Schedule(3), [measure], "test"), context


def test_one_and_two_workers_give_identical_tables_and_counts():
    one, context_one = train_with(1, LastWeights())
    two, context_two = train_with(2, LastWeights())
    assert len(one) == 27 * 4 + 27  # 27 models × epochs 0–3, and one kept row each
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    assert (context_one.models, context_one.model_steps) == (27, 27 * 3 * 40)
    assert (context_two.models, context_two.model_steps) == (27, 27 * 3 * 40)
    kept = two[two["metric"] == "kept"].set_index(["variant", "seed"])["value"]
    last = two[(two["metric"] == "weight_sum") & (two["epoch"] == 3)]
    assert kept.to_dict() == last.set_index(["variant", "seed"])["value"].to_dict()


def test_a_failing_measure_in_a_worker_fails_the_call_with_its_message():
    def broken(net: StackedMLP) -> dict[str, torch.Tensor]:
        raise ValueError("this measure is broken")

    with pytest.raises(RuntimeError, match="this measure is broken"):
        train_with(2, broken)


def test_run_jobs_returns_results_in_job_order_and_reports_each_jobs_progress_to_its_own():
    reported: dict[int, list[int]] = {index: [] for index in range(5)}

    def job(index: int):
        def run(advance):
            for _ in range(index + 1):
                advance(10)
            return index * index

        return run

    jobs = [job(i) for i in range(5)]
    advances = [reported[i].append for i in range(5)]
    results = run_jobs(jobs, costs=[1, 5, 2, 4, 3], workers=2, advances=advances)
    assert results == [0, 1, 4, 9, 16]
    assert {index: sum(steps) for index, steps in reported.items()} == {
        index: 10 * (index + 1) for index in range(5)
    }


def test_shards_are_weighed_by_model_steps_times_a_forward_pass():
    """Jobs start costliest first: three LeNet-5s outweigh five MLPs of more model-steps."""
    data = synthetic()
    lenets = [ConvSpec("cnn", seed, layers=lenet5(), hidden=LENET5_HIDDEN) for seed in range(3)]
    mlps = [ModelSpec("mlp", seed, (784, 100, 10)) for seed in range(5)]
    cnn = Training(lenets, data, Schedule(1), [], "cnn")
    mlp = Training(mlps, data, Schedule(1), [], "mlp")
    assert mlp.steps(mlps) > cnn.steps(lenets)
    assert cnn.cost(lenets) == cnn.steps(lenets) * 416_520 > mlp.cost(mlps)


def test_trainings_trained_together_give_the_tables_they_give_alone():
    context = RunContext({}, [0], torch.device("cpu"), Reporter(quiet=True), workers=2)
    small = [ModelSpec("small", seed, (20, 8, 4), eta=0.5) for seed in range(3)]
    wide = [ModelSpec("wide", seed, (20, 16, 4), eta=0.2) for seed in range(5)]
    data = synthetic()
    trainings = [
        Training(small, data, Schedule(4), [LastWeights()], "small"),
        Training(wide, data.subset(200), Schedule(2), [LastWeights()], "wide"),
    ]
    together = context.train_together(trainings)
    alone = [context.train(t.specs, t.data, t.schedule, [LastWeights()], "") for t in trainings]
    for got, want in zip(together, alone):
        pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert context.models == 2 * (3 + 5)


def test_a_joint_measure_sees_every_model_of_the_cut_stacks_after_the_last_epoch():
    """The shards train apart (9 models: two shards, in forked workers with two) and hand back
    their outputs; the joint measure gets all nine in the shards' order, once per training, at
    the last epoch, the same for one worker and two."""
    specs = [ModelSpec("net", seed, (20, 8, 4), eta=0.5) for seed in range(9)]
    data = synthetic()
    seen: list[int] = []

    def mean_of_all(z: torch.Tensor) -> dict[str, torch.Tensor]:
        seen.append(len(z))
        everyone = z.mean(dim=(0, 1, 2)).expand(len(z))
        return {"own_mean": z.mean(dim=(1, 2)), "mean_of_all": everyone}

    joint = JointMeasure(lambda net: net.forward(data.images).zs[-1], mean_of_all)
    # 9 models × 6 epochs × 40 steps: enough model-steps to fork (MIN_FORKED_MODEL_STEPS)
    training = Training(specs, data, Schedule(6), [], "joint", joint=joint)
    assert [len(shard) for shard in training.shards(cut_stacks=True)] == [5, 4]
    tables = []
    for workers in (1, 2):
        context = RunContext({}, [0], torch.device("cpu"), Reporter(quiet=True), workers=workers)
        tables.append(context.train_together([training])[0])
    pd.testing.assert_frame_equal(*tables, check_exact=True)
    assert seen == [9, 9]
    joint_rows = tables[0]
    assert set(joint_rows["metric"]) == {"own_mean", "mean_of_all"} and len(joint_rows) == 18
    assert joint_rows["epoch"].tolist() == [6] * 18 and joint_rows["epoch"].dtype.kind == "i"
    assert set(joint_rows["layer"]) == {0}
    whole = StackedMLP(specs, torch.device("cpu"))
    train_stack(whole, data, Schedule(6), [])
    z = whole.forward(data.images).zs[-1]
    own = joint_rows[joint_rows["metric"] == "own_mean"].set_index("seed")["value"]
    assert own.to_dict() == pytest.approx(dict(enumerate(z.mean(dim=(1, 2)).tolist())), rel=1e-5)
    everyone = joint_rows[joint_rows["metric"] == "mean_of_all"]["value"]
    assert everyone.tolist() == pytest.approx([z.mean().item()] * 9, rel=1e-5)


@needs_mnist
def test_a_tiny_experiment_writes_byte_identical_csvs_with_one_and_two_workers(tmp_path):
    for workers in ("1", "2"):
        result = dlexp(
            "run", "depth-vs-accuracy", "--scale", "tiny", "--quiet",
            "--workers", workers, "--out", str(tmp_path / workers),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    csvs = [tmp_path / w / "depth-vs-accuracy" / "tiny" / "metrics.csv" for w in ("1", "2")]
    assert filecmp.cmp(*csvs, shallow=False)


def a_figure(title: str):
    figure, ax = plt.subplots(figsize=(3, 2))
    ax.semilogy([1, 2, 3], [1e-3, 1e-1, 10.0], label="a line")
    ax.set_title(title)
    ax.legend()
    return figure


def test_figures_rendered_in_forked_processes_are_the_same_files_as_rendered_in_place(tmp_path):
    inline, parallel = tmp_path / "inline", tmp_path / "parallel"
    inline.mkdir(), parallel.mkdir()
    for index in range(3):
        save(a_figure(f"figure {index}"), inline, f"f{index}")
    with rendering_in_parallel(2):
        paths = [save(a_figure(f"figure {index}"), parallel, f"f{index}") for index in range(3)]
    assert [p.name for pair in paths for p in pair] == sorted(p.name for p in inline.iterdir())
    for path in inline.iterdir():
        assert path.read_bytes() == (parallel / path.name).read_bytes()


def test_a_figure_that_cannot_be_rendered_fails_the_block_with_its_name(tmp_path):
    broken = a_figure("broken")
    broken.axes[0].set_xlabel("$\\unknowncommand$")  # mathtext fails only when drawn
    with pytest.raises(RuntimeError, match="could not render broken"), rendering_in_parallel(2):
        save(a_figure("fine"), tmp_path, "fine")
        save(broken, tmp_path, "broken")
    assert (tmp_path / "fine.svg").exists()
