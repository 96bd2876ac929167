"""From the model's probability to a mask, and mask utilities (fill holes, largest object, IoU).

:func:`mask_from_probability` is the one road from a prediction to a mask: the
widgets, the CLI and ``mask="auto"`` all take it.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..errors import StyleTransferError

#: The subject probability above which a pixel is subject, unless the user says otherwise.
DEFAULT_THRESHOLD = 0.5


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


def check_threshold(threshold: object) -> float:
    """Validate a probability threshold and return it as a float.

    Raises
    ------
    StyleTransferError
        For a non-number or a value outside [0, 1].
    """
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise StyleTransferError(f"The threshold must be a number, got {threshold!r}.") from None
    if not 0.0 <= value <= 1.0:
        raise StyleTransferError(f"The threshold must be between 0 and 1, got {value}.")
    return value


def mask_from_probability(
    probability: np.ndarray,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    holes: bool = False,
    largest: bool = False,
) -> np.ndarray:
    """Turn a subject probability into a subject mask.

    Parameters
    ----------
    probability : numpy.ndarray
        float H×W in [0, 1].
    threshold : float
        Pixels above it are subject.
    holes : bool
        Fill background regions enclosed by the subject.
    largest : bool
        Keep only the largest object.

    Returns
    -------
    numpy.ndarray
        bool H×W, True on the subject.
    """
    return clean_mask(probability > check_threshold(threshold), holes=holes, largest=largest)
