"""Conversion between user arrays and the engine's float RGB."""

import numpy as np
import pytest

from napari_styletransfer.core.arrays import from_float_rgb, to_float_rgb
from napari_styletransfer.errors import StyleTransferError

rng = np.random.default_rng(0)


@pytest.mark.parametrize(
    "image",
    [
        rng.integers(0, 256, (20, 30, 3), dtype=np.uint8),
        rng.integers(0, 256, (20, 30), dtype=np.uint8),
        rng.integers(100, 4000, (20, 30), dtype=np.uint16),
        rng.random((20, 30, 3), dtype=np.float32),
        (rng.random((20, 30)) * 500 - 100).astype(np.float64),
    ],
    ids=["rgb8", "gray8", "gray16", "float01", "float-any-range"],
)
def test_round_trip_keeps_shape_dtype_and_values(image):
    rgb, alpha, fmt = to_float_rgb(image)
    assert rgb.dtype == np.float32 and rgb.shape == (20, 30, 3)
    assert rgb.min() >= 0 and rgb.max() <= 1
    back = from_float_rgb(rgb, fmt, alpha)
    assert back.shape == image.shape and back.dtype == image.dtype
    tolerance = 0 if image.dtype.kind in "ui" else 1e-4 * (image.max() - image.min())
    if image.ndim == 2:  # grey → RGB → luminance is exact up to rounding
        tolerance = max(tolerance, 1 if image.dtype.kind in "ui" else tolerance)
    assert np.abs(back.astype(float) - image.astype(float)).max() <= tolerance


def test_uint16_uses_data_range():
    image = np.linspace(1000, 3000, 400).reshape(20, 20).astype(np.uint16)
    rgb, _, fmt = to_float_rgb(image)
    assert (fmt.low, fmt.high) == (1000, 3000)
    assert rgb.min() == 0 and rgb.max() == 1


def test_rgba_alpha_is_kept_exactly():
    image = rng.integers(0, 256, (20, 20, 4), dtype=np.uint8)
    rgb, alpha, fmt = to_float_rgb(image)
    back = from_float_rgb(1 - rgb, fmt, alpha)
    assert np.array_equal(back[..., 3], image[..., 3])
    assert rgb.shape == (20, 20, 3)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((0, 0, 3), np.uint8), "at least"),
        (np.zeros((8, 64, 3), np.uint8), "at least"),
        (np.zeros((32, 32, 2), np.uint8), "expected H×W"),
        (np.zeros((4, 32, 32, 3), np.uint8), "expected H×W"),
        (np.zeros(32, np.uint8), "expected H×W"),
        (np.full((32, 32), np.nan), "NaN"),
        (np.zeros((32, 32), bool), "numbers"),
        (None, "No content"),
    ],
)
def test_bad_images_raise(image, message):
    with pytest.raises(StyleTransferError, match=message):
        to_float_rgb(image)


def test_every_uint8_level_maps_to_its_fraction_and_back():
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    image = np.stack([levels, levels[::-1], levels.T], axis=2)
    rgb, alpha, fmt = to_float_rgb(image)
    np.testing.assert_allclose(rgb, image / 255.0, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(from_float_rgb(rgb, fmt, alpha), image)
