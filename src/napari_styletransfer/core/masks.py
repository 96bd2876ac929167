"""Masks: which pixels get the style, and the feathered composite at the end."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..errors import StyleTransferError

REGIONS = ("inside", "outside")


def style_region(mask: object, shape: tuple[int, int], region: str) -> np.ndarray:
    """Turn a user's mask into a bool array of the pixels to stylise.

    Parameters
    ----------
    mask : array_like
        H×W; nonzero pixels are the mask.
    shape : tuple of int
        The content's (height, width); the mask must match it.
    region : {"inside", "outside"}
        Stylise the mask itself, or everything but the mask.

    Returns
    -------
    numpy.ndarray
        bool H×W, True where the style goes.

    Raises
    ------
    StyleTransferError
        For a wrong shape, NaNs, an unknown region, or nothing left to stylise.
    """
    if region not in REGIONS:
        raise StyleTransferError(f"Unknown region {region!r}: use 'inside' or 'outside'.")
    array = np.asarray(mask)
    if array.ndim == 3 and array.shape[2] in (1, 3, 4):
        array = array[..., :3].max(axis=2) if array.shape[2] > 1 else array[..., 0]
    if array.shape != tuple(shape):
        raise StyleTransferError(
            f"The mask's shape {array.shape} does not match the content's {tuple(shape)}."
        )
    if array.dtype.kind == "f" and np.isnan(array).any():
        raise StyleTransferError("The mask contains NaN values.")
    inside = array != 0
    if not inside.any():
        raise StyleTransferError("The mask is empty: paint or segment a region first.")
    selected = inside if region == "inside" else ~inside
    if not selected.any():
        raise StyleTransferError(
            "The mask covers the whole image, so 'outside' leaves nothing to stylise."
        )
    return selected


def feather(region: np.ndarray, radius: int) -> np.ndarray:
    """Soften a bool region's edge over ``radius`` pixels each side, by Euclidean distance.

    The weight ramps smoothly with the signed distance to the edge: exactly 0
    at ``radius`` pixels or more outside the region (round, not square, around
    corners) and exactly 1 at ``radius`` pixels or more inside.

    Returns
    -------
    numpy.ndarray
        float32 H×W in [0, 1]; pixels outside the region stay below 1.
    """
    region = np.asarray(region, dtype=bool)
    if radius < 1:
        return region.astype(np.float32)
    inside = ndimage.distance_transform_edt(region)
    outside = ndimage.distance_transform_edt(~region)
    signed = np.where(region, inside, -outside)
    t = np.clip((signed + radius) / (2.0 * radius), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def composite(original: np.ndarray, styled: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Blend ``styled`` over ``original`` with per-pixel ``weights`` in [0, 1].

    Works in float64 in the data's own units and returns the original's dtype.
    Where a weight is 0 the result is the original value, bit for bit (even
    64-bit integers beyond float64's exact range).
    """
    from .arrays import cast_values

    w = weights if original.ndim == 2 else weights[..., None]
    blended = original.astype(np.float64) + w * (styled.astype(np.float64) - original)
    return np.where(w == 0, original, cast_values(blended, original.dtype))
