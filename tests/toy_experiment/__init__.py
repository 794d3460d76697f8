"""A toy finding: one hidden layer beats none on synthetic data (a test fixture)."""

from dlexp.finding import Finding

from .checks import CHECKS
from .protocol import Protocol
from .run import measure

FINDING = Finding(protocol=Protocol, measure=measure, checks=CHECKS, uses_mnist=False)
