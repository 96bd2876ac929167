"""Uploaded images: recognised by their bytes, size-checked before decoding.

The file name and the declared content type of an upload are never trusted:
the first bytes decide the format, and the decoder of that format alone may
read it. Width × height come from the header (Pillow opens lazily; tifffile
reads the tags), so a decompression bomb is refused before any pixel is
decoded.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from ..image_io import pil_to_array
from .errors import ApiError

FORMATS = "PNG, JPEG, TIFF, BMP or WebP"
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),  # BigTIFF
    (b"MM\x00+", "TIFF"),
    (b"BM", "BMP"),
)


def sniff(data: bytes) -> str | None:
    """The image format the bytes start with (Pillow's name), or None."""
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def decode_image(data: bytes, what: str, max_pixels: int) -> np.ndarray:
    """Decode an uploaded image after checking what it is and how big it claims to be.

    Parameters
    ----------
    data : bytes
        The upload.
    what : str
        The form field, for messages ("content", "style", "mask").
    max_pixels : int
        Largest width × height accepted.

    Returns
    -------
    numpy.ndarray
        H×W, H×W×3 or H×W×4 (uint8, uint16 or, from TIFF, float).

    Raises
    ------
    ApiError
        415 when the bytes are no image format we read, 413 for too many pixels,
        400 when the image is truncated or corrupt.
    """
    kind = sniff(data)
    if kind is None:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"'{what}' is not an image ({FORMATS}), judged by its content, not its name.",
        )
    try:
        if kind == "TIFF":
            return _decode_tiff(data, what, max_pixels)
        return _decode_pillow(data, kind, what, max_pixels)
    except ApiError:
        raise
    except Image.DecompressionBombError as error:  # Pillow's own guard, also from the header
        raise ApiError(
            413,
            "too_many_pixels",
            f"'{what}' has more pixels than this server accepts ({max_pixels:,}): {error}",
        ) from None
    except Exception as error:  # decoders raise many kinds (OSError, struct.error, …)
        raise _corrupt(what, kind, error) from None


def _corrupt(what: str, kind: str, error: Exception) -> ApiError:
    return ApiError(
        400,
        "invalid_image",
        f"'{what}' looks like {kind} but cannot be decoded (truncated or corrupt?): {error}",
    )


def _check_pixels(what: str, width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise ApiError(400, "invalid_image", f"'{what}' has no pixels ({width}×{height}).")
    if width * height > max_pixels:
        raise ApiError(
            413,
            "too_many_pixels",
            f"'{what}' is {width}×{height} = {width * height:,} pixels; this server accepts "
            f"at most {max_pixels:,} (its --max-pixels).",
        )


def _decode_pillow(data: bytes, kind: str, what: str, max_pixels: int) -> np.ndarray:
    with Image.open(io.BytesIO(data), formats=[kind]) as img:  # reads the header only
        _check_pixels(what, img.width, img.height, max_pixels)
        img.load()
        return pil_to_array(img)


def _decode_tiff(data: bytes, what: str, max_pixels: int) -> np.ndarray:
    import tifffile

    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        if not len(tif.pages):
            raise ApiError(400, "invalid_image", f"'{what}' is a TIFF without images.")
        page = tif.pages.first
        _check_pixels(what, page.imagewidth, page.imagelength, max_pixels)
        if page.samplesperpixel > 4:
            raise ApiError(
                400,
                "invalid_image",
                f"'{what}' has {page.samplesperpixel} channels; use 1, 3 or 4.",
            )
        array = page.asarray()
        if page.axes.startswith("S"):  # planar: one plane per channel
            array = np.moveaxis(array, 0, -1)
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    return np.ascontiguousarray(array)
