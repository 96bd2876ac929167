"""Binary mask utilities: fill holes, keep the largest object, IoU."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill background regions that are enclosed by the subject (bool in, bool out)."""
    return ndimage.binary_fill_holes(np.asarray(mask, dtype=bool))


def keep_largest_object(mask: np.ndarray) -> np.ndarray:
    """Keep only the largest 8-connected object of a mask; an empty mask stays empty."""
    mask = np.asarray(mask, dtype=bool)
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if count <= 1:
        return mask
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0  # the background
    return labels == int(np.argmax(sizes))


def clean_mask(mask: np.ndarray, *, holes: bool = False, largest: bool = False) -> np.ndarray:
    """Apply the chosen clean-ups in a sensible order (largest object, then holes)."""
    mask = np.asarray(mask, dtype=bool)
    if largest:
        mask = keep_largest_object(mask)
    if holes:
        mask = fill_holes(mask)
    return mask


def intersection_over_union(prediction: np.ndarray, reference: np.ndarray) -> float:
    """IoU of two boolean masks (1.0 when both are empty)."""
    union = np.logical_or(prediction, reference).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(prediction, reference).sum() / union)
