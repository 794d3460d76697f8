"""Ensembles: a vote of independently initialised nets beats the mean single net, and each net
added helps less than the one before.

The convolutional-layer deck (training neural networks), slide "Regularization": "Why not train 5
different networks with random starts and vote on their outcome? Works fine! Helps generalization
because error is averaged." The seeds of an experiment are already trained side by side, so the
vote costs no extra training: every subset of the trained nets votes on the test images.
"""

from dlexp.finding import Finding

from .checks import CHECKS
from .protocol import Protocol
from .run import measure

FINDING = Finding(protocol=Protocol, measure=measure, checks=CHECKS)
