"""Vanishing and exploding gradients: in a sigmoid net, layers learn at vastly different speeds."""

from dlexp.finding import Finding

from .protocol import Protocol
from .run import CHECKS, figures, measure

FINDING = Finding(protocol=Protocol, measure=measure, checks=CHECKS, figures=figures)
