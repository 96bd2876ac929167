"""Bundled sample photos and public-domain paintings (provenance in docs/samples.md)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from ..errors import StyleTransferError

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Sample:
    """A bundled image: its short name, file, title and kind ("content" or "style")."""

    name: str
    filename: str
    title: str
    kind: str


SAMPLES: dict[str, Sample] = {
    s.name: s
    for s in (
        Sample("astronaut", "astronaut.jpg", "Astronaut (Eileen Collins, NASA)", "content"),
        Sample("chelsea", "chelsea.jpg", "Chelsea the cat", "content"),
        Sample("starry-night", "starry-night.jpg", "The Starry Night (Van Gogh)", "style"),
        Sample("great-wave", "great-wave.jpg", "The Great Wave off Kanagawa (Hokusai)", "style"),
        Sample("the-scream", "the-scream.jpg", "The Scream (Munch)", "style"),
        Sample("kandinsky", "kandinsky.jpg", "Composition VIII (Kandinsky, 1923)", "style"),
    )
}


def style_names() -> list[str]:
    """Names of the bundled paintings, usable as ``style=`` in the API and CLI."""
    return [s.name for s in SAMPLES.values() if s.kind == "style"]


def content_names() -> list[str]:
    """Names of the bundled content photos."""
    return [s.name for s in SAMPLES.values() if s.kind == "content"]


@cache
def _load(name: str) -> np.ndarray:
    from ..image_io import read_image

    image = read_image(DATA_DIR / SAMPLES[name].filename)
    image.flags.writeable = False
    return image


def load_sample(name: str) -> np.ndarray:
    """Load a bundled image by name.

    Parameters
    ----------
    name : str
        One of :data:`SAMPLES`, e.g. "astronaut" or "starry-night".

    Returns
    -------
    numpy.ndarray
        uint8 RGB array, H×W×3 (a fresh copy the caller may modify).

    Raises
    ------
    StyleTransferError
        For an unknown name.
    """
    key = name.strip().lower()
    if key not in SAMPLES:
        known = ", ".join(SAMPLES)
        raise StyleTransferError(f"Unknown sample {name!r}: bundled samples are {known}.")
    return _load(key).copy()
