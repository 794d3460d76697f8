"""Dying ReLUs: a unit whose pre-activation is ≤ 0 for every training input never fires again."""

from dlexp.finding import Finding

from .protocol import Protocol
from .run import CHECKS, figures, measure

FINDING = Finding(protocol=Protocol, measure=measure, checks=CHECKS, figures=figures)
