"""Universal approximation: one hidden layer of sigmoid units can represent any continuous
function on an interval as closely as wanted, given enough units (Cybenko 1989) — but the theorem
says nothing about whether training finds those weights; and parity, the decks' example of a
function "better implemented in a deep structure", is measured shallow against deep.
"""

from dlexp.finding import Finding

from .checks import CHECKS
from .protocol import Protocol
from .run import measure

FINDING = Finding(protocol=Protocol, measure=measure, checks=CHECKS, uses_mnist=False)
