"""A contact sheet: the photo and all 26 presets on it, labelled, in one picture."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .presets import PRESET_COUNT
from .run import fast_stylize

COLUMNS = 7
GAP = 6
LABEL_HEIGHT = 16


def render_contact_sheet(
    photo: np.ndarray,
    device: torch.device,
    *,
    on_tile: Callable[[int, int], None] | None = None,
    extra: Sequence[str] = (),
) -> np.ndarray:
    """Stylise ``photo`` with every preset (and ``extra`` styles) and lay the results out in a grid.

    Parameters
    ----------
    photo : numpy.ndarray
        H×W×3 float32 RGB in [0, 1], at the tile size wanted.
    device : torch.device
    on_tile : callable, optional
        Called as ``on_tile(done, total)`` after each preset.
    extra : sequence of str
        More fast-mode styles after the presets, e.g. ``learned:NAME``.

    Returns
    -------
    numpy.ndarray
        The sheet as H×W×3 uint8: the original first, then presets 0–25 and
        the extra styles, each labelled with the spec that reproduces it
        (``preset:N``, ``learned:NAME``).
    """
    tiles = [("original", photo)]
    specs = [f"preset:{index}" for index in range(PRESET_COUNT)] + list(extra)
    for done, spec in enumerate(specs, start=1):
        tiles.append((spec, fast_stylize(photo, spec, device=device)))
        if on_tile is not None:
            on_tile(done, len(specs))
    return _layout(tiles)


def _layout(tiles: list[tuple[str, np.ndarray]]) -> np.ndarray:
    height, width = tiles[0][1].shape[:2]
    rows = -(-len(tiles) // COLUMNS)
    sheet = Image.new(
        "RGB",
        (COLUMNS * (width + GAP) + GAP, rows * (height + LABEL_HEIGHT + GAP) + GAP),
        "white",
    )
    draw = ImageDraw.Draw(sheet)
    font = _label_font()
    for number, (label, image) in enumerate(tiles):
        row, column = divmod(number, COLUMNS)
        x = GAP + column * (width + GAP)
        y = GAP + row * (height + LABEL_HEIGHT + GAP)
        sheet.paste(Image.fromarray(_to_uint8(image)), (x, y + LABEL_HEIGHT))
        draw.text((x + 2, y + 1), label, fill="black", font=font)
    return np.asarray(sheet)


def _label_font():
    # Pillow's scalable default font (Pillow ≥ 10.1); its older bitmap
    # default drops the colon of "preset:7" at some sizes
    try:
        return ImageFont.load_default(size=12)
    except TypeError:
        return ImageFont.load_default()


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
