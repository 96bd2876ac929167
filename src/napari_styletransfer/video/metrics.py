"""Temporal error: how much a stylised video flickers beyond what the motion explains.

``E_t = mean |O_t − warp(O_{t−1})|`` over the pixels where the flow is
reliable, with the flow measured on the *input* frames (so a method cannot
lower its score by changing the motion), in 0–255 levels per channel. The
video's error is the mean of ``E_t`` over t ≥ 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import zip_longest

import numpy as np

from ..errors import StyleTransferError
from .flow import DEFAULT_PRESET
from .temporal import FlowTracker


def as_levels(frame: np.ndarray) -> np.ndarray:
    """A frame as float32 in 0–255 levels (uint8 as is; floats in [0, 1] scaled)."""
    frame = np.asarray(frame)
    if frame.dtype == np.uint8:
        return frame.astype(np.float32)
    if frame.dtype.kind == "f":
        return frame.astype(np.float32) * 255.0
    raise StyleTransferError(
        f"Temporal error needs uint8 or float [0, 1] frames, not {frame.dtype}."
    )


def temporal_errors(
    inputs: Iterable[np.ndarray], outputs: Iterable[np.ndarray], preset: str = DEFAULT_PRESET
) -> np.ndarray:
    """Per-transition temporal errors (length T − 1), streaming over both sequences.

    Parameters
    ----------
    inputs, outputs : iterables of numpy.ndarray
        The input frames and the stylised frames, same count and size.
    preset : str
        DIS preset for the flow.
    """
    tracker = FlowTracker(preset)
    errors, previous, count = [], None, 0
    for frame, output in zip_longest(inputs, outputs):
        if frame is None or output is None:
            raise StyleTransferError("Temporal error needs as many output frames as inputs.")
        output = as_levels(output)
        if output.shape[:2] != np.shape(frame)[:2]:
            raise StyleTransferError(
                f"Output frame {count} is {output.shape[:2]}, its input {np.shape(frame)[:2]}."
            )
        pair = tracker.step(frame)
        if pair is not None:
            reliable = pair.weights > 0
            difference = np.abs(output - pair.warp(previous))
            errors.append(float(difference[reliable].mean()) if reliable.any() else 0.0)
        previous, count = output, count + 1
    if count < 2:
        raise StyleTransferError("Temporal error needs at least two frames.")
    return np.asarray(errors)


def temporal_error(
    inputs: Iterable[np.ndarray], outputs: Iterable[np.ndarray], preset: str = DEFAULT_PRESET
) -> float:
    """Mean temporal error of a stylised video (see the module docstring)."""
    return float(temporal_errors(inputs, outputs, preset).mean())
