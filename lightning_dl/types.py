"""Names for the few values that travel between the package's parts, each defined once."""

from __future__ import annotations

from typing import Literal

#: Whether lower (``min``) or higher (``max``) values of a monitored metric are better.
MonitorMode = Literal["min", "max"]
#: The stages a module computes metrics for.
Stage = Literal["train", "val", "test"]
#: A count of epochs or steps no run reaches: a per-epoch scheduler's frequency that Lightning never triggers
#: (the module steps it itself), an early-stopping patience that never runs out.
NEVER = 2**31 - 1
