"""Experiments as declarations: `experiments/<name>/experiment.toml`, read and validated here.

A declaration names the lecture claim and its source, the full default protocol (lecture scale),
named scales as overrides of it, the lecture's reference numbers and the claims to check, each with
the slide's own sentence and its kind (`identity`: true by arithmetic or by definition;
`empirical`: a finding that training could contradict). The code that measures, draws and checks
lives beside it (see `dlexp.finding`); this module only reads TOML and imports no experiment code.

A user may copy a folder (or a lone declaration), edit it and run it by path.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import importlib.util
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dlexp.declaration import ClaimSpec as ClaimSpec  # re-exported: claims are read from here
from dlexp.declaration import Declaration

DEFAULT_SCALE = "lecture"
DECLARATION = "experiment.toml"


def _experiments_dir() -> Path:
    """The shipped experiments: the installed `dlexp.experiments` package, or the checkout's
    top-level `experiments/` when dlexp runs from a checkout without being installed."""
    spec = importlib.util.find_spec("dlexp.experiments")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parent.parent / "experiments"


EXPERIMENTS_DIR = _experiments_dir()


class ExperimentError(Exception):
    """A problem with an experiment name, file or override; str() is one sentence to act on."""


@dataclass(frozen=True)
class Experiment:
    """A parsed declaration: where it was read from and the folder holding its code."""

    declaration: Declaration
    path: Path
    code: Path

    def __getattr__(self, name: str) -> Any:
        return getattr(self.declaration, name)

    @property
    def scales(self) -> dict[str, dict[str, Any]]:
        return {DEFAULT_SCALE: {}, **self.declaration.scales}

    @property
    def source_line(self) -> str:
        return f'deck "{self.source.deck}", slide "{self.source.slide}"'

    @property
    def empirical_claims(self) -> int:
        return sum(claim.kind == "empirical" for claim in self.claims)

    @property
    def identity(self) -> str:
        """A hash of what the experiment is: its declaration (as parsed) and its code folder."""
        content = self.declaration.model_dump(mode="json")
        text = json.dumps([content, str(self.code.resolve())], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def file_sha256(self) -> str:
        """The declaration file's SHA-256, recorded in run.json."""
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    @property
    def results_name(self) -> str:
        """The folder under `--out` its runs go to: its name, unless it is an edited copy of a
        shipped experiment of the same name (another protocol, claims or code), which gets
        `name@<short hash>` so that it never replaces the shipped experiment's results."""
        shipped = available().get(self.name)
        if shipped is None or shipped.resolve() == self.path.resolve():
            return self.name
        try:
            same = parse(shipped).identity == self.identity
        except ExperimentError:
            same = False
        return self.name if same else f"{self.name}@{self.identity[:8]}"

    def resolve(
        self,
        scale: str = DEFAULT_SCALE,
        overrides: Mapping[str, Any] | None = None,
        seeds: int | None = None,
    ) -> dict[str, Any]:
        """The protocol at `scale` with overrides applied (dotted keys reach tables) and the
        number of seeds replaced when given. Types and ranges are checked by the experiment's
        protocol model (`dlexp.protocol`), not here."""
        if scale not in self.scales:
            raise ExperimentError(
                f"{self.name} has no scale {scale!r}; choose one of: {', '.join(self.scales)}."
            )
        protocol = merged(self.protocol, self.scales[scale])
        valid = leaf_keys(protocol)
        for key, value in (overrides or {}).items():
            if key not in valid:
                close = difflib.get_close_matches(key, valid, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise ExperimentError(f"unknown key {key!r}{hint}; valid keys: {', '.join(valid)}.")
            set_path(protocol, key, value)
        if seeds is not None:
            protocol["seeds"] = seeds
        return protocol


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of `base` with the (nested) entries of `changes` replacing its own."""
    result = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def leaf_keys(protocol: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key, value in protocol.items():
        if isinstance(value, dict):
            keys += leaf_keys(value, f"{prefix}{key}.")
        else:
            keys.append(f"{prefix}{key}")
    return keys


def get_path(protocol: dict[str, Any], key: str) -> Any:
    value: Any = protocol
    for part in key.split("."):
        value = value[part]
    return value


def set_path(protocol: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    target = protocol
    for part in parents:
        target = target[part]
    target[last] = value


def parse_setting(item: str) -> tuple[str, Any]:
    """`key=value` from the command line → (key, value): the value read as a TOML value (0.5, 3,
    true, [2, 3], "relu"), or as plain text when it is none (relu)."""
    key, sep, text = item.partition("=")
    key, text = key.strip(), text.strip()
    if not sep or not key:
        raise ExperimentError(f"--set takes key=value, got {item!r}; `dlexp show NAME` lists keys.")
    try:
        parsed = tomllib.loads(f"v = {text}")
    except (tomllib.TOMLDecodeError, RecursionError):
        parsed = None
    if parsed is not None and list(parsed) == ["v"]:
        return key, parsed["v"]
    if text.startswith(("[", "{")) or "\n" in text or parsed is not None:
        raise ExperimentError(
            f"--set {key}={text} is not a value dlexp can read; write it as TOML, with "
            f"strings quoted and the whole argument in single quotes, e.g. "
            f"--set '{key}=[\"a\", \"b\"]' or --set '{key}=[1, 2]'."
        )
    return key, text


def flat_settings(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables of overrides (as Python keyword arguments give them) as dotted keys."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            flat.update(flat_settings(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def available() -> dict[str, Path]:
    """Every shipped experiment: name → declaration file."""
    return {path.parent.name: path for path in sorted(EXPERIMENTS_DIR.glob(f"*/{DECLARATION}"))}


def load(name_or_path: str | Path) -> Experiment:
    """A shipped experiment by name, or an experiment folder or declaration file by path."""
    shipped = available()
    if str(name_or_path) in shipped:
        return parse(shipped[str(name_or_path)])
    path = Path(name_or_path)
    if path.is_dir():
        if not (path / DECLARATION).is_file():
            raise ExperimentError(f"{path}/ holds no {DECLARATION}; check the path.")
        return parse(path / DECLARATION)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ExperimentError(f"no experiment file at {path}; check the path.")
        return parse(path)
    close = difflib.get_close_matches(str(name_or_path), shipped, n=3, cutoff=0.4)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    raise ExperimentError(
        f"unknown experiment {str(name_or_path)!r}; {hint}`dlexp list` shows all of them."
    )


def load_all() -> list[Experiment]:
    return [parse(path) for path in available().values()]


def parse(path: Path) -> Experiment:
    """Read and validate one declaration; its code is the folder's own package when it has one,
    else the shipped experiment named by `finding` (or by `name`)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ExperimentError(f"{path} is not UTF-8 text; save it as UTF-8.") from None
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ExperimentError(f"cannot read experiment file {path}: {error}.") from None
    except RecursionError:
        raise ExperimentError(f"cannot read experiment file {path}: it nests too deeply.") from None
    try:
        declaration = Declaration.model_validate(raw)
    except ValidationError as error:
        raise ExperimentError(f"{path}: {first_problem(error)}.") from None
    code = path.parent if (path.parent / "__init__.py").is_file() else None
    if code is None:
        owner = declaration.finding or declaration.name
        code = EXPERIMENTS_DIR / owner
        if not (code / "__init__.py").is_file():
            raise ExperimentError(
                f"{path} names finding {owner!r}, which dlexp does not have; set `finding` to "
                f"one of: {', '.join(available())}."
            )
    experiment = Experiment(declaration, path, code)
    check_scales(experiment)
    return experiment


def first_problem(error: ValidationError) -> str:
    """The first problem pydantic found, as `where: what (got value)`."""
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"]) or "the file"
    message = re.sub(r"^Value error, ", "", problem["msg"])
    got = problem.get("input")
    shown = "" if isinstance(got, dict) or got is None else f" (got {got!r})"
    return f"{where}: {message}{shown}"


def check_scales(experiment: Experiment) -> None:
    """Every scale overrides keys the protocol has."""
    valid = set(leaf_keys(experiment.protocol))
    for scale, changes in experiment.scales.items():
        unknown = set(leaf_keys(changes)) - valid
        if unknown:
            raise ExperimentError(
                f"scale {scale!r} of {experiment.path} sets unknown keys: "
                f"{', '.join(sorted(unknown))}."
            )


def reference_of(code_file: str) -> dict[str, Any]:
    """The `[reference]` table of the declaration beside an experiment's code file: the one
    place the lecture's numbers are written down."""
    return parse(Path(code_file).parent / DECLARATION).reference
