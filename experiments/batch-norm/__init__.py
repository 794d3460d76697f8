"""Batch normalisation: it speeds up training and tolerates a much larger η.

Deck "Deep Learning I" lists batch normalisation under "Smoothing landscape"; Ioffe & Szegedy
2015 show it on MNIST with 3 hidden layers of 100 sigmoid units and mini-batches of 60: with
batch norm the test accuracy rises faster, and the input of a typical sigmoid keeps a stable
distribution while without it the distribution drifts (their Fig. 1). Here both nets are trained
at every η of a sweep; the plain net's own best η is the base, and batch norm is compared with it
at that η and at ten times it.
"""

from dlexp.finding import Finding

from .checks import CHECKS
from .protocol import Protocol
from .run import measure

FINDING = Finding(protocol=Protocol, measure=measure, checks=CHECKS)
