"""Optical flow between consecutive frames, occlusion detection and warping.

Flow comes from OpenCV's DIS optical flow (Kroeger et al. 2016), which runs in
milliseconds on a CPU. Conventions, for a pair (previous frame, current frame):

* ``backward[y, x]`` is the displacement from pixel (x, y) of the *current*
  frame to where that point was in the *previous* one, so
  ``current(x) ≈ previous(x + backward(x))`` and :meth:`FramePair.warp`
  carries anything defined on the previous frame (its stylised output, its
  mask) over to the current one;
* ``forward`` is the displacement from the previous frame to the current one.

Where the two disagree, the point was hidden in one of the frames (an
occlusion) or sits on a motion boundary; :func:`consistency` finds those
pixels with the forward–backward check of Ruder, Dosovitskiy & Brox (2016,
"Artistic style transfer for videos", eqs. 5–6).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import cv2
import numpy as np

from ..errors import StyleTransferError

# Measured on a 640×360 pan with a known sub-pixel shift (docs/video.md):
# ultrafast 1.9 ms, end-point error 0.23 px; fast 2.1 ms, 0.14 px; medium
# 10.7 ms, 0.06 px. "fast" costs nothing over "ultrafast" and halves its error;
# "medium" is 5x slower for a gain the temporal blend barely shows.
PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
DEFAULT_PRESET = "fast"
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def to_gray8(frame: np.ndarray, value_range: tuple[float, float] | None = None) -> np.ndarray:
    """A frame as the 8-bit grayscale image DIS works on.

    Parameters
    ----------
    frame : numpy.ndarray
        H×W, H×W×3 or H×W×4 (alpha ignored); uint8, other integers or float.
    value_range : (low, high), optional
        Values mapped to 0 and 255 for non-uint8 frames (default: 0–1 for
        floats, else the frame's own min–max). Give a fixed range for a whole
        video so brightness does not jump between frames.
    """
    frame = np.asarray(frame)
    if frame.ndim == 3:
        if frame.shape[2] == 1:
            frame = frame[..., 0]
        elif frame.dtype == np.uint8:
            return cv2.cvtColor(np.ascontiguousarray(frame[..., :3]), cv2.COLOR_RGB2GRAY)
        else:
            frame = frame[..., :3].astype(np.float32) @ LUMA
    if frame.dtype == np.uint8:
        return np.ascontiguousarray(frame)
    if value_range is None:
        kind_float = np.asarray(frame).dtype.kind == "f"
        value_range = (0.0, 1.0) if kind_float else (float(frame.min()), float(frame.max()))
    low, high = value_range
    scale = 255.0 / (high - low) if high > low else 0.0
    return np.clip((frame.astype(np.float32) - low) * scale + 0.5, 0, 255).astype(np.uint8)


class FlowEstimator:
    """DIS optical flow for consecutive frames, forward and backward.

    Parameters
    ----------
    preset : {"ultrafast", "fast", "medium"}
        DIS speed/accuracy preset (see :data:`PRESETS`).
    """

    def __init__(self, preset: str = DEFAULT_PRESET) -> None:
        if preset not in PRESETS:
            raise StyleTransferError(
                f"Unknown flow preset {preset!r}: use one of {', '.join(PRESETS)}."
            )
        self.preset = preset
        self._dis = cv2.DISOpticalFlow_create(PRESETS[preset])

    def flow(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Flow from ``source`` to ``target`` (8-bit gray): ``source(x) ≈ target(x + flow(x))``.

        Returns
        -------
        numpy.ndarray
            float32 H×W×2 (dx, dy) in pixels.
        """
        return self._dis.calc(source, target, None)

    def between(self, previous: np.ndarray, current: np.ndarray) -> FramePair:
        """Both flows between two 8-bit grayscale frames of the same size."""
        if previous.shape != current.shape:
            raise StyleTransferError(
                f"Frames of different sizes ({previous.shape} and {current.shape}) have no flow."
            )
        backward = self.flow(current, previous)  # current(x) ≈ previous(x + backward(x))
        forward = self.flow(previous, current)
        return FramePair(backward, forward)


@dataclass
class FramePair:
    """The flows between a previous and a current frame, with what follows from them.

    Attributes
    ----------
    backward : numpy.ndarray
        float32 H×W×2: current pixel → its place in the previous frame.
    forward : numpy.ndarray
        float32 H×W×2: previous pixel → its place in the current frame.
    """

    backward: np.ndarray
    forward: np.ndarray
    _resized: dict = field(default_factory=dict, repr=False)

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the frames the flow was measured on."""
        return self.backward.shape[:2]

    @cached_property
    def weights(self) -> np.ndarray:
        """float32 H×W: 1 where the previous frame is a reliable guide, 0 at occlusions."""
        return consistency(self.backward, self.forward)

    def weights_at(self, size: tuple[int, int]) -> np.ndarray:
        """:attr:`weights` at another (height, width); unreliable wins at the edges."""
        if tuple(size) == self.size:
            return self.weights
        resized = cv2.resize(self.weights, (size[1], size[0]), interpolation=cv2.INTER_AREA)
        return (resized > 0.999).astype(np.float32)

    def backward_at(self, size: tuple[int, int]) -> np.ndarray:
        """:attr:`backward` resized to (height, width), in that size's pixels."""
        key = tuple(size)
        if key == self.size:
            return self.backward
        if key not in self._resized:
            self._resized[key] = resize_flow(self.backward, key)
        return self._resized[key]

    def warp(self, image: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        """Carry an image aligned with the previous frame over to the current one.

        ``image`` may have any size (the flow is rescaled to it) and 1–4 channels.
        """
        return warp(image, self.backward_at(image.shape[:2]), interpolation)


def resize_flow(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A flow field resized to (height, width), its vectors scaled to match."""
    height, width = flow.shape[:2]
    resized = cv2.resize(flow, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    resized[..., 0] *= size[1] / width
    resized[..., 1] *= size[0] / height
    return resized


_grids: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    key = (height, width)
    if key not in _grids:
        if len(_grids) > 8:
            _grids.clear()
        xs, ys = np.meshgrid(
            np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
        )
        _grids[key] = (xs, ys)
    return _grids[key]


def warp(image: np.ndarray, flow: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Sample ``image`` at ``x + flow(x)`` (bilinear; the border pixels extend outwards).

    Parameters
    ----------
    image : numpy.ndarray
        H×W or H×W×C (C ≤ 4), any dtype OpenCV remaps (uint8, float32, …).
    flow : numpy.ndarray
        float32 H×W×2, same height and width.
    """
    if image.shape[:2] != flow.shape[:2]:
        raise StyleTransferError(
            f"Cannot warp a {image.shape[:2]} image with a {flow.shape[:2]} flow."
        )
    xs, ys = _grid(*flow.shape[:2])
    map_x = xs + flow[..., 0]
    map_y = ys + flow[..., 1]
    return cv2.remap(image, map_x, map_y, interpolation, borderMode=cv2.BORDER_REPLICATE)


def consistency(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Per-pixel reliability of the previous frame as a guide for the current one.

    A pixel of the current frame is unreliable (0) when

    * the forward flow at the place the backward flow points to does not bring
      it back (|f̃ + b|² > 0.01 (|f̃|² + |b|²) + 0.5: it was occluded in the
      previous frame);
    * the backward flow changes fast around it (|∇b|² > 0.01 |b|² + 0.002: a
      motion boundary, where flow is least accurate);
    * the backward flow points outside the previous frame (content entering).

    Ruder, Dosovitskiy & Brox 2016, eqs. 5–6.

    Returns
    -------
    numpy.ndarray
        float32 H×W of 0 and 1.
    """
    height, width = backward.shape[:2]
    xs, ys = _grid(height, width)
    # per-channel arithmetic: numpy reductions over a last axis of 2 are slow
    bx, by = cv2.split(backward)
    fx, fy = cv2.split(warp(forward, backward))
    back_sq = bx * bx + by * by
    loop = (fx + bx) ** 2 + (fy + by) ** 2
    occluded = loop > 0.01 * (fx * fx + fy * fy + back_sq) + 0.5
    gradient = np.zeros_like(bx)
    for channel in (bx, by):
        # central differences: Sobel with ksize=1 is [-1, 0, 1], i.e. twice the derivative
        for dx, dy in ((1, 0), (0, 1)):
            derivative = cv2.Sobel(channel, cv2.CV_32F, dx, dy, ksize=1)
            gradient += 0.25 * derivative * derivative
    boundary = gradient > 0.01 * back_sq + 0.002
    x_then, y_then = xs + bx, ys + by
    outside = (x_then < 0) | (x_then > width - 1) | (y_then < 0) | (y_then > height - 1)
    return (~(occluded | boundary | outside)).astype(np.float32)
