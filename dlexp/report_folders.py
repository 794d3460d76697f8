"""Run folders read back for the report, each checked before anything is drawn from it.

A folder whose run.json or metrics.csv is missing, unreadable, cut off or incomplete is damaged:
the report lists it with the reason and leaves its figures as they were, instead of drawing empty
plots from half a table or stopping the whole report.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import pandas as pd

from dlexp.api import recorded_verdict
from dlexp.claims import Verdict
from dlexp.results import METRICS, METRICS_ROWS, RUN_INFO
from dlexp.table import CORE_COLUMNS

# What the report reads from run.json, with the JSON type each must have.
REQUIRED_INFO: dict[str, type] = {
    "experiment": str,
    "scale": str,
    "protocol": dict,
    "seeds": list,
    "claims": list,
}
WHOLE_NUMBERS = ("seed", "epoch", "layer")
JSON_TYPES = {str: "text", dict: "table", list: "list"}


class DamagedRun(Exception):
    """A run folder the report cannot use; str() says what is wrong, in a few words."""


@dataclasses.dataclass(frozen=True)
class RunData:
    """A run folder's run.json, its recorded verdicts and metrics.csv, all checked."""

    info: dict[str, Any]
    recorded: list[Verdict]
    table: pd.DataFrame


def candidate_runs(out: Path) -> list[Path]:
    """Every folder `out`/<experiment>/<run>/ holding a run.json or a metrics.csv, sorted; the
    hidden folders of a run still being written are skipped."""
    found = {
        path.parent
        for name in (RUN_INFO, METRICS)
        for path in out.glob(f"*/*/{name}")
        if not path.parent.name.startswith(".") and not path.parent.parent.name.startswith(".")
    }
    return sorted(found)


def read_run(folder: Path) -> RunData:
    """run.json and metrics.csv of `folder`, checked; DamagedRun says what is wrong."""
    info = checked_info(folder / RUN_INFO)
    return RunData(info, recorded_claims(info), checked_metrics(folder / METRICS, info))


def checked_info(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise DamagedRun(f"{RUN_INFO} is missing")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise DamagedRun(f"{RUN_INFO} is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise DamagedRun(
            f"{RUN_INFO} is not valid JSON ({error.msg}, line {error.lineno})"
        ) from None
    except OSError as error:
        raise DamagedRun(f"{RUN_INFO} cannot be read ({error.strerror})") from None
    if not isinstance(info, dict):
        raise DamagedRun(f"{RUN_INFO} holds no JSON object")
    missing = [key for key in REQUIRED_INFO if key not in info]
    if missing:
        raise DamagedRun(f"{RUN_INFO} lacks {', '.join(missing)}")
    for key, kind in REQUIRED_INFO.items():
        if not isinstance(info[key], kind):
            raise DamagedRun(f"{RUN_INFO}: {key} is not a {JSON_TYPES[kind]}")
    if not all(isinstance(seed, int) and not isinstance(seed, bool) for seed in info["seeds"]):
        raise DamagedRun(f"{RUN_INFO}: seeds is not a list of whole numbers")
    return info


def recorded_claims(info: dict[str, Any]) -> list[Verdict]:
    """The verdicts run.json recorded at run time, each with every field a verdict has."""
    fields = [field.name for field in dataclasses.fields(Verdict)]
    verdicts = []
    for number, claim in enumerate(info["claims"], start=1):
        if not isinstance(claim, dict):
            raise DamagedRun(f"{RUN_INFO}: claim {number} is not a table")
        missing = [name for name in fields if name not in claim]
        if missing:
            raise DamagedRun(f"{RUN_INFO}: claim {number} lacks {', '.join(missing)}")
        try:
            verdicts.append(recorded_verdict({name: claim[name] for name in fields}))
        except (TypeError, ValueError):
            raise DamagedRun(f"{RUN_INFO}: claim {number} holds a wrongly typed value") from None
    return verdicts


def checked_metrics(path: Path, info: dict[str, Any]) -> pd.DataFrame:
    if not path.is_file():
        raise DamagedRun(f"{METRICS} is missing")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DamagedRun(f"{METRICS} cannot be read ({error.strerror})") from None
    if not raw.strip():
        raise DamagedRun(f"{METRICS} is empty")
    if not raw.endswith(b"\n"):
        raise DamagedRun(f"{METRICS} ends in the middle of a row (cut off)")
    try:
        table = pd.read_csv(io.BytesIO(raw))
    except (ValueError, UnicodeDecodeError) as error:  # pandas' ParserError is a ValueError
        reason = str(error).strip().splitlines()[-1]
        raise DamagedRun(f"{METRICS} is not a readable CSV ({reason})") from None
    check_table(table, info)
    return table


def check_table(table: pd.DataFrame, info: dict[str, Any]) -> None:
    """The long table's columns, types and completeness, as far as the file itself can tell."""
    missing = [column for column in CORE_COLUMNS if column not in table.columns]
    if missing:
        raise DamagedRun(f"{METRICS} lacks the columns {', '.join(missing)}")
    if table.empty:
        raise DamagedRun(f"{METRICS} has a header but no rows")
    for column in WHOLE_NUMBERS:
        if not pd.api.types.is_integer_dtype(table[column]):
            raise DamagedRun(f"{METRICS}: column {column} holds blanks or non-whole numbers")
    if table[["variant", "metric"]].isna().to_numpy().any():
        raise DamagedRun(f"{METRICS} has rows without a variant or metric name")
    if not pd.api.types.is_numeric_dtype(table["value"]):
        raise DamagedRun(f"{METRICS}: column value holds text that is not a number")
    # The rows run.json records as written: the one sure sign of a table cut off at a row
    # boundary (seeds and variants may differ in rows, e.g. a row marking a diverged model).
    written = info.get(METRICS_ROWS)
    if isinstance(written, int) and written != len(table):
        raise DamagedRun(
            f"{METRICS} has {len(table)} rows, run.json records {written} written (cut off)"
        )
    absent = sorted(set(info["seeds"]) - set(table["seed"]))
    if absent:
        raise DamagedRun(f"{METRICS} has no rows for seed {', '.join(map(str, absent))}")
