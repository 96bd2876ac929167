"""Temporal consistency: what each frame takes from the one before it.

Every tool here follows one pattern: a :class:`FlowTracker` measures the flow
between consecutive *input* frames (:class:`~.flow.FramePair`), and each tool
carries something from the previous frame along that flow, only where the
flow is reliable (not at occlusions, motion boundaries or entering content,
so nothing ghosts):

* :class:`OutputBlender` (fast mode): blend the flow-warped previous output
  into the new one;
* :class:`MaskSmoother` (``mask="auto"`` on video): smooth the subject
  probability along the flow, so the mask's edge does not shimmer;
* :func:`pixel_target` (quality mode): the warped previous result and the
  per-pixel weights for Ruder et al.'s short-term temporal loss, which is
  also the optimisation's starting image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import StyleTransferError
from .flow import DEFAULT_PRESET, FlowEstimator, FramePair, to_gray8

# share of the warped previous output kept at reliable pixels (docs/video.md:
# 0.6 leaves vtest.avi at 0.51x the temporal error of no blending, 0.7 at 0.43x,
# for a style distance 1.01x; on the pan, with grid alignment, 0.17x at 1.04x)
DEFAULT_BLEND = 0.7
# the feed-forward networks downsample 4x: they are equivariant to shifts of 4 px only
NETWORK_STRIDE = 4
# share of the warped previous probability kept for the subject mask
DEFAULT_MASK_MEMORY = 0.7
# pixels over which the reliable region's edge is softened (no seam at occlusions)
EDGE_SOFTENING = 2


class FlowTracker:
    """Measures the flow from each frame to the next, keeping only the last frame.

    Parameters
    ----------
    preset : str
        DIS preset (see :data:`napari_styletransfer.video.flow.PRESETS`).
    value_range : (low, high), optional
        Fixed value range for non-uint8 frames (see :func:`~.flow.to_gray8`).
    """

    def __init__(
        self, preset: str = DEFAULT_PRESET, value_range: tuple[float, float] | None = None
    ) -> None:
        self.estimator = FlowEstimator(preset)
        self.value_range = value_range
        self._previous: np.ndarray | None = None

    def step(self, frame: np.ndarray) -> FramePair | None:
        """The flows between the previous frame and ``frame`` (None for the first frame)."""
        gray = to_gray8(frame, self.value_range)
        previous, self._previous = self._previous, gray
        if previous is None:
            return None
        if previous.shape != gray.shape:
            raise StyleTransferError(
                f"Frame sizes change from {previous.shape[1]}×{previous.shape[0]} to "
                f"{gray.shape[1]}×{gray.shape[0]}: every frame must have the same size."
            )
        return self.estimator.between(previous, gray)

    def reset(self) -> None:
        """Forget the previous frame (e.g. at a cut)."""
        self._previous = None


def soft_weights(
    pair: FramePair, size: tuple[int, int], radius: int = EDGE_SOFTENING
) -> np.ndarray:
    """Reliability weights at ``size``, ramping from 0 to 1 over ``radius`` px from unreliable ones.

    Unreliable pixels stay exactly 0; their reliable neighbours get less of the
    previous frame, so the blended and unblended regions meet without a seam.
    """
    weights = pair.weights_at(size)
    if radius <= 0:
        return weights
    side = 2 * radius + 1
    eroded = cv2.blur(weights, (side, side), borderType=cv2.BORDER_REPLICATE)
    return eroded * weights


def _check_strength(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise StyleTransferError(f"{name} must be a number between 0 and 1, not {value!r}.")
    if not (np.isfinite(value) and 0.0 <= value <= 1.0):
        raise StyleTransferError(f"{name} must be between 0 and 1, not {value!r}.")
    return float(value)


def _same_size(current: np.ndarray, previous: np.ndarray, what: str) -> None:
    if current.shape != previous.shape:
        raise StyleTransferError(
            f"The {what} changed shape from {previous.shape} to {current.shape} between frames."
        )


# the global motion is the median flow over every 4th row and column: on a
# 512×288 frame the full median took 8 ms, this one 0.5 ms (same shift ±0.01 px
# on the pan, where the motion is one vector)
MOTION_SAMPLING = 4


def global_motion(pair: FramePair, sampling: int = MOTION_SAMPLING) -> np.ndarray:
    """The median backward flow (dx, dy) over reliable pixels; zero when none is."""
    weights = pair.weights[::sampling, ::sampling]
    flow = pair.backward[::sampling, ::sampling]
    reliable = weights > 0
    if not reliable.any():
        return np.zeros(2)
    return np.median(flow[reliable], axis=0)


class GridAligner:
    """Keep a panning scene at the same phase of a strided network's pixel grid.

    The fast-mode networks downsample by 4, so they give the same strokes for
    a scene shifted by 4 px but different ones for a 1–3 px shift: on a slow
    pan every frame gets new strokes (measured: mean change 12–15 levels for
    1–3 px, 0.5 for 4 px). The aligner follows the scene's global motion (the
    median flow over reliable pixels), shifts each input frame by the
    remainder modulo the stride before the network and the output back after
    it. A still camera gives a zero shift, and then nothing is resampled.

    Parameters
    ----------
    period : float
        The network's stride in the pixels of the frames given here (4 at the
        network's own size; ``4 × full / working`` for full-size frames).
    """

    def __init__(self, period: float = NETWORK_STRIDE) -> None:
        if not (np.isfinite(period) and period > 0):
            raise StyleTransferError(f"period must be > 0, not {period!r}.")
        self.period = float(period)
        self.offset = np.zeros(2, dtype=np.float64)  # where the scene has moved since frame 0

    def step(self, pair: FramePair | None) -> np.ndarray:
        """The (dx, dy) shift for this frame, from the flow to it (None: first frame)."""
        if pair is not None:
            self.offset -= global_motion(pair)
        remainder = self.offset - self.period * np.round(self.offset / self.period)
        return -remainder

    @staticmethod
    def shift(image: np.ndarray, by: np.ndarray) -> np.ndarray:
        """``out(x) = image(x − by)`` (bicubic, mirrored borders); no-op for a zero shift.

        Bicubic: on the pan it gave the same temporal error and style distance
        as Lanczos (4.25 vs 4.26 levels, 0.423 vs 0.422) in an eighth of the time.
        """
        if not np.any(np.abs(by) > 1e-3):
            return image
        height, width = image.shape[:2]
        matrix = np.float32([[1, 0, by[0]], [0, 1, by[1]]])
        out = cv2.warpAffine(
            image, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT
        )
        return np.clip(out, 0.0, 1.0) if out.dtype.kind == "f" else out


class OutputBlender:
    """Fast mode's temporal consistency: blend in the flow-warped previous output.

    ``out = new + blend × c × (warp(previous out) − new)``, with ``c`` the
    (softened) reliability of the flow. Because the previous output was itself
    blended, this is a recursive filter along motion trajectories: flicker
    (frame-to-frame noise of the network) is averaged away, while occluded and
    newly visible pixels take the new frame alone.

    Parameters
    ----------
    blend : float
        0 (off) to 1 (freeze reliable pixels); default :data:`DEFAULT_BLEND`.
    """

    def __init__(self, blend: float = DEFAULT_BLEND, interpolation: int = cv2.INTER_CUBIC) -> None:
        self.blend = _check_strength("blend", blend)
        self.interpolation = interpolation
        self._previous: np.ndarray | None = None

    def step(self, pair: FramePair | None, stylised: np.ndarray) -> np.ndarray:
        """The consistent version of this frame's ``stylised`` output (float H×W×C).

        Parameters
        ----------
        pair : FramePair or None
            Flows from the previous input frame to this one (None: first frame).
        stylised : numpy.ndarray
            This frame's output, float32, any size (the flow is rescaled).
        """
        stylised = np.asarray(stylised, dtype=np.float32)
        out = stylised
        if pair is not None and self._previous is not None and self.blend > 0:
            _same_size(stylised, self._previous, "stylised output")
            weights = self.blend * soft_weights(pair, stylised.shape[:2])
            if stylised.ndim == 3:
                weights = weights[..., None]
            warped = pair.warp(self._previous, self.interpolation)
            out = stylised + weights * (warped - stylised)
        self._previous = out
        return out


class MaskSmoother:
    """Temporally stable subject probabilities, for masks that do not shimmer.

    ``p̂_t = p_t + memory × c × (warp(p̂_{t−1}) − p_t)``: the probability is
    averaged along the flow where it is reliable, so the edge moves with the
    subject instead of shimmering from frame to frame; where something new
    appears, the frame's own probability is used as is. The smoothed
    probability then goes through the one road to a mask
    (:func:`napari_styletransfer.segmentation.mask_from_probability`).

    Parameters
    ----------
    memory : float
        0 (off) to 1; default :data:`DEFAULT_MASK_MEMORY`.
    """

    def __init__(self, memory: float = DEFAULT_MASK_MEMORY) -> None:
        self.memory = _check_strength("memory", memory)
        self._previous: np.ndarray | None = None

    def smooth(self, pair: FramePair | None, probability: np.ndarray) -> np.ndarray:
        """The smoothed probability (float32 H×W) for this frame."""
        probability = np.asarray(probability, dtype=np.float32)
        if probability.ndim != 2:
            raise StyleTransferError(f"A subject probability must be H×W, not {probability.shape}.")
        out = probability
        if pair is not None and self._previous is not None and self.memory > 0:
            _same_size(probability, self._previous, "subject probability")
            weights = self.memory * soft_weights(pair, probability.shape)
            out = probability + weights * (pair.warp(self._previous) - probability)
        self._previous = out
        return out


@dataclass(frozen=True)
class TemporalGuide:
    """Hold these pixels to this target with these weights (quality mode's temporal term).

    Attributes
    ----------
    target : numpy.ndarray
        float32 H×W×3: the previous result, warped onto this frame. It is also
        the optimisation's starting image.
    weights : numpy.ndarray
        float32 H×W: 1 where the flow is reliable, 0 at occlusions, motion
        boundaries and entering content (Ruder et al. 2016's ``c``).
    """

    target: np.ndarray
    weights: np.ndarray


def temporal_guide(pair: FramePair, previous_result: np.ndarray) -> TemporalGuide:
    """The temporal target for a frame from the previous frame's result.

    Parameters
    ----------
    pair : FramePair
        Flows between the previous and this input frame.
    previous_result : numpy.ndarray
        The previous frame's result, float H×W×3 at the working size (the
        flow is rescaled to it).
    """
    previous_result = np.asarray(previous_result, dtype=np.float32)
    size = previous_result.shape[:2]
    # bicubic: frame after frame, bilinear resampling would blur the held pixels
    target = np.clip(pair.warp(previous_result, cv2.INTER_CUBIC), 0.0, 1.0)
    return TemporalGuide(target, pair.weights_at(size).astype(np.float32))
