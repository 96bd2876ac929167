"""napari sample-data providers for the bundled images (see napari.yaml)."""

from __future__ import annotations

from functools import partial

from . import SAMPLES, load_sample


def _layer(name: str) -> list[tuple]:
    return [(load_sample(name), {"name": name, "rgb": True}, "image")]


astronaut = partial(_layer, "astronaut")
chelsea = partial(_layer, "chelsea")
starry_night = partial(_layer, "starry-night")
great_wave = partial(_layer, "great-wave")
the_scream = partial(_layer, "the-scream")
kandinsky = partial(_layer, "kandinsky")

__all__ = [name.replace("-", "_") for name in SAMPLES]
