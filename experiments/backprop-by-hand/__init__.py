"""Backpropagation by hand: every worked number on the slides, recomputed in float64.

dlexp's own backpropagation (the four BP equations of `dlexp.models`), PyTorch's autograd and
finite differences (the slide's "wiggle" with ε = 1e-6) must agree on the slides' small networks;
where a slide prints a number its own inputs do not give, the report says so with the right value.
"""

from dlexp.finding import Finding

from .checks import CHECKS
from .protocol import Protocol
from .run import measure

FINDING = Finding(protocol=Protocol, measure=measure, checks=CHECKS, uses_mnist=False)
