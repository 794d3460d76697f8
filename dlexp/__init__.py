"""dlexp: reproduce and check the findings of introductory deep-learning lectures."""

__version__ = "0.1.0"
