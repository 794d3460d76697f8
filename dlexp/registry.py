"""Experiments as declarations: one TOML file each, shipped in `dlexp/experiments/`.

A declaration names the lecture claim and its source, the finding module that measures, plots and
checks it, the full default protocol (lecture scale), named scales as overrides of it, the
lecture's reference numbers and the claims to check. A user may copy one, edit it and run it by
path; adding an experiment needs no change to the CLI.
"""

from __future__ import annotations

import copy
import difflib
import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import tomllib

EXPERIMENTS_DIR = Path(__file__).parent / "experiments"
DEFAULT_SCALE = "lecture"


class ExperimentError(Exception):
    """A problem with an experiment name, file or override; str() is one sentence to act on."""


@dataclass(frozen=True)
class ClaimSpec:
    """One checkable sentence of the lecture; `check` names a function of the finding module."""

    id: str
    text: str
    check: str
    reference: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    claim: str
    source: dict[str, Any]
    finding: str
    protocol: dict[str, Any]
    scales: dict[str, dict[str, Any]]
    runtime: dict[str, str]
    reference: dict[str, Any]
    claims: list[ClaimSpec]
    path: Path

    @property
    def module(self) -> ModuleType:
        """The finding module: `run`, `figures` and the claim checks in `CHECKS`."""
        return importlib.import_module(f"dlexp.findings.{self.finding}")

    @property
    def source_line(self) -> str:
        return f'deck "{self.source["deck"]}", slide "{self.source["slide"]}"'

    def resolve(self, scale: str = DEFAULT_SCALE, overrides: list[str] = ()) -> dict[str, Any]:
        """The protocol at `scale` with `key=value` overrides applied (dotted keys reach tables)."""
        if scale not in self.scales:
            raise ExperimentError(
                f"{self.name} has no scale {scale!r}; choose one of: {', '.join(self.scales)}."
            )
        protocol = merged(self.protocol, self.scales[scale])
        for item in overrides:
            key, value = parse_override(item, protocol)
            set_path(protocol, key, value)
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


def parse_override(item: str, protocol: dict[str, Any]) -> tuple[str, Any]:
    """`key=value` → (key, value typed like the protocol's current value)."""
    key, sep, text = item.partition("=")
    key, text = key.strip(), text.strip()
    valid = leaf_keys(protocol)
    if not sep or not key:
        raise ExperimentError(
            f"--set takes key=value, got {item!r}; valid keys: {', '.join(valid)}."
        )
    if key not in valid:
        close = difflib.get_close_matches(key, valid, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ExperimentError(f"unknown key {key!r}{hint}; valid keys: {', '.join(valid)}.")
    current = get_path(protocol, key)
    try:
        return key, typed_like(current, text)
    except ValueError:
        kind = type(current).__name__
        raise ExperimentError(
            f"{key} takes a {kind} like {current!r}, not {text!r}; valid keys: {', '.join(valid)}."
        ) from None


def typed_like(current: Any, text: str) -> Any:
    if isinstance(current, bool):
        lowered = text.lower()
        if lowered in ("true", "yes", "1", "on"):
            return True
        if lowered in ("false", "no", "0", "off"):
            return False
        raise ValueError(text)
    if isinstance(current, int):
        return int(text)
    if isinstance(current, float):
        return float(text)
    if isinstance(current, list):
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            raise ValueError(text) from None
        if not isinstance(value, list):
            raise ValueError(text)
        return [typed_like(current[0], str(v)) for v in value] if current else value
    return text


def available() -> dict[str, Path]:
    """Every shipped experiment: name → declaration file."""
    return {path.stem: path for path in sorted(EXPERIMENTS_DIR.glob("*.toml"))}


def load(name_or_path: str) -> Experiment:
    """A shipped experiment by name, or a declaration file by path."""
    shipped = available()
    if name_or_path in shipped:
        return parse(shipped[name_or_path])
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ExperimentError(f"no experiment file at {path}; check the path.")
        return parse(path)
    close = difflib.get_close_matches(name_or_path, shipped, n=3, cutoff=0.4)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    raise ExperimentError(
        f"unknown experiment {name_or_path!r}; {hint}`dlexp list` shows all of them."
    )


def load_all() -> list[Experiment]:
    return [parse(path) for path in available().values()]


def parse(path: Path) -> Experiment:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ExperimentError(f"cannot read experiment file {path}: {error}.") from None
    try:
        experiment = Experiment(
            name=raw["name"],
            title=raw["title"],
            claim=raw["claim"],
            source=raw["source"],
            finding=raw["finding"],
            protocol=raw["protocol"],
            scales={DEFAULT_SCALE: {}, **raw.get("scales", {})},
            runtime=raw.get("runtime", {}),
            reference=raw.get("reference", {}),
            claims=[
                ClaimSpec(
                    c["id"], c["text"], c["check"], c.get("reference", ""), c.get("params", {})
                )
                for c in raw.get("claims", [])
            ],
            path=path,
        )
    except KeyError as missing:
        raise ExperimentError(f"experiment file {path} lacks the entry {missing}.") from None
    check_declaration(experiment)
    return experiment


def check_declaration(experiment: Experiment) -> None:
    """Every scale overrides known keys, and every claim names a check the finding has."""
    try:
        module = experiment.module
    except ModuleNotFoundError:
        raise ExperimentError(
            f"{experiment.path} names finding {experiment.finding!r}, which dlexp does not have."
        ) from None
    valid = set(leaf_keys(experiment.protocol))
    for scale, changes in experiment.scales.items():
        unknown = set(leaf_keys(changes)) - valid
        if unknown:
            raise ExperimentError(
                f"scale {scale!r} of {experiment.path} sets unknown keys: "
                f"{', '.join(sorted(unknown))}."
            )
    for claim in experiment.claims:
        if claim.check not in module.CHECKS:
            raise ExperimentError(
                f"claim {claim.id!r} of {experiment.path} names check {claim.check!r}, which "
                f"{experiment.finding} lacks; it has: {', '.join(module.CHECKS)}."
            )
