"""Dying ReLUs: a unit whose pre-activation is ≤ 0 for every training input never fires again."""

from dlexp.finding import Finding

from .checks import CHECKS
from .protocol import Protocol
from .run import measure

FINDING = Finding(protocol=Protocol, measure=measure, checks=CHECKS)
