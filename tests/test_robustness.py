"""Hostile input never crashes, never passes, never destroys (issue 12).

Every bad input is refused before any training with exit 2 and one sentence naming the key, the
value and what is allowed, and the results already on disk stay byte-identical. Interrupts,
killed runs, diverging models and exit codes are checked here too.
"""

import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from dlexp.claims import Verdict
from dlexp.cli import app
from dlexp.data import synthetic_classification
from dlexp.finding import DIVERGED, RunContext
from dlexp.model_spec import ModelSpec
from dlexp.progress import Reporter
from dlexp.protocol import NonEmpty, ProtocolModel, validate_protocol
from dlexp.registry import ExperimentError, available, load
from dlexp.results import atomic_folder, read_info, write_run
from dlexp.runner import RunResult, code_of, prepare
from dlexp.trainer import Schedule

from .helpers import dlexp, needs_mnist
from .test_results import draw, table

SHIPPED = "vanishing-gradient"


def edited(
    folder: Path, pattern: str, new: str, name: str = SHIPPED, encoding: str = "utf-8"
) -> Path:
    """A copy of a shipped declaration with the first match of `pattern` (a multi-line regular
    expression) replaced by `new`."""
    text = available()[name].read_text(encoding="utf-8")
    changed, count = re.subn(pattern, new, text, count=1, flags=re.MULTILINE)
    assert count == 1, f"{pattern!r} no longer matches {name}'s declaration: update this test"
    path = folder / "mine.toml"
    path.write_bytes(changed.encode(encoding, errors="replace"))
    return path


def with_set(*settings: str, name: str = SHIPPED) -> Callable[[Path], list[str]]:
    return lambda _folder: [name, *[arg for s in settings for arg in ("--set", s)]]


def with_file(pattern: str, new: str, encoding: str = "utf-8") -> Callable[[Path], list[str]]:
    return lambda folder: [str(edited(folder, pattern, new, encoding=encoding))]


def with_args(*args: str) -> Callable[[Path], list[str]]:
    return lambda _folder: [SHIPPED, *args]


BAD_INPUTS = [
    (
        "epochs-negative",
        with_set("epochs=-1"),
        "epochs = -1 is not allowed: input should be greater than or equal to 1",
    ),
    ("epochs-zero", with_set("epochs=0"), "epochs = 0 is not allowed"),
    (
        "epochs-float",
        with_set("epochs=1.5"),
        "epochs = 1.5 is not allowed: input should be a valid integer",
    ),
    ("epochs-bool", with_set("epochs=true"), "epochs = True is not allowed"),
    ("eta-nan", with_set("eta=nan"), "eta = nan is not allowed: input should be a finite number"),
    ("eta-inf", with_set("eta=1e400"), "eta = inf is not allowed: input should be a finite number"),
    ("eta-negative", with_set("eta=-1"), "eta = -1 is not allowed: input should be greater than 0"),
    (
        "eta-text",
        with_set('eta="0.5"'),
        "eta = '0.5' is not allowed: input should be a valid number",
    ),
    (
        "l2-negative",
        with_set("l2=-5"),
        "l2 = -5 is not allowed: input should be greater than or equal to 0",
    ),
    ("seeds-zero", with_set("seeds=0"), "seeds = 0 is not allowed"),
    ("seeds-option-zero", with_args("--seeds", "0"), "Invalid value for '--seeds'"),
    (
        "depths-empty",
        with_set("depths=[]"),
        "depths = [] is not allowed: list should have at least 1 item",
    ),
    (
        "depths-empty-other",
        with_set("depths=[]", name="depth-vs-accuracy"),
        "depths = [] is not allowed",
    ),
    ("depths-repeated", with_set("depths=[2, 2]"), "must not repeat a value"),
    ("hidden-units-zero", with_set("hidden_units=0"), "hidden_units = 0 is not allowed"),
    ("train-images-zero", with_set("train_images=0"), "train_images = 0 is not allowed"),
    (
        "train-images-beyond-split",
        with_set("train_images=99999999"),
        "train_images = 99999999 is not allowed: input should be less than or equal to 50000",
    ),
    (
        "networks-unknown",
        with_set('networks=["sigmoid", "foo"]'),
        "networks = ['sigmoid', 'foo'] is not allowed: its item 'foo' is not; input should be "
        "'sigmoid',",
    ),
    (
        "networks-without-sigmoid",  # the net its claims compare against
        with_set('networks=["relu"]'),
        "networks = ['relu'] is not allowed: must include 'sigmoid'",
    ),
    (
        "networks-plain-word",
        with_set("networks=relu"),
        "networks = 'relu' is not allowed: input should be a valid list",
    ),
    ("table-as-value", with_set("exploding={depth=1}"), "unknown key 'exploding'"),
    ("unknown-key", with_set("epochz=3"), "unknown key 'epochz' (did you mean epochs?)"),
    ("unquoted-list", with_set("depths=[a,b]"), "--set depths=[a,b] is not a value dlexp can read"),
    ("two-values-in-one", with_set('epochs=3\nname = "x"'), "is not a value dlexp can read"),
    ("no-equals-sign", with_set("epochs"), "--set takes key=value"),
    ("deeply-nested", with_set("depths=" + "[" * 5000), "is not a value dlexp can read"),
    (
        "unknown-scale",
        with_args("--scale", "huge"),
        "has no scale 'huge'; choose one of: lecture, tiny",
    ),
    ("device-mps", with_args("--device", "mps"), "--device 'mps' is not one dlexp trains on"),
    ("device-meta", with_args("--device", "meta"), "--device 'meta' is not one dlexp trains on"),
    ("device-tpu", with_args("--device", "tpu"), "--device 'tpu' is not one dlexp trains on"),
    (
        "toml-activation-tanh",
        with_file(r"^networks = \[.*\]", 'networks = ["sigmoid", "tanh"]'),
        "its item 'tanh' is not",
    ),
    (
        "toml-scale-invalid",
        with_file(r"(\[scales\.tiny\][^\[]*?)^epochs = \d+", r"\1epochs = -20"),
        "epochs = -20 is not allowed",
    ),
    (
        "claim-param-misspelt",
        with_file(r"^params = \{ ", "params = { max_first_to_lats = 0.3, "),
        "params do not fit check",
    ),
    (
        "claim-param-ill-typed",
        with_file(r"^params = \{ (\w+) = [0-9.]+", r"params = { \1 = true"),
        "= True is not allowed: input should be a valid number",
    ),
    (
        "claim-text-ill-typed-param",
        with_file(r"^params = \{ (\w+) = [0-9.]+", r'params = { \1 = "25"'),
        "text cannot be filled in from its params (Unknown format code",
    ),
    (
        "claim-text-unknown-placeholder",
        with_file(r'^text = "', 'text = "{nope} '),
        "text names {nope}, which is not one of its params",
    ),
    ("claim-text-stray-brace", with_file(r'^text = "', 'text = "{ '), "text has a stray brace"),
    ("name-escapes", with_file(r"^name = .*$", 'name = "../../escaped"'), "name: must be a slug"),
    ("name-empty", with_file(r"^name = .*$", 'name = ""'), "name: must be a slug"),
    (
        "name-number",
        with_file(r"^name = .*$", "name = 5"),
        "name: Input should be a valid string (got 5)",
    ),
    (
        "source-as-string",
        with_file(r"^\[source\]$", 'source = "Deep Learning I"\n[unused]'),
        "source: Input should be a valid dictionary",
    ),
    (
        "latin-1-file",
        with_file(r'^claim = "', 'claim = "größer ', encoding="latin-1"),
        "is not UTF-8 text; save it as UTF-8",
    ),
    ("not-toml", with_file(r"^\[protocol\]$", "[protocol"), "cannot read experiment file"),
    (
        "unknown-experiment",
        lambda _folder: ["vanishing-gradiant"],
        "did you mean vanishing-gradient",
    ),
]


@pytest.fixture
def previous(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A results root holding an earlier run; training, and reading MNIST, are made to fail the
    test, so that every refusal is shown to come before any work."""
    out = tmp_path / "results"
    write_run(out / SHIPPED / "tiny", table(1.0), lambda: {"run": "earlier"}, draw)
    monkeypatch.setattr("dlexp.runner.run_prepared", never)
    monkeypatch.setattr("dlexp.runner.locate_mnist", lambda *args, **kwargs: {})
    monkeypatch.setattr("dlexp.runner.load_files", lambda files: None)
    return out


def never(*args: object, **kwargs: object) -> None:
    raise AssertionError("training started")


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize(("case", "arguments", "fragment"), BAD_INPUTS)
def test_every_bad_input_exits_2_before_training_naming_it_and_touching_nothing(
    case: str,
    arguments: Callable[[Path], list[str]],
    fragment: str,
    previous: Path,
    tmp_path: Path,
):
    before = snapshot(previous)
    args = arguments(tmp_path)
    result = dlexp("run", args[0], "--scale", "tiny", "--out", str(previous), "-q", *args[1:])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert fragment in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output
    assert snapshot(previous) == before
    if args[0].endswith(".toml"):  # `show` refuses it as cleanly, or shows it
        shown = dlexp("show", args[0])
        assert shown.exit_code in (0, 2) and "Traceback" not in shown.output


@pytest.mark.parametrize(
    ("make_out", "fragment"),
    [
        (lambda root: root / "a-file", "is a file, not a folder"),
        (lambda root: root / "a-file" / "below", "is a file, not a folder"),
        (lambda root: Path("/proc/dlexp-results"), "is not writable"),
    ],
)
def test_an_out_that_cannot_be_written_exits_2_before_training(
    make_out: Callable[[Path], Path], fragment: str, previous: Path, tmp_path: Path
):
    (tmp_path / "a-file").write_text("not a folder")
    out = make_out(tmp_path)
    if str(out).startswith("/proc") and not Path("/proc/self").exists():
        pytest.skip("needs Linux's /proc, a folder nobody can write to")
    result = dlexp("run", SHIPPED, "--scale", "tiny", "--out", str(out), "--quiet")
    assert result.exit_code == 2 and fragment in result.output, result.output
    assert (tmp_path / "a-file").read_text() == "not a folder"


def two_experiments(monkeypatch: pytest.MonkeyPatch) -> None:
    """`run all` over two shipped experiments only, whatever else is being added beside them."""
    monkeypatch.setattr("dlexp.cli.load_all", lambda: [load(SHIPPED), load("depth-vs-accuracy")])


def test_run_all_with_a_bad_setting_exits_2_once_with_one_message(
    previous: Path, monkeypatch: pytest.MonkeyPatch
):
    two_experiments(monkeypatch)
    before = snapshot(previous)
    result = dlexp("run", "all", "--scale", "tiny", "--set", "seeds=0", "--out", str(previous))
    assert result.exit_code == 2
    assert result.output.count("error:") == 1 and "seeds = 0 is not allowed" in result.output
    assert snapshot(previous) == before


def test_an_explicit_data_dir_is_the_only_place_looked_at(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr("dlexp.runner.run_prepared", never)
    monkeypatch.setenv("DLEXP_DATA_DIR", os.environ.get("DLEXP_DATA_DIR", str(tmp_path)))
    (tmp_path / "empty").mkdir()
    for folder, fragment in [
        ("empty", "lacks train-images-idx3-ubyte(.gz)"),
        ("none", "is not a folder"),
    ]:
        result = dlexp(
            "run", SHIPPED, "--scale", "tiny", "-q", "--out", str(tmp_path / "out"),
            "--data-dir", str(tmp_path / folder),
        )  # fmt: skip
        assert result.exit_code == 2 and fragment in result.output, result.output
        assert f"{tmp_path / folder} " in result.output
    assert not (tmp_path / "out").exists()


# --- the schema pieces behind the messages ---------------------------------------------------


class Networks(ProtocolModel):
    networks: NonEmpty(str, including=("sigmoid",))


def test_a_list_can_require_the_variant_the_claims_compare_against():
    assert validate_protocol(Networks, {"networks": ["relu", "sigmoid"]})
    with pytest.raises(
        ExperimentError, match="networks = \\['relu'\\] is not allowed: must include 'sigmoid'"
    ):
        validate_protocol(Networks, {"networks": ["relu"]})


def test_claim_params_are_checked_at_load_time_with_their_types(tmp_path: Path):
    first_float = r"^params = \{ (\w+) = [0-9]+\.[0-9]+"
    path = edited(tmp_path, first_float, r"params = { \1 = 1")
    assert code_of(load(path))  # an int where a float is declared is fine
    path = edited(tmp_path, first_float, r"params = { \1 = true")
    with pytest.raises(ExperimentError, match=r"params\.\w+ = True is not allowed"):
        prepare(load(path), "tiny", {}, None)


# --- where results go ----------------------------------------------------------------------------


def test_an_edited_copy_gets_its_own_results_folder_and_an_identical_copy_does_not(tmp_path):
    shipped = load(SHIPPED)
    assert shipped.results_name == SHIPPED
    same = edited(tmp_path, r"^hidden_units = (\d+)", r"hidden_units = \1")
    assert load(same).results_name == SHIPPED
    changed = load(edited(tmp_path, r"^hidden_units = \d+", "hidden_units = 7"))
    assert changed.results_name == f"{SHIPPED}@{changed.identity[:8]}" != shipped.results_name
    assert prepare(changed, "tiny", {}, None).results_name == changed.results_name


@needs_mnist
def test_an_edited_copy_run_by_path_leaves_the_shipped_results_alone(tmp_path: Path):
    name, out = "depth-vs-accuracy", tmp_path / "results"  # the quickest on MNIST
    write_run(out / name / "tiny", table(1.0), lambda: {"run": "earlier"}, draw)
    before = snapshot(out / name)
    copy = edited(tmp_path, r"^hidden_units = \d+", "hidden_units = 7", name=name)
    result = dlexp(
        "run", str(copy), "--scale", "tiny", "-q", "--out", str(out), "--set", "epochs=1",
        "--seeds", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (folder,) = [p for p in out.iterdir() if p.name.startswith(f"{name}@")]
    assert folder.name == f"{name}@{load(copy).identity[:8]}"
    assert f"results in {folder}/tiny/" in result.output  # shown in the run line
    assert snapshot(out / name) == before
    info = json.loads((folder / "tiny" / "run.json").read_text())
    assert info["declaration"] == str(copy.resolve()) and info["results"] == folder.name
    assert info["declaration_sha256"] == hashlib.sha256(copy.read_bytes()).hexdigest()


def test_a_run_killed_by_sigkill_leaves_folders_the_next_run_clears(tmp_path: Path):
    target = tmp_path / "exp" / "tiny"
    write_run(target, table(1.0), lambda: {"run": 1}, draw)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    stale = target.parent / f".tiny.partial-{dead_pid}"
    (stale / "figures").mkdir(parents=True)
    alive = target.parent / f".tiny.partial-{os.getppid()}"  # another run, still going
    alive.mkdir()
    write_run(target, table(2.0), lambda: {"run": 2}, draw)
    assert not stale.exists() and alive.exists() and read_info(target)["run"] == 2
    # killed between moving the old result aside and moving the new one in: put back
    target.rename(target.parent / f".tiny.previous-{dead_pid}")
    with atomic_folder(target.parent / "other"):
        pass
    with pytest.raises(RuntimeError), atomic_folder(target):
        raise RuntimeError("this run fails too")
    assert read_info(target)["run"] == 2
    assert sorted(p.name for p in target.parent.iterdir()) == sorted([alive.name, "other", "tiny"])


def test_sigterm_is_handled_like_ctrl_c(previous: Path, monkeypatch: pytest.MonkeyPatch):
    before, handler = snapshot(previous), signal.getsignal(signal.SIGTERM)

    def terminated_while_training(*args: object, **kwargs: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        raise AssertionError("SIGTERM did not interrupt")

    monkeypatch.setattr("dlexp.runner.run_prepared", terminated_while_training)
    result = dlexp("run", SHIPPED, "--scale", "tiny", "-q", "--out", str(previous))
    assert result.exit_code == 143 and "interrupted" in result.output, result.output
    assert snapshot(previous) == before
    assert signal.getsignal(signal.SIGTERM) == handler


# --- honest exit codes ---------------------------------------------------------------------------


def verdict(passed: bool, detail: str = "") -> Verdict:
    return Verdict("claim", "text", "empirical", "", passed, 1.0, 0.5, 1.5, 2, "", detail)


@pytest.mark.parametrize(
    ("scale", "strict", "verdicts", "code"),
    [
        ("tiny", False, [verdict(True), verdict(False)], 0),  # indicative
        ("tiny", True, [verdict(True), verdict(False)], 1),
        ("tiny", False, [verdict(False, "could not be checked: KeyError: 'x'")], 1),
        ("lecture", False, [verdict(True), verdict(False)], 1),
        ("lecture", False, [verdict(True)], 0),
    ],
)
def test_exit_codes(scale, strict, verdicts, code, previous: Path, monkeypatch: pytest.MonkeyPatch):
    def finished(prepared, **kwargs):
        return RunResult(
            prepared.experiment, scale, previous / SHIPPED / scale, verdicts, 2.0, 4, 100
        )

    monkeypatch.setattr("dlexp.runner.run_prepared", finished)
    two_experiments(monkeypatch)
    args = ["--strict"] if strict else []
    for name in (SHIPPED, "all"):
        result = dlexp("run", name, "--scale", scale, "-q", "--out", str(previous), *args)
        assert result.exit_code == code, result.output
    assert "4 models × 25 steps, 50 model-steps/s" in result.output
    assert ("(indicative)" in result.output) == (scale != "lecture")


# --- divergence is data ------------------------------------------------------------------------


def test_diverged_models_are_noted_with_the_epoch_and_counted():
    data = synthetic_classification(50, n_features=4, n_classes=2)
    specs = [
        ModelSpec(f"eta-{eta:g}", seed, (4, 3, 2), eta=eta, params={"eta": eta})
        for eta in (0.1, 1e30)
        for seed in (0, 1)
    ]
    context = RunContext({}, [0, 1], torch.device("cpu"), Reporter(quiet=True))

    def cost(net):
        weights = torch.stack([w.flatten(1).abs().sum(1) for w in net.weights]).sum(0)
        return {"cost": weights * weights * 1e30}  # overflows to inf once weights blow up

    measured = context.train(specs, data, Schedule(3), [cost], "training")
    assert context.models == 4 and context.model_steps == 4 * 3 * 5
    rows = context.diverged_rows()
    assert set(rows.variant) == {"eta-1e+30"} and set(rows.seed) == {0, 1}
    assert set(rows.metric) == {DIVERGED} and (rows.value == 1.0).all()
    assert rows.epoch.between(0, 3).all() and set(rows["eta"]) == {1e30}
    assert len(measured) == 4 * 4  # the measured table itself is left as it was


@needs_mnist
def test_a_diverging_run_finishes_marks_the_models_and_warns_once(tmp_path: Path):
    result = dlexp(
        "run", "depth-vs-accuracy", "--scale", "tiny", "-q", "--out", str(tmp_path),
        "--set", "eta=1e9", "--set", "epochs=1", "--seeds", "1", "--set", "depths=[0, 1]",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.count("warning:") == 1 and "models diverged" in result.output
    assert "RuntimeWarning" not in result.output and "Traceback" not in result.output
    metrics = (tmp_path / "depth-vs-accuracy" / "tiny" / "metrics.csv").read_text()
    assert f",{DIVERGED}," in metrics
    assert "marked `diverged` in metrics.csv" in result.output


# --- output on terminals that are not UTF-8 ------------------------------------------------------


def run_on_terminal(encoding: str, *args: str) -> tuple[int, str]:
    """The CLI in-process with stdout and stderr encoded as `encoding`: exit code, output."""
    streams = [io.TextIOWrapper(io.BytesIO(), encoding=encoding) for _ in range(2)]
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = streams
    try:
        code = app(list(args), standalone_mode=False) or 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    finally:
        sys.stdout, sys.stderr = saved
    for stream in streams:
        stream.flush()
    return code, "".join(s.buffer.getvalue().decode(encoding) for s in streams)


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_output_survives_a_terminal_that_is_not_utf8(encoding: str, tmp_path: Path):
    code, shown = run_on_terminal(encoding, "show", SHIPPED)
    assert code == 0, shown
    assert "sigma'(z)| <= 1/4" in shown  # degraded to ASCII, not dropped
    code, refused = run_on_terminal(
        encoding, "run", SHIPPED, "--set", "eta=-1", "--out", str(tmp_path)
    )
    assert code == 2 and "eta = -1 is not allowed" in refused, refused


def test_output_survives_an_ascii_terminal_for_real():
    environment = {**os.environ, "PYTHONIOENCODING": "ascii", "COLUMNS": "300"}
    done = subprocess.run(
        [sys.executable, "-m", "dlexp", "list"], capture_output=True, env=environment
    )
    assert done.returncode == 0 and b"UnicodeEncodeError" not in done.stderr, done.stderr
    assert b"Instable gradient" in done.stdout


def test_a_rule_about_several_protocol_keys_is_one_sentence():
    from pydantic import model_validator

    from dlexp.protocol import ProtocolModel, validate_protocol
    from dlexp.registry import ExperimentError

    class Pair(ProtocolModel):
        low: int
        high: int

        @model_validator(mode="after")
        def ordered(self) -> "Pair":
            if self.low > self.high:
                raise ValueError("low must not exceed high")
            return self

    with pytest.raises(ExperimentError, match="the protocol is not allowed: low must not exceed"):
        validate_protocol(Pair, {"low": 3, "high": 1})
