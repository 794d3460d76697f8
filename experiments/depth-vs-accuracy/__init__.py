"""Depth versus accuracy: beyond two hidden layers, more sigmoid layers do not help on MNIST.

The slide (Nielsen, ch. 5): with 30-unit sigmoid hidden layers, no hidden layer gives ≈ 88%, one
≈ 96.5%, two ≈ 96.9%, three and four ≈ 96.5%. Deeper should be more expressive, yet plain SGD does
not turn the extra layers into accuracy — the puzzle the vanishing-gradient analysis answers.
"""

from dlexp.finding import Finding

from .checks import CHECKS
from .figures import figures
from .protocol import Protocol
from .run import measure

FINDING = Finding(protocol=Protocol, measure=measure, checks=CHECKS, figures=figures)
