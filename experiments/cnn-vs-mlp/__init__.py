"""CNN versus MLP on MNIST: a LeNet-5-style convolutional net beats a fully connected net with at
least as many parameters, with far fewer parameters per layer (weight sharing), feature maps that
shift with the input (translation equivariance) and, with pooling, accuracy that suffers less
when the digits are shifted by a few pixels.

The decks ("Deep Learning I", "Convolutional networks" to "The architecture of LeNet5"; the
convolutional-layer deck, "Convolutional Layer" and "Pooling Layer") motivate convolutions by
weight tying and pooling; LeCun et al. 1998 report 0.95% test error for LeNet-5 (60,000 training
images, 20 epochs). This protocol is shorter; its own number is reported beside theirs.
"""

from dlexp.finding import Finding

from .checks import CHECKS
from .protocol import Protocol
from .run import measure

FINDING = Finding(protocol=Protocol, measure=measure, checks=CHECKS)
