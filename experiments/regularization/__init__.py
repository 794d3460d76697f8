"""Overfitting and its remedies: L2 weight decay, L1, dropout and early stopping."""

from dlexp.finding import Finding

from .checks import CHECKS
from .protocol import Protocol
from .run import measure

FINDING = Finding(protocol=Protocol, measure=measure, checks=CHECKS)
