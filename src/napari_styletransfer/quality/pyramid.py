"""Coarse-to-fine schedule: most steps at low resolution, a few at full size."""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_LEVEL_SIDE = 128


@dataclass(frozen=True)
class Level:
    """One pyramid level: its (height, width) and number of optimisation steps."""

    size: tuple[int, int]
    steps: int

    @property
    def pixels(self) -> int:
        """Pixels per image at this level (the cost of a step grows with it)."""
        return self.size[0] * self.size[1]


def level_count(size: tuple[int, int], min_side: int = MIN_LEVEL_SIDE) -> int:
    """How many halvings keep the longer side ≥ ``min_side`` (at least 1, at most 4)."""
    longest = max(size)
    if longest < 2 * min_side:
        return 1
    return min(4, int(math.log2(longest / min_side)) + 1)


def plan_levels(size: tuple[int, int], steps: int, levels: int | None = None) -> list[Level]:
    """Split ``steps`` over pyramid levels, coarsest first.

    Each level has twice the resolution of the one before and half its steps,
    so that most of the work is done where a step is cheap.

    Parameters
    ----------
    size : tuple of int
        (height, width) of the finest level (the working size).
    steps : int
        Total optimisation steps over all levels.
    levels : int, optional
        Number of levels; automatic (see :func:`level_count`) when None.

    Returns
    -------
    list of Level
    """
    count = levels or level_count(size)
    count = max(1, min(count, steps))
    shares = [2.0 ** (count - 1 - k) for k in range(count)]
    counts = [max(1, int(steps * s / sum(shares))) for s in shares]
    counts[0] += steps - sum(counts)  # rounding remainder to the cheapest level
    height, width = size
    plan = []
    for k, n in enumerate(counts):
        factor = 2 ** (count - 1 - k)
        plan.append(Level((max(16, round(height / factor)), max(16, round(width / factor))), n))
    return plan
