"""dlexp: reproduce and check the findings of introductory deep-learning lectures.

`dlexp.run(name, scale=..., ...)` runs an experiment and `dlexp.load(folder)` reads a finished
run back (see `dlexp.api`); both are imported on first use, so `import dlexp` stays fast.
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["load", "run"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from dlexp import api

        return getattr(api, name)
    raise AttributeError(f"module 'dlexp' has no attribute {name!r}")
