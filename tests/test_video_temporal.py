"""Temporal consistency: flicker falls, occlusions do not ghost, masks stop shimmering."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from napari_styletransfer import StyleTransferError
from napari_styletransfer.segmentation import mask_from_probability
from napari_styletransfer.video.flow import FlowEstimator
from napari_styletransfer.video.metrics import temporal_error, temporal_errors
from napari_styletransfer.video.temporal import (
    FlowTracker,
    GridAligner,
    MaskSmoother,
    OutputBlender,
    global_motion,
    temporal_guide,
)
from video_scenes import pan, texture

SPEED = (1.3, 0.7)  # px per frame


@pytest.fixture(scope="module")
def frames():
    return pan(10, SPEED)


def jittery_stylisation(frame: np.ndarray, t: int) -> np.ndarray:
    """A stand-in for a flickering network: the frame plus new noise and a colour cast each time."""
    rng = np.random.default_rng(t)
    noise = rng.normal(0.0, 0.08, frame.shape).astype(np.float32)
    cast = rng.normal(0.0, 0.03, 3).astype(np.float32)
    return np.clip(frame.astype(np.float32) / 255 + noise + cast, 0, 1)


def as_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)


def blended(frames, blend: float) -> list[np.ndarray]:
    tracker, blender = FlowTracker(), OutputBlender(blend)
    return [
        as_uint8(blender.step(tracker.step(f), jittery_stylisation(f, t)))
        for t, f in enumerate(frames)
    ]


def test_temporal_error_falls_with_blending(frames):
    without = temporal_error(frames, blended(frames, 0.0))
    with_blend = temporal_error(frames, blended(frames, 0.7))
    assert with_blend < 0.5 * without
    # the blended video still follows the content: each frame stays close to its own input
    for frame, out in zip(frames, blended(frames, 0.7), strict=True):
        assert np.abs(out.astype(float) - frame).mean() < 25


def test_occluded_pixels_take_the_new_output_alone():
    rng = np.random.default_rng(0)
    background, square = texture(rng, (120, 160), 2.0), texture(rng, (50, 50), 3.0)
    previous, current = background.copy(), background.copy()
    previous[35:85, 30:80] = square
    current[35:85, 36:86] = square
    tracker, blender = FlowTracker(), OutputBlender(0.9)
    blender.step(tracker.step(previous), np.full((120, 160, 3), 0.9, np.float32))
    new = np.full((120, 160, 3), 0.1, np.float32)
    pair = tracker.step(current)
    out = blender.step(pair, new)
    occluded = pair.weights == 0
    assert occluded[40:80, 31:35].mean() > 0.7
    np.testing.assert_array_equal(out[occluded], new[occluded])  # no ghost of the old output
    reliable = pair.weights[5:30, 100:150] > 0
    assert np.all(out[5:30, 100:150][reliable] > 0.5)  # the still background kept the old one


def stride4_network(image: np.ndarray) -> np.ndarray:
    """A 'network' tied to a 4-pixel grid, like a stride-4 encoder: 4×4 block means."""
    height, width = image.shape[:2]
    small = cv2.resize(image, (width // 4, height // 4), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)


def test_grid_alignment_removes_the_stride_flicker_of_a_pan(frames):
    tracker, aligner = FlowTracker(), GridAligner(4)
    plain, aligned = [], []
    for frame in frames:
        image = frame.astype(np.float32) / 255
        shift = aligner.step(tracker.step(frame))
        aligned.append(
            as_uint8(aligner.shift(stride4_network(aligner.shift(image, shift)), -shift))
        )
        plain.append(as_uint8(stride4_network(image)))
    errors_plain = temporal_errors(frames, plain)
    errors_aligned = temporal_errors(frames, aligned)
    assert errors_aligned.mean() < 0.5 * errors_plain.mean()


def test_global_motion_of_a_pan_is_its_shift(frames):
    tracker = FlowTracker()
    tracker.step(frames[0])
    pair = tracker.step(frames[1])
    motion = global_motion(pair)
    # the view moves by SPEED: the current pixel x was at x + SPEED in the previous frame
    np.testing.assert_allclose(motion, SPEED, atol=0.2)
    full = np.median(pair.backward[pair.weights > 0], axis=0)
    np.testing.assert_allclose(motion, full, atol=0.05)


def test_global_motion_without_reliable_pixels_is_zero(frames):
    tracker = FlowTracker()
    tracker.step(frames[0])
    pair = tracker.step(frames[1])
    pair.weights = np.zeros_like(pair.weights)  # as if everything were occluded
    np.testing.assert_array_equal(global_motion(pair), [0.0, 0.0])


def test_grid_alignment_leaves_a_still_scene_untouched(frames):
    tracker, aligner = FlowTracker(), GridAligner(4)
    for _ in range(3):
        shift = aligner.step(tracker.step(frames[0]))
        np.testing.assert_allclose(shift, 0.0, atol=1e-6)
        image = frames[0].astype(np.float32) / 255
        assert aligner.shift(image, shift) is image


def moving_disk(count: int, jitter: float, seed: int = 0):
    """A textured disk moving right over a textured background, and noisy subject probabilities."""
    rng = np.random.default_rng(seed)
    background, disk_texture = texture(rng, (96, 128), 2.0), texture(rng, (96, 128), 3.0)
    yy, xx = np.mgrid[:96, :128].astype(np.float32)
    for t in range(count):
        centre = (40 + 3 * t, 48)
        distance = np.hypot(xx - centre[0], yy - centre[1])
        inside = distance < 22
        frame = np.where(inside, np.roll(disk_texture, 3 * t, axis=1), background)
        radius = 22 + rng.normal(0, jitter, (1, 1)) + rng.normal(0, jitter / 2, distance.shape)
        probability = 1 / (1 + np.exp((distance - radius) / 1.5))
        yield frame, probability.astype(np.float32), inside


def edge_shimmer(frames, masks) -> float:
    """Mean change of the mask beyond what the flow explains (the metric, on masks)."""
    return temporal_error(frames, [m.astype(np.float32) for m in masks]) / 255


def test_mask_smoothing_stops_the_edge_from_shimmering():
    sequence = list(moving_disk(12, jitter=2.0))
    frames = [f for f, _, _ in sequence]
    raw = [p > 0.5 for _, p, _ in sequence]
    tracker, smoother = FlowTracker(), MaskSmoother()
    smooth = [mask_from_probability(smoother.smooth(tracker.step(f), p)) for f, p, _ in sequence]
    assert edge_shimmer(frames, smooth) < 0.6 * edge_shimmer(frames, raw)
    truths = [truth for _, _, truth in sequence]
    # it follows the moving disk at least as closely as the per-frame masks do
    assert np.mean(list(map(overlap, smooth, truths))) >= np.mean(list(map(overlap, raw, truths)))


def overlap(mask: np.ndarray, truth: np.ndarray) -> float:
    return np.logical_and(mask, truth).sum() / np.logical_or(mask, truth).sum()


def test_temporal_guide_is_the_warped_previous_result(frames):
    previous, current = frames[0], frames[1]
    pair = FlowEstimator().between(
        *(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (previous, current))
    )
    result = previous.astype(np.float32) / 255  # stands for the previous frame's stylised result
    guide = temporal_guide(pair, result)
    assert guide.target.shape == result.shape and guide.target.dtype == np.float32
    assert guide.weights.shape == result.shape[:2] and set(np.unique(guide.weights)) <= {0, 1}
    reliable = guide.weights > 0
    error = np.abs(guide.target - current.astype(np.float32) / 255)[reliable].mean()
    assert error < 0.01
    assert guide.weights[:, -1].max() == 0  # content entering from the right has no target
    half = temporal_guide(pair, cv2.resize(result, (64, 48)))  # a smaller working size
    assert half.target.shape == (48, 64, 3) and half.weights.shape == (48, 64)


def test_metric_and_tools_refuse_bad_input(frames):
    assert temporal_error(frames[:3], frames[:3]) < 2.0  # the input follows its own flow
    with pytest.raises(StyleTransferError, match="as many"):
        temporal_error(frames[:3], frames[:2])
    with pytest.raises(StyleTransferError, match="two frames"):
        temporal_error(frames[:1], frames[:1])
    with pytest.raises(StyleTransferError, match="between 0 and 1"):
        OutputBlender(1.5)
    tracker = FlowTracker()
    tracker.step(frames[0])
    with pytest.raises(StyleTransferError, match="same size"):
        tracker.step(frames[1][:50])
