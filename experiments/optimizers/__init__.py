"""Optimisers: how gradient descent's step size, the size of the batch it estimates the gradient
on, and momentum decide how fast (and whether) a net learns.

The decks: gradient descent θ ← θ − γ ∂J/∂θ; computing ∂J/∂θ on all of D is the problem, so
mini-batch SGD estimates it on a subset D'; too large a step makes gradient descent oscillate
("ping pong"), too small a step "takes longer to get to the optimum"; momentum adds the previous
gradient to the current one. Nielsen ch. 3 shows the three regimes with η = 0.025, 0.25, 2.5.
"""

from dlexp.finding import Finding

from .checks import CHECKS
from .protocol import Protocol
from .run import measure

FINDING = Finding(protocol=Protocol, measure=measure, checks=CHECKS)
