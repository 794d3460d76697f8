"""Weight initialisation: how the weights start decides how (and whether) a net learns.

Deck "Deep learning" initialises w ← N(0, 1), and deck "Deep Learning I" takes |w| ≤ 1 "e.g.
w ∼ N(0, 1)". Nielsen ch. 3 shows why N(0, 1/n_in) is better for a sigmoid net: with N(0, 1) the
weighted input z of a hidden unit is so wide that most units start saturated and learn slowly.
The convolutional-layer deck asks "Why random weights?": equal weights make every hidden unit an
identical copy, for ever. And in a deep net, Glorot & Bengio 2010 and He et al. 2015 scale the
weights to the layer widths so that activations and gradients neither collapse nor explode from
layer to layer, which N(0, 1) and very small weights do.
"""

from dlexp.finding import Finding

from .checks import CHECKS
from .protocol import Protocol
from .run import measure

FINDING = Finding(protocol=Protocol, measure=measure, checks=CHECKS)
