"""Optical flow, warping and the occlusion check on scenes whose true motion is known."""

from __future__ import annotations

import numpy as np
import pytest

from napari_styletransfer import StyleTransferError
from napari_styletransfer.video.flow import (
    FlowEstimator,
    consistency,
    resize_flow,
    to_gray8,
    warp,
)
from video_scenes import photo_scene, texture, view

SHIFT = np.array([3.5, -2.25], dtype=np.float32)  # the scene moves left by 3.5 px, down 2.25


@pytest.fixture(scope="module")
def pan():
    """Two views of the astronaut photo, the second moved by SHIFT."""
    scene = photo_scene()
    return view(scene, (0, 0), 160, 224), view(scene, SHIFT, 160, 224)


def test_backward_flow_finds_the_known_shift_and_warps_onto_the_frame(pan):
    previous, current = pan
    pair = FlowEstimator().between(to_gray8(previous), to_gray8(current))
    inner = (slice(12, -12), slice(12, -12))
    np.testing.assert_allclose(np.median(pair.backward[inner].reshape(-1, 2), 0), SHIFT, atol=0.1)
    np.testing.assert_allclose(np.median(pair.forward[inner].reshape(-1, 2), 0), -SHIFT, atol=0.1)
    warped = pair.warp(previous).astype(float)
    before = np.abs(previous.astype(float) - current)[inner].mean()
    after = np.abs(warped - current)[inner].mean()
    assert after < 0.1 * before
    assert after < 2.0  # levels of 255


def test_entering_content_is_unreliable_the_rest_reliable(pan):
    previous, current = pan
    pair = FlowEstimator().between(to_gray8(previous), to_gray8(current))
    weights = pair.weights
    assert weights.dtype == np.float32 and set(np.unique(weights)) <= {0.0, 1.0}
    # the view moved right by 3.5 px and up by 2.25: new content enters at the right and top
    assert weights[:, -3:].mean() == 0.0 and weights[:2].mean() == 0.0
    assert weights[10:-10, 10:-10].mean() > 0.9


def test_consistency_marks_the_pixels_a_moving_square_uncovers():
    rng = np.random.default_rng(0)
    background, square = texture(rng, (120, 160), 2.0), texture(rng, (50, 50), 3.0)
    previous, current = background.copy(), background.copy()
    previous[35:85, 30:80] = square
    current[35:85, 36:86] = square  # the square moves right by 6 px
    pair = FlowEstimator().between(previous, current)
    weights = pair.weights
    assert weights[40:80, 31:35].mean() < 0.3  # hidden under the square before, visible now
    assert weights[40:80, 50:70].mean() > 0.9  # on the square, which moved as a whole
    assert weights[5:30, 100:150].mean() > 0.95  # the still background
    assert np.median(pair.backward[40:80, 50:70, 0]) == pytest.approx(-6, abs=1)


def test_consistency_on_exact_flows():
    """Hand-made flows: a loop that does not close and a flow that leaves the frame."""
    backward = np.zeros((20, 30, 2), np.float32)
    forward = np.zeros_like(backward)
    forward[5:10, 5:10] = 4.0  # the forward flow there does not bring the pixels back
    backward[:, -2:, 0] = 3.0  # pointing 3 px beyond the right edge
    weights = consistency(backward, forward)
    assert weights[6:9, 6:9].max() == 0.0
    assert weights[:, -2:].max() == 0.0
    assert weights[12:18, 12:18].min() == 1.0


def test_warp_and_flow_resizing():
    image = np.arange(12 * 16, dtype=np.float32).reshape(12, 16)
    flow = np.zeros((12, 16, 2), np.float32)
    flow[..., 0] = 2.0  # sample two pixels to the right
    np.testing.assert_array_equal(warp(image, flow)[:, :-2], image[:, 2:])
    bigger = resize_flow(flow, (24, 32))
    assert bigger.shape == (24, 32, 2)
    np.testing.assert_allclose(bigger[..., 0], 4.0)
    with pytest.raises(StyleTransferError, match="Cannot warp"):
        warp(image, bigger)


def test_gray_conversion_of_other_types():
    values = np.linspace(100, 4000, 64 * 64).reshape(64, 64).astype(np.uint16)
    gray = to_gray8(values)
    assert gray.dtype == np.uint8 and gray.min() == 0 and gray.max() == 255
    assert to_gray8(values, value_range=(0, 8000)).max() == 128
    assert to_gray8(np.full((4, 4, 3), 0.5, np.float32)).max() == 128
    with pytest.raises(StyleTransferError, match="preset"):
        FlowEstimator("slowest")
    with pytest.raises(StyleTransferError, match="different sizes"):
        FlowEstimator().between(gray, gray[:32])
