"""Depth versus accuracy: beyond two hidden layers, more sigmoid layers do not help on MNIST.

The slide (deck "Introduction to Deep Learning", from Nielsen ch. 5): with 30-unit sigmoid hidden
layers, no hidden layer gives ≈ 88%, one ≈ 96.5%, two ≈ 96.9%, three and four ≈ 96.5%. Deeper
should be more expressive, yet plain SGD does not turn the extra layers into accuracy. The deck
then asks "Why adding a layer can lower the performance? Overfitting? … Vanishing gradient?":
the training accuracy recorded here answers the first half. The slide's 88% without a hidden
layer is LeCun et al. 1998's linear classifier (12.0% test error), not a net of this protocol.
"""

from dlexp.finding import Finding

from .checks import CHECKS
from .protocol import Protocol
from .run import measure

FINDING = Finding(protocol=Protocol, measure=measure, checks=CHECKS)
