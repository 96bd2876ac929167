"""Reading and writing image files (used by the CLI, the samples and the demo)."""

from __future__ import annotations

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
            if img.mode in ("I;16", "I;16B", "I;16L", "I"):
                return np.asarray(img).astype(np.uint16)
            if img.mode not in ("L", "RGB", "RGBA"):
                img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
            return np.asarray(img).copy()
    except (UnidentifiedImageError, OSError) as error:
        raise StyleTransferError(f"Cannot read {path} as an image: {error}") from error


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
        Image.fromarray(array, mode="I;16").save(path)
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
