"""What users pass as ``style``: arrays, bundled names, image files, fast-mode presets
and learned styles.

Everything is resolved once, when the request is made: images become float32
RGB in [0, 1], preset specs become a :class:`PresetStyle`, ``learned:NAME``
(or a path to a learned-style file) the :class:`~napari_styletransfer.fast.
learned.LearnedStyle` read from it.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.arrays import to_float_rgb
from ..errors import StyleTransferError
from ..fast.learned import LearnedStyle, is_learned, resolve_learned
from ..fast.presets import describe_preset, is_preset, parse_preset


@dataclass(frozen=True)
class PresetStyle:
    """One of the fast-mode networks' presets, or a blend of them.

    Attributes
    ----------
    spec : str
        What the user wrote, e.g. "preset:7" or "preset:3:0.5,12:0.5".
    weights : tuple of (int, float)
        Normalised weight per preset index.
    """

    spec: str
    weights: tuple[tuple[int, float], ...]

    @property
    def label(self) -> str:
        """A short description, e.g. "preset 7"."""
        return describe_preset(dict(self.weights))


StyleSource = np.ndarray | PresetStyle | LearnedStyle


@dataclass(frozen=True)
class ResolvedStyle:
    """A style as the engines take it, and how to name it in records.

    Attributes
    ----------
    source : numpy.ndarray, PresetStyle or LearnedStyle
        float32 H×W×3 RGB in [0, 1], a preset, or a learned style.
    name : str
        The bundled name, file path, preset spec or ``learned:NAME`` the user gave; for arrays a
        description with a checksum ("array 40×40×3 sha1:…").
    """

    source: StyleSource
    name: str

    @property
    def is_preset(self) -> bool:
        """True for fast-mode presets."""
        return isinstance(self.source, PresetStyle)

    @property
    def is_learned(self) -> bool:
        """True for learned styles (``learned:NAME`` or a learned-style file)."""
        return isinstance(self.source, LearnedStyle)

    @property
    def is_image(self) -> bool:
        """True for style images (not a fast-mode network's parameters)."""
        return isinstance(self.source, np.ndarray)


def resolve_styles(style: object) -> tuple[ResolvedStyle, ...]:
    """Resolve ``style``: one, or a list or tuple of, array / bundled name / file / preset.

    Raises
    ------
    StyleTransferError
        For no style, an unknown name, a missing or unreadable file, a bad
        preset spec or a bad image.
    """
    items = list(style) if isinstance(style, list | tuple) else [style]
    if not items:
        raise StyleTransferError("No style was given: pass an image, a bundled name or a file.")
    return tuple(resolve_style(item) for item in items)


def resolve_style(item: object) -> ResolvedStyle:
    """Resolve one style (see :func:`resolve_styles`)."""
    if isinstance(item, Path):
        item = str(item)
    if isinstance(item, str):
        if is_preset(item):
            weights = parse_preset(item)
            return ResolvedStyle(PresetStyle(item.strip(), tuple(weights.items())), item.strip())
        if is_learned(item):
            return ResolvedStyle(resolve_learned(item), item.strip())
        key = item.strip().lower()
        if key in _bundled_names():
            return ResolvedStyle(_bundled_style(key).copy(), item)  # torch wants writable arrays
        return ResolvedStyle(to_float_rgb(_load_file(item), "style")[0], item)
    if item is None:
        raise StyleTransferError("No style was given: pass an image, a bundled name or a file.")
    if not isinstance(item, np.ndarray | list | tuple):
        raise StyleTransferError(
            f"A style must be an image array, a bundled name, a file or a preset, not {item!r}."
        )
    array = np.asarray(item)
    rgb = to_float_rgb(array, "style")[0]
    return ResolvedStyle(rgb, describe_array(array))


def describe_array(array: np.ndarray) -> str:
    """Name an array in records: its shape, dtype and a checksum of its bytes."""
    digest = hashlib.sha1(np.ascontiguousarray(array).tobytes()).hexdigest()[:12]
    shape = "×".join(str(n) for n in array.shape)
    return f"array {shape} {array.dtype} sha1:{digest}"


def _bundled_names() -> tuple[str, ...]:
    from ..samples import SAMPLES

    return tuple(SAMPLES)


@functools.cache
def _bundled_style(name: str) -> np.ndarray:
    """A bundled image as float RGB, converted once per process (read-only)."""
    from ..samples import load_sample

    rgb = to_float_rgb(load_sample(name), "style")[0]
    rgb.flags.writeable = False
    return rgb


def _load_file(name: str) -> np.ndarray:
    from ..image_io import read_image
    from ..samples import style_names

    path = Path(name).expanduser()
    if path.is_file():
        return read_image(path)
    raise StyleTransferError(
        f"Style {name!r} is neither a file nor a bundled painting "
        f"({', '.join(style_names())}) nor a preset ('preset:N', fast mode) nor a learned "
        "style ('learned:NAME', fast mode)."
    )
