"""Residual depth: adding layers to a plain net eventually makes it worse, on its training set
too, while skip connections (and batch normalisation) keep very deep nets trainable.

Deck "Introduction to Deep Learning" asks "Why adding a layer can lower the performance?" and
answers with the residual block y = x + R(x); deck "Deep Learning I" says "The vanishing gradient
problem is mitigated in ResNets by reusing activations from a previous layer." Here plain sigmoid
nets of 2 to 20 hidden layers, the same nets with skip connections, and the same nets with batch
normalisation get the same budget; training accuracy tells a net that cannot fit its training
images from one that overfits, and ‖∂C/∂b^l‖ per layer shows the vanishing gradient behind it.
The published analogue is He et al. 2016 on ImageNet (plain-34 worse than plain-18, ResNet-34
better than ResNet-18); there the plain nets had batch normalisation and their gradients did not
vanish, while the plain sigmoid nets here degrade through a vanishing gradient, measured.
"""

from dlexp.finding import Finding

from .checks import CHECKS
from .protocol import Protocol
from .run import measure

FINDING = Finding(protocol=Protocol, measure=measure, checks=CHECKS)
