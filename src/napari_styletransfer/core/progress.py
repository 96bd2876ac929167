"""What the generator forms of the engine yield while they work."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Progress:
    """One report from a running style transfer.

    Attributes
    ----------
    step, total : int
        Optimisation steps (or tiles, in fast mode) done so far, and in all.
    fraction : float
        Share of the work done, 0 to 1, weighted by pixels (a step at full
        resolution costs more than one at a coarse pyramid level).
    elapsed : float
        Seconds since the run started.
    device : str
        The device that runs the job, e.g. "cpu" or "cuda:0 (…)".
    stage : str
        What is happening, e.g. "level 2/3 at 512×384".
    losses : dict of str to float
        Latest loss terms ("content", "style", "tv", "total").
    preview : numpy.ndarray or None
        Every few steps: the current picture in the output's format (same shape,
        dtype and range as the final result). None otherwise.
    result : numpy.ndarray or None
        Only on the last report: the finished result.
    """

    step: int
    total: int
    fraction: float
    elapsed: float
    device: str
    stage: str = ""
    losses: dict[str, float] = field(default_factory=dict)
    preview: np.ndarray | None = None
    result: np.ndarray | None = None

    @property
    def done(self) -> bool:
        """True on the last report, which carries the result."""
        return self.result is not None

    @property
    def eta(self) -> float | None:
        """Estimated seconds left, or None before there is anything to go by."""
        if self.fraction <= 0:
            return None
        return max(0.0, self.elapsed * (1.0 - self.fraction) / self.fraction)
