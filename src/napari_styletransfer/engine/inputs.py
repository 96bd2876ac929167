"""Resolving what users pass as styles, masks and init images."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import StyleTransferError
from .arrays import ImageFormat, resize_array, to_float_rgb

PRESET_PREFIX = "preset:"

StyleSource = np.ndarray | str  # float RGB image, or a fast-mode preset / learned-style spec


def resolve_styles(style: object) -> list[StyleSource]:
    """Turn ``style`` (one or a list of: array, bundled name, file path, preset) into sources.

    Images come back as float32 RGB in [0, 1]; preset specs ("preset:…") as strings.
    """
    items = list(style) if isinstance(style, list | tuple) else [style]
    if not items:
        raise StyleTransferError("No style was given: pass an image, a bundled name or a file.")
    return [_resolve_one(item) for item in items]


def _resolve_one(item: object) -> StyleSource:
    if isinstance(item, Path):
        item = str(item)
    if isinstance(item, str):
        if item.strip().lower().startswith(PRESET_PREFIX):
            return item.strip()
        from ..fast.learned import is_learned

        if is_learned(item):  # "learned:NAME" or a learned-style file: the fast engine reads it
            return item.strip()
        return to_float_rgb(_load_named_or_file(item), "style")[0]
    if item is None:
        raise StyleTransferError("No style was given: pass an image, a bundled name or a file.")
    return to_float_rgb(item, "style")[0]


def _load_named_or_file(name: str) -> np.ndarray:
    from ..image_io import read_image
    from ..samples import SAMPLES, load_sample, style_names

    key = name.strip().lower()
    if key in SAMPLES:
        return load_sample(key)
    if Path(name).expanduser().is_file():
        return read_image(Path(name).expanduser())
    raise StyleTransferError(
        f"Style {name!r} is neither a file nor a bundled painting "
        f"({', '.join(style_names())}) nor a preset ('preset:N', fast mode)."
    )


def blend_weights(weights: Sequence[float] | None, count: int) -> list[float]:
    """Normalised blend weights for ``count`` styles (equal when ``weights`` is None)."""
    if weights is None:
        return [1.0 / count] * count
    values = [float(w) for w in weights]
    if len(values) != count:
        raise StyleTransferError(
            f"{len(values)} style weight(s) given for {count} style image(s): give one each."
        )
    if any(not np.isfinite(w) or w < 0 for w in values) or sum(values) <= 0:
        raise StyleTransferError("Style weights must be ≥ 0 and not all zero.")
    total = sum(values)
    return [w / total for w in values]


def init_image(init: object, fmt: ImageFormat, size: tuple[int, int]) -> str | np.ndarray:
    """An init choice as "content"/"noise", or an image converted with the content's range."""
    if isinstance(init, str):
        return init
    array = np.asarray(init)
    if array.shape[:2] != fmt.height_width:
        raise StyleTransferError(
            f"The init image's shape {array.shape} does not match the content's {fmt.shape}."
        )
    rgb = to_float_rgb(array, "init", value_range_of=fmt)[0]
    return resize_array(rgb, size)
