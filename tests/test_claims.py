"""Mean ± 95% CI over seeds, and turning a check's outcome into a verdict."""

import math

import pytest

from dlexp.claims import mean_ci, verdict
from dlexp.finding import Outcome
from dlexp.registry import ClaimSpec


def test_mean_ci_uses_students_t():
    mean, low, high = mean_ci([1.0, 2.0, 3.0])
    # sd = 1, n = 3, t(0.975, 2) = 4.303 → half-width 4.303 / √3 = 2.4843
    assert mean == pytest.approx(2.0)
    assert high - mean == pytest.approx(4.303 / math.sqrt(3), rel=1e-4)
    assert mean - low == pytest.approx(high - mean)


def test_mean_ci_of_one_value_has_no_interval():
    mean, low, high = mean_ci([0.5])
    assert mean == 0.5 and math.isnan(low) and math.isnan(high)


def test_mean_ci_keeps_non_finite_values_visible():
    assert mean_ci([1.0, math.inf])[0] == math.inf
    assert math.isnan(mean_ci([1.0, math.nan])[0])


def test_verdict_reports_pass_fail_with_the_numbers():
    claim = ClaimSpec(
        id="c", text="a claim", kind="empirical", check="check", reference="lecture: 25"
    )
    result = verdict(claim, Outcome(False, [24.0, 26.0, 25.0], "detail"))
    assert result.label == "FAIL"
    assert result.n == 3 and result.mean == pytest.approx(25.0)
    assert result.measured().startswith("25 ± 2.48")
    assert result.to_dict()["reference"] == "lecture: 25"
