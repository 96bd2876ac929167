"""Reading and writing image files and image bytes (the CLI, the samples, the demo, the HTTP service)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import StyleTransferError


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file into an array, keeping its bit depth.

    Parameters
    ----------
    path : str or Path
        PNG, JPEG, TIFF or anything Pillow reads.

    Returns
    -------
    numpy.ndarray
        H×W (grayscale, uint8 or uint16), H×W×3 (RGB) or H×W×4 (RGBA).

    Raises
    ------
    StyleTransferError
        When the file is missing or is not an image.
    """
    path = Path(path)
    if not path.is_file():
        raise StyleTransferError(f"No such image file: {path}")
    try:
        with Image.open(path) as img:
            img.load()
            return pil_to_array(img)
    except (UnidentifiedImageError, OSError) as error:
        raise StyleTransferError(f"Cannot read {path} as an image: {error}") from error


def pil_to_array(img: Image.Image) -> np.ndarray:
    """A loaded Pillow image as an array: gray, RGB or RGBA; 16-bit gray stays 16-bit."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        return np.asarray(img).astype(np.uint16)
    if img.mode not in ("L", "RGB", "RGBA"):
        img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
    return np.asarray(img).copy()


def write_image(path: str | Path, image: np.ndarray) -> Path:
    """Write an array as an image file; the format follows the file's suffix.

    Parameters
    ----------
    path : str or Path
        Output file. Parent folders are created.
    image : numpy.ndarray
        uint8 or uint16 H×W, uint8 H×W×3 or H×W×4. Float arrays in [0, 1] are
        written as 8-bit.

    Returns
    -------
    Path
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    array = np.asarray(image)
    if array.dtype.kind == "f":
        array = (np.clip(array, 0, 1) * 255 + 0.5).astype(np.uint8)
    if array.dtype == np.uint16 and array.ndim == 2:
        Image.fromarray(array).save(path)  # uint16 H×W is mode I;16
        return path
    if array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    if array.ndim == 3 and array.shape[2] == 4 and path.suffix.lower() in (".jpg", ".jpeg"):
        array = array[..., :3]
    try:
        Image.fromarray(array).save(path)
    except (ValueError, OSError, KeyError) as error:
        raise StyleTransferError(f"Cannot write {path}: {error}") from error
    return path


def tiff_bytes(image: np.ndarray) -> bytes:
    """Encode an array as an uncompressed TIFF, exactly (any dtype, gray/RGB/RGBA).

    Fast (no compression) and lossless: what the HTTP client and server
    exchange, and how the server keeps results.
    """
    import tifffile

    array = np.ascontiguousarray(image)
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    colour = array.ndim == 3 and array.shape[2] in (3, 4)
    buffer = io.BytesIO()
    tifffile.imwrite(
        buffer,
        array,
        photometric="rgb" if colour else "minisblack",
        extrasamples=("unassalpha",) if colour and array.shape[2] == 4 else None,
    )
    return buffer.getvalue()


def read_tiff_bytes(data: bytes) -> np.ndarray:
    """Decode a TIFF written by :func:`tiff_bytes` (first page)."""
    import tifffile

    return tifffile.imread(io.BytesIO(data))


def png_bytes(image: np.ndarray, compress_level: int = 1) -> bytes:
    """Encode an array as PNG: 8-bit, or 16-bit for uint16 grayscale.

    Colour uint16 becomes 8-bit (Pillow writes no 16-bit colour PNG; TIFF keeps
    it). Floats in [0, 1] are scaled by 255, other floats stretched between
    their minimum and maximum.
    """
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.dtype == np.uint16 and array.ndim == 2:
        pil = Image.fromarray(array)  # uint16 H×W is mode I;16
    else:
        pil = Image.fromarray(_to_uint8(array))
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    if array.dtype == np.uint16:
        return (array >> 8).astype(np.uint8)
    values = array.astype(np.float64)
    if array.dtype.kind == "f":
        low, high = (
            (0.0, 1.0) if values.min() >= 0 and values.max() <= 1 else (values.min(), values.max())
        )
        values = (values - low) / max(high - low, 1e-12) * 255
    return (np.clip(values, 0, 255) + 0.5).astype(np.uint8)
