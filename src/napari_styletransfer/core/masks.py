"""Masks: which pixels get the style, and the feathered composite at the end."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

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


def _gaussian_kernel(radius: int) -> torch.Tensor:
    sigma = max(radius / 2.0, 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def feather(region: np.ndarray, radius: int) -> np.ndarray:
    """Soften a bool region's edge over ``radius`` pixels each side.

    The blur kernel has finite support, so weights are exactly 0 further than
    ``radius`` pixels outside the region and exactly 1 further inside.

    Returns
    -------
    numpy.ndarray
        float32 H×W in [0, 1].
    """
    weights = torch.from_numpy(region.astype(np.float32))[None, None]
    if radius >= 1:
        kernel = _gaussian_kernel(radius)
        pad = (radius, radius, radius, radius)
        weights = F.pad(weights, pad, mode="replicate")
        weights = F.conv2d(weights, kernel.view(1, 1, 1, -1))
        weights = F.conv2d(weights, kernel.view(1, 1, -1, 1))
    out = weights[0, 0].numpy()
    out[out < 1e-6] = 0.0
    out[out > 1 - 1e-6] = 1.0
    out[~region & (out >= 1.0)] = 1.0 - 1e-6  # outside pixels never count as fully styled
    return out


def composite(original: np.ndarray, styled: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Blend ``styled`` over ``original`` with per-pixel ``weights`` in [0, 1].

    Works in float64 in the data's own units. Where a weight is 0 the result is
    the original value, bit for bit.
    """
    w = weights if original.ndim == 2 else weights[..., None]
    blended = original.astype(np.float64) + w * (styled.astype(np.float64) - original)
    return np.where(w == 0, original, blended)


def region_weights_at(region: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """The region as a soft 1×1×h×w weight map at a working size (area averaging)."""
    tensor = torch.from_numpy(region.astype(np.float32))[None, None]
    return F.interpolate(tensor, size=size, mode="area") if tensor.shape[-2:] != size else tensor
