"""What the report shows of one run folder: its settings next to the lecture's, its verdicts, its
figures and the facts of how it was made; and the run folders it had to skip as damaged.

A run reproduces the lecture only at the lecture's scale with the declared protocol unchanged;
every other run is labelled wherever it appears, because its verdicts check the code path only.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlexp.claims import Verdict
from dlexp.registry import DEFAULT_SCALE, Experiment, get_path, leaf_keys


@dataclass(frozen=True)
class Setting:
    """One protocol entry of a run, next to the lecture protocol's value when that differs."""

    key: str
    value: Any
    lecture: Any
    changed: bool


@dataclass(frozen=True)
class Figure:
    """One PNG of a run, linked from REPORT.md and embedded in report.html."""

    path: Path

    @property
    def caption(self) -> str:
        return self.path.stem.replace("_", " ")

    def link_from(self, out: Path) -> str:
        return self.path.relative_to(out).as_posix()

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.path.read_bytes()).decode("ascii")


@dataclass(frozen=True)
class Damaged:
    """A run folder the report skipped: what is wrong with it, in a few words."""

    folder: Path
    reason: str

    @property
    def experiment(self) -> str:
        return self.folder.parent.name

    @property
    def message(self) -> str:
        return f"skipped {self.folder}/: {self.reason}; its figures were left as they were."


@dataclass(frozen=True)
class Run:
    """One run folder with its figures regenerated and its claims re-checked."""

    experiment: str
    folder: Path
    info: dict[str, Any]
    declaration: Experiment | None
    settings: list[Setting]
    verdicts: list[Verdict]
    recorded: dict[str, bool]
    figures: list[Figure]
    problems: list[str]

    @property
    def scale(self) -> str:
        return str(self.info["scale"])

    @property
    def anchor(self) -> str:
        return f"{self.experiment}-{self.folder.name}"

    @property
    def changed_keys(self) -> list[str]:
        return [s.key for s in self.settings if s.changed]

    @property
    def reproduces_lecture(self) -> bool:
        """Only a run of the declared lecture protocol, unchanged, tests the lecture's claim."""
        return (
            self.declaration is not None and self.scale == DEFAULT_SCALE and not self.changed_keys
        )

    @property
    def scale_label(self) -> str:
        """The scale as tables show it: plain for the lecture's protocol, flagged otherwise."""
        if self.reproduces_lecture:
            return DEFAULT_SCALE
        if self.scale != DEFAULT_SCALE:
            return f"{self.scale} scale: code path only"
        if self.declaration is None:
            return f"{self.scale}: declaration not found"
        return f"{self.scale}, changed protocol"

    @property
    def qualifier(self) -> str:
        """What marks this run's verdicts in tables; empty for the lecture's protocol."""
        if self.reproduces_lecture:
            return ""
        if self.scale != DEFAULT_SCALE:
            return f"at {self.scale} scale"
        return "as recorded" if self.declaration is None else "changed protocol"

    @property
    def caveat(self) -> str:
        """Why this run's verdicts do not reproduce the lecture; empty when they do."""
        if self.reproduces_lecture:
            return ""
        if self.declaration is None:
            return (
                f"The declaration of {self.experiment} is not among the shipped experiments, so "
                "the verdicts and figures below are those recorded at run time, not regenerated."
            )
        if self.scale != DEFAULT_SCALE:
            return (
                f"{self.scale.capitalize()} scale: this run checks the code path only. Its "
                "verdicts do not reproduce the lecture; run "
                f"`dlexp run {self.experiment}` (lecture scale) for that."
            )
        changes = ", ".join(
            f"{s.key} = {value_text(s.value)} (lecture: {value_text(s.lecture)})"
            for s in self.settings
            if s.changed
        )
        return (
            f"Lecture scale with a changed protocol: {changes}. Its verdicts do not reproduce "
            "the lecture."
        )

    def recheck_note(self, verdict: Verdict) -> str:
        """A note when the re-check from the CSV disagrees with the verdict recorded at run
        time; empty when they agree."""
        recorded = self.recorded.get(verdict.id)
        if recorded is None or recorded == verdict.passed:
            return ""
        label = "PASS" if recorded else "FAIL"
        return f"recorded at run time: {label}; the check or the CSV changed since"

    @property
    def facts(self) -> list[tuple[str, str]]:
        """Where, when and with what the run was made, from its run.json."""
        info = self.info
        seeds = info.get("seeds", [])
        device = f"{info.get('device', 'unknown')} ({info.get('device_name', 'unknown')}"
        threads = info.get("threads")
        device += f", {plural(threads, 'thread')})" if isinstance(threads, int) else ")"
        versions = ", ".join(
            f"{label} {info[key]}"
            for label, key in (("dlexp", "dlexp"), ("torch", "torch"), ("Python", "python"))
            if key in info
        )
        overrides = info.get("overrides") or {}
        return [
            ("scale", self.scale_label),
            ("seeds", f"{len(seeds)} ({', '.join(str(s) for s in seeds)})"),
            ("overrides", ", ".join(f"{k}={v}" for k, v in overrides.items()) or "none"),
            ("device", device),
            ("versions", versions or "unknown"),
            ("platform", str(info.get("platform", "unknown"))),
            ("commit", str(info.get("commit") or "unknown")),
            ("date (UTC)", f"{info.get('started', 'unknown')} → {info.get('finished', 'unknown')}"),
            ("wall time", duration(info.get("wall_seconds"))),
            ("results", f"{self.folder}/"),
        ]


def settings(protocol: dict[str, Any], declaration: Experiment | None) -> list[Setting]:
    """The run's protocol flattened to dotted keys, each marked where it differs from the
    declared lecture protocol."""
    lecture = flat(declaration.resolve(DEFAULT_SCALE)) if declaration else {}
    rows = []
    for key, value in flat(protocol).items():
        declared = lecture.get(key)
        changed = declaration is not None and (key not in lecture or declared != value)
        rows.append(Setting(key, value, declared, changed))
    return rows


def flat(protocol: dict[str, Any]) -> dict[str, Any]:
    return {key: get_path(protocol, key) for key in leaf_keys(protocol)}


def value_text(value: Any) -> str:
    """A protocol value as written in a declaration: 0.1, true, [2, 3, 4], sigmoid; a table of
    numbers as `key: value` pairs."""
    if isinstance(value, dict):
        return ", ".join(f"{key}: {value_text(item)}" for key, item in value.items())
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if value is None:
        return "—"
    return repr(value) if isinstance(value, float) else str(value)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def duration(seconds: Any) -> str:
    try:
        seconds = float(seconds)
    except (TypeError, ValueError):
        return "unknown"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    return f"{minutes // 60} h {minutes % 60} min"
