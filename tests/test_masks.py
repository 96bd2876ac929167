"""Masks: validation, feathering with finite support, exact compositing."""

import numpy as np
import pytest

from napari_styletransfer.core.masks import composite, feather, style_region
from napari_styletransfer.errors import StyleTransferError


def square_mask(size=40, lo=10, hi=30):
    mask = np.zeros((size, size), np.uint8)
    mask[lo:hi, lo:hi] = 3
    return mask


def test_region_inside_and_outside():
    mask = square_mask()
    inside = style_region(mask, (40, 40), "inside")
    outside = style_region(mask, (40, 40), "outside")
    assert inside.dtype == bool and inside.sum() == 400
    assert np.array_equal(outside, ~inside)


@pytest.mark.parametrize(
    ("mask", "region", "message"),
    [
        (np.zeros((40, 40)), "inside", "empty"),
        (np.ones((40, 40)), "outside", "whole image"),
        (np.ones((40, 41)), "inside", "does not match"),
        (np.full((40, 40), np.nan), "inside", "NaN"),
        (np.ones((40, 40)), "around", "Unknown region"),
    ],
)
def test_bad_masks_raise(mask, region, message):
    with pytest.raises(StyleTransferError, match=message):
        style_region(mask, (40, 40), region)


def test_feather_is_soft_only_near_the_edge():
    region = square_mask() > 0
    weights = feather(region, 4)
    assert weights.min() == 0 and weights.max() == 1
    assert (weights[:5, :] == 0).all()  # more than 4 px outside: exactly 0
    assert (weights[15:25, 15:25] == 1).all()  # more than 4 px inside: exactly 1
    edge = weights[20, 6:14]
    assert (np.diff(edge) > 0).all()  # a ramp across the edge


def test_composite_is_exact_where_weight_is_zero():
    original = np.arange(40 * 40 * 3, dtype=np.uint16).reshape(40, 40, 3)
    styled = np.zeros((40, 40, 3))
    weights = feather(square_mask() > 0, 3)
    out = composite(original, styled, weights)
    assert np.array_equal(out[weights == 0], original[weights == 0])
    assert np.allclose(out[weights == 1], 0)


def test_feather_is_round_around_corners():
    region = np.zeros((41, 41), bool)
    region[20, 20] = True
    weights = feather(region, 4)
    assert weights[20, 23] > 0  # 3 px straight out: inside the feather
    assert weights[23, 23] == 0  # 3 px diagonally is 4.2 px away: outside it
    assert weights[20, 20] < 1 and (weights[~region] < 1).all()
