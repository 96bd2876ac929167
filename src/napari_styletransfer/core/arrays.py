"""Conversion between users' arrays and the engine's float RGB images.

The engine works on float32 RGB in [0, 1]. Users give H×W (grayscale), H×W×3
(RGB) or H×W×4 (RGBA) arrays of uint8, uint16 (or other integers) or floats.
The value range that maps to [0, 1] is:

* uint8: 0–255;
* other integer types: the image's own min–max (microscopy data rarely fills
  the full 16-bit range);
* floats: 0–1 when the data lie inside it, else the image's own min–max.

Results are mapped back to the same dtype and range; alpha is carried over
unchanged and grayscale results are the luminance of the styled RGB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import StyleTransferError
from .limits import MIN_SIDE

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class ImageFormat:
    """What is needed to turn a float RGB result back into the user's format."""

    shape: tuple[int, ...]
    dtype: np.dtype
    low: float
    high: float

    @property
    def height_width(self) -> tuple[int, int]:
        """The image's (height, width)."""
        return self.shape[0], self.shape[1]

    @property
    def is_gray(self) -> bool:
        """True for H×W input."""
        return len(self.shape) == 2

    @property
    def has_alpha(self) -> bool:
        """True for H×W×4 input."""
        return len(self.shape) == 3 and self.shape[2] == 4


def check_image(image: object, what: str = "content") -> np.ndarray:
    """Validate an image array and return it as a numpy array.

    Raises
    ------
    StyleTransferError
        For non-arrays, wrong dimensions or channel counts, tiny images,
        non-numeric data, NaN or infinite values.
    """
    if image is None:
        raise StyleTransferError(f"No {what} image was given.")
    array = np.asarray(image)
    if array.dtype == bool or array.dtype.kind not in "uif":
        raise StyleTransferError(
            f"The {what} image must hold numbers (uint8, uint16 or float), not {array.dtype}."
        )
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise StyleTransferError(
            f"The {what} image has shape {array.shape}: expected H×W (grayscale), "
            "H×W×3 (RGB) or H×W×4 (RGBA). For stacks, pass one slice at a time."
        )
    if min(array.shape[:2]) < MIN_SIDE:
        raise StyleTransferError(
            f"The {what} image is {array.shape[1]}×{array.shape[0]} px: "
            f"it must be at least {MIN_SIDE}×{MIN_SIDE}."
        )
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise StyleTransferError(f"The {what} image contains NaN or infinite values.")
    return array


def value_range(array: np.ndarray) -> tuple[float, float]:
    """The (low, high) values that map to 0 and 1 for this array (see module doc)."""
    if array.dtype == np.uint8:
        return 0.0, 255.0
    low, high = float(array.min()), float(array.max())
    if array.dtype.kind == "f" and low >= 0.0 and high <= 1.0:
        return 0.0, 1.0
    if high <= low:
        high = low + 1.0
    return low, high


def to_float_rgb(
    image: object, what: str = "content", value_range_of: ImageFormat | None = None
) -> tuple[np.ndarray, np.ndarray | None, ImageFormat]:
    """Convert a user's image to float32 RGB in [0, 1].

    Parameters
    ----------
    image : array_like
        H×W, H×W×3 or H×W×4.
    what : str
        Name used in error messages ("content", "style", …).
    value_range_of : ImageFormat, optional
        Use this format's value range instead of the image's own (e.g. for an
        init image given in the content's format).

    Returns
    -------
    rgb : numpy.ndarray
        float32 H×W×3 in [0, 1].
    alpha : numpy.ndarray or None
        The original alpha channel (unchanged values), for RGBA input.
    fmt : ImageFormat
        Shape, dtype and value range, for :func:`from_float_rgb`.
    """
    array = check_image(image, what)
    low, high = (value_range_of.low, value_range_of.high) if value_range_of else value_range(array)
    fmt = ImageFormat(array.shape, array.dtype, low, high)
    alpha = array[..., 3].copy() if fmt.has_alpha else None
    color = array if fmt.is_gray else array[..., :3]
    scaled = (color.astype(np.float32) - low) / (high - low)
    if fmt.is_gray:
        scaled = np.repeat(scaled[..., None], 3, axis=2)
    return np.clip(scaled, 0.0, 1.0), alpha, fmt


def to_unit_range(rgb: np.ndarray, fmt: ImageFormat) -> np.ndarray:
    """Map float RGB in [0, 1] into the format's value range, as float64.

    Grayscale formats get the luminance (H×W).
    """
    rgb = np.clip(np.asarray(rgb, dtype=np.float32), 0.0, 1.0)
    values = rgb @ LUMA if fmt.is_gray else rgb
    return fmt.low + values.astype(np.float64) * (fmt.high - fmt.low)


def cast_to_format(values: np.ndarray, fmt: ImageFormat, alpha: np.ndarray | None) -> np.ndarray:
    """Cast float values (already in the format's range) to its dtype; re-attach alpha."""
    if np.issubdtype(fmt.dtype, np.integer):
        info = np.iinfo(fmt.dtype)
        values = np.clip(np.rint(values), info.min, info.max)
    out = values.astype(fmt.dtype)
    if fmt.has_alpha:
        out = np.concatenate([out, alpha[..., None].astype(fmt.dtype)], axis=2)
    return out


def from_float_rgb(rgb: np.ndarray, fmt: ImageFormat, alpha: np.ndarray | None) -> np.ndarray:
    """Convert float32 RGB in [0, 1] back to the user's shape, dtype and range."""
    return cast_to_format(to_unit_range(rgb, fmt), fmt, alpha)


def to_tensor(rgb: np.ndarray, device: torch.device) -> torch.Tensor:
    """H×W×3 float array → 1×3×H×W tensor on ``device``."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].to(device)


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """1×3×H×W tensor → H×W×3 float32 array in [0, 1] on the host."""
    return tensor.detach()[0].clamp(0, 1).permute(1, 2, 0).float().cpu().numpy()


def resize(tensor: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize N×C×H×W to (height, width): antialiased when shrinking, bicubic-ish otherwise."""
    if tuple(tensor.shape[-2:]) == tuple(size):
        return tensor
    shrinking = size[0] < tensor.shape[-2] or size[1] < tensor.shape[-1]
    return F.interpolate(
        tensor, size=size, mode="bilinear", align_corners=False, antialias=shrinking
    )


def resize_array(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an H×W×C float array to (height, width) with :func:`resize`."""
    if rgb.shape[:2] == tuple(size):
        return rgb
    tensor = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)[None]
    return resize(tensor, size)[0].permute(1, 2, 0).numpy()


def fit_size(height: int, width: int, max_size: int) -> tuple[int, int]:
    """(height, width) scaled down so the longer side is at most ``max_size``."""
    scale = min(1.0, max_size / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))
