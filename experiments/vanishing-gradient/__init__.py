"""Vanishing and exploding gradients: in a sigmoid net, layers learn at vastly different speeds.

The lecture's argument: moving back one layer multiplies the gradient by w·σ'(z), and σ'(z) ≤ 1/4,
so with |w| ≤ 1 the gradient ‖∂C/∂b^l‖ shrinks towards the input and early layers learn slowly.
With every w = 100 and biases chosen so that z = 0, each factor is 100·σ'(0) = 25 and the gradient
explodes instead (an identity of the chain rule). ReLU ("no vanishing gradient, because no
saturation") and skip connections mitigate it: before training that holds by construction, so
it is checked during training too, in 10-layer nets, each network at its own best η, with the
activation (ReLU with the sigmoid net's very weights) told apart from the initialisation (He's).
"""

from dlexp.finding import Finding

from .checks import CHECKS
from .protocol import Protocol
from .run import measure

FINDING = Finding(protocol=Protocol, measure=measure, checks=CHECKS)
