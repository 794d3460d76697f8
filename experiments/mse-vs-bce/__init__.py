"""Slow learning with MSE: a confidently wrong sigmoid neuron barely learns; with BCE, fast."""

from dlexp.finding import Finding

from .checks import CHECKS
from .protocol import Protocol
from .run import measure

FINDING = Finding(protocol=Protocol, measure=measure, checks=CHECKS)
