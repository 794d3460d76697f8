"""Property tests: whatever a user types after `--set`, and whatever a declaration file holds,
dlexp answers with a valid protocol or one clean `ExperimentError`, never another exception; and
`dlexp show` never fails on a declaration that `run` accepts."""

import math
import re
from pathlib import Path
from tempfile import TemporaryDirectory

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlexp.registry import ExperimentError, available, leaf_keys, load, parse_setting
from dlexp.runner import Prepared, prepare

from .helpers import dlexp

NAME = "vanishing-gradient"
SHIPPED_TEXT = available()[NAME].read_text(encoding="utf-8")
KEYS = leaf_keys(load(NAME).protocol)
FEW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=8),
    st.sampled_from(["sigmoid", "relu", "residual", "tanh", "nan", "inf", "-inf"]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=8)


def toml_like(value: object) -> str:
    """A value written roughly as TOML: sometimes valid, sometimes not, as a user might."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return f'"{value}"' if value.isidentifier() else value
    if isinstance(value, list):
        return "[" + ", ".join(toml_like(item) for item in value) + "]"
    return repr(value)


settings_typed = st.one_of(
    st.text(max_size=40),
    st.builds(lambda k, v: f"{k}={toml_like(v)}", st.sampled_from(KEYS), values),
    st.builds(lambda k, v: f"{k}={v}", st.sampled_from(KEYS), st.text(max_size=20)),
)


def prepared_or_clean_error(action) -> Prepared | None:
    try:
        return action()
    except ExperimentError as error:
        message = str(error)
        assert message and "Traceback" not in message
        return None


@FEW
@given(settings_typed)
def test_any_set_gives_a_valid_protocol_or_a_clean_error(item: str):
    experiment = load(NAME)

    def apply() -> Prepared:
        key, value = parse_setting(item)
        return prepare(experiment, "tiny", {key: value}, None)

    prepared = prepared_or_clean_error(apply)
    if prepared is not None:
        assert prepared.protocol["epochs"] >= 1 and prepared.protocol["eta"] > 0
        assert math.isfinite(prepared.protocol["eta"]) and prepared.protocol["networks"]


VALUE_LINE = re.compile(r"^(\w+) = .*$", re.MULTILINE)
VALUE_LINES = [m.span() for m in VALUE_LINE.finditer(SHIPPED_TEXT)]
PARAM = re.compile(r"(?<=[{,] )(\w+) = ([^,}]+)")  # one entry of a claim's `params = { … }`
PARAMS = [m.span() for m in PARAM.finditer(SHIPPED_TEXT)]


@st.composite
def declarations(draw) -> str:
    """The shipped declaration with one value (of a line or of a claim's params) replaced, or
    one slice replaced by any text."""
    kind = draw(st.sampled_from(["line", "param", "slice"]))
    if kind != "slice":
        start, end = draw(st.sampled_from(VALUE_LINES if kind == "line" else PARAMS))
        key = SHIPPED_TEXT[start:end].split(" = ")[0]
        replacement = f"{key} = {toml_like(draw(values))}"
    else:
        start = draw(st.integers(0, len(SHIPPED_TEXT)))
        end = draw(st.integers(start, min(len(SHIPPED_TEXT), start + 40)))
        replacement = draw(st.text(max_size=20))
    return SHIPPED_TEXT[:start] + replacement + SHIPPED_TEXT[end:]


@FEW
@given(declarations())
def test_any_declaration_loads_or_fails_cleanly_and_show_never_fails_on_one_run_accepts(
    text: str,
):
    with TemporaryDirectory() as folder:
        path = Path(folder) / "mine.toml"
        path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
        experiment = prepared_or_clean_error(lambda: load(path))
        if experiment is None:
            return
        accepted = [
            prepared_or_clean_error(lambda s=scale: prepare(experiment, s, {}, None))
            for scale in experiment.scales
        ]
        if any(accepted):
            shown = dlexp("show", str(path))
            assert shown.exit_code == 0 and shown.exception is None, shown.output
