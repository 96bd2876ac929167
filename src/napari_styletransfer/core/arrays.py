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
    """What is needed to turn a float RGB result back into the user's format.

    Attributes
    ----------
    shape : tuple of int
        The image's shape as checked: H×W, H×W×3 or H×W×4.
    dtype : numpy.dtype
    low, high : float
        The values that map to 0 and 1.
    channel_axis : bool
        The user gave H×W×1: the result gets the single-channel axis back.
    """

    shape: tuple[int, ...]
    dtype: np.dtype
    low: float
    high: float
    channel_axis: bool = False

    @property
    def height_width(self) -> tuple[int, int]:
        """The image's (height, width)."""
        return self.shape[0], self.shape[1]

    @property
    def is_gray(self) -> bool:
        """True for H×W (or H×W×1) input."""
        return len(self.shape) == 2

    @property
    def has_alpha(self) -> bool:
        """True for H×W×4 input."""
        return len(self.shape) == 3 and self.shape[2] == 4


def _named(what: str) -> str:
    return what if what.endswith("image") else f"{what} image"


def check_image(image: object, what: str = "content") -> np.ndarray:
    """Validate an image array and return it as a numpy array (H×W×1 as H×W).

    Raises
    ------
    StyleTransferError
        For non-arrays, wrong dimensions or channel counts, tiny images,
        non-numeric data, NaN or infinite values.
    """
    name = _named(what)
    if image is None:
        raise StyleTransferError(f"No {name} was given.")
    try:
        array = np.asarray(image)
    except (ValueError, TypeError) as error:
        raise StyleTransferError(f"The {name} is not an array of numbers: {error}") from None
    if array.dtype == bool or array.dtype.kind not in "uif":
        raise StyleTransferError(
            f"The {name} must hold numbers (uint8, uint16 or float), not {array.dtype}."
        )
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise StyleTransferError(
            f"The {name} has shape {array.shape}: expected H×W (grayscale), "
            "H×W×3 (RGB) or H×W×4 (RGBA); as content, also a T×H×W(×C) video or stack."
        )
    if min(array.shape[:2]) < MIN_SIDE:
        raise StyleTransferError(
            f"The {name} is {array.shape[1]}×{array.shape[0]} px: "
            f"it must be at least {MIN_SIDE}×{MIN_SIDE}."
        )
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise StyleTransferError(f"The {name} contains NaN or infinite values.")
    return array


def value_range(array: np.ndarray) -> tuple[float, float]:
    """The (low, high) values that map to 0 and 1 for this array (see module doc).

    A constant image has no range of its own; it gets its type's (integers)
    or one that includes 0–1 (floats), so a style can still move it.
    """
    if array.dtype == np.uint8:
        return 0.0, 255.0
    low, high = float(array.min()), float(array.max())
    if array.dtype.kind == "f" and low >= 0.0 and high <= 1.0:
        return 0.0, 1.0
    if high > low:
        return low, high
    if array.dtype.kind in "ui":
        info = np.iinfo(array.dtype)
        return float(info.min), float(info.max)
    return min(low, 0.0), max(high, 1.0)


def to_float_rgb(
    image: object, what: str = "content", value_range_of: ImageFormat | None = None
) -> tuple[np.ndarray, np.ndarray | None, ImageFormat]:
    """Convert a user's image to float32 RGB in [0, 1].

    Parameters
    ----------
    image : array_like
        H×W, H×W×1, H×W×3 or H×W×4.
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
    given = np.asarray(image) if image is not None else None
    array = check_image(image, what)
    low, high = (value_range_of.low, value_range_of.high) if value_range_of else value_range(array)
    channel_axis = given is not None and given.ndim == 3 and given.shape[2] == 1
    fmt = ImageFormat(array.shape, array.dtype, low, high, channel_axis)
    alpha = array[..., 3].copy() if fmt.has_alpha else None
    color = array if fmt.is_gray else array[..., :3]
    if _is_plain_uint8(fmt):  # video frames: float32 is exact here and 3× faster
        scaled = color.astype(np.float32) / np.float32(255.0)
    else:
        # float64, halved: values up to ±1.8e308 neither overflow nor lose their order
        half = color.astype(np.float64) / 2
        scaled = np.clip(((half - low / 2) / (high / 2 - low / 2)).astype(np.float32), 0.0, 1.0)
    if fmt.is_gray:
        scaled = np.repeat(scaled[..., None], 3, axis=2)
    return scaled, alpha, fmt


def _is_plain_uint8(fmt: ImageFormat) -> bool:
    return fmt.dtype == np.uint8 and fmt.low == 0.0 and fmt.high == 255.0


def to_unit_range(rgb: np.ndarray, fmt: ImageFormat) -> np.ndarray:
    """Map float RGB in [0, 1] into the format's value range, as float64.

    Grayscale formats get the luminance (H×W). For 8-bit formats the values
    are float32, which holds 256 levels exactly (and is faster on video).
    """
    rgb = np.clip(np.asarray(rgb, dtype=np.float32), 0.0, 1.0)
    values = rgb @ LUMA if fmt.is_gray else rgb
    if _is_plain_uint8(fmt):
        return values * np.float32(255.0)
    values = values.astype(np.float64)
    # a weighted mean of the two ends: no overflow near the float64 limits
    return (1.0 - values) * fmt.low + values * fmt.high


def cast_values(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Round and clip float values into an integer dtype's range (or just cast floats)."""
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        top = float(info.max)
        if int(top) > info.max:  # 2**63 - 1 rounds up to 2**63 in float64: step back
            top = float(np.nextafter(top, 0.0))
        values = np.clip(np.rint(values), float(info.min), top)
    return values.astype(dtype)


def attach_alpha(color: np.ndarray, fmt: ImageFormat, alpha: np.ndarray | None) -> np.ndarray:
    """Give a result in the user's dtype its alpha channel or single-channel axis back."""
    if fmt.has_alpha:
        return np.concatenate([color, alpha[..., None].astype(fmt.dtype)], axis=2)
    if fmt.channel_axis:
        return color[..., None]
    return color


def cast_to_format(values: np.ndarray, fmt: ImageFormat, alpha: np.ndarray | None) -> np.ndarray:
    """Cast float values (already in the format's range) to its dtype; re-attach alpha."""
    return attach_alpha(cast_values(values, fmt.dtype), fmt, alpha)


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
