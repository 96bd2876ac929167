"""Reading and writing image files and image bytes (CLI, samples, demo, batch, server).

PNG, JPEG and the other formats go through Pillow; TIFF through tifffile, which
keeps every dtype (32-bit integers, floats) that Pillow would wrap or squash.
Sizes are checked from the header, before any pixel is decoded, so a small file
that declares a huge image (a "decompression bomb") is refused cheaply.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import StyleTransferError
from .files import atomic_output

#: Images that declare more pixels than this are refused before decoding
#: (10 000 × 10 000); callers can pass another limit.
DEFAULT_MAX_PIXELS = 100_000_000
TIFF_SUFFIXES = (".tif", ".tiff")


def read_image(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file into an array, keeping its bit depth.

    Parameters
    ----------
    path : str or Path
        PNG, JPEG, TIFF or anything Pillow reads.
    max_pixels : int
        Refuse images that declare more pixels than this (checked before decoding).

    Returns
    -------
    numpy.ndarray
        H×W (grayscale), H×W×3 (RGB) or H×W×4 (RGBA); uint8, uint16, or for
        TIFF whatever the file holds (float32, int32, …).

    Raises
    ------
    StyleTransferError
        When the file is missing, is not an image, is truncated, or is too large.
    """
    path = Path(path)
    if not path.is_file():
        raise StyleTransferError(f"No such image file: {path}")
    if path.suffix.lower() in TIFF_SUFFIXES:
        return _read_tiff(path, max_pixels)
    try:
        with warnings.catch_warnings():
            # our own limit is checked below, before decoding; Pillow's warning is moot
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                _check_pixels(path, img.width * img.height, max_pixels)
                return pil_to_array(img)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise StyleTransferError(f"Cannot read {path} as an image: {error}") from error
    except Image.DecompressionBombError as error:  # beyond even Pillow's hard limit
        raise StyleTransferError(
            f"{path} declares more than {2 * Image.MAX_IMAGE_PIXELS:,} pixels: shrink it first."
        ) from error


def _check_pixels(path: Path, pixels: int, max_pixels: int) -> None:
    if pixels > max_pixels:
        raise StyleTransferError(
            f"{path} declares {pixels:,} pixels, more than the limit of {max_pixels:,}: "
            "shrink it first, or raise the limit (--max-pixels)."
        )


def pil_to_array(img: Image.Image) -> np.ndarray:
    """Load a Pillow image as an array: gray, RGB or RGBA; 16-bit, 32-bit and float kept."""
    img.load()
    if img.mode in ("I;16", "I;16B", "I;16L"):
        return np.asarray(img).astype(np.uint16)
    if img.mode == "I":  # 32-bit integers: keep them, nothing wraps
        return np.asarray(img).astype(np.int32)
    if img.mode == "F":
        return np.asarray(img).astype(np.float32)
    if img.mode not in ("L", "RGB", "RGBA"):
        img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
    return np.asarray(img).copy()


def _read_tiff(path: Path, max_pixels: int) -> np.ndarray:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            shape = tuple(page.shape)
            spatial = shape[:2] if len(shape) >= 2 else shape
            _check_pixels(path, int(np.prod(spatial)), max_pixels)
            array = page.asarray()
    except (tifffile.TiffFileError, OSError, ValueError, IndexError) as error:
        raise StyleTransferError(f"Cannot read {path} as a TIFF image: {error}") from error
    if array.ndim == 3 and array.shape[0] in (3, 4) and array.shape[2] not in (3, 4):
        array = np.moveaxis(array, 0, -1)  # planar RGB(A)
    return array


def write_image(path: str | Path, image: np.ndarray) -> Path:
    """Write an array as an image file; the format follows the file's suffix.

    The file is written under a temporary name and renamed when complete: a
    failed write leaves any existing file as it was. Whether an existing file
    may be replaced is the caller's decision (:func:`~napari_styletransfer.files.check_output`).

    Parameters
    ----------
    path : str or Path
        Output file. Parent folders are created.
    image : numpy.ndarray
        H×W, H×W×3 or H×W×4. TIFF keeps any dtype; other formats take uint8
        or (grayscale PNG) uint16, and float arrays in [0, 1] are written as 8-bit.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    StyleTransferError
        When the format is unknown or cannot hold the image, or writing fails.
    """
    path = Path(path)
    array = np.asarray(image)
    try:
        with atomic_output(path) as temporary:
            if path.suffix.lower() in TIFF_SUFFIXES:
                import tifffile

                tifffile.imwrite(temporary, array, photometric=_photometric(array))
            else:
                _pil_image(array, path).save(temporary, format=_pil_format(path))
    except (ValueError, OSError, KeyError, TypeError) as error:
        raise StyleTransferError(f"Cannot write {path}: {error}") from error
    return path


def _photometric(array: np.ndarray) -> str:
    return "rgb" if array.ndim == 3 and array.shape[2] in (3, 4) else "minisblack"


def _pil_format(path: Path) -> str:
    extension = path.suffix.lower()
    formats = Image.registered_extensions()
    if extension not in formats:
        raise ValueError(f"unknown file extension {extension or '(none)'!r}")
    return formats[extension]


def _pil_image(array: np.ndarray, path: Path) -> Image.Image:
    if array.dtype.kind == "f":
        array = (np.clip(np.nan_to_num(array), 0, 1) * 255 + 0.5).astype(np.uint8)
    if array.dtype == np.uint16 and array.ndim == 2:
        return Image.fromarray(array)  # Pillow picks mode I;16
    if array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    if array.ndim == 3 and array.shape[2] == 4 and path.suffix.lower() in (".jpg", ".jpeg"):
        array = array[..., :3]
    return Image.fromarray(array)


def tiff_bytes(image: np.ndarray) -> bytes:
    """Encode an array as an uncompressed TIFF, exactly (any dtype, gray/RGB/RGBA).

    Fast (no compression) and lossless: what the HTTP client and server
    exchange, and how the server keeps results.
    """
    import tifffile

    array = np.ascontiguousarray(image)
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    photometric = _photometric(array)
    buffer = io.BytesIO()
    alpha = photometric == "rgb" and array.shape[2] == 4
    tifffile.imwrite(
        buffer, array, photometric=photometric, extrasamples=("unassalpha",) if alpha else None
    )
    return buffer.getvalue()


def read_tiff_bytes(data: bytes) -> np.ndarray:
    """Decode a TIFF written by :func:`tiff_bytes` (first page)."""
    import tifffile

    return tifffile.imread(io.BytesIO(data))


def png_bytes(image: np.ndarray, compress_level: int = 1) -> bytes:
    """Encode an array as PNG: 8-bit, or 16-bit for uint16 grayscale.

    Colour uint16 becomes 8-bit (Pillow writes no 16-bit colour PNG; TIFF keeps
    it). Floats in [0, 1] are scaled by 255, other floats and integers
    stretched between their minimum and maximum.
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
    values = np.nan_to_num(array.astype(np.float64))
    unit = array.dtype.kind == "f" and values.min() >= 0 and values.max() <= 1
    low, high = (0.0, 1.0) if unit else (values.min(), values.max())
    values = (values - low) / max(high - low, 1e-12) * 255
    return (np.clip(values, 0, 255) + 0.5).astype(np.uint8)
