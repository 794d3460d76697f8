"""Claim checks: a lecture sentence, tested over the results table, with mean ± 95% CI over seeds.

A finding's check returns an `Outcome` (see `dlexp.finding`); `verdict` turns it into what the CLI
and the report show.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from dlexp.finding import Check, Outcome
from dlexp.registry import ClaimSpec

# Two-sided 95% quantiles of Student's t for 1…30 degrees of freedom; 1.96 beyond.
T_975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    id: str
    text: str
    kind: str
    quote: str
    passed: bool
    mean: float
    low: float
    high: float
    n: int
    reference: str
    detail: str

    @property
    def label(self) -> str:
        return "PASS" if self.passed else "FAIL"

    def measured(self, digits: int = 3) -> str:
        """`mean ± half-width (n = k)`; the half-width is the 95% CI over seeds."""
        if self.n == 0 or math.isnan(self.mean):
            return "n/a"
        if self.n == 1 or math.isnan(self.high):  # one value, or an infinite one: no interval
            return f"{self.mean:.{digits}g} (n = {self.n})"
        return f"{self.mean:.{digits}g} ± {(self.high - self.mean):.{digits}g} (n = {self.n})"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mean_ci(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and its 95% confidence interval (Student's t) over the given per-seed values."""
    finite = [v for v in values if math.isfinite(v)]
    n = len(values)
    if n == 0:
        return math.nan, math.nan, math.nan
    if len(finite) < n:
        mean = math.inf if any(v == math.inf for v in values) else math.nan
        return mean, math.nan, math.nan
    mean = sum(values) / n
    if n == 1:
        return mean, math.nan, math.nan
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = (T_975[n - 2] if n - 1 <= len(T_975) else 1.96) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def verdict(claim: ClaimSpec, outcome: Outcome) -> Verdict:
    mean, low, high = mean_ci([float(v) for v in outcome.values])
    return Verdict(
        id=claim.id,
        text=claim.sentence,
        kind=claim.kind,
        quote=claim.quote,
        passed=bool(outcome.passed),
        mean=mean,
        low=low,
        high=high,
        n=len(outcome.values),
        reference=claim.reference,
        detail=outcome.detail,
    )


def check_claims(
    claims: Sequence[ClaimSpec],
    checks: Mapping[str, Check],
    table: pd.DataFrame,
    protocol: dict[str, Any],
) -> list[Verdict]:
    """Run every declared claim check over the results table."""
    return [
        verdict(claim, checks[claim.check](table, protocol, **claim.params)) for claim in claims
    ]
